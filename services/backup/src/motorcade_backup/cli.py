"""``motorcade-backup``: a thin CLI. It prints; the library raises."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from motorcade_backup import logs
from motorcade_backup.backup import run_backup
from motorcade_backup.catalog import load_catalog
from motorcade_backup.drill import run_drill
from motorcade_backup.errors import BackupError, BackupNotFoundError, ExitCode
from motorcade_backup.manifest import Tier
from motorcade_backup.redact import redact
from motorcade_backup.restore import restore
from motorcade_backup.s3 import check_bucket, make_client
from motorcade_backup.settings import load_settings

PROG = "motorcade-backup"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Encrypted PostgreSQL backups to S3, restore and drill.")
    parser.add_argument(
        "--config",
        type=Path,
        help="env file with MOTORCADE_BACKUP_* settings "
        "(default /etc/motorcade/backup/backup.env when present, as PLAT_07 writes it); the environment wins",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    backup = sub.add_parser("backup", help="dump, encrypt and upload one backup, then apply retention")
    backup.add_argument(
        "--tier",
        choices=[t.value for t in Tier],
        help="default: monthly on the 1st, weekly on Sundays, daily otherwise",
    )
    listing = sub.add_parser("list", help="list complete backups, newest first")
    listing.add_argument("--json", action="store_true", help="print manifests as JSON")
    latest = sub.add_parser("latest", help="show the newest complete backup; fails when it is older than asked")
    latest.add_argument(
        "--max-age-minutes",
        type=int,
        metavar="N",
        help="fail (exit 12) unless the newest complete backup finished at most N minutes ago",
    )
    latest.add_argument(
        "--finished-after",
        type=_moment,
        metavar="TIME",
        help="fail (exit 12) unless the newest complete backup finished at or after TIME (ISO 8601 with a time zone, "
        "e.g. 2026-11-27T08:00:05Z; motorcade passes the start of the apply being verified)",
    )
    rest = sub.add_parser("restore", help="restore a backup into a database")
    rest.add_argument("backup_id", nargs="?", default="latest", help="a backup id from 'list', or 'latest'")
    rest.add_argument("--target-db", required=True, help="database to restore into (created if missing)")
    rest.add_argument("--force", action="store_true", help="replace a non-empty target database")
    drill = sub.add_parser("drill", help="restore the latest backup into a scratch database and compare")
    drill.add_argument("--compare-live", action="store_true", help="also compare with the live database")
    return parser


def _moment(value: str) -> datetime:
    """An ISO 8601 date and time with a time zone (``Z`` or an offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {value!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a time zone (Z or +HH:MM): {value!r}")
    return moment


def _list(args: argparse.Namespace) -> None:
    settings = load_settings(args.config)
    client = make_client(settings)
    check_bucket(client, settings)
    catalog = load_catalog(client, settings)
    if args.json:
        print(json.dumps([m.model_dump(mode="json", by_alias=True) for m in catalog.complete], indent=2))
        return
    print(f"{'BACKUP_ID':<26} {'TIER':<8} {'SIZE_MB':>10} {'TABLES':>6} {'ROWS':>12}  FINISHED_AT")
    for m in catalog.complete:
        print(
            f"{m.backup_id:<26} {m.tier.value:<8} {m.size / 1e6:>10.1f} {len(m.tables):>6} {m.total_rows:>12}  "
            f"{m.finished_at.isoformat(timespec='seconds')}"
        )
    for broken in catalog.broken:
        print(f"{broken:<26} BROKEN (manifest without a whole object)")


def _latest(args: argparse.Namespace) -> None:
    settings = load_settings(args.config)
    client = make_client(settings)
    check_bucket(client, settings)
    newest = load_catalog(client, settings).find("latest")
    age = (datetime.now(UTC) - newest.finished_at).total_seconds() / 60
    if args.max_age_minutes is not None and age > args.max_age_minutes:
        raise BackupNotFoundError(
            f"the newest complete backup, {newest.backup_id}, finished {age:.0f} minutes ago "
            f"(more than {args.max_age_minutes})"
        )
    if args.finished_after is not None and newest.finished_at < args.finished_after:
        raise BackupNotFoundError(
            f"the newest complete backup, {newest.backup_id}, finished at {newest.finished_at.isoformat()}, "
            f"before {args.finished_after.isoformat()}"
        )
    summary = {"result": "latest_ok", "backup_id": newest.backup_id, "finished_at": newest.finished_at.isoformat()}
    print(json.dumps({**summary, "age_minutes": round(age, 1), "size": newest.size, "tables": len(newest.tables)}))


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "list":
        _list(args)
        return
    if args.command == "latest":
        _latest(args)
        return
    settings = load_settings(args.config)
    logs.configure(settings.log_level)
    if args.command == "backup":
        manifest = run_backup(settings, Tier(args.tier) if args.tier else None)
        print(json.dumps({"result": "backup_ok", "backup_id": manifest.backup_id, "sha256": manifest.sha256}))
    elif args.command == "restore":
        manifest = restore(settings, args.backup_id, args.target_db, force=args.force)
        print(json.dumps({"result": "restore_ok", "backup_id": manifest.backup_id, "target_db": args.target_db}))
    elif args.command == "drill":
        report = run_drill(settings, compare_live=args.compare_live)
        print(
            json.dumps(
                {
                    "result": "drill_passed",
                    "backup_id": report.backup_id,
                    "tables": report.tables,
                    "rows": report.rows,
                }
            )
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (see :class:`ExitCode`)."""
    args = _parser().parse_args(argv)
    logs.configure("INFO")
    log = logs.get_logger("cli")
    try:
        _dispatch(args)
    except BackupError as exc:
        prefix = "DRILL FAILED: " if args.command == "drill" else ""
        message = redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__
        log.error("command_failed", command=args.command, exit_code=int(exc.exit_code), error=message)
        print(f"{PROG}: error: {prefix}{message}", file=sys.stderr)
        return int(exc.exit_code)
    except Exception as exc:
        log.exception("unexpected_error", command=args.command)
        prefix = "DRILL FAILED: " if args.command == "drill" else ""
        print(
            f"{PROG}: error: {prefix}unexpected {type(exc).__name__} (a bug; traceback logged as JSON on stdout)",
            file=sys.stderr,
        )
        return int(ExitCode.UNEXPECTED)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
