"""One tree of errors; each carries the exit code the CLI returns for it.

The library raises these; only the CLI turns them into a line on stderr and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``motorcade-backup`` (documented in the README)."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    S3_UNREACHABLE = 4
    S3_CREDENTIALS = 5
    S3_BUCKET_MISSING = 6
    DISK_FULL = 7
    DATABASE = 8
    INTEGRITY = 9
    DRILL_MISMATCH = 10
    TARGET_NOT_EMPTY = 11
    BACKUP_NOT_FOUND = 12
    LOCKED = 13
    S3_OTHER = 14
    INTERRUPTED = 15


class BackupError(Exception):
    """Base of every error the user can cause or must act on."""

    exit_code: ExitCode = ExitCode.UNEXPECTED


class ConfigError(BackupError, ValueError):
    """A setting is missing or invalid, or a key file cannot be read."""

    exit_code = ExitCode.CONFIG


class S3UnreachableError(BackupError, ConnectionError):
    """The S3 endpoint does not answer."""

    exit_code = ExitCode.S3_UNREACHABLE


class S3CredentialsError(BackupError, PermissionError):
    """The S3 endpoint refused the access key or secret key."""

    exit_code = ExitCode.S3_CREDENTIALS


class BucketMissingError(BackupError, LookupError):
    """The configured bucket does not exist."""

    exit_code = ExitCode.S3_BUCKET_MISSING


class S3OperationError(BackupError):
    """Any other S3 failure (server error, quota, ...)."""

    exit_code = ExitCode.S3_OTHER


class DiskFullError(BackupError, OSError):
    """A local file system ran out of space."""

    exit_code = ExitCode.DISK_FULL


class DatabaseError(BackupError):
    """PostgreSQL is unreachable, refused us, or pg_dump/pg_restore failed."""

    exit_code = ExitCode.DATABASE


class IntegrityError(BackupError):
    """A backup object does not match its manifest, or does not decrypt."""

    exit_code = ExitCode.INTEGRITY


class DrillMismatchError(BackupError):
    """The restored data differs from the manifest or from the live database."""

    exit_code = ExitCode.DRILL_MISMATCH


class TargetNotEmptyError(BackupError):
    """The restore target holds data and ``--force`` was not given."""

    exit_code = ExitCode.TARGET_NOT_EMPTY


class BackupNotFoundError(BackupError, LookupError):
    """No complete backup matches the request."""

    exit_code = ExitCode.BACKUP_NOT_FOUND


class LockedError(BackupError):
    """Another backup of the same database is running on this host."""

    exit_code = ExitCode.LOCKED


class InterruptedBackupError(BackupError):
    """The process was asked to stop (SIGTERM/SIGINT); partial uploads were aborted."""

    exit_code = ExitCode.INTERRUPTED
