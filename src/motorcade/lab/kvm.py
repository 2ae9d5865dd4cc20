"""Is KVM usable here? A two-second probe: a boot sector that writes to the serial port under `-accel kvm`.

Some machines have a /dev/kvm that cannot run guests (e.g. paravirtualised PVM hosts, where QEMU aborts
with "failed to set MSR 0x10a" or the guest never executes). The answer is cached per machine boot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import last_line

_GREETING = b"MOTORCADE-KVM-OK"
_PROBE_SECONDS = 5.0


@dataclass(frozen=True)
class KvmVerdict:
    """Whether KVM can run the lab's virtual machine here, and why not when it cannot."""

    usable: bool
    reason: str


def _boot_sector() -> bytes:
    code = bytearray(b"\xba\xf8\x03")  # mov dx, 0x3f8 (COM1)
    for byte in _GREETING + b"\n":
        code += b"\xb0" + bytes([byte]) + b"\xee"  # mov al, byte; out dx, al
    code += b"\xfa\xf4\xeb\xfe"  # cli; hlt; jmp $
    return bytes(code) + bytes(510 - len(code)) + b"\x55\xaa"


def probe(cache: Path) -> KvmVerdict:
    """Probe KVM once per machine boot (the verdict is cached under `cache`)."""
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="utf-8").strip()
    record = cache / "kvm-probe.json"
    try:
        saved = json.loads(record.read_text(encoding="utf-8"))
        if saved.get("boot_id") == boot_id:
            return KvmVerdict(bool(saved["usable"]), str(saved["reason"]))
    except (OSError, ValueError, KeyError):
        pass
    verdict = _run_probe()
    cache.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"boot_id": boot_id, **verdict.__dict__}), encoding="utf-8")
    return verdict


def _run_probe() -> KvmVerdict:
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return KvmVerdict(False, "/dev/kvm is missing or not accessible")
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        return KvmVerdict(False, "qemu-system-x86_64 is not installed")
    with tempfile.TemporaryDirectory(prefix="motorcade-kvm-probe-") as tmp:
        image = Path(tmp) / "probe.img"
        image.write_bytes(_boot_sector())
        argv = [
            qemu,
            "-accel",
            "kvm",
            "-cpu",
            "host",
            "-m",
            "32",
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
            "-drive",
            f"file={image},format=raw,if=ide",
        ]
        try:
            result = subprocess.run(argv, capture_output=True, timeout=_PROBE_SECONDS, check=False)
            output, errors = result.stdout, result.stderr
        except subprocess.TimeoutExpired as expired:
            output, errors = expired.stdout or b"", expired.stderr or b""
    if _GREETING in output:
        return KvmVerdict(True, "a KVM guest ran")
    text = errors.decode("utf-8", "replace")
    reasons = [line.split("error:", 1)[1].strip() for line in text.splitlines() if "error:" in line]
    detail = reasons[0] if reasons else last_line(text)
    if detail == "no output":
        detail = f"the guest printed nothing within {_PROBE_SECONDS:.0f} s"
    return KvmVerdict(False, f"/dev/kvm cannot run guests here ({detail})")
