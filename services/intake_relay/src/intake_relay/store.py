"""The submissions table in the site's MariaDB, as the relay sees it: due submissions in, outcomes out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pymysql

from intake_relay.config import DatabaseConfig


@dataclass(frozen=True)
class Submission:
    """One stored submission waiting to be relayed."""

    id: int
    reference: str
    payload: str
    attempts: int


def _quoted(table: str) -> str:
    if not table.replace("_", "").isalnum():
        raise ValueError(f"unexpected table name {table!r}")
    return f"`{table}`"


class Store:
    """Reads due submissions and records each attempt's outcome (one short transaction per write)."""

    def __init__(self, connection: pymysql.connections.Connection, table: str) -> None:
        self._db = connection
        self._table = _quoted(table)

    def due(self, now: datetime, limit: int) -> list[Submission]:
        """Pending submissions whose next attempt is due, oldest first."""
        with self._db.cursor() as cursor:
            cursor.execute(
                f"SELECT id, reference, payload, attempts FROM {self._table} "  # noqa: S608 - quoted identifier
                "WHERE status = 'pending' AND next_attempt_at <= %s ORDER BY id LIMIT %s",
                (now.replace(tzinfo=None), limit),
            )
            rows = cursor.fetchall()
        self._db.commit()
        return [Submission(int(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    def _update(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._db.cursor() as cursor:
            cursor.execute(f"UPDATE {self._table} SET {sql} WHERE id = %s AND status = 'pending'", args)  # noqa: S608
        self._db.commit()

    def mark_relayed(self, submission: Submission, now: datetime, lead_id: str | None) -> None:
        """The API holds the lead: never send this submission again."""
        naive = now.replace(tzinfo=None)
        self._update(
            "status = 'relayed', attempts = attempts + 1, last_attempt_at = %s, relayed_at = %s, lead_id = %s, "
            "last_error = NULL",
            (naive, naive, lead_id, submission.id),
        )

    def mark_retry(self, submission: Submission, now: datetime, when: datetime, error: str) -> None:
        """The attempt failed for a passing reason: stay pending until `when`."""
        self._update(
            "attempts = attempts + 1, last_attempt_at = %s, next_attempt_at = %s, last_error = %s",
            (now.replace(tzinfo=None), when.replace(tzinfo=None), error[:500], submission.id),
        )

    def mark_rejected(self, submission: Submission, now: datetime, error: str) -> None:
        """The API refuses this body for good: keep it, visible to staff, and stop sending it."""
        self._update(
            "status = 'rejected', attempts = attempts + 1, last_attempt_at = %s, last_error = %s",
            (now.replace(tzinfo=None), error[:500], submission.id),
        )


@contextmanager
def connect(config: DatabaseConfig) -> Iterator[Store]:
    """A Store on a fresh connection (Unix socket when set, else host and port), closed on exit."""
    options: dict[str, Any] = {
        "user": config.user,
        "password": config.password,
        "database": config.name,
        "charset": "utf8mb4",
        "autocommit": False,
        "connect_timeout": 10,
    }
    if config.unix_socket:
        options["unix_socket"] = config.unix_socket
    else:
        options["host"], options["port"] = config.host or "127.0.0.1", config.port
    connection = pymysql.connect(**options)
    try:
        yield Store(connection, config.table)
    finally:
        connection.close()
