"""Uvicorn's HTTP protocol (httptools), sending each response in one write instead of two.

Uvicorn writes a response's status line and headers when the app sends ``http.response.start``, and its body when
the app sends ``http.response.body``: two ``send()`` calls, so two TCP segments (the socket has ``TCP_NODELAY``),
for a response of a few hundred bytes. Behind the proxy each segment crosses the container networks and wakes the
proxy. In the profile of ``POST /leads`` in the lab, the two ``send()`` calls were 30 % of the service's CPU.

``CoalescingHttpToolsProtocol`` gives uvicorn's protocol a transport that collects what is written during one turn
of the event loop and writes it at the end of the turn (``loop.call_soon``): the two writes of a response made in the
same turn — what every app here does — leave as one. Nothing is held longer than that turn; closing or aborting the
connection first writes (or, for ``abort``, drops) what was collected. Use it with ``uvicorn.run(...,
http=CoalescingHttpToolsProtocol)``.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Wraps a transport: ``write`` collects, the collected bytes leave in one ``write`` at the end of the turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what was collected (nothing when the connection is already closing)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(data) for data in self._pending)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


# The client address of a connection over a Unix socket, which has none: ``("unix:", 0)``. Uvicorn would leave it
# empty, and never trust such a client's X-Forwarded-For; with "unix:" in FORWARDED_ALLOW_IPS it does. Only processes
# allowed to open the socket connect (in the platform, the proxy: role app_service's socket unit).
UNIX_PEER = "unix:"


# How long an idle keep-alive connection stays open once the server shuts down. Uvicorn closes it at once, and a
# request the proxy is writing on it that instant fails (a POST is not retried: 502). Kept open this long, a request
# that arrives on it is answered, with "Connection: close", so the proxy opens a new connection: with the socket
# systemd holds (motorcade_service.listen), to the next process.
SHUTDOWN_IDLE_GRACE = 0.5


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol over a ``CoalescingTransport``; a peer on a Unix socket is ``UNIX_PEER``; on
    shutdown an idle connection answers what arrives within ``SHUTDOWN_IDLE_GRACE`` seconds, then closes."""

    _draining = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        sock = transport.get_extra_info("socket")
        if self.client is None and sock is not None and sock.family == socket.AF_UNIX:
            self.client = (UNIX_PEER, 0)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining:  # the server is shutting down: this response is the connection's last
            self.cycle.keep_alive = False

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is None or self.cycle.response_complete:
            self._unset_keepalive_if_required()  # the keep-alive timer; closed after the grace instead
            self.timeout_keep_alive_task = self.loop.call_later(SHUTDOWN_IDLE_GRACE, self.timeout_keep_alive_handler)
        else:
            self.cycle.keep_alive = False
