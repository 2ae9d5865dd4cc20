"""The CPU pins of the APIs and the proxy (app_service_cpuset_cpus, caddy_proxy_cpuset_cpus): a pin to a CPU the host
does not have, or one that is not a CPU list, stops the step before anything is built or started, and says why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.role_tasks import recap, run_role_tasks

pytestmark = pytest.mark.integration

ROLES = [("app_service", "app_service_cpuset_cpus"), ("caddy_proxy", "caddy_proxy_cpuset_cpus")]


def highest_cpu() -> int:
    """The highest CPU number online on this machine (the "host" of these runs)."""
    online = Path("/sys/devices/system/cpu/online").read_text()
    return max(int(number) for part in online.strip().split(",") for number in part.split("-"))


def check_cpus(tmp_path: Path, role: str, variable: str, cpus: str) -> subprocess.CompletedProcess[str]:
    """The role's CPU check (tasks/cpus.yml) on this machine, with ``variable`` set to ``cpus``."""
    return run_role_tasks(tmp_path, role, "cpus.yml", {variable: cpus})


@pytest.mark.parametrize(("role", "variable"), ROLES)
def test_a_pin_to_cpus_the_host_has_passes(tmp_path: Path, role: str, variable: str) -> None:
    result = check_cpus(tmp_path, role, variable, f"0-{highest_cpu()}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in recap(result.stdout), result.stdout


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
