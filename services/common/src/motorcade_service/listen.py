"""The listening sockets a service serves on: its TCP port, and those systemd passed it (socket activation).

In the platform, systemd holds each API's Unix socket (a ``.socket`` unit, role app_service) and hands it to the
container at every start (``LISTEN_FDS``; podman passes it through). The proxy connects to that socket, so a restart
of the service makes requests wait in the socket's queue rather than fail: nothing closes it between the old
process and the new one. The protocol is systemd's ``sd_listen_fds(3)``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping

# The first file descriptor systemd passes (SD_LISTEN_FDS_START in sd-daemon.h).
LISTEN_FDS_START = 3


class ListenFdsError(ValueError):
    """The socket-activation variables are set for this process but do not describe its file descriptors."""


def passed_sockets(
    environ: MutableMapping[str, str] | None = None, pid: int | None = None, start: int = LISTEN_FDS_START
) -> list[socket.socket]:
    """The sockets systemd passed to this process (``LISTEN_PID`` is ``pid``, ``LISTEN_FDS`` counts them from
    ``start``), each marked close-on-exec; none when the variables are absent or name another process. The variables
    are removed, as ``sd_listen_fds(1)`` does, so that no child takes them for its own."""
    environ = os.environ if environ is None else environ
    if environ.get("LISTEN_PID") != str(os.getpid() if pid is None else pid):
        return []
    count = environ.get("LISTEN_FDS", "0")
    for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        environ.pop(name, None)
    if not count.isdigit():
        raise ListenFdsError(f"LISTEN_FDS is {count!r}, not a number of file descriptors")
    sockets = []
    for fd in range(start, start + int(count)):
        try:
            os.set_inheritable(fd, False)
            sockets.append(socket.socket(fileno=fd))
        except OSError as error:
            raise ListenFdsError(f"file descriptor {fd} named by LISTEN_FDS is not a socket: {error}") from error
    return sockets


def describe(sock: socket.socket) -> str:
    """Where a listening socket listens, as a log line shows it: a path, or host:port."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name.decode() if isinstance(name, bytes) else name}"
    return f"{name[0]}:{name[1]}"
