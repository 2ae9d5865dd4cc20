"""A small migration runner: numbered SQL files applied in order by the migration role, tracked in a table.

Each service describes its migrations with ``Migrations``: the package holding its ``NNNN_name.sql`` files, the schema
they create (its ``schema_migrations`` table tracks them), the runtime role that may read but never rewrite that
history, and the advisory lock key that lets one migrator run at a time.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from motorcade_service.logs import log_event

log = logging.getLogger("motorcade_service.migrate")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


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


@dataclass(frozen=True)
class Migrations:
    """The migrations a service ships (``package``: e.g. ``lead_intake.migrations``) for its ``schema``."""

    package: str
    schema: str
    runtime_role: str
    lock_key: int

    def __post_init__(self) -> None:
        for name in (self.schema, self.runtime_role):  # both are written into SQL
            if not _IDENTIFIER.match(name):
                raise ValueError(f"not a plain identifier: {name!r}")

    @property
    def tracking_table(self) -> str:
        return f"{self.schema}.schema_migrations"

    def shipped(self) -> list[Migration]:
        """The migrations in the package, ordered by their number (``0001_name.sql``)."""
        found = []
        for entry in resources.files(self.package).iterdir():
            if entry.name.endswith(".sql"):
                number, _, rest = entry.name.partition("_")
                found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
        found.sort(key=lambda m: m.version)
        if [m.version for m in found] != list(range(1, len(found) + 1)):
            raise MigrationError("migration numbers must run 1, 2, 3… without gaps")
        return found

    def latest_version(self) -> int:
        """The version the database has once every shipped migration is applied."""
        return self.shipped()[-1].version

    def apply(self, conninfo: str) -> list[int]:
        """Apply the pending migrations, each in its own transaction; return the versions applied."""
        table = self.tracking_table
        applied_now: list[int] = []
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (self.lock_key,))
            try:
                with conn.transaction():
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {table} ("
                        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                        " applied_at timestamptz NOT NULL DEFAULT now())"
                    )
                    # Runtime roles may read the version (readiness) but never rewrite the history.
                    conn.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC, {self.runtime_role}")
                done = {row[0]: row[1] for row in conn.execute(f"SELECT version, checksum FROM {table}")}
                for migration in self.shipped():
                    if migration.version in done:
                        if done[migration.version] != migration.checksum:
                            raise MigrationError(
                                f"migration {migration.version} ({migration.name}) changed after it was applied"
                            )
                        continue
                    with conn.transaction():
                        conn.execute(migration.sql.encode())
                        conn.execute(
                            f"INSERT INTO {table} (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                    log_event(log, "migration_applied", version=migration.version, name=migration.name)
                    applied_now.append(migration.version)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self.lock_key,))
        return applied_now
