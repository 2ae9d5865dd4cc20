"""Running the external tools the lab is made of, turning failures into one-line errors."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from motorcade.lab.errors import LabCommandError, LabError

# Podman inside the lab host (cgroupfs manager on cgroup v1) warns about net_cls on every call; it is harmless.
_NOISE = ("Failed to add conmon to cgroupfs sandbox cgroup", "failed to connect to syslog")


def require(tool: str) -> str:
    """The path of `tool`, or a LabError naming the package that provides it."""
    found = shutil.which(tool)
    if found is None:
        raise LabError(f"`{tool}` is not installed; run lab/setup-host.sh (or ./run setup) first")
    return found


def run(
    argv: Sequence[str],
    *,
    stdin: IO[bytes] | None = None,
    timeout: float | None = 600,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` and return its result; raise LabCommandError with its last stderr line when it fails."""
    args = list(argv)
    try:
        result = subprocess.run(
            args,
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LabCommandError(args, -1, f"no answer within {timeout:.0f} s") from error
    except FileNotFoundError as error:
        raise LabError(f"`{args[0]}` is not installed; run lab/setup-host.sh first") from error
    completed = subprocess.CompletedProcess(
        args,
        result.returncode,
        result.stdout.decode("utf-8", "replace"),
        clean_stderr(result.stderr.decode("utf-8", "replace")),
    )
    if check and completed.returncode != 0:
        raise LabCommandError(args, completed.returncode, last_line(completed.stderr or completed.stdout))
    return completed


def clean_stderr(text: str) -> str:
    """Drop podman's known harmless warnings from `text`."""
    return "\n".join(line for line in text.splitlines() if not any(noise in line for noise in _NOISE))


def last_line(text: str) -> str:
    """The last non-empty line of `text` (where tools put the reason they failed)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
