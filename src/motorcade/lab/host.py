"""The lab host: a systemd container on this machine's Podman, with its own Podman nested inside.

The container sits alone on a podman network of its own. That network is picked by the machine's Podman
from 10.89.0.0/16, so it never overlaps the nested Podman's default network (10.88.0.0/16): with an
overlap, nested published ports and container addresses are unreachable (what LAB-NOTES saw).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motorcade.lab.artifacts import Artifact
from motorcade.lab.commands import require, run
from motorcade.lab.config import BASE_IMAGE, BIND_ADDRESS, LAB_HOSTNAME, LabConfig, PortForward
from motorcade.lab.errors import LabCommandError, LabError, LabTimeoutError
from motorcade.lab.keys import LabKeys, ssh_argv

LABEL = "io.motorcade.lab"
PORTS_LABEL = "io.motorcade.lab.ports"
STOP_TIMEOUT = 60


@dataclass(frozen=True)
class ContainerInfo:
    """What the machine's Podman says about the lab host container."""

    name: str
    status: str  # created, running, exited, …
    running: bool
    image: str
    ports_label: str
    conmon_pid: int
    pid: int


def cgroup_v2() -> bool:
    """True when this machine runs the unified cgroup hierarchy."""
    return Path("/sys/fs/cgroup/cgroup.controllers").is_file()


def host_image_name(artifact: Artifact) -> str:
    """The machine-side image made from `artifact`; named after its key and its cache, so caches never share one."""
    cache = hashlib.sha256(str(artifact.path.parent).encode()).hexdigest()[:6]
    return f"localhost/motorcade-lab-host:{artifact.key}-{cache}"


def ports_label(ports: tuple[PortForward, ...]) -> str:
    return ",".join(f"{f.name}={f.host}:{f.guest}" for f in ports)


def inspect(config: LabConfig) -> ContainerInfo | None:
    """The lab host container, or None when it does not exist."""
    result = run(["podman", "container", "inspect", config.name], check=False)
    if result.returncode != 0:
        return None
    data: dict[str, Any] = json.loads(result.stdout)[0]
    state = data.get("State", {})
    labels = data.get("Config", {}).get("Labels") or {}
    return ContainerInfo(
        name=config.name,
        status=str(state.get("Status", "unknown")),
        running=bool(state.get("Running")),
        image=str(data.get("ImageName", "")),
        ports_label=str(labels.get(PORTS_LABEL, "")),
        conmon_pid=int(state.get("ConmonPid") or 0),
        pid=int(state.get("Pid") or 0),
    )


def image_exists(image: str) -> bool:
    """True when the machine's Podman holds `image`."""
    require("podman")
    return run(["podman", "image", "exists", image], check=False).returncode == 0


def import_image(artifact: Artifact) -> str:
    """Import the host root filesystem tarball into the machine's Podman; return the image name."""
    name = host_image_name(artifact)
    run(
        [
            "podman",
            "import",
            "--change",
            'CMD ["/sbin/init"]',
            "--change",
            "STOPSIGNAL SIGRTMIN+3",
            str(artifact.tarball),
            name,
        ]
    )
    return name


def create(config: LabConfig, image: str, keys: LabKeys) -> None:
    """Create (not start) the lab host container, its network and storage volume, and put the keys in."""
    if run(["podman", "network", "exists", config.network], check=False).returncode != 0:
        run(["podman", "network", "create", "--label", f"{LABEL}={config.name}", config.network])
    if run(["podman", "volume", "exists", config.storage_volume], check=False).returncode != 0:
        run(["podman", "volume", "create", "--label", f"{LABEL}={config.name}", config.storage_volume])
    argv = [
        "podman",
        "create",
        "--name",
        config.name,
        "--hostname",
        LAB_HOSTNAME,
        "--network",
        config.network,
        "--privileged",
        "--systemd=always",
        "--stop-timeout",
        str(STOP_TIMEOUT),
        "--label",
        f"{LABEL}={config.name}",
        "--label",
        f"{PORTS_LABEL}={ports_label(config.ports)}",
        "-v",
        f"{config.storage_volume}:/var/lib/containers",
    ]
    if not cgroup_v2():
        # cgroup v1: nested runc needs the machine's hierarchy (LAB-NOTES); v2 gets a private namespace.
        argv += ["--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw"]
    for forward in config.ports:
        argv += ["-p", f"{BIND_ADDRESS}:{forward.host}:{forward.guest}/tcp"]
    run([*argv, image])
    _copy_keys(config, keys)


def _copy_keys(config: LabConfig, keys: LabKeys) -> None:
    """Write the host key and the authorized keys straight into the container's root filesystem."""
    root = Path(run(["podman", "mount", config.name]).stdout.strip())
    try:
        ssh = root / "etc" / "ssh"
        _write(ssh / "ssh_host_ed25519_key", keys.host_key.read_text(encoding="utf-8"), 0o600, 0)
        _write(ssh / "ssh_host_ed25519_key.pub", keys.host_public + "\n", 0o644, 0)
        for home, uid in (("root", 0), ("home/motorcade", 1000)):
            dot_ssh = root / home / ".ssh"
            dot_ssh.mkdir(mode=0o700, exist_ok=True)
            shutil.chown(dot_ssh, uid, uid)
            _write(dot_ssh / "authorized_keys", keys.client_public + "\n", 0o600, uid)
    finally:
        run(["podman", "unmount", config.name], check=False)


