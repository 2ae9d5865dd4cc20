"""The runbook applied to one lab, shared by every suite that needs it (tests/e2e, tests/platform_apps, tests/website).

Once per test session, `runbook_lab` brings up a fresh lab (its own home, name and free ports) and runs the real
`motorcade apply lab --through PLAT_07` on it: the website (WP_01, WP_02, WP_CHECKPOINT), then the platform
(PLAT_01 … PLAT_07), each through every gate, starting from an apt index emptied just before, as on a fresh machine.
Steps still `planned` in runbook.yaml are skipped by the conductor. At the end of the session the lab is removed
(container, storage volume, network, workspace).

MOTORCADE_TEST_LAB_HOME=<lab home> makes the session use that lab as it is instead (its name and ports come from the
usual MOTORCADE_LAB_* variables): it is brought up if needed, nothing is applied, and it is left up afterwards — the
way to iterate on a test with a lab you applied the steps to yourself. Tests that need a step check that it is
complete there (`applied_ok`).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from motorcade import lab
from motorcade.lab.ports import free_port
from motorcade.lab.vault import read_vault

REPO = Path(__file__).resolve().parents[1]
# How far the session lab is taken: the last step of the runbook that is not planned for a later issue.
THROUGH = "PLAT_07"
REUSE = "MOTORCADE_TEST_LAB_HOME"


@dataclass
class RunbookLab:
    """A lab with the runbook applied, and ways to drive the real CLI and the lab host."""

    env: dict[str, str]
    config: lab.LabConfig
    applied: subprocess.CompletedProcess[str] = field(default_factory=lambda: subprocess.CompletedProcess([], 0))

    @property
    def home(self) -> Path:
        return self.config.home

    @property
    def workspace(self) -> Path:
        return self.config.workspace

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

    def on_host(self, script: str, *, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run the shell `script` as root on the lab host (over SSH, as Ansible logs in; `set -e` applies)."""
        return subprocess.run(
            [*lab.ssh_argv(self.config), "sudo -n sh -es"],
            input=script,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def vault(self) -> dict[str, Any]:
        """Every variable of the lab's encrypted vault files (inventory group_vars/all)."""
        password = self.config.vault_password_file.read_bytes().strip()
        values: dict[str, Any] = {}
        for path in sorted((self.config.inventory_dir / "group_vars" / "all").glob("*.yml")):
            if path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
                values.update(read_vault(path, password))
        return values

    def applied_ok(self, step: str) -> bool:
        """True when `status lab` shows `step` complete (the apply of this session took it through every gate)."""
        status = self.motorcade("status", "lab").stdout
        row = next((line for line in status.splitlines() if f" {step} " in line), "")
        return "complete" in row


def _session_env() -> tuple[dict[str, str], bool]:
    """The environment of the session's lab, and whether it is a reused one (kept afterwards)."""
    env = {**os.environ, "COLUMNS": "200", "ANSIBLE_NOCOLOR": "1"}
    reused = env.get(REUSE)
    if reused:
        env["MOTORCADE_LAB_HOME"] = reused
        return env, True
    env["MOTORCADE_LAB_NAME"] = f"motorcade-e2e-{secrets.token_hex(3)}"
    for forward in ("SSH", "HTTP", "HTTPS", "APP"):
        env[f"MOTORCADE_LAB_PORT_{forward}"] = str(free_port())
    return env, False


@pytest.fixture(scope="session")
def runbook_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunbookLab]:
    """A fresh lab with `motorcade apply lab --through PLAT_07` run once and removed at the end (or a reused lab)."""
    env, reused = _session_env()
    if not reused:
        env["MOTORCADE_LAB_HOME"] = str(tmp_path_factory.mktemp("runbook-lab"))
    config = lab.load_config(REPO, env)
    session = RunbookLab(env, config)
    try:
        up = session.motorcade("lab", "up")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr
        if reused:
            session.applied = subprocess.CompletedProcess([], 0, f"reused lab {config.home}: nothing applied", "")
        else:
            # As a freshly built lab image has it, whatever the age of the image this machine has cached: an apt
            # index emptied just now, which looks fresh to the apt module's cache_valid_time. Every role that
            # installs packages must refresh it rather than trust its age (`./run main` on a fresh machine).
            emptied = session.on_host("rm -rf /var/lib/apt/lists/* && touch /var/lib/apt/lists")
            assert emptied.returncode == 0, emptied.stderr
            session.applied = session.motorcade("apply", "lab", "--through", THROUGH, timeout=5400)
            print(session.applied.stdout[-6000:])
        yield session
    finally:
        if not reused:
            lab.reset(config, start=False)
