"""What `lab status` reports: whether the lab host is up, and where to reach it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.config import PortForward


@dataclass(frozen=True)
class LabStatus:
    """A snapshot of the lab: its container's state, what it publishes and where its files are."""

    name: str
    form: str  # how the lab host is made, e.g. "systemd container (podman)"
    state: str  # absent, created, running, exited, …
    system_state: str | None  # systemd's is-system-running when the host runs
    ports: tuple[PortForward, ...]
    ssh_command: str
    inventory: Path
    vault_password_file: Path
    workspace: Path
    home: Path
    cache: Path
    failed_units: tuple[str, ...] = ()
    s3: str | None = None  # the lab's S3 server (motorcade-lab-s3.service) when the host runs

    @property
    def running(self) -> bool:
        return self.state == "running"
