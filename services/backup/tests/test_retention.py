"""Retention by count per tier runs only after a successful upload and never removes the only good backup."""

from __future__ import annotations

from conftest import BUCKET, Env, manifests


def test_retention_keeps_newest_per_tier(env: Env) -> None:
    """With daily=2 weekly=1 monthly=1, older backups of each tier go (manifest and object), newer ones stay."""
    counts = {
        "MOTORCADE_BACKUP_RETAIN_DAILY": "2",
        "MOTORCADE_BACKUP_RETAIN_WEEKLY": "1",
        "MOTORCADE_BACKUP_RETAIN_MONTHLY": "1",
    }
    made: dict[str, list[str]] = {"daily": [], "weekly": [], "monthly": []}
    for tier in ("monthly", "weekly", "daily", "daily", "weekly", "daily"):
        made[tier].append(env.backup(tier, extra=counts).backup_id)
    kept = {str(m["backup_id"]): m["tier"] for m in manifests(env)}
    assert kept == {
        made["daily"][1]: "daily",
        made["daily"][2]: "daily",
        made["weekly"][1]: "weekly",
        made["monthly"][0]: "monthly",
    }
    keys = {o["Key"] for o in env.s3.client().list_objects_v2(Bucket=BUCKET, Prefix=env.prefix)["Contents"]}  # type: ignore[attr-defined]
    assert len(keys) == 2 * len(kept)
    assert all(any(k.startswith(f"{env.prefix}{backup_id}.") for k in keys) for backup_id in kept)


def test_failed_backup_never_triggers_retention(env: Env) -> None:
    """A backup that fails (pg_dump cannot read a table) leaves the only good backup in place and no upload."""
    counts = {"MOTORCADE_BACKUP_RETAIN_DAILY": "1"}
    env.backup("daily", extra=counts)
    [good] = manifests(env)
    with env.connect() as conn:
        conn.execute("DROP ROLE IF EXISTS mcb_limited")
        conn.execute("CREATE ROLE mcb_limited LOGIN PASSWORD 'mcb-pg-pass-Hx4kP9sQ2m'")
        conn.execute("GRANT USAGE ON SCHEMA leads, people TO mcb_limited")
        conn.execute("GRANT SELECT ON people.people, people.empty_table TO mcb_limited")
    try:
        limited_dsn = env.vars["MOTORCADE_BACKUP_DATABASE_DSN"].replace("user=postgres", "user=mcb_limited")
        result = env.run("backup", "--tier", "daily", extra={**counts, "MOTORCADE_BACKUP_DATABASE_DSN": limited_dsn})
        assert result.returncode == 8
        [line] = result.stderr.strip().splitlines()
        assert "permission denied" in line
        assert manifests(env) == [good]
        client = env.s3.client()
        assert client.list_multipart_uploads(Bucket=BUCKET, Prefix=env.prefix).get("Uploads", []) == []  # type: ignore[attr-defined]
        assert len(client.list_objects_v2(Bucket=BUCKET, Prefix=env.prefix)["Contents"]) == 2  # type: ignore[attr-defined]
    finally:
        with env.connect() as conn:
            conn.execute("DROP OWNED BY mcb_limited")
            conn.execute("DROP ROLE mcb_limited")
