"""Fixtures for the lab tests: a lab of its own per test module (fresh home, own name and ports)."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from motorcade import lab
from motorcade.lab.ports import free_port

REPO = Path(__file__).resolve().parents[2]
SMOKE = Path(__file__).parent / "fixtures" / "smoke"


def lab_environment(home: Path, name: str) -> dict[str, str]:
    """Environment variables that give a lab its own home, name and free ports (the cache stays shared)."""
    env = {"MOTORCADE_LAB_HOME": str(home), "MOTORCADE_LAB_NAME": name}
    for forward in ("ssh", "http", "https", "app"):
        env[f"MOTORCADE_LAB_PORT_{forward.upper()}"] = str(free_port())
    return env


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of this module's own lab."""
    home = tmp_path_factory.mktemp("lab-home")
    return lab_environment(home, f"motorcade-labtest-{secrets.token_hex(3)}")


@pytest.fixture(scope="module")
def lab_config(lab_env: dict[str, str]) -> Iterator[lab.LabConfig]:
    """This module's lab configuration; everything the lab created is removed at the end."""
    config = lab.load_config(REPO, {**os.environ, **lab_env})
    yield config
    lab.reset(config, start=False)


def ssh(config: lab.LabConfig, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `command` on the lab host over SSH, as Ansible logs in."""
    return subprocess.run([*lab.ssh_argv(config), command], capture_output=True, text=True, timeout=120, check=check)


def sudo_script(config: lab.LabConfig, script: str) -> str:
    """Run the shell `script` as root on the lab host over SSH; return its output."""
    return subprocess.run(
        [*lab.ssh_argv(config), "sudo sh -es"], input=script, capture_output=True, text=True, timeout=300, check=True
    ).stdout


def ansible_playbook(config: lab.LabConfig, playbook: Path) -> subprocess.CompletedProcess[str]:
    """Run `playbook` against the lab with the committed and the generated inventories, as the conductor does."""
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(REPO / "ansible" / "inventories" / "lab"),
            "-i",
            str(config.inventory_dir),
            "--vault-password-file",
            str(config.vault_password_file),
            str(playbook),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO / "ansible",
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )
