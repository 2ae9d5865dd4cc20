"""Turn SIGTERM (systemd stop) into an exception so that cleanup code runs."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from motorcade_backup.errors import InterruptedBackupError


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise InterruptedBackupError(f"stopped by signal {signal.Signals(signum).name}; partial uploads aborted")


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While active, SIGTERM and SIGINT raise :class:`InterruptedBackupError` in the main thread."""
    previous = {sig: signal.signal(sig, _raise) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
