"""The backup job: pg_dump → age → SHA-256 → S3 multipart upload → manifest (last) → retention."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

import psycopg

from motorcade_backup import crypto, postgres
from motorcade_backup.catalog import load_catalog
from motorcade_backup.errors import DatabaseError, S3OperationError
from motorcade_backup.lock import backup_lock
from motorcade_backup.logs import get_logger
from motorcade_backup.manifest import (
    Manifest,
    TableEntry,
    Tier,
    data_key,
    manifest_key,
    new_backup_id,
    tier_for,
)
from motorcade_backup.retention import Candidate, to_delete
from motorcade_backup.s3 import (
    MultipartUpload,
    S3Client,
    abort_stale_uploads,
    check_bucket,
    make_client,
    translate_errors,
)
from motorcade_backup.settings import Settings
from motorcade_backup.signals import stop_on_signals

log = get_logger("backup")
PROGRESS_EVERY = 256 * 1024 * 1024


@dataclass
class _Drain:
    """Collect a child's stderr in a thread so a chatty child can never block on a full pipe."""

    stream: IO[bytes]
    chunks: list[bytes] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> _Drain:
        self.thread = threading.Thread(target=lambda: self.chunks.append(self.stream.read()), daemon=True)
        self.thread.start()
        return self

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=30)

    def text(self) -> str:
        self.join()
        return b"".join(self.chunks).decode(errors="replace")


@dataclass
class _Result:
    value: list[postgres.TableStats] | None = None
    error: BaseException | None = None


def _in_thread(target: Callable[[], list[postgres.TableStats]]) -> tuple[threading.Thread, _Result]:
    result = _Result()

    def run() -> None:
        try:
            result.value = target()
        except BaseException as exc:  # handed back to the main thread
            result.error = exc

    thread = threading.Thread(target=run, name="table-stats", daemon=True)
    thread.start()
    return thread, result


