"""The CPU pins of the APIs and the proxy (app_service_cpuset_cpus, caddy_proxy_cpuset_cpus), checked by
podman_runtime's tasks/cpuset.yml: a pin to a CPU the host does not have, or one that is not a CPU list, stops the
role before anything is built or started, and says why."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.role_tasks import recap, run_role_tasks

pytestmark = pytest.mark.integration

ONLINE = Path("/sys/devices/system/cpu/online")
CHECK_TASK = "TASK [podman_runtime : Verify the CPUs the container is pinned to are CPUs of the host.]"
# What each role needs to reach its CPU check (app_service checks its required variables first); nothing after it
# runs when the check fails.
ROLE_VARIABLES: dict[str, dict[str, object]] = {
    "app_service": {
        "app_service_name": "lead-intake",
        "app_service_package": "lead_intake",
        "app_service_version": "0.1.0",
        "app_service_source_dir": str(REPO / "services/lead_intake"),
        "app_service_db_user": "lead_intake_app",
        "app_service_db_password": "unused",
        "app_service_migration_db_password": "unused",
        "app_service_staff_api_key_name": "",
    },
    "caddy_proxy": {},
}


def highest_cpu() -> int:
    """The highest CPU number online on this machine (the "host" of these runs)."""
    return max(int(number) for number in re.findall(r"[0-9]+", ONLINE.read_text()))


def check_cpus(tmp_path: Path, cpus: str, variable: str) -> subprocess.CompletedProcess[str]:
    """The shared check on this machine: ``cpus`` as the pin that came from ``variable``."""
    pin = {"podman_runtime_cpuset_cpus": cpus, "podman_runtime_cpuset_variable": variable}
    return run_role_tasks(tmp_path, "podman_runtime", "cpuset.yml", pin)


def test_a_pin_to_cpus_the_host_has_passes(tmp_path: Path) -> None:
    result = check_cpus(tmp_path, f"0-{highest_cpu()}", "app_service_cpuset_cpus")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed=0" in recap(result.stdout), result.stdout


@pytest.mark.parametrize("role", sorted(ROLE_VARIABLES))
def test_a_pin_to_a_cpu_the_host_lacks_stops_the_role_before_anything_else(tmp_path: Path, role: str) -> None:
    missing = str(highest_cpu() + 1)
    variable = f"{role}_cpuset_cpus"
    # In check mode: were the check to let the pin through, the rest of the role would still change nothing here.
    pinned = {**ROLE_VARIABLES[role], variable: f"0,{missing}"}
    result = run_role_tasks(tmp_path, role, "main.yml", pinned, "--check")
    assert result.returncode != 0, result.stdout
    online = ONLINE.read_text().strip()
    why = (
        f'{variable} must be CPU numbers and ranges such as "1" or "0-1,3", of CPUs the host has (got "0,{missing}";'
        f" the host's online CPUs are {online})"
    )
    assert why in result.stdout, result.stdout
    after_check = result.stdout.split(CHECK_TASK, 1)[1]
    assert "TASK [" not in after_check, result.stdout  # the role went no further: no build, no unit


def test_a_pin_that_is_not_a_cpu_list_stops_the_check(tmp_path: Path) -> None:
    result = check_cpus(tmp_path, "cpu1", "caddy_proxy_cpuset_cpus")
    assert result.returncode != 0, result.stdout
    assert 'caddy_proxy_cpuset_cpus must be CPU numbers and ranges such as "1"' in result.stdout, result.stdout
