"""A small migration runner: numbered SQL files applied in order by the migration role, tracked in a table."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources

import psycopg

from people.logs import log_event

SCHEMA = "people"
TRACKING_TABLE = f"{SCHEMA}.schema_migrations"
LOCK_KEY = 0x5045_4F50  # "PEOP": one migrator at a time
log = logging.getLogger("people.migrate")


class MigrationError(RuntimeError):
    """The database's migration history does not match the migrations shipped with this version."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def shipped_migrations() -> list[Migration]:
    """The migrations in this package, ordered by their number (``0001_name.sql``)."""
    found = []
    for entry in resources.files("people.migrations").iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise MigrationError("migration numbers must run 1, 2, 3… without gaps")
    return found


def latest_version() -> int:
    """The version the database has once every shipped migration is applied."""
    return shipped_migrations()[-1].version


def migrate(conninfo: str) -> list[int]:
    """Apply the pending migrations, each in its own transaction; return the versions applied."""
    applied_now: list[int] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            with conn.transaction():
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} ("
                    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                # Runtime roles may read the version (readiness) but never rewrite the history.
                conn.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {TRACKING_TABLE} FROM PUBLIC, people_app")
            done = {row[0]: row[1] for row in conn.execute(f"SELECT version, checksum FROM {TRACKING_TABLE}")}
            for migration in shipped_migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version} ({migration.name}) changed after it was applied"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        f"INSERT INTO {TRACKING_TABLE} (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                log_event(log, "migration_applied", version=migration.version, name=migration.name)
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now
