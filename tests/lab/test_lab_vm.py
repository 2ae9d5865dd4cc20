"""The lab's virtual-machine form (QEMU; KVM where it works, TCG here): same playbook, same checks."""

from __future__ import annotations

import os
import platform
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from motorcade import lab
from motorcade.lab import vm
from tests.lab.conftest import REPO, SMOKE, ansible_playbook, lab_environment, ssh

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def vm_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.LabConfig]:
    """A lab of this module's own, forced into the virtual-machine form; removed at the end."""
    env = lab_environment(tmp_path_factory.mktemp("vm-home"), f"motorcade-labvm-{secrets.token_hex(3)}")
    config = lab.load_config(REPO, {**os.environ, **env, "MOTORCADE_LAB_FORM": "vm"})
    yield config
    lab.reset(config, start=False)


def test_vm_up_boots_its_own_debian_kernel(vm_config: lab.LabConfig) -> None:
    """The VM form boots Debian 12's own kernel with systemd as PID 1, reachable over SSH with the lab key."""
    status = lab.up(vm_config)
    assert status.running
    assert status.form.startswith("QEMU virtual machine")
    answer = ssh(vm_config, "ps -p 1 -o comm=; uname -r").stdout.split()
    assert answer[0] == "systemd"
    assert answer[1].endswith("-amd64")
    assert answer[1] != platform.release()


def test_vm_runs_the_smoke_unit_reached_from_the_machine(vm_config: lab.LabConfig) -> None:
    """The same smoke playbook installs its unit in the VM and the container answers on the forwarded port."""
    result = ansible_playbook(vm_config, SMOKE / "ansible" / "playbooks" / "SMOKE_01_hello_unit.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    deadline = time.monotonic() + 60
    while True:
        try:
            url = f"http://127.0.0.1:{vm_config.port('app').host}/"
            with urllib.request.urlopen(url, timeout=10) as answer:
                assert "hello from the Motorcade lab" in answer.read().decode()
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_vm_down_leaves_nothing_running(vm_config: lab.LabConfig) -> None:
    """After `down` no QEMU process of this lab runs and none of its ports listens."""
    lab.down(vm_config)
    for process in (p for p in Path("/proc").iterdir() if p.name.isdigit()):
        try:
            cmdline = process.joinpath("cmdline").read_bytes()
        except OSError:
            continue
        assert str(vm.folder(vm_config)).encode() not in cmdline
    assert lab.leftovers_of(vm_config) == []
