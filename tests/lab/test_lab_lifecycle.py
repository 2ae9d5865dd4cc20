"""The lab for real: up from nothing, a systemd unit running a container reached from the machine, down, reset."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motorcade import lab
from motorcade.cli.lab import app
from motorcade.lab.inventory import vault_file
from motorcade.lab.ports import is_listening
from motorcade.lab.vault import read_vault
from tests.lab.conftest import SMOKE, ansible_playbook, ssh, sudo_script

pytestmark = pytest.mark.lab

SMOKE_PLAYBOOK = SMOKE / "ansible" / "playbooks" / "SMOKE_01_hello_unit.yml"
SMOKE_MESSAGE = "hello from the Motorcade lab"


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
        return str(answer.read().decode())


def _get_eventually(port: int, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return _get(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _secrets(config: lab.LabConfig) -> dict[str, object]:
    return read_vault(vault_file(config), config.vault_password_file.read_bytes().strip())


def _container_id(config: lab.LabConfig) -> str:
    return subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.Id}}", config.name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_up_from_nothing_boots_a_systemd_host(lab_config: lab.LabConfig) -> None:
    """From an empty lab home, `up` leaves a running host whose systemd finished booting with no failed unit."""
    assert not lab_config.home.joinpath("inventory").exists()
    events: list[lab.LabEvent] = []
    status = lab.up(lab_config, events.append)
    assert status.running
    assert status.system_state == "running", status.failed_units
    assert {event.stage for event in events} >= {lab.LabStage.HOST, lab.LabStage.BOOT, lab.LabStage.SSH}
    assert (lab_config.vault_password_file.stat().st_mode & 0o777) == 0o600


def test_host_runs_systemd_as_pid_1_and_ansible_can_become_root(lab_config: lab.LabConfig) -> None:
    """Over SSH with the lab key, PID 1 is systemd, the OS is Debian 12 and sudo needs no password."""
    answer = ssh(lab_config, "ps -p 1 -o comm=; . /etc/os-release; echo $VERSION_ID; sudo -n id -u").stdout.split()
    assert answer == ["systemd", "12", "0"]


def test_host_trusts_this_machines_cas_so_https_from_it_works(lab_config: lab.LabConfig) -> None:
    """Each CA this machine added locally is in the host's bundle, and pip's index answers over HTTPS from the host."""
    machine_cas = sorted(lab_config.ca_folder.glob("*.crt"))
    host_bundle = "".join(sudo_script(lab_config, "cat /etc/ssl/certs/ca-certificates.crt").split())
    for ca in machine_cas:
        lines = ca.read_text(encoding="ascii").splitlines()
        body = "".join(line.strip() for line in lines if line.strip() and not line.startswith("-----"))
        assert body in host_bundle, ca.name
    fetch = "import urllib.request; print(urllib.request.urlopen('https://pypi.org/simple/pip/', timeout=60).status)"
    answer = ssh(lab_config, f'python3 -c "{fetch}"', check=False)
    assert answer.stdout.strip() == "200", answer.stderr


def test_lab_binds_only_loopback(lab_config: lab.LabConfig) -> None:
    """Every port the lab publishes on this machine is bound to 127.0.0.1 and nothing else."""
    data = json.loads(
        subprocess.run(
            ["podman", "container", "inspect", lab_config.name], capture_output=True, text=True, check=True
        ).stdout
    )[0]
    bindings = [b for entries in data["HostConfig"]["PortBindings"].values() for b in entries]
    assert sorted(int(b["HostPort"]) for b in bindings) == sorted(f.host for f in lab_config.ports)
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


def test_playbook_unit_runs_a_container_answering_on_the_machine(lab_config: lab.LabConfig) -> None:
    """Ansible over SSH installs a systemd unit whose Podman container answers through the lab's published port."""
    result = ansible_playbook(lab_config, SMOKE_PLAYBOOK)
    assert result.returncode == 0, result.stdout[-3000:]
    assert ssh(lab_config, "systemctl is-active motorcade-smoke.service").stdout.strip() == "active"
    assert SMOKE_MESSAGE in _get_eventually(lab_config.port("app").host)
    rerun = ansible_playbook(lab_config, SMOKE_PLAYBOOK)
    assert rerun.returncode == 0
    assert "changed=0" in rerun.stdout


