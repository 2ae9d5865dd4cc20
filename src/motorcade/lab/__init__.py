"""The lab: a disposable Debian 12 host with systemd as PID 1, Podman and SSH, on this machine.

The library never prints and never exits: it reports progress through a callback taking a `LabEvent`
and raises `LabError` (a `MotorcadeError`) for anything a user can cause or fix.
"""

from motorcade.lab.config import BASE_IMAGE, LabConfig, PortForward, load_config
from motorcade.lab.errors import (
    LabBusyError,
    LabCommandError,
    LabConfigError,
    LabError,
    LabLeftoverError,
    LabNotUpError,
    LabTimeoutError,
    PortConflictError,
)
from motorcade.lab.events import LabEvent, LabStage, Progress
from motorcade.lab.keys import ssh_argv
from motorcade.lab.lifecycle import down, leftovers_of, reset, status, up
from motorcade.lab.status import LabStatus

__all__ = [
    "BASE_IMAGE",
    "LabBusyError",
    "LabCommandError",
    "LabConfig",
    "LabConfigError",
    "LabError",
    "LabEvent",
    "LabLeftoverError",
    "LabNotUpError",
    "LabStage",
    "LabStatus",
    "LabTimeoutError",
    "PortConflictError",
    "PortForward",
    "Progress",
    "down",
    "leftovers_of",
    "load_config",
    "reset",
    "ssh_argv",
    "status",
    "up",
]
