"""The lab's SSH keys: a client key Ansible logs in with, and a host key the inventory trusts explicitly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import require, run
from motorcade.lab.config import BIND_ADDRESS, LAB_USER, LabConfig


@dataclass(frozen=True)
class LabKeys:
    """Paths and public halves of the lab's two key pairs."""

    client_key: Path
    client_public: str
    host_key: Path
    host_public: str


def ensure_keys(config: LabConfig) -> LabKeys:
    """Generate the client and host key pairs under <lab home>/ssh unless they exist."""
    config.ssh_dir.mkdir(parents=True, exist_ok=True)
    config.ssh_dir.chmod(0o700)
    host_key = config.ssh_dir / "ssh_host_ed25519_key"
    for path, comment in ((config.ssh_key, "motorcade-lab-client"), (host_key, "motorcade-lab-host")):
        if not path.is_file() or not path.with_suffix(".pub").is_file():
            require("ssh-keygen")
            path.unlink(missing_ok=True)
            path.with_suffix(".pub").unlink(missing_ok=True)
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])
        path.chmod(0o600)
    return LabKeys(
        client_key=config.ssh_key,
        client_public=config.ssh_key.with_suffix(".pub").read_text(encoding="utf-8").strip(),
        host_key=host_key,
        host_public=host_key.with_suffix(".pub").read_text(encoding="utf-8").strip(),
    )


def write_known_hosts(config: LabConfig, keys: LabKeys) -> Path:
    """Write the known_hosts file that trusts exactly the lab host's key on its SSH port."""
    key_type, key_data = keys.host_public.split()[:2]
    line = f"[{BIND_ADDRESS}]:{config.port('ssh').host} {key_type} {key_data}\n"
    config.known_hosts.write_text(line, encoding="utf-8")
    return config.known_hosts


def ssh_argv(config: LabConfig, command: list[str] | None = None, user: str | None = None) -> list[str]:
    """The ssh command line that logs into the lab host (optionally running `command`)."""
    argv = [
        "ssh",
        "-i",
        str(config.ssh_key),
        "-p",
        str(config.port("ssh").host),
        "-o",
        f"UserKnownHostsFile={config.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=15",
        f"{user or LAB_USER}@{BIND_ADDRESS}",
    ]
    return argv + (command or [])
