"""Port conflicts on 127.0.0.1 are found before the lab starts and reported in one line."""

from __future__ import annotations

import socket

import pytest

from motorcade.lab import PortConflictError, PortForward
from motorcade.lab.ports import check_free, free_port, is_listening


def test_taken_port_is_reported_with_the_variable_to_change() -> None:
    """A port held by another listener raises PortConflictError naming the port and MOTORCADE_LAB_PORT_<NAME>."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(PortConflictError, match=f"port {port} on 127.0.0.1 .*MOTORCADE_LAB_PORT_HTTP=PORT"):
            check_free([PortForward("ssh", free_port(), 22), PortForward("http", port, 80)])
        assert is_listening(port)
    assert not is_listening(port)


def test_free_ports_pass() -> None:
    """Ports nobody holds pass the check."""
    check_free([PortForward("ssh", free_port(), 22)])
