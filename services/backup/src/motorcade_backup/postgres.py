"""PostgreSQL: connections, per-table evidence (row counts + content checksums), and database admin."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import psycopg.conninfo
from psycopg import sql

from motorcade_backup.errors import DatabaseError
from motorcade_backup.redact import redact
from motorcade_backup.settings import Settings

# Fixed output formats so that row text (and therefore checksums) is the same on every session.
_SESSION_SETUP = (
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET TimeZone = 'UTC'",
    "SET extra_float_digits = 3",
    "SET bytea_output = 'hex'",
)

_TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
ORDER BY 1, 2
"""

# An order-independent digest: the sum of each row's md5 split in two 64-bit halves, plus the row count.
_CHECKSUM_SQL = """
SELECT count(*),
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text,
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)::text
FROM (SELECT md5(t::text) AS h FROM ONLY {table} AS t) AS rows
"""


@dataclass(frozen=True)
class TableStats:
    """Evidence about one table's contents."""

    schema: str
    name: str
    rows: int
    checksum: str

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def dsn_for(settings: Settings, dbname: str | None = None) -> str:
    """The configured DSN, optionally pointed at another database."""
    if dbname is None:
        return settings.database_dsn
    return psycopg.conninfo.make_conninfo(settings.database_dsn, dbname=dbname)


def describe(dsn: str) -> str:
    """host:port/dbname of a DSN, for messages (never the password)."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    host = params.get("host") or os.environ.get("PGHOST") or "local socket"
    port = params.get("port") or os.environ.get("PGPORT") or "5432"
    return f"{host}:{port}/{params.get('dbname', '?')}"


def subprocess_env(settings: Settings) -> dict[str, str]:
    """Environment for pg_dump/pg_restore: the password travels in PGPASSWORD, never on the command line."""
    env = dict(os.environ)
    password = settings.database_password()
    if password is not None:
        env["PGPASSWORD"] = password
    return env


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return redact(lines[0]) if lines else "no detail"


@contextmanager
def connect(settings: Settings, dbname: str | None = None, *, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    """A connection (errors become :class:`DatabaseError`)."""
    dsn = dsn_for(settings, dbname)
    try:
        conn = psycopg.connect(dsn, password=settings.database_password(), autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to PostgreSQL at {describe(dsn)}: {first_line(str(exc))}") from None
    try:
        for statement in _SESSION_SETUP:
            conn.execute(statement)
        yield conn
    except psycopg.Error as exc:
        raise DatabaseError(f"PostgreSQL error on {describe(dsn)}: {first_line(str(exc))}") from exc
    finally:
        conn.close()


def server_version(conn: psycopg.Connection) -> str:
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


def database_owner(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()").fetchone()
    return str(row[0]) if row else ""


def export_snapshot(conn: psycopg.Connection) -> str:
    """Start a repeatable-read transaction and export its snapshot for ``pg_dump --snapshot``."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    if row is None:  # pragma: no cover - the function always returns a row
        raise DatabaseError("pg_export_snapshot() returned nothing")
    return str(row[0])


def table_stats(conn: psycopg.Connection) -> list[TableStats]:
    """Row count and content checksum of every user table, in the connection's current snapshot."""
    stats: list[TableStats] = []
    for schema, name in conn.execute(_TABLES_SQL).fetchall():
        query = sql.SQL(_CHECKSUM_SQL).format(table=sql.Identifier(schema, name))
        row = conn.execute(query).fetchone()
        if row is None:  # pragma: no cover - an aggregate always returns a row
            raise DatabaseError(f"no checksum row for {schema}.{name}")
        rows, high, low = int(row[0]), row[1], row[2]
        digest = hashlib.sha256(f"{rows}:{high}:{low}".encode()).hexdigest()[:32]
        stats.append(TableStats(schema=schema, name=name, rows=rows, checksum=digest))
    return stats


def database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def is_empty(conn: psycopg.Connection) -> bool:
    """True when the connected database holds no user relation and no schema besides ``public``."""
    row = conn.execute(
        """
        SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg\\_%')
             + (SELECT count(*) FROM pg_namespace
                WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%')
        """
    ).fetchone()
    return row is not None and int(row[0]) == 0


def create_database(conn: psycopg.Connection, name: str, owner: str | None) -> None:
    query = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    if owner and role_exists(conn, owner):
        query = sql.SQL("{} OWNER {}").format(query, sql.Identifier(owner))
    conn.execute(query)


_DATABASE_PRIVILEGES = {"CREATE", "TEMPORARY", "CONNECT"}


def copy_database_privileges(conn: psycopg.Connection, source: str, target: str) -> int:
    """Give ``target`` exactly the database-level privileges (GRANT ... ON DATABASE) of ``source``.

    They are the environment's configuration, not data in the dump (pg_restore sets them only with --create), so a
    restore that replaces a database keeps the ones it had. Returns the number of grants made; none when ``source``
    has the default privileges.
    """
    row = conn.execute("SELECT datacl IS NULL FROM pg_database WHERE datname = %s", (source,)).fetchone()
    if row is None or row[0]:
        return 0
    grants = conn.execute(
        """
        SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable
        FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = %s
        """,
        (source,),
    ).fetchall()
    owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (target,)).fetchone()
    database = sql.Identifier(target)
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
    if owner is not None:
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(database, sql.Identifier(owner[0])))
    for grantee, privilege, grantable in grants:
        if privilege not in _DATABASE_PRIVILEGES:
            continue
        who = sql.SQL("PUBLIC") if grantee is None else sql.Identifier(grantee)
        option = sql.SQL(" WITH GRANT OPTION") if grantable else sql.SQL("")
        conn.execute(sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(sql.SQL(privilege), database, who, option))
    return len(grants)


# Settings whose value is a list of names, each quoted on its own (pg_dump's variable_is_guc_list_quote).
_LIST_SETTINGS = {
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
}


def _split_setting_list(value: str) -> list[str]:
    """Split a stored list setting (``app, "My Schema", public``) into its names, as PostgreSQL's SplitGUCList."""
    names: list[str] = []
    current, quoted, i = "", False, 0
    while i < len(value):
        char = value[i]
        if quoted:
            if char == '"' and value[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            elif char == '"':
                quoted = False
            else:
                current += char
        elif char == '"':
            quoted = True
        elif char == ",":
            names.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    names.append(current.strip())
    return [name for name in names if name]


def copy_database_settings(conn: psycopg.Connection, source: str, target: str) -> int:
    """Give ``target`` the per-database settings of ``source`` (``ALTER DATABASE … SET`` and ``ALTER ROLE … IN
    DATABASE … SET``): like the grants, they are the environment's configuration and live outside the dump.

    Returns the number of settings made.
    """
    rows = conn.execute(
        """
        SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END, unnest(s.setconfig)
        FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = %s
        """,
        (source,),
    ).fetchall()
    for role, entry in rows:
        name, _, value = str(entry).partition("=")
        values = _split_setting_list(value) if name in _LIST_SETTINGS else [value]
        scope = sql.SQL("DATABASE {}").format(sql.Identifier(target))
        if role is not None:
            scope = sql.SQL("ROLE {} IN {}").format(sql.Identifier(role), scope)
        conn.execute(
            sql.SQL("ALTER {} SET {} = {}").format(
                scope, sql.Identifier(name), sql.SQL(", ").join(sql.Literal(v) for v in values)
            )
        )
    return len(rows)


def drop_database(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def rename_database(conn: psycopg.Connection, old: str, new: str) -> None:
    conn.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))
