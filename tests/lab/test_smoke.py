"""Issue 3 in the lab: a smoke step taken through every gate of the conductor against the lab host over SSH.

It needs a lab host but none of the runbook's steps, so it runs on a lab of its own (tests/lab, beside the end-to-end
session) rather than on the session's runbook lab, whose chain of steps and tests is the longest of `./run test`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from motorcade import lab
from tests.lab.conftest import SMOKE

pytestmark = pytest.mark.lab


def test_the_smoke_step_passes_every_gate_and_answers_from_the_machine(
    lab_config: lab.LabConfig, lab_env: dict[str, str], tmp_path: Path
) -> None:
    """SMOKE_01 (a systemd unit running a container on a published port) passes backup, run, idempotence,
    verify (including an HTTP check from this machine), pin and log."""
    lab.up(lab_config)
    project = tmp_path / "smoke"
    shutil.copytree(SMOKE, project)
    (project / ".lab").symlink_to(lab_config.home)
    applied = subprocess.run(
        [
            sys.executable,
            "-m",
            "motorcade.cli.main",
            "--runbook",
            str(project / "runbook.yaml"),
            "apply",
            "lab",
            "SMOKE_01",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, **lab_env, "COLUMNS": "200", "ANSIBLE_NOCOLOR": "1"},
        cwd=project,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout[-4000:] + applied.stderr
    for gate in ("backup", "run", "idempotence", "verify", "pin", "log"):
        line = next(ln for ln in applied.stdout.splitlines() if f"SMOKE_01 {gate}" in ln)
        assert "✓" in line, line
    assert "Restore with: motorcade restore lab-SMOKE_01-" in applied.stdout
    releases = (lab_config.workspace / "releases/lab.yaml").read_text()
    assert "debian-base-image:" in releases
