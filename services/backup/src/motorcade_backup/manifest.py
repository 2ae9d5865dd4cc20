"""The manifest: a small JSON document per backup, written last — its presence marks the backup complete."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from motorcade_backup.postgres import TableStats

FORMAT_VERSION = 1
MANIFEST_SUFFIX = ".manifest.json"
DATA_SUFFIX = ".dump.age"


class Tier(StrEnum):
    """Retention tiers; a backup belongs to exactly one."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


def tier_for(moment: datetime) -> Tier:
    """The tier of a scheduled backup: monthly on the 1st, weekly on Sundays, daily otherwise."""
    if moment.day == 1:
        return Tier.MONTHLY
    if moment.weekday() == 6:
        return Tier.WEEKLY
    return Tier.DAILY


def new_backup_id(moment: datetime) -> str:
    """Sortable, unique-per-microsecond id, e.g. ``20261127T014500.123456Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


class TableEntry(BaseModel):
    schema_name: str = Field(alias="schema")
    name: str
    rows: int
    checksum: str

    model_config = {"populate_by_name": True}

    @classmethod
    def of(cls, stats: TableStats) -> TableEntry:
        return cls(schema=stats.schema, name=stats.name, rows=stats.rows, checksum=stats.checksum)

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.name}"


class Manifest(BaseModel):
    """What was backed up and how to check it."""

    format: int = FORMAT_VERSION
    backup_id: str
    database: str
    database_owner: str
    server_version: str
    pg_dump_version: str
    tier: Tier
    started_at: datetime
    finished_at: datetime
    object_key: str
    size: int = Field(description="bytes of the encrypted object")
    sha256: str = Field(description="SHA-256 of the encrypted object")
    encryption: str = Field(description="tool and version, e.g. 'age v1.1.1'")
    recipient: str = Field(description="public age recipient (not a secret)")
    tables: list[TableEntry]

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        return cls.model_validate_json(data)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)


def data_key(prefix: str, backup_id: str) -> str:
    return f"{prefix}{backup_id}{DATA_SUFFIX}"


def manifest_key(prefix: str, backup_id: str) -> str:
    return f"{prefix}{backup_id}{MANIFEST_SUFFIX}"
