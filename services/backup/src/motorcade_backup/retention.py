"""Retention by count per tier — pure logic, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from motorcade_backup.manifest import Tier


@dataclass(frozen=True)
class Candidate:
    """A complete backup as retention sees it."""

    backup_id: str
    tier: Tier
    finished_at: datetime


def to_delete(backups: Iterable[Candidate], keep: Mapping[Tier, int], protect: Iterable[str] = ()) -> list[Candidate]:
    """Backups beyond the newest ``keep[tier]`` of their tier, oldest first.

    Never returned: a protected id (the backup just verified), the newest backup overall, and — whatever the
    counts say — anything at all when that would leave no backup.
    """
    ordered = sorted(backups, key=lambda b: (b.finished_at, b.backup_id), reverse=True)
    if not ordered:
        return []
    protected = set(protect) | {ordered[0].backup_id}
    seen: dict[Tier, int] = {}
    doomed: list[Candidate] = []
    for backup in ordered:
        seen[backup.tier] = seen.get(backup.tier, 0) + 1
        if seen[backup.tier] > max(1, keep.get(backup.tier, 1)) and backup.backup_id not in protected:
            doomed.append(backup)
    if len(doomed) >= len(ordered):
        return []
    return sorted(doomed, key=lambda b: (b.finished_at, b.backup_id))
