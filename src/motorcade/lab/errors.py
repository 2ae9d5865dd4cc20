"""Errors the lab raises; each is one clear line for the CLI to print."""

from __future__ import annotations

from motorcade.errors import MotorcadeError


class LabError(MotorcadeError):
    """Base of every error the lab raises."""

    exit_code = 12


class LabConfigError(LabError, ValueError):
    """The lab's configuration (environment variables or config file) is invalid."""


class PortConflictError(LabError):
    """A port the lab must bind on 127.0.0.1 is already taken by something else."""


class LabCommandError(LabError):
    """An external command the lab depends on (podman, debootstrap, ssh-keygen…) failed."""

    def __init__(self, argv: list[str], returncode: int, detail: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.detail = detail
        super().__init__(f"`{' '.join(argv[:3])}…` failed (exit {returncode}): {detail}")


class LabNotUpError(LabError):
    """An action needs a running lab host, and there is none."""


class LabTimeoutError(LabError, TimeoutError):
    """The lab host did not reach a ready state in time."""


class LabBusyError(LabError):
    """Another `motorcade lab` command is working on the same lab right now."""


class LabLeftoverError(LabError):
    """`down` finished but something of the lab is still running or listening."""
