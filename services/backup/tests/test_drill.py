"""The restore drill proves the newest backup restores to the same data, and fails loudly when it does not."""

from __future__ import annotations

import hashlib
import json

from conftest import BUCKET, Env, events, manifests, ok, snapshot


def scratch_databases(env: Env) -> list[str]:
    with env.connect("postgres") as conn:
        return [
            r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'motorcade\\_drill\\_%'")
        ]


def flip_byte(env: Env, key: str, offset: int) -> None:
    client = env.s3.client()
    data = bytearray(client.get_object(Bucket=BUCKET, Key=key)["Body"].read())  # type: ignore[attr-defined]
    data[offset] ^= 0x01
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(data))  # type: ignore[attr-defined]


def test_drill_passes_and_drops_scratch(env: Env) -> None:
    """A drill of a fresh backup passes (also against the live database) and leaves no scratch database."""
    env.backup()
    result = ok(env.run("drill", "--compare-live"))
    names = [e["event"] for e in events(result.stdout)]
    assert "drill_passed" in names
    assert "drill_scratch_dropped" in names
    tables = {e["table"]: e["rows"] for e in events(result.stdout) if e["event"] == "drill_table"}
    assert tables == {"leads.leads": 500, "people.people": 250, "people.empty_table": 0}
    assert scratch_databases(env) == []


def test_drill_fails_loudly_on_tampered_object(env: Env) -> None:
    """One flipped bit in the stored object makes the drill (and restore) fail with exit 9 before any restore."""
    env.backup()
    [manifest] = manifests(env)
    flip_byte(env, str(manifest["object_key"]), int(str(manifest["size"])) // 2)
    result = env.run("drill")
    assert result.returncode == 9
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("motorcade-backup: error: DRILL FAILED: backup ")
    assert "failed its checksum" in line
    assert [e for e in events(result.stdout) if e["level"] == "error"]
    assert scratch_databases(env) == []
    with env.connect() as conn:
        before = snapshot(conn)
    restored = env.run("restore", "--target-db", env.database, "--force")
    assert restored.returncode == 9
    with env.connect() as conn:
        assert snapshot(conn) == before


def test_tampered_object_with_matching_checksum_fails_decryption(env: Env) -> None:
    """Even when the manifest's sha256 is forged to match, age's authentication rejects the altered object."""
    env.backup()
    [manifest] = manifests(env)
    key = str(manifest["object_key"])
    flip_byte(env, key, int(str(manifest["size"])) - 100)
    client = env.s3.client()
    data = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()  # type: ignore[attr-defined]
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    client.put_object(
        Bucket=BUCKET,
        Key=f"{env.prefix}{manifest['backup_id']}.manifest.json",  # type: ignore[attr-defined]
        Body=json.dumps(manifest).encode(),
    )
    result = env.run("drill")
    assert result.returncode == 9
    [line] = result.stderr.strip().splitlines()
    assert "DRILL FAILED" in line
    assert "does not decrypt" in line


def test_drill_fails_when_manifest_counts_differ(env: Env) -> None:
    """If the restored rows do not match the manifest's counts, the drill exits 10 naming the table."""
    env.backup()
    [manifest] = manifests(env)
    for table in manifest["tables"]:  # type: ignore[attr-defined]
        if table["name"] == "people":
            table["rows"] += 1
    env.s3.client().put_object(  # type: ignore[attr-defined]
        Bucket=BUCKET,
        Key=f"{env.prefix}{manifest['backup_id']}.manifest.json",
        Body=json.dumps(manifest).encode(),
    )
    result = env.run("drill")
    assert result.returncode == 10
    [line] = result.stderr.strip().splitlines()
    assert "DRILL FAILED" in line
    assert "people.people rows 250" in line
    assert scratch_databases(env) == []


def test_drill_compare_live_detects_changes_since_backup(env: Env) -> None:
    """A change made after the backup passes the plain drill but fails the drill against the live database."""
    env.backup()
    with env.connect() as conn:
        conn.execute("UPDATE leads.leads SET email = 'new@example.org' WHERE id = 7")
    ok(env.run("drill"))
    result = env.run("drill", "--compare-live")
    assert result.returncode == 10
    assert "leads.leads content checksum differs" in result.stderr


def test_drill_without_any_backup_fails(env: Env) -> None:
    """A drill with nothing to restore is a failure (exit 12), not a silent pass."""
    result = env.run("drill")
    assert result.returncode == 12
    assert result.stderr.strip() == "motorcade-backup: error: DRILL FAILED: no complete backup exists yet"
