"""Encrypted, verified PostgreSQL backups to S3 with retention, restore and a restore drill."""

from motorcade_backup.backup import apply_retention, run_backup
from motorcade_backup.catalog import Catalog, load_catalog
from motorcade_backup.drill import DrillReport, run_drill
from motorcade_backup.errors import BackupError, ExitCode
from motorcade_backup.manifest import Manifest, Tier
from motorcade_backup.restore import restore
from motorcade_backup.settings import Settings, load_settings

__all__ = [
    "BackupError",
    "Catalog",
    "DrillReport",
    "ExitCode",
    "Manifest",
    "Settings",
    "Tier",
    "apply_retention",
    "load_catalog",
    "load_settings",
    "restore",
    "run_backup",
    "run_drill",
]