def _write(path: Path, text: str, mode: int, uid: int) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    shutil.chown(path, uid, uid)


def start(config: LabConfig) -> None:
    run(["podman", "start", config.name])


def exec_in(config: LabConfig, command: list[str], *, check: bool = True, timeout: float = 120) -> str:
    """Run `command` as root inside the lab host and return its output."""
    return run(["podman", "exec", config.name, *command], check=check, timeout=timeout).stdout


def wait_booted(config: LabConfig, timeout: float = 120) -> str:
    """Wait until systemd inside the lab host has finished booting; return its state (running/degraded)."""
    deadline = time.monotonic() + timeout
    state = "unknown"
    while time.monotonic() < deadline:
        result = run(["podman", "exec", config.name, "systemctl", "is-system-running"], check=False, timeout=30)
        state = result.stdout.strip() or state
        if state in ("running", "degraded"):
            return state
        time.sleep(0.5)
    raise LabTimeoutError(f"systemd in {config.name} did not finish booting within {timeout:.0f} s (state: {state})")


def failed_units(config: LabConfig) -> list[str]:
    out = exec_in(config, ["systemctl", "list-units", "--state=failed", "--no-legend", "--plain"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def ensure_access(config: LabConfig, keys: LabKeys) -> bool:
    """Make sure the lab host holds this lab home's keys (they change if the home was recreated)."""
    current_host = exec_in(config, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"], check=False).strip()
    current_auth = exec_in(config, ["cat", "/home/motorcade/.ssh/authorized_keys"], check=False).strip()
    if current_host == keys.host_public and current_auth == keys.client_public:
        return False
    _copy_keys(config, keys)
    exec_in(config, ["systemctl", "restart", "ssh.service"])
    return True


def has_base_image(config: LabConfig) -> bool:
    return run(["podman", "exec", config.name, "podman", "image", "exists", BASE_IMAGE], check=False).returncode == 0


def load_base_image(config: LabConfig, artifact: Artifact) -> None:
    """Import the base root filesystem into the lab host's Podman as docker.io/library/debian:bookworm-slim."""
    with artifact.tarball.open("rb") as tarball:
        run(
            ["podman", "exec", "-i", config.name, "podman", "import", "--change", 'CMD ["bash"]', "-", BASE_IMAGE],
            stdin=tarball,
            timeout=600,
        )


def wait_ssh(config: LabConfig, timeout: float = 180) -> None:
    """Wait until Ansible's way in works: SSH as the lab user with the lab key, then sudo."""
    require("ssh")
    deadline = time.monotonic() + timeout
    detail = ""
    while time.monotonic() < deadline:
        try:
            result = run(ssh_argv(config, ["sudo", "-n", "true"]), check=False, timeout=60)
        except LabCommandError as error:
            detail = error.detail
            continue
        if result.returncode == 0:
            return
        detail = result.stderr.strip()
        time.sleep(1)
    raise LabTimeoutError(f"SSH into the lab host did not work within {timeout:.0f} s: {detail or 'no answer'}")


def stop(config: LabConfig) -> bool:
    """Stop the lab host (systemd shuts down in order); return False when it was not running."""
    info = inspect(config)
    if info is None or not info.running:
        return False
    try:
        run(["podman", "stop", "-t", str(STOP_TIMEOUT), config.name], timeout=STOP_TIMEOUT + 60)
    except LabCommandError as error:
        raise LabError(f"could not stop {config.name}: {error.detail}") from error
    return True


def remove(config: LabConfig) -> list[str]:
    """Remove the lab host container, its storage volume and its network; return what was removed."""
    removed = []
    if inspect(config) is not None:
        run(["podman", "rm", "-f", "-t", str(STOP_TIMEOUT), config.name], timeout=STOP_TIMEOUT + 60)
        removed.append(f"container {config.name}")
    if run(["podman", "volume", "exists", config.storage_volume], check=False).returncode == 0:
        run(["podman", "volume", "rm", "-f", config.storage_volume])
        removed.append(f"volume {config.storage_volume}")
    if run(["podman", "network", "exists", config.network], check=False).returncode == 0:
        run(["podman", "network", "rm", "-f", config.network])
        removed.append(f"network {config.network}")
    return removed


def remove_image(artifact: Artifact) -> None:
    """Remove the machine-side image built from `artifact` (when rebuilding the cache)."""
    run(["podman", "rmi", "-f", host_image_name(artifact)], check=False)


def system_state(config: LabConfig) -> str | None:
    """systemd's `is-system-running` inside the lab host, or None when it cannot be asked."""
    result = run(["podman", "exec", config.name, "systemctl", "is-system-running"], check=False, timeout=30)
    return result.stdout.strip() or None