def test_nested_bridge_networks_resolve_names_and_isolate(lab_config: lab.LabConfig) -> None:
    """Inside the lab, containers on an internal bridge network find each other by name and cannot leave it."""
    out = sudo_script(
        lab_config,
        """
        podman network exists labtest-backend || podman network create --internal labtest-backend >/dev/null
        podman rm -f --ignore labtest-peer >/dev/null
        podman run -d --name labtest-peer --network labtest-backend docker.io/library/debian:bookworm-slim sleep 120
        podman run --rm --network labtest-backend docker.io/library/debian:bookworm-slim getent hosts labtest-peer
        podman run --rm --network labtest-backend docker.io/library/debian:bookworm-slim \\
            bash -c 'echo > /dev/tcp/1.1.1.1/80' 2>/dev/null && echo escaped || echo isolated
        podman rm -f -t 0 labtest-peer >/dev/null
        podman network rm labtest-backend >/dev/null
        """,
    )
    assert "labtest-peer.dns.podman" in out
    assert out.strip().endswith("isolated")


def test_containerfile_from_the_base_image_builds_unchanged(lab_config: lab.LabConfig) -> None:
    """A Containerfile `FROM docker.io/library/debian:bookworm-slim` builds inside the lab without any registry."""
    out = sudo_script(
        lab_config,
        """
        d=$(mktemp -d)
        printf 'FROM docker.io/library/debian:bookworm-slim\\nRUN echo built > /built\\n' > "$d/Containerfile"
        podman build -q -t localhost/labtest-built "$d" >/dev/null
        podman run --rm localhost/labtest-built cat /built
        podman rmi localhost/labtest-built >/dev/null
        rm -r "$d"
        """,
    )
    assert out.strip() == "built"


def test_up_again_changes_nothing_and_keeps_secrets(lab_config: lab.LabConfig) -> None:
    """A second `up` keeps the same container, the same vault values and reports every stage as already done."""
    before_id, before_secrets = _container_id(lab_config), _secrets(lab_config)
    events: list[lab.LabEvent] = []
    lab.up(lab_config, events.append)
    assert _container_id(lab_config) == before_id
    assert _secrets(lab_config) == before_secrets
    assert all(e.cached for e in events if e.stage in (lab.LabStage.ARTIFACTS, lab.LabStage.BASE_IMAGE))


def test_status_command_shows_where_the_lab_is(lab_config: lab.LabConfig, lab_env: dict[str, str]) -> None:
    """`lab status` prints the state, every forward on 127.0.0.1, the SSH command and the inventory path."""
    result = CliRunner().invoke(app, ["status"], env={**lab_env, "COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "running" in result.output
    for forward in lab_config.ports:
        assert forward.address in result.output
    assert f"-p {lab_config.port('ssh').host}" in result.output
    assert str(lab_config.inventory_dir) in result.output


def test_down_leaves_nothing_running(lab_config: lab.LabConfig) -> None:
    """After `down` no lab container, conmon or init process runs and no lab port listens on this machine."""
    container_id = _container_id(lab_config)
    lab.down(lab_config)
    running = subprocess.run(
        ["podman", "ps", "--format", "{{.ID}}", "--no-trunc"], capture_output=True, text=True, check=True
    ).stdout
    assert container_id not in running
    processes = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    for process in processes:
        try:
            cmdline = process.joinpath("cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert container_id not in cmdline, cmdline.replace("\0", " ")
    assert [f.host for f in lab_config.ports if is_listening(f.host)] == []
    assert lab.leftovers_of(lab_config) == []


def test_up_after_down_resumes_the_same_host(lab_config: lab.LabConfig) -> None:
    """`up` after `down` restarts the same host: the unit installed earlier starts again and answers."""
    lab.up(lab_config)
    assert SMOKE_MESSAGE in _get_eventually(lab_config.port("app").host, seconds=60)


def test_reset_returns_a_clean_host_and_keeps_secrets(lab_config: lab.LabConfig) -> None:
    """`reset` throws away the host and its workspace, brings up a clean one, and keeps the vault's values."""
    before_id, before_secrets = _container_id(lab_config), _secrets(lab_config)
    (lab_config.workspace / "ledger.marker").write_text("from before the reset")
    status = lab.reset(lab_config)
    assert status.running
    assert _container_id(lab_config) != before_id
    assert _secrets(lab_config) == before_secrets
    assert not (lab_config.workspace / "ledger.marker").exists()
    assert ssh(lab_config, "test -e /etc/systemd/system/motorcade-smoke.service", check=False).returncode == 1
    assert ssh(lab_config, "sudo podman ps -aq").stdout.strip() == ""


def test_up_resumes_after_being_killed(lab_config: lab.LabConfig, lab_env: dict[str, str]) -> None:
    """An `up` killed while it works is finished by the next `up`, which leaves a working host."""
    lab.reset(lab_config, start=False)
    code = "from motorcade.cli.lab import app; app()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "up"],
        env={**os.environ, **lab_env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while lab.status(lab_config).state != "running" and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, "up finished before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    status = lab.up(lab_config)
    assert status.running
    assert status.system_state == "running"
    assert sudo_script(lab_config, "podman image exists docker.io/library/debian:bookworm-slim && echo yes") == "yes\n"
