"""Checking that the ports the lab publishes on 127.0.0.1 are free, and that nothing listens after `down`."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from motorcade.lab.config import BIND_ADDRESS, PortForward
from motorcade.lab.errors import PortConflictError


def is_free(port: int, address: str = BIND_ADDRESS) -> bool:
    """True when a TCP listener could bind `address:port` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def is_listening(port: int, address: str = BIND_ADDRESS) -> bool:
    """True when something accepts TCP connections on `address:port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((address, port)) == 0


def check_free(forwards: Iterable[PortForward]) -> None:
    """Raise PortConflictError naming the first forward whose host port is taken."""
    for forward in forwards:
        if not is_free(forward.host):
            variable = f"MOTORCADE_LAB_PORT_{forward.name.upper()}"
            raise PortConflictError(
                f"port {forward.host} on {BIND_ADDRESS} (lab {forward.name}) is already in use; "
                f"free it or choose another with {variable}=PORT"
            )


def free_port(address: str = BIND_ADDRESS) -> int:
    """A port the kernel considers free on `address` now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port
