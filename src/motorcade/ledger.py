"""The ledger: run history, gate results, backups and the per-environment apply lock, in SQLite.

Every write is its own transaction, so a `kill -9` at any point leaves whole rows behind: a run
that was interrupted stays `running` with the gates it finished, and `status` reports it as
interrupted once its lock holder is gone.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from motorcade.errors import LockHeldError, StaleLockError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id          TEXT PRIMARY KEY,
    env         TEXT NOT NULL,
    step        TEXT NOT NULL,
    action      TEXT NOT NULL,          -- apply | verify
    status      TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed', 'interrupted')),
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    operator    TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    git_commit  TEXT,
    failed_gate TEXT,
    message     TEXT,
    backup_id   TEXT,
    override    TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_step ON runs (env, step, started_at);
CREATE TABLE IF NOT EXISTS gates (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    gate    TEXT NOT NULL,
    status  TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'skipped')),
    detail  TEXT NOT NULL,
    data    TEXT NOT NULL DEFAULT '{}',
    at      TEXT NOT NULL,
    PRIMARY KEY (run_id, gate)
);
CREATE TABLE IF NOT EXISTS backups (
    id          TEXT PRIMARY KEY,
    env         TEXT NOT NULL,
    step        TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    location    TEXT NOT NULL,
    manifest    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    env         TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    command     TEXT NOT NULL
);
"""


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Holder:
    """Who holds an environment's apply lock."""

    env: str
    owner: str
    host: str
    pid: int
    started_at: str
    command: str

    def alive(self) -> bool:
        """True unless the holder is a process on this host that no longer exists."""
        if self.host != socket.gethostname():
            return True  # cannot tell from here; treat as held
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def describe(self) -> str:
        return f"{self.owner} pid {self.pid} since {self.started_at} ({self.command})"


@dataclass(frozen=True)
class GateRecord:
    gate: str
    status: str
    detail: str
    data: dict[str, Any]
    at: str


@dataclass(frozen=True)
class RunRecord:
    id: str
    env: str
    step: str
    action: str
    status: str
    started_at: str
    finished_at: str | None
    operator: str
    host: str
    pid: int
    git_commit: str | None
    failed_gate: str | None
    message: str | None
    backup_id: str | None
    override: str | None


class Ledger:
    """The SQLite ledger of one workspace (`<workspace>/.motorcade/ledger.sqlite3`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- the lock ---------------------------------------------------------------------------

    def acquire(self, env: str, owner: str, command: str) -> Holder:
        """Take the environment's lock, or raise naming who holds it (stale when its process is gone)."""
        holder = Holder(env, owner, socket.gethostname(), os.getpid(), utcnow(), command)
        with self._tx() as db:
            row = db.execute("SELECT * FROM locks WHERE env = ?", (env,)).fetchone()
            if row is not None:
                current = Holder(**dict(row))
                if not current.alive():
                    raise StaleLockError(
                        f"stale lock on {env}: held by {current.describe()}, a process that is gone; "
                        f"break it with `motorcade lock break {env}`"
                    )
                raise LockHeldError(f"{env} is locked by another apply: {current.describe()}")
            db.execute(
                "INSERT INTO locks VALUES (?, ?, ?, ?, ?, ?)",
                (env, holder.owner, holder.host, holder.pid, holder.started_at, holder.command),
            )
        return holder

    def release(self, env: str) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM locks WHERE env = ? AND pid = ? AND host = ?", (env, os.getpid(), socket.gethostname())
            )

    def holder(self, env: str) -> Holder | None:
        row = self._db.execute("SELECT * FROM locks WHERE env = ?", (env,)).fetchone()
        return Holder(**dict(row)) if row is not None else None

    def break_lock(self, env: str, *, force: bool = False) -> tuple[Holder | None, list[str]]:
        """Remove a stale lock (or any lock with `force`); its unfinished runs become interrupted (their ids)."""
        with self._tx() as db:
            row = db.execute("SELECT * FROM locks WHERE env = ?", (env,)).fetchone()
            if row is None:
                return None, []
            holder = Holder(**dict(row))
            if holder.alive() and not force:
                raise LockHeldError(f"{env} lock is held by a live process: {holder.describe()} (use --force)")
            unfinished = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM runs WHERE env = ? AND status = 'running' AND pid = ? AND host = ?",
                    (env, holder.pid, holder.host),
                )
            ]
            db.execute("DELETE FROM locks WHERE env = ?", (env,))
            db.execute(
                "UPDATE runs SET status = 'interrupted', finished_at = ?, message = 'interrupted: its process is gone' "
                "WHERE env = ? AND status = 'running' AND pid = ? AND host = ?",
                (utcnow(), env, holder.pid, holder.host),
            )
        return holder, unfinished

    # -- runs and gates ---------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        env: str,
        step: str,
        action: str,
        operator: str,
        git_commit: str | None,
        override: str | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, env, step, action, status, started_at, operator, host, pid, git_commit, "
                "override) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    env,
                    step,
                    action,
                    utcnow(),
                    operator,
                    socket.gethostname(),
                    os.getpid(),
                    git_commit,
                    override,
                ),
            )

    def record_gate(self, run_id: str, gate: str, status: str, detail: str, data: dict[str, Any] | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO gates VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, gate, status, detail, json.dumps(data or {}, sort_keys=True, default=str), utcnow()),
            )

    def finish_run(
        self, run_id: str, status: str, failed_gate: str | None, message: str | None, backup_id: str | None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status = ?, finished_at = ?, failed_gate = ?, message = ?, backup_id = ? WHERE id = ?",
                (status, utcnow(), failed_gate, message, backup_id, run_id),
            )

    def runs(self, env: str, step: str | None = None, limit: int = 50) -> list[RunRecord]:
        rows = self._db.execute(
            "SELECT * FROM runs WHERE env = ? AND (? IS NULL OR step = ?) ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (env, step, step, limit),
        ).fetchall()
        return [RunRecord(**dict(row)) for row in rows]

    def latest_applies(self, env: str) -> dict[str, RunRecord]:
        """The newest apply run of every step in `env`, in one query."""
        rows = self._db.execute(
            "SELECT * FROM runs r WHERE env = ? AND action = 'apply' AND rowid = ("
            "  SELECT rowid FROM runs WHERE env = r.env AND step = r.step AND action = 'apply'"
            "  ORDER BY started_at DESC, rowid DESC LIMIT 1)",
            (env,),
        ).fetchall()
        return {row["step"]: RunRecord(**dict(row)) for row in rows}

    def run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return RunRecord(**dict(row)) if row is not None else None

    def gates(self, run_id: str) -> list[GateRecord]:
        rows = self._db.execute("SELECT * FROM gates WHERE run_id = ? ORDER BY at, rowid", (run_id,)).fetchall()
        return [GateRecord(r["gate"], r["status"], r["detail"], json.loads(r["data"]), r["at"]) for r in rows]

    # -- backups ----------------------------------------------------------------------------

    def record_backup(
        self, backup_id: str, env: str, step: str, run_id: str, location: str, manifest: dict[str, Any]
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO backups VALUES (?, ?, ?, ?, ?, ?, ?)",
                (backup_id, env, step, run_id, utcnow(), location, json.dumps(manifest, sort_keys=True)),
            )

    def backup(self, backup_id: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT * FROM backups WHERE id = ?", (backup_id,)).fetchone()
        if row is None:
            return None
        record = dict(row)
        record["manifest"] = json.loads(record["manifest"])
        return record
