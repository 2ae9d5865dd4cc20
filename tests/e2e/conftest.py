"""The end-to-end tests run on the session's `runbook_lab` (tests/runbook_lab.py): the runbook applied to a lab."""

from __future__ import annotations

from tests.runbook_lab import REPO, RunbookLab

__all__ = ["PLATFORM", "REPO", "WEBSITE", "RunbookLab"]

WEBSITE = ["WP_01", "WP_02", "WP_CHECKPOINT"]
PLATFORM = [
    "PLAT_01",
    "PLAT_02A",
    "PLAT_02B",
    "PLAT_02C",
    "PLAT_03",
    "PLAT_04A",
    "PLAT_04",
    "PLAT_05",
    "PLAT_06",
    "PLAT_07",
]