def pg_dump_version(settings: Settings) -> str:
    out = subprocess.run(
        [str(settings.pg_bindir / "pg_dump"), "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    return out.stdout.strip()


def cleanup_leftovers(client: S3Client, settings: Settings) -> None:
    """Abort unfinished uploads and delete objects that never got a manifest (caller holds the lock)."""
    with translate_errors(settings, "cleaning up interrupted uploads"):
        abort_stale_uploads(client, settings.s3_bucket, settings.key_prefix)
    for key in load_catalog(client, settings).orphans:
        with translate_errors(settings, "deleting an incomplete object"):
            client.delete_object(Bucket=settings.s3_bucket, Key=key)
        log.warning("incomplete_object_deleted", key=key)


def run_backup(settings: Settings, tier: Tier | None = None) -> Manifest:
    """Take one backup and apply retention; returns its manifest."""
    recipient = crypto.recipient_for(settings.encryption_key_file)
    settings.check_encryption_key()
    client = make_client(settings)
    check_bucket(client, settings)
    database = settings.database
    with backup_lock(settings.lock_dir, database), stop_on_signals():
        cleanup_leftovers(client, settings)
        manifest = _dump_and_upload(client, settings, recipient, tier)
        apply_retention(client, settings, protect=manifest.backup_id)
    return manifest


def _dump_and_upload(client: S3Client, settings: Settings, recipient: str, tier: Tier | None) -> Manifest:
    started = datetime.now(UTC)
    backup_id = new_backup_id(started)
    tier = tier or tier_for(started)
    key = data_key(settings.key_prefix, backup_id)
    log.info("backup_started", database=settings.database, backup_id=backup_id, tier=tier.value, key=key)
    with postgres.connect(settings) as conn:
        snapshot = postgres.export_snapshot(conn)
        version = postgres.server_version(conn)
        owner = postgres.database_owner(conn)
        size, sha256, tables = _stream(client, settings, conn, snapshot=snapshot, recipient=recipient, key=key)
        conn.execute("COMMIT")
    manifest = Manifest(
        backup_id=backup_id,
        database=settings.database,
        database_owner=owner,
        server_version=version,
        pg_dump_version=pg_dump_version(settings),
        tier=tier,
        started_at=started,
        finished_at=datetime.now(UTC),
        object_key=key,
        size=size,
        sha256=sha256,
        encryption=f"age {crypto.age_version()}",
        recipient=recipient,
        tables=[TableEntry.of(t) for t in tables],
    )
    _publish(client, settings, manifest)
    seconds = (manifest.finished_at - started).total_seconds()
    log.info(
        "backup_completed",
        backup_id=backup_id,
        tier=tier.value,
        size=size,
        sha256=manifest.sha256,
        tables=len(manifest.tables),
        rows=manifest.total_rows,
        seconds=round(seconds, 2),
        mb_per_s=round(size / 1e6 / seconds, 1) if seconds else None,
    )
    return manifest


def _stream(  # noqa: PLR0912 - one pipeline: dump, encrypt, hash, upload, with cleanup on each failure
    client: S3Client, settings: Settings, conn: psycopg.Connection, *, snapshot: str, recipient: str, key: str
) -> tuple[int, str, list[postgres.TableStats]]:
    """pg_dump (in the exported snapshot) | age → SHA-256 → multipart upload, while the same snapshot's
    per-table row counts and checksums are computed on ``conn``. Returns (size, sha256, table stats)."""
    dump = subprocess.Popen(
        [
            str(settings.pg_bindir / "pg_dump"),
            "--format=custom",
            f"--snapshot={snapshot}",
            f"--dbname={settings.database_dsn}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=postgres.subprocess_env(settings),
    )
    if dump.stdout is None or dump.stderr is None:  # pragma: no cover - PIPE always gives streams
        raise RuntimeError("pg_dump pipes missing")
    age = crypto.start_encrypt(recipient, dump.stdout)
    dump.stdout.close()
    if age.stdout is None or age.stderr is None:  # pragma: no cover
        raise RuntimeError("age pipes missing")
    dump_err, age_err = _Drain(dump.stderr).start(), _Drain(age.stderr).start()
    stats_thread, stats = _in_thread(lambda: postgres.table_stats(conn))
    upload = MultipartUpload(client, settings.s3_bucket, key, settings.upload_concurrency)
    digest = hashlib.sha256()
    size = 0
    try:
        with translate_errors(settings, "uploading the backup"):
            upload.start()
            part_size = settings.part_size_mb * 1024 * 1024
            while chunk := age.stdout.read(part_size):
                digest.update(chunk)
                size += len(chunk)
                upload.add_part(chunk)
                if size // PROGRESS_EVERY != (size - len(chunk)) // PROGRESS_EVERY:
                    log.info("backup_progress", key=key, uploaded_bytes=size)
            dump_rc, age_rc = dump.wait(), age.wait()
            stats_thread.join()
            if stats.error is not None:  # also the root cause when pg_dump failed: it invalidates the snapshot
                raise stats.error
            if dump_rc != 0:
                raise DatabaseError(f"pg_dump failed (exit {dump_rc}): {postgres.first_line(dump_err.text())}")
            if age_rc != 0:
                raise S3OperationError(f"age encryption failed (exit {age_rc}): {postgres.first_line(age_err.text())}")
            upload.complete()
    finally:
        for proc in (dump, age):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        upload.close()
        stats_thread.join(timeout=60)
        for drain in (dump_err, age_err):
            drain.join()
        for stream in (age.stdout, dump.stderr, age.stderr):
            stream.close()
    if stats.value is None:  # pragma: no cover - join() above guarantees a value or an error
        raise RuntimeError("table statistics missing")
    return size, digest.hexdigest(), stats.value


def _publish(client: S3Client, settings: Settings, manifest: Manifest) -> None:
    """Check the object landed whole, then write the manifest — the completeness marker — last."""
    with translate_errors(settings, "verifying the uploaded object"):
        head = client.head_object(Bucket=settings.s3_bucket, Key=manifest.object_key)
        if int(head["ContentLength"]) != manifest.size:
            raise S3OperationError(
                f"uploaded object {manifest.object_key} has {head['ContentLength']} bytes, expected {manifest.size}"
            )
    with translate_errors(settings, "writing the manifest"):
        client.put_object(
            Bucket=settings.s3_bucket,
            Key=manifest_key(settings.key_prefix, manifest.backup_id),
            Body=manifest.to_json(),
            ContentType="application/json",
        )


def apply_retention(client: S3Client, settings: Settings, protect: str) -> list[str]:
    """Delete backups beyond the per-tier counts (manifest first, so nothing half-deleted looks complete)."""
    catalog = load_catalog(client, settings)
    if protect not in {m.backup_id for m in catalog.complete}:
        log.error("retention_skipped", reason="the new backup is not listed as complete", backup_id=protect)
        return []
    keep = {
        Tier.DAILY: settings.retain_daily,
        Tier.WEEKLY: settings.retain_weekly,
        Tier.MONTHLY: settings.retain_monthly,
    }
    candidates = [Candidate(m.backup_id, m.tier, m.finished_at) for m in catalog.complete]
    by_id = {m.backup_id: m for m in catalog.complete}
    deleted: list[str] = []
    for doomed in to_delete(candidates, keep, protect=[protect]):
        manifest = by_id[doomed.backup_id]
        with translate_errors(settings, "applying retention"):
            client.delete_object(Bucket=settings.s3_bucket, Key=manifest_key(settings.key_prefix, doomed.backup_id))
            client.delete_object(Bucket=settings.s3_bucket, Key=manifest.object_key)
        log.info("backup_expired", backup_id=doomed.backup_id, tier=doomed.tier.value)
        deleted.append(doomed.backup_id)
    return deleted
