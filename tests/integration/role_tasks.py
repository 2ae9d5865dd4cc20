"""Run one tasks file of one of the repository's roles on this machine, with real Ansible (``include_role`` with
``tasks_from``), the way the integration tests exercise a role's tasks without a lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import REPO

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")


def run_role_tasks(
    tmp_path: Path, role: str, tasks_from: str, variables: Mapping[str, object], *options: str
) -> subprocess.CompletedProcess[str]:
    """``role``'s ``tasks_from`` on localhost with ``variables``; ``options`` adds e.g. ``--check``."""
    playbook = tmp_path / f"{role}-{Path(tasks_from).stem}.yml"
    play = {
        "name": f"Run {role}'s {tasks_from} on this machine.",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Run the role's tasks.",
                "ansible.builtin.include_role": {"name": role, "tasks_from": tasks_from},
                "vars": dict(variables),
            }
        ],
    }
    playbook.write_text(json.dumps([play]))  # JSON is YAML
    interpreter = f"ansible_python_interpreter={sys.executable}"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e", interpreter, *options, str(playbook)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "ansible/roles"), "ANSIBLE_NOCOLOR": "1"},
    )


def recap(output: str) -> str:
    """The PLAY RECAP part of ansible-playbook's output."""
    return output.rsplit("PLAY RECAP", 1)[-1]
