"""One lab for the end-to-end tests: brought up from nothing, PLAT_01..PLAT_04A applied, torn down."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from motorcade.lab.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PLATFORM = ["PLAT_01", "PLAT_02A", "PLAT_02B", "PLAT_02C", "PLAT_03", "PLAT_04A"]


@dataclass
class Lab:
    """A running lab and a way to drive the real `motorcade` CLI against it."""

    home: Path
    env: dict[str, str]
    applied: subprocess.CompletedProcess[str]

    @property
    def workspace(self) -> Path:
        return self.home / "workspace"

    def motorcade(
        self, *args: str, runbook: Path = REPO / "runbook.yaml", timeout: float = 1800
    ) -> subprocess.CompletedProcess[str]:
        """Run the real CLI with this lab's environment (against `runbook`, the repository's by default)."""
        return subprocess.run(
            [sys.executable, "-m", "motorcade.cli.main", "--runbook", str(runbook), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=runbook.parent,
            check=False,
        )

    def on_host(self, script: str) -> subprocess.CompletedProcess[str]:
        """Run a shell script as root on the lab host (through `motorcade lab ssh --root`)."""
        return subprocess.run(
            [sys.executable, "-m", "motorcade.cli.main", "lab", "ssh", "--root", "--", "sh", "-ec", script],
            capture_output=True,
            text=True,
            timeout=300,
            env=self.env,
            cwd=REPO,
            check=False,
        )


@pytest.fixture(scope="session")
def platform_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """A fresh lab with PLAT_01..PLAT_04A applied through every gate; everything is removed afterwards."""
    home = tmp_path_factory.mktemp("e2e-lab")
    env = {
        **os.environ,
        "MOTORCADE_LAB_HOME": str(home),
        "MOTORCADE_LAB_NAME": f"motorcade-e2e-{secrets.token_hex(3)}",
        "COLUMNS": "200",
    }
    for forward in ("SSH", "HTTP", "HTTPS", "APP"):
        env[f"MOTORCADE_LAB_PORT_{forward}"] = str(free_port())
    lab = Lab(home, env, subprocess.CompletedProcess([], 0))
    up = lab.motorcade("lab", "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        # The platform steps by name: `--through PLAT_04A` would also take the website steps that come first
        # in the runbook, whose checks expect the lab's default ports.
        lab.applied = lab.motorcade("apply", "lab", *PLATFORM, timeout=3600)
        yield lab
    finally:
        lab.motorcade("lab", "down")
