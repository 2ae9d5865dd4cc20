"""A per-database host lock so that two backups never run at once (and stale uploads are really stale)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from motorcade_backup.errors import ConfigError, DiskFullError, LockedError


@contextmanager
def backup_lock(lock_dir: Path, database: str) -> Iterator[None]:
    """Hold an exclusive ``flock``; released by the kernel even when the process is killed."""
    path = lock_dir / f"motorcade-backup-{database}.lock"
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        if exc.errno == 28:
            raise DiskFullError(f"no space left on device for the lock file {path}") from None
        raise ConfigError(f"MOTORCADE_BACKUP_LOCK_DIR: cannot create {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another backup of database '{database}' is running (lock {path})") from None
        yield
    finally:
        os.close(fd)
