"""A backup killed mid-upload leaves no object that looks complete, and the next run cleans up and succeeds."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import BUCKET, Env, events, manifests, ok


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def add_incompressible_table(env: Env, megabytes: int) -> None:
    with env.connect() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgcrypto")
        conn.execute("CREATE TABLE leads.big (id int PRIMARY KEY, data bytea)")
        conn.execute(
            "INSERT INTO leads.big SELECT g, gen_random_bytes(1024) || gen_random_bytes(1024) || "
            "gen_random_bytes(1024) || gen_random_bytes(1024) FROM generate_series(1, %s) AS g",
            (megabytes * 256,),
        )


def test_killed_backup_leaves_complete_backups_intact_and_next_run_succeeds(env: Env) -> None:
    """SIGKILL during the multipart upload: old backups stay listed and whole, no new one appears, the next run
    aborts the stale upload, succeeds, and pg_dump/age do not outlive the killed process."""
    env.backup("daily")
    before = manifests(env)
    add_incompressible_table(env, megabytes=16)
    client = env.s3.client()
    proc = env.popen("backup", "--tier", "daily", extra={"MOTORCADE_BACKUP_UPLOAD_CONCURRENCY": "1"})
    deadline = time.monotonic() + 120
    upload = None
    while upload is None:
        assert proc.poll() is None, f"backup ended before it could be interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline
        for candidate in client.list_multipart_uploads(Bucket=BUCKET, Prefix=env.prefix).get("Uploads", []):  # type: ignore[attr-defined]
            parts = client.list_parts(Bucket=BUCKET, Key=candidate["Key"], UploadId=candidate["UploadId"])  # type: ignore[attr-defined]
            if parts.get("Parts"):
                upload = candidate
        time.sleep(0.05)
    helpers = children_of(proc.pid)
    assert helpers, "pg_dump and age run as children of the backup process"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    for pid in helpers:
        end = time.monotonic() + 20
        while alive(pid):
            assert time.monotonic() < end, "pg_dump/age outlived the killed backup"
            time.sleep(0.1)

    assert manifests(env) == before
    pending = client.list_multipart_uploads(Bucket=BUCKET, Prefix=env.prefix).get("Uploads", [])  # type: ignore[attr-defined]
    assert [u["UploadId"] for u in pending] == [upload["UploadId"]]
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=env.prefix).get("Contents", [])}  # type: ignore[attr-defined]
    assert upload["Key"] not in keys

    result = ok(env.run("backup", "--tier", "daily"))
    assert "stale_upload_aborted" in [e["event"] for e in events(result.stdout)]
    assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=env.prefix).get("Uploads", []) == []  # type: ignore[attr-defined]
    after = manifests(env)
    assert len(after) == 2
    assert after[1] == before[0]
    assert any(t["name"] == "big" and t["rows"] == 16 * 256 for t in after[0]["tables"])  # type: ignore[index,union-attr]
