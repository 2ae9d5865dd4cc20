"""The lab host as a QEMU virtual machine: used where KVM works (or when MOTORCADE_LAB_FORM=vm, under TCG).

The cached artifact is a bootable set (kernel, initrd, raw ext4 disk); each lab gets a qcow2 overlay on
top of it in <lab home>/vm, so the cache stays clean and `reset` only deletes the overlay. QEMU's
user-mode network forwards each port from 127.0.0.1; SSH keys reach the guest through fw_cfg, read at
boot by motorcade-lab-keys.service.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

from motorcade.lab.artifacts import Artifact
from motorcade.lab.commands import require, run
from motorcade.lab.config import BASE_IMAGE, BIND_ADDRESS, LabConfig
from motorcade.lab.errors import LabCommandError, LabError, LabTimeoutError
from motorcade.lab.host import ContainerInfo, ports_label
from motorcade.lab.keys import LabKeys, ssh_argv

MEMORY = os.environ.get("MOTORCADE_LAB_VM_MEMORY", "4096")
STOP_TIMEOUT = 90


def folder(config: LabConfig) -> Path:
    return config.home / "vm"


def _pidfile(config: LabConfig) -> Path:
    return folder(config) / "qemu.pid"


def _pid(config: LabConfig) -> int:
    """The QEMU process of this lab, or 0 when none runs."""
    try:
        pid = int(_pidfile(config).read_text(encoding="utf-8").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return 0
    return pid if b"qemu-system" in cmdline and str(folder(config)).encode() in cmdline else 0


def inspect(config: LabConfig) -> ContainerInfo | None:
    """The lab virtual machine, or None when it has no disk yet."""
    if not (folder(config) / "disk.qcow2").is_file():
        return None
    pid = _pid(config)
    return ContainerInfo(
        name=config.name,
        status="running" if pid else "exited",
        running=bool(pid),
        image=str(folder(config) / "disk.qcow2"),
        ports_label=ports_label(config.ports),  # forwards are set at every start, so they always match
        conmon_pid=0,
        pid=pid,
    )


def create(config: LabConfig, artifact: Artifact) -> None:
    """Create this lab's disk: a qcow2 overlay on the cached raw disk."""
    require("qemu-img")
    folder(config).mkdir(parents=True, exist_ok=True)
    overlay = folder(config) / "disk.qcow2"
    partial = overlay.with_suffix(".partial")
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(artifact.disk), str(partial)])
    partial.replace(overlay)
    (folder(config) / "artifact").write_text(str(artifact.path), encoding="utf-8")


def start(config: LabConfig, artifact: Artifact, keys: LabKeys, accel: str) -> None:
    """Boot the virtual machine in the background (QEMU daemonizes itself)."""
    qemu = require("qemu-system-x86_64")
    base = Path((folder(config) / "artifact").read_text(encoding="utf-8").strip())
    kernel, initrd = base / "vmlinuz", base / "initrd.img"
    forwards = ",".join(f"hostfwd=tcp:{BIND_ADDRESS}:{f.host}-:{f.guest}" for f in config.ports)
    cpu = ["-cpu", "host"] if accel == "kvm" else ["-cpu", "max,-arch-capabilities"]
    argv = [
        qemu,
        "-name",
        config.name,
        "-accel",
        accel,
        *cpu,
        "-smp",
        str(os.cpu_count() or 2),
        "-m",
        MEMORY,
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        "root=/dev/vda rw console=ttyS0 quiet",
        "-drive",
        f"file={folder(config) / 'disk.qcow2'},format=qcow2,if=virtio",
        "-netdev",
        f"user,id=n0,{forwards}",
        "-device",
        "virtio-net-pci,netdev=n0",
        "-device",
        "virtio-rng-pci",
        "-fw_cfg",
        f"name=opt/motorcade/authorized_keys,file={keys.client_key.with_suffix('.pub')}",
        "-fw_cfg",
        f"name=opt/motorcade/ssh_host_ed25519_key,file={keys.host_key}",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        f"file:{folder(config) / 'serial.log'}",
        "-pidfile",
        str(_pidfile(config)),
        "-daemonize",
    ]
    (folder(config) / "accel").write_text(accel, encoding="utf-8")
    run(argv, timeout=60)


def accelerator(config: LabConfig) -> str:
    """The accelerator the virtual machine was last started with (kvm or tcg)."""
    try:
        return (folder(config) / "accel").read_text(encoding="utf-8").strip()
    except OSError:
        return "unknown"


def _root(
    config: LabConfig, command: list[str], *, stdin: IO[bytes] | None = None, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    return run(ssh_argv(config, command, user="root"), stdin=stdin, timeout=timeout, check=check)


def wait_booted(config: LabConfig, timeout: float = 600) -> str:
    """Wait until systemd in the virtual machine has finished booting; return its state."""
    deadline = time.monotonic() + timeout
    state = "unreachable"
    while time.monotonic() < deadline:
        if not _pid(config):
            raise LabError(f"QEMU stopped while booting; see {folder(config) / 'serial.log'}")
        try:
            result = _root(config, ["systemctl", "is-system-running"], timeout=60)
        except LabCommandError:  # SSH not answering yet: a slow (TCG) guest is still booting
            continue
        state = result.stdout.strip() or state
        if state in ("running", "degraded"):
            return state
        time.sleep(1)
    raise LabTimeoutError(f"the lab virtual machine did not finish booting within {timeout:.0f} s (state: {state})")


def system_state(config: LabConfig) -> str | None:
    return _root(config, ["systemctl", "is-system-running"], timeout=30).stdout.strip() or None


def failed_units(config: LabConfig) -> list[str]:
    out = _root(config, ["systemctl", "list-units", "--state=failed", "--no-legend", "--plain"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def has_base_image(config: LabConfig) -> bool:
    return _root(config, ["podman", "image", "exists", BASE_IMAGE]).returncode == 0


def load_base_image(config: LabConfig, artifact: Artifact) -> None:
    with artifact.tarball.open("rb") as tarball:
        _root(
            config,
            ["podman", "import", "--change", "'CMD [\"bash\"]'", "-", BASE_IMAGE],
            stdin=tarball,
            timeout=900,
            check=True,
        )


def stop(config: LabConfig) -> bool:
    """Power the virtual machine off (orderly, then by signal); return False when it was not running."""
    pid = _pid(config)
    if not pid:
        return False
    _root(config, ["systemctl", "poweroff"], timeout=30)
    deadline = time.monotonic() + STOP_TIMEOUT
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            os.kill(pid, sig)
            deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists():
                _pidfile(config).unlink(missing_ok=True)
                return True
            time.sleep(0.5)
    raise LabError(f"QEMU (pid {pid}) did not stop")


def remove(config: LabConfig) -> list[str]:
    """Delete this lab's virtual machine disk (the cached base disk stays)."""
    stop(config)
    removed = []
    if folder(config).exists():
        for path in sorted(folder(config).iterdir()):
            path.unlink()
        folder(config).rmdir()
        removed.append(f"virtual machine disk {folder(config)}")
    return removed
