"""The restore drill: restore the newest backup into a scratch database and prove it holds the same data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from motorcade_backup import postgres
from motorcade_backup.errors import DrillMismatchError
from motorcade_backup.lock import backup_lock
from motorcade_backup.logs import get_logger
from motorcade_backup.manifest import Manifest
from motorcade_backup.restore import restore
from motorcade_backup.settings import Settings

log = get_logger("drill")
SCRATCH_PREFIX = "motorcade_drill_scratch_"
SCRATCH_PATTERN = "^motorcade_drill_scratch_[0-9]{14}$"


@dataclass
class DrillReport:
    """The outcome of one drill."""

    backup_id: str
    scratch_db: str
    tables: int = 0
    rows: int = 0
    problems: list[str] = field(default_factory=list)


def compare(expected: dict[str, tuple[int, str]], actual: dict[str, tuple[int, str]], label: str) -> list[str]:
    """Human-readable differences between two {table: (rows, checksum)} maps."""
    problems: list[str] = []
    for table in sorted(expected.keys() | actual.keys()):
        if table not in actual:
            problems.append(f"{table} missing in {label}")
        elif table not in expected:
            problems.append(f"{table} unexpected in {label}")
        elif expected[table][0] != actual[table][0]:
            problems.append(f"{table} rows {actual[table][0]} in {label} != {expected[table][0]}")
        elif expected[table][1] != actual[table][1]:
            problems.append(f"{table} content checksum differs in {label}")
    return problems


def _as_map(stats: list[postgres.TableStats]) -> dict[str, tuple[int, str]]:
    return {t.qualified: (t.rows, t.checksum) for t in stats}


def _manifest_map(manifest: Manifest) -> dict[str, tuple[int, str]]:
    return {t.qualified: (t.rows, t.checksum) for t in manifest.tables}


def run_drill(settings: Settings, *, compare_live: bool = False) -> DrillReport:
    """Restore ``latest`` into a scratch database, compare, drop it; raises on any difference."""
    scratch = SCRATCH_PREFIX + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    with backup_lock(settings.lock_dir, f"{settings.database}-drill"):
        _drop_leftover_scratch(settings)
        log.info("drill_started", database=settings.database, scratch_db=scratch, compare_live=compare_live)
        manifest = restore(settings, "latest", scratch)
        report = DrillReport(backup_id=manifest.backup_id, scratch_db=scratch)
        try:
            with postgres.connect(settings, scratch) as conn:
                restored = _as_map(postgres.table_stats(conn))
            report.problems += compare(_manifest_map(manifest), restored, "the restored copy")
            if compare_live:
                with postgres.connect(settings) as conn:
                    live = _as_map(postgres.table_stats(conn))
                report.problems += compare(live, restored, "the restored copy vs the live database")
        finally:
            with postgres.connect(settings, settings.maintenance_db) as admin:
                postgres.drop_database(admin, scratch)
            log.info("drill_scratch_dropped", scratch_db=scratch)
    report.tables = len(restored)
    report.rows = sum(rows for rows, _ in restored.values())
    for table, (rows, checksum) in sorted(restored.items()):
        log.info("drill_table", table=table, rows=rows, checksum=checksum)
    if report.problems:
        log.error("drill_failed", backup_id=report.backup_id, problems=report.problems)
        raise DrillMismatchError(
            f"backup {report.backup_id}: {len(report.problems)} difference(s): " + "; ".join(report.problems[:3])
        )
    log.info("drill_passed", backup_id=report.backup_id, tables=report.tables, rows=report.rows)
    return report


def _drop_leftover_scratch(settings: Settings) -> None:
    """Drop scratch databases a killed drill left behind (we hold the drill lock)."""
    with postgres.connect(settings, settings.maintenance_db) as admin:
        names = [
            str(row[0])
            for row in admin.execute(
                "SELECT datname FROM pg_database WHERE datname ~ %s", (SCRATCH_PATTERN,)
            ).fetchall()
        ]
        for name in names:
            postgres.drop_database(admin, name)
            log.warning("drill_leftover_dropped", scratch_db=name)
