"""Pure logic: retention, tiers, comparisons, redaction and the manifest format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from motorcade_backup.drill import compare
from motorcade_backup.manifest import Manifest, TableEntry, Tier, new_backup_id, tier_for
from motorcade_backup.redact import redact, register_secret
from motorcade_backup.retention import Candidate, to_delete

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def series(tier: Tier, count: int, start: int = 0) -> list[Candidate]:
    return [Candidate(f"{tier.value}-{i}", tier, T0 + timedelta(days=start + i)) for i in range(count)]


def test_keeps_newest_count_per_tier() -> None:
    """Each tier keeps its newest N; the oldest surplus is deleted, oldest first."""
    backups = series(Tier.DAILY, 5) + series(Tier.WEEKLY, 3, start=10) + series(Tier.MONTHLY, 1, start=20)
    doomed = to_delete(backups, {Tier.DAILY: 2, Tier.WEEKLY: 2, Tier.MONTHLY: 1})
    assert [b.backup_id for b in doomed] == ["daily-0", "daily-1", "daily-2", "weekly-0"]


def test_never_deletes_the_only_backup() -> None:
    """A single backup survives whatever the counts are."""
    [only] = series(Tier.DAILY, 1)
    assert to_delete([only], {Tier.DAILY: 0}) == []
    assert to_delete([only], {}) == []


def test_never_deletes_newest_or_protected() -> None:
    """The newest backup overall and the protected (just verified) one are kept even beyond their tier's count."""
    backups = series(Tier.DAILY, 3)
    doomed = to_delete(backups, {Tier.DAILY: 1}, protect=["daily-0"])
    assert [b.backup_id for b in doomed] == ["daily-1"]


def test_zero_count_is_treated_as_one() -> None:
    """A count below one cannot empty a tier: the newest of each tier stays."""
    backups = series(Tier.WEEKLY, 2) + series(Tier.DAILY, 1, start=5)
    assert [b.backup_id for b in to_delete(backups, {Tier.WEEKLY: 0, Tier.DAILY: 0})] == ["weekly-0"]


def test_empty_list() -> None:
    """No backups, nothing to delete."""
    assert to_delete([], {Tier.DAILY: 1}) == []


@pytest.mark.parametrize(
    ("day", "tier"),
    [
        (datetime(2026, 11, 1, tzinfo=UTC), Tier.MONTHLY),
        (datetime(2026, 11, 29, tzinfo=UTC), Tier.WEEKLY),
        (datetime(2026, 11, 27, tzinfo=UTC), Tier.DAILY),
    ],
)
def test_tier_for(day: datetime, tier: Tier) -> None:
    """Monthly on the 1st, weekly on Sundays, daily otherwise."""
    assert tier_for(day) == tier


def test_backup_ids_sort_chronologically() -> None:
    """Ids sort like the times they were taken at."""
    ids = [new_backup_id(T0 + timedelta(microseconds=m)) for m in (0, 1, 999_999, 1_000_000)]
    assert ids == sorted(ids)
    assert ids[0] == "20261101T000000.000000Z"


def test_compare_names_each_difference() -> None:
    """Missing, unexpected, row-count and checksum differences are each reported."""
    expected = {"a.t": (1, "x"), "a.u": (2, "y"), "a.v": (3, "z")}
    actual = {"a.t": (1, "x"), "a.u": (5, "y"), "a.v": (3, "q"), "a.w": (0, "e")}
    assert compare(expected, actual, "copy") == [
        "a.u rows 5 in copy != 2",
        "a.v content checksum differs in copy",
        "a.w unexpected in copy",
    ]
    assert compare(expected, {}, "copy")[0] == "a.t missing in copy"
    assert compare(expected, dict(expected), "copy") == []


def test_redact_masks_registered_secrets() -> None:
    """Registered secrets are masked wherever they appear; short strings are never registered."""
    register_secret("s3cr3t-value-xyz")
    register_secret("ab")
    assert redact("key=s3cr3t-value-xyz; ab") == "key=***; ab"


def test_manifest_round_trip() -> None:
    """A manifest survives JSON serialisation unchanged and keeps 'schema' as the table field name."""
    manifest = Manifest(
        backup_id="20261101T000000.000000Z",
        database="motorcade",
        database_owner="motorcade_owner",
        server_version="15.14",
        pg_dump_version="pg_dump (PostgreSQL) 15.14",
        tier=Tier.DAILY,
        started_at=T0,
        finished_at=T0,
        object_key="postgres/motorcade/x.dump.age",
        size=10,
        sha256="0" * 64,
        encryption="age 1.1.1",
        recipient="age1xyz",
        tables=[TableEntry(schema="leads", name="leads", rows=3, checksum="c")],
    )
    data = manifest.to_json()
    assert b'"schema": "leads"' in data
    assert Manifest.from_json(data) == manifest
    assert manifest.total_rows == 3
