"""Shared fixtures: a copy of the fixture project per test, and a way to run the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# `runbook_lab`: one lab per session with the runbook applied (tests/runbook_lab.py).
pytest_plugins = ["tests.runbook_lab"]

FIXTURE = Path(__file__).parent / "fixtures" / "project"
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Project:
    """A fixture project copied into tmp_path: runbook, playbooks, inventory and a workspace."""

    root: Path
    state: Path  # what the fixture playbooks manage (their "server")

    @property
    def workspace(self) -> Path:
        return self.root / "workspace"

    def motorcade(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "motorcade.cli.main", "--runbook", str(self.root / "runbook.yaml"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            check=False,
            env={**os.environ, "COLUMNS": "200"},
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "motorcade.cli.main", "--runbook", str(self.root / "runbook.yaml"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.root,
        )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    state = tmp_path / "server"
    state.mkdir()
    with (root / "ansible/inventories/local/group_vars/all/main.yml").open("a") as handle:
        handle.write(f"fixture_root: {state}\nmotorcade_backup_root: {tmp_path / 'backups'}\n")
    return Project(root, state)
