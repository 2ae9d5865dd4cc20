"""Backup → damage → restore gives back identical rows; restore refuses to overwrite silently."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from conftest import Env, events, manifests, ok, snapshot


def test_backup_delete_restore_rows_identical(env: Env) -> None:
    """Rows deleted after a backup come back identical when the latest backup is restored with --force."""
    with env.connect() as conn:
        before = snapshot(conn)
    result = ok(env.run("backup", "--tier", "daily"))
    assert result.stderr == ""
    done = [e for e in events(result.stdout) if e["event"] == "backup_completed"]
    assert len(done) == 1
    with env.connect() as conn:
        conn.execute("DELETE FROM people.people WHERE id % 3 = 0")
        conn.execute("DELETE FROM leads.leads WHERE id > 400 AND id NOT IN (SELECT lead_id FROM people.people)")
        conn.execute("UPDATE leads.leads SET name = 'changed' WHERE id = 1")
        assert snapshot(conn) != before
    result = ok(env.run("restore", "latest", "--target-db", env.database, "--force"))
    with env.connect() as conn:
        assert snapshot(conn) == before


def test_manifest_describes_the_backup(env: Env) -> None:
    """The manifest records database, server version, size, sha256, tier, time and per-table rows and checksums."""
    env.backup("weekly")
    [manifest] = manifests(env)
    assert json.loads(ok(env.run("list", "--json")).stdout) == [manifest]
    assert manifest["database"] == env.database
    assert str(manifest["server_version"]).startswith("15")
    assert manifest["tier"] == "weekly"
    assert len(str(manifest["sha256"])) == 64
    assert int(str(manifest["size"])) > 0
    tables = {f"{t['schema']}.{t['name']}": t for t in manifest["tables"]}  # type: ignore[attr-defined]
    assert tables["leads.leads"]["rows"] == 500
    assert tables["people.people"]["rows"] == 250
    assert tables["people.empty_table"]["rows"] == 0
    assert len({t["checksum"] for t in tables.values()}) == 3
    objects = env.s3.client().list_objects_v2(Bucket="mcb-test", Prefix=env.prefix)["Contents"]  # type: ignore[attr-defined]
    keys = sorted(o["Key"] for o in objects)
    assert keys == sorted([manifest["object_key"], f"{env.prefix}{manifest['backup_id']}.manifest.json"])
    data = env.s3.client().get_object(Bucket="mcb-test", Key=manifest["object_key"])["Body"].read()  # type: ignore[attr-defined]
    assert data.startswith(b"age-encryption.org/v1")
    assert b"PGDMP" not in data[:4096]
    assert json.loads(json.dumps(manifest)) == manifest


def test_restore_refuses_non_empty_target_without_force(env: Env) -> None:
    """Restoring over a database that holds data fails with exit 11 and leaves it untouched."""
    env.backup()
    with env.connect() as conn:
        conn.execute("DELETE FROM people.people")
        before = snapshot(conn)
    result = env.run("restore", "--target-db", env.database)
    assert result.returncode == 11
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not empty" in result.stderr
    assert "--force" in result.stderr
    with env.connect() as conn:
        assert snapshot(conn) == before


def test_restore_into_new_database_by_id(env: Env) -> None:
    """A backup chosen by id restores into a database that did not exist, with identical rows."""
    env.backup()
    [manifest] = manifests(env)
    target = env.database + "_copy"
    try:
        ok(env.run("restore", str(manifest["backup_id"]), "--target-db", target))
        with env.connect() as live, env.connect(target) as copy:
            assert snapshot(copy) == snapshot(live)
    finally:
        with env.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')


def test_restore_of_unknown_backup_fails_clearly(env: Env) -> None:
    """Asking for a backup id that does not exist gives exit 12 and one line."""
    result = env.run("restore", "20000101T000000.000000Z", "--target-db", "mcb_nowhere")
    assert result.returncode == 12
    assert result.stderr.strip().splitlines() == [
        "motorcade-backup: error: no complete backup with id 20000101T000000.000000Z"
    ]


def test_latest_reports_freshness(env: Env) -> None:
    """`latest` fails with exit 12 before any backup, names a fresh one, and fails again when asked for fresher."""
    none_yet = env.run("latest", "--max-age-minutes", "10")
    assert none_yet.returncode == 12
    assert none_yet.stderr.strip() == "motorcade-backup: error: no complete backup exists yet"
    taken = json.loads(ok(env.run("backup", "--tier", "daily")).stdout.strip().splitlines()[-1])
    fresh = json.loads(ok(env.run("latest", "--max-age-minutes", "10")).stdout.strip().splitlines()[-1])
    assert (fresh["result"], fresh["backup_id"]) == ("latest_ok", taken["backup_id"])
    assert 0 <= fresh["age_minutes"] < 10
    stale = env.run("latest", "--max-age-minutes", "-1")
    assert stale.returncode == 12
    assert f"the newest complete backup, {taken['backup_id']}, finished" in stale.stderr
    finished = datetime.fromisoformat(fresh["finished_at"])
    ok(env.run("latest", "--finished-after", (finished - timedelta(seconds=1)).isoformat()))
    ok(env.run("latest", "--finished-after", finished.isoformat()))
    later = env.run("latest", "--finished-after", (finished + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert later.returncode == 12
    assert f"the newest complete backup, {taken['backup_id']}, finished at" in later.stderr
    naive = env.run("latest", "--finished-after", "2026-11-27T08:00:00")
    assert naive.returncode == 2
    assert "needs a time zone" in naive.stderr


def test_restore_over_a_database_keeps_its_settings(env: Env) -> None:
    """A forced restore keeps the database's own settings (ALTER DATABASE / ALTER ROLE … IN DATABASE … SET)."""
    query = (
        "SELECT coalesce(pg_get_userbyid(nullif(s.setrole, 0)), '*'), s.setconfig::text FROM pg_db_role_setting s"
        " JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = %s ORDER BY 1"
    )
    database = f'"{env.database}"'
    with env.pg.connect("postgres") as admin:
        admin.execute("DO $$ BEGIN CREATE ROLE mcb_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        admin.execute(f"ALTER DATABASE {database} SET statement_timeout = '5s'")
        admin.execute(f'ALTER DATABASE {database} SET search_path = app, "My Schema", public')
        admin.execute(f"ALTER DATABASE {database} SET application_name = 'it''s, quoted'")
        admin.execute(f"ALTER ROLE mcb_app IN DATABASE {database} SET work_mem = '8MB'")
        before = admin.execute(query, (env.database,)).fetchall()
    env.backup()
    ok(env.run("restore", "latest", "--target-db", env.database, "--force"))
    try:
        with env.pg.connect("postgres") as admin:
            after = admin.execute(query, (env.database,)).fetchall()
        with env.pg.connect(env.database) as conn:
            shown = [conn.execute(f"SHOW {name}").fetchone() for name in ("search_path", "application_name")]
    finally:
        with env.pg.connect("postgres") as admin:
            admin.execute(f"ALTER DATABASE {database} RESET ALL")
            admin.execute(f"ALTER ROLE mcb_app IN DATABASE {database} RESET ALL")
    assert len(before) == 2
    assert after == before
    assert shown == [('app, "My Schema", public',), ("it's, quoted",)]


def test_restore_over_a_database_keeps_its_database_privileges(env: Env) -> None:
    """A forced restore replaces the data but keeps the database's grants (CONNECT for the apps, none for PUBLIC)."""
    with env.pg.connect("postgres") as admin:
        admin.execute("DO $$ BEGIN CREATE ROLE mcb_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        admin.execute(f'REVOKE ALL ON DATABASE "{env.database}" FROM PUBLIC')
        admin.execute(f'GRANT CONNECT ON DATABASE "{env.database}" TO mcb_app')
        query = "SELECT datacl::text, pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s"
        before = admin.execute(query, (env.database,)).fetchone()
    env.backup()
    ok(env.run("restore", "latest", "--target-db", env.database, "--force"))
    with env.pg.connect("postgres") as admin:
        after = admin.execute(query, (env.database,)).fetchone()
    assert before is not None
    assert "mcb_app=c/" in before[0]
    assert after == before
