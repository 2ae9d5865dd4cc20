"""Restore: download + verify SHA-256 + decrypt to a private temp file, then pg_restore into a staging
database that replaces the target only once it restored without error."""

from __future__ import annotations

import errno
import hashlib
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from motorcade_backup import crypto, postgres
from motorcade_backup.catalog import load_catalog
from motorcade_backup.errors import (
    ConfigError,
    DatabaseError,
    DiskFullError,
    IntegrityError,
    TargetNotEmptyError,
)
from motorcade_backup.logs import get_logger
from motorcade_backup.manifest import Manifest
from motorcade_backup.s3 import S3Client, check_bucket, make_client, translate_errors
from motorcade_backup.settings import Settings

log = get_logger("restore")
CHUNK = 1024 * 1024


@dataclass
class _Feed:
    """Ciphertext pump: S3 body → SHA-256 → age stdin (keeps hashing if age stops early)."""

    digest: hashlib._Hash
    size: int = 0
    error: BaseException | None = None


def _pump(body: object, stdin: object, feed: _Feed, stop: threading.Event) -> None:
    writing = True
    try:
        for chunk in body.iter_chunks(CHUNK):  # type: ignore[attr-defined]
            if stop.is_set():
                return
            feed.digest.update(chunk)
            feed.size += len(chunk)
            if writing:
                try:
                    stdin.write(chunk)  # type: ignore[attr-defined]
                except BrokenPipeError:
                    writing = False  # age gave up (bad header/tag); finish hashing to name the cause
    except (ClientError, BotoCoreError, OSError) as exc:
        feed.error = exc
    finally:
        with suppress(BrokenPipeError):
            stdin.close()  # type: ignore[attr-defined]


@contextmanager
def verified_dump(client: S3Client, settings: Settings, manifest: Manifest) -> Iterator[Path]:
    """Yield the path of the decrypted archive after its ciphertext hash and decryption both checked out."""
    try:
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="motorcade-restore-", dir=settings.work_dir))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(f"no space left on device in {settings.work_dir}") from None
        raise ConfigError(f"MOTORCADE_BACKUP_WORK_DIR: cannot use {settings.work_dir}: {exc.strerror}") from None
    try:
        yield _download_and_decrypt(client, settings, manifest, workdir / "dump.custom")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _download_and_decrypt(client: S3Client, settings: Settings, manifest: Manifest, target: Path) -> Path:
    started = time.monotonic()
    with translate_errors(settings, f"downloading backup {manifest.backup_id}"):
        body = client.get_object(Bucket=settings.s3_bucket, Key=manifest.object_key)["Body"]
    age = crypto.start_decrypt(settings.encryption_key_file)
    if age.stdin is None or age.stdout is None or age.stderr is None:  # pragma: no cover
        raise RuntimeError("age pipes missing")
    feed = _Feed(digest=hashlib.sha256())
    stop = threading.Event()
    pump = threading.Thread(target=_pump, args=(body, age.stdin, feed, stop), daemon=True)
    pump.start()
    plain = 0
    try:
        with target.open("wb") as out:
            while chunk := age.stdout.read(CHUNK):
                out.write(chunk)
                plain += len(chunk)
    except OSError as exc:
        stop.set()
        age.kill()
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError(
                f"no space left on device in {settings.work_dir} while decrypting backup {manifest.backup_id}"
            ) from None
        raise
    finally:
        pump.join()
        age_err = age.stderr.read().decode(errors="replace")
        age_rc = age.wait()
        for stream in (age.stdout, age.stderr):
            stream.close()
        body.close()
    if feed.error is not None:
        with translate_errors(settings, f"downloading backup {manifest.backup_id}"):
            raise feed.error
    if feed.digest.hexdigest() != manifest.sha256 or feed.size != manifest.size:
        raise IntegrityError(
            f"backup {manifest.backup_id} failed its checksum: object sha256 {feed.digest.hexdigest()[:16]}… "
            f"({feed.size} bytes) != manifest {manifest.sha256[:16]}… ({manifest.size} bytes) — altered or corrupted"
        )
    if age_rc != 0:
        raise IntegrityError(
            f"backup {manifest.backup_id} does not decrypt with the configured key: {postgres.first_line(age_err)}"
        )
    log.info(
        "backup_verified",
        backup_id=manifest.backup_id,
        sha256=manifest.sha256,
        dump_bytes=plain,
        seconds=round(time.monotonic() - started, 2),
    )
    return target


def _check_target(settings: Settings, target_db: str, force: bool) -> bool:
    """True when the target exists; refuses a non-empty one unless ``force``."""
    with postgres.connect(settings, settings.maintenance_db) as admin:
        exists = postgres.database_exists(admin, target_db)
    if exists and not force:
        with postgres.connect(settings, target_db) as conn:
            if not postgres.is_empty(conn):
                raise TargetNotEmptyError(
                    f"database '{target_db}' is not empty; restore refuses to overwrite it without --force"
                )
    return exists


def restore(settings: Settings, backup_id: str, target_db: str, *, force: bool = False) -> Manifest:
    """Restore ``backup_id`` (or ``latest``) into ``target_db``; returns the restored backup's manifest."""
    settings.check_encryption_key()
    client = make_client(settings)
    check_bucket(client, settings)
    manifest = load_catalog(client, settings).find(backup_id)
    _check_target(settings, target_db, force)
    started = time.monotonic()
    log.info("restore_started", backup_id=manifest.backup_id, target_db=target_db, force=force)
    with verified_dump(client, settings, manifest) as dump:
        staging = f"mcb_restore_{secrets.token_hex(6)}"
        with postgres.connect(settings, settings.maintenance_db) as admin:
            postgres.create_database(admin, staging, manifest.database_owner)
        try:
            _pg_restore(settings, dump, staging)
            exists = _check_target(settings, target_db, force)
            with postgres.connect(settings, settings.maintenance_db) as admin:
                if exists:
                    postgres.copy_database_privileges(admin, target_db, staging)
                    postgres.copy_database_settings(admin, target_db, staging)
                    postgres.drop_database(admin, target_db)
                postgres.rename_database(admin, staging, target_db)
        except BaseException:
            with postgres.connect(settings, settings.maintenance_db) as admin:
                postgres.drop_database(admin, staging)
            raise
    log.info(
        "restore_completed",
        backup_id=manifest.backup_id,
        target_db=target_db,
        seconds=round(time.monotonic() - started, 2),
    )
    return manifest


def _pg_restore(settings: Settings, dump: Path, dbname: str) -> None:
    result = subprocess.run(
        [
            str(settings.pg_bindir / "pg_restore"),
            f"--dbname={postgres.dsn_for(settings, dbname)}",
            "--exit-on-error",
            f"--jobs={settings.restore_jobs}",
            str(dump),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=postgres.subprocess_env(settings),
    )
    if result.returncode != 0:
        raise DatabaseError(f"pg_restore into '{dbname}' failed: {postgres.first_line(result.stderr)}")
