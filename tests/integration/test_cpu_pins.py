"""The CPU pins of the APIs and the proxy (app_service_cpuset_cpus, caddy_proxy_cpuset_cpus): a pin to a CPU the host
does not have, or one that is not a CPU list, stops the step before anything is built or started, and says why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
ROLES = [("app_service", "app_service_cpuset_cpus"), ("caddy_proxy", "caddy_proxy_cpuset_cpus")]


def highest_cpu() -> int:
    """The highest CPU number online on this machine (the "host" of these runs)."""
    online = Path("/sys/devices/system/cpu/online").read_text()
    return max(int(number) for part in online.strip().split(",") for number in part.split("-"))


def check_cpus(tmp_path: Path, role: str, variable: str, cpus: str) -> subprocess.CompletedProcess[str]:
    """The role's CPU check (tasks/cpus.yml) on this machine, with ``variable`` set to ``cpus``."""
    playbook = tmp_path / "cpus.yml"
    playbook.write_text(
        json.dumps(  # JSON is YAML
            [
                {
                    "name": "Check the CPU pin.",
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Run the role's CPU check.",
                            "ansible.builtin.include_role": {"name": role, "tasks_from": "cpus.yml"},
                            "vars": {variable: cpus},
                        }
                    ],
                }
            ]
        )
    )
    interpreter = f"ansible_python_interpreter={sys.executable}"
    return subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-e", interpreter, str(playbook)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "ansible/roles"), "ANSIBLE_NOCOLOR": "1"},
    )


@pytest.mark.parametrize(("role", "variable"), ROLES)
def test_a_pin_to_cpus_the_host_has_passes(tmp_path: Path, role: str, variable: str) -> None:
    result = check_cpus(tmp_path, role, variable, f"0-{highest_cpu()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in result.stdout.rsplit("PLAY RECAP", 1)[-1], result.stdout


@pytest.mark.parametrize(("role", "variable"), ROLES)
def test_a_pin_to_a_cpu_the_host_lacks_stops_the_step_and_names_the_host_cpus(
    tmp_path: Path, role: str, variable: str
) -> None:
    missing = str(highest_cpu() + 1)
    result = check_cpus(tmp_path, role, variable, f"0,{missing}")
    assert result.returncode != 0, result.stdout
    online = Path("/sys/devices/system/cpu/online").read_text().strip()
    assert f'(got "0,{missing}"; the host\'s online CPUs are {online})' in result.stdout, result.stdout


@pytest.mark.parametrize(("role", "variable"), ROLES)
def test_a_pin_that_is_not_a_cpu_list_stops_the_step(tmp_path: Path, role: str, variable: str) -> None:
    result = check_cpus(tmp_path, role, variable, "cpu1")
    assert result.returncode != 0, result.stdout
    assert f"{variable} must be CPU numbers and ranges such as" in result.stdout, result.stdout
