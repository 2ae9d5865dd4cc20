"""PLAT_02A's network tasks (role platform_foundations) against real Ansible and the machine's real Podman: a missing
network is created, an existing one with its declared settings is left alone, and one that differs stops the run with
what differs — it is never recreated (that would disconnect every container on it)."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.role_tasks import recap, run_role_tasks

pytestmark = pytest.mark.integration


@pytest.fixture
def network() -> Iterator[str]:
    """A network name of this test's own, removed afterwards."""
    name = f"motorcade-test-{secrets.token_hex(4)}"
    yield name
    subprocess.run(["podman", "network", "rm", "--force", name], capture_output=True, check=False)


def run_networks(tmp_path: Path, networks: list[dict[str, object]], *check: str) -> subprocess.CompletedProcess[str]:
    """The role's networks.yml on this machine, declaring ``networks``; ``check`` adds e.g. ``--check``."""
    return run_role_tasks(
        tmp_path, "platform_foundations", "networks.yml", {"platform_foundations_networks": networks}, *check
    )


def inspect(name: str) -> dict[str, object]:
    found = subprocess.run(["podman", "network", "inspect", name], capture_output=True, text=True, check=True)
    return dict(json.loads(found.stdout)[0])


def test_a_missing_network_is_created_and_then_left_alone(tmp_path: Path, network: str) -> None:
    declared = [{"name": network, "subnet": "10.231.71.0/24", "gateway": "10.231.71.1", "internal": True}]
    created = run_networks(tmp_path, declared)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "changed=1" in recap(created.stdout), created.stdout
    first = inspect(network)
    assert first["subnets"] == [{"subnet": "10.231.71.0/24", "gateway": "10.231.71.1"}]
    assert first["internal"] is True
    again = run_networks(tmp_path, declared)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in recap(again.stdout), again.stdout
    assert inspect(network)["id"] == first["id"]


def test_a_network_that_differs_stops_the_run_and_is_kept(tmp_path: Path, network: str) -> None:
    made = subprocess.run(
        ["podman", "network", "create", "--subnet", "10.231.72.0/24", "--gateway", "10.231.72.1", network],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    before = inspect(network)
    declared = [{"name": network, "subnet": "10.231.73.0/24", "gateway": "10.231.73.1", "internal": True}]
    for check in ([], ["--check"]):  # `drift` runs the step in check mode: it sees the difference too
        refused = run_networks(tmp_path, declared, *check)
        assert refused.returncode != 0, refused.stdout
        assert f"Network {network} exists with driver bridge" in refused.stdout, refused.stdout
        assert "declared with subnet 10.231.73.0/24" in refused.stdout
        assert f"podman network rm {network}" in refused.stdout
    assert inspect(network) == before  # not recreated
