"""One error tree for the conductor: every error a user can cause is a `MotorcadeError`.

Each class carries the process exit code the CLI uses for it, so the mapping from failure to
exit status lives in one place (and is documented in the README).
"""

from __future__ import annotations


class MotorcadeError(Exception):
    """Base of every expected error; the CLI prints it as one line and exits with `exit_code`."""

    exit_code: int = 1


class UsageError(MotorcadeError):
    """The command line was given options that do not fit together."""

    exit_code = 2


class RunbookError(MotorcadeError, ValueError):
    """runbook.yaml is invalid; the message names file, line and field."""

    exit_code = 7

    def __init__(self, path: str, line: int | None, field: str, problem: str) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {field}: {problem}")


class UnknownStepError(MotorcadeError, KeyError):
    """A step id that the runbook does not define."""

    exit_code = 9

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class UnknownEnvironmentError(MotorcadeError, KeyError):
    """An environment name that the runbook does not define."""

    exit_code = 9

    def __str__(self) -> str:
        return str(self.args[0])


class LockHeldError(MotorcadeError):
    """Another apply holds the environment's lock."""

    exit_code = 3


class StaleLockError(LockHeldError):
    """The lock's holder is gone; it must be broken explicitly (`motorcade lock break ENV`)."""

    exit_code = 8


class StepLockedError(MotorcadeError):
    """The step is LOCKED and has completed in this environment; reruns need an override."""

    exit_code = 4


class PreflightError(MotorcadeError):
    """A preflight condition is not met (prerequisites, pins, secrets, promotion)."""

    exit_code = 5


class GateFailedError(MotorcadeError):
    """A gate of the apply pipeline failed; the step is not complete."""

    exit_code = 1

    def __init__(self, gate: str, message: str) -> None:
        self.gate = gate
        super().__init__(f"{gate} gate failed: {message}")


class DriftDetectedError(MotorcadeError):
    """`motorcade drift` found steps whose playbooks would change something."""

    exit_code = 6


class BackupError(MotorcadeError):
    """A backup could not be taken, found or restored."""

    exit_code = 10


class AnsibleError(MotorcadeError):
    """ansible-runner could not run a playbook at all (not a playbook failure)."""

    exit_code = 11
