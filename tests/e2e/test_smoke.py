"""Issue 3 in the lab: a smoke step taken through every gate of the conductor against the lab host over SSH."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, RunbookLab

pytestmark = pytest.mark.lab

SMOKE = REPO / "tests" / "lab" / "fixtures" / "smoke"


def test_the_smoke_step_passes_every_gate_and_answers_from_the_machine(runbook_lab: RunbookLab, tmp_path: Path) -> None:
    """SMOKE_01 (a systemd unit running a container on a published port) passes backup, run, idempotence,
    verify (including an HTTP check from this machine), pin and log."""
    project = tmp_path / "smoke"
    shutil.copytree(SMOKE, project)
    (project / ".lab").symlink_to(runbook_lab.home)
    applied = runbook_lab.motorcade("apply", "lab", "SMOKE_01", runbook=project / "runbook.yaml")
    assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr
    for gate in ("backup", "run", "idempotence", "verify", "pin", "log"):
        line = next(ln for ln in applied.stdout.splitlines() if f"SMOKE_01 {gate}" in ln)
        assert "✓" in line, line
    assert "Restore with: motorcade restore lab-SMOKE_01-" in applied.stdout
    releases = (runbook_lab.workspace / "releases/lab.yaml").read_text()
    assert "debian-base-image:" in releases
