"""The coalescing transport: a response's writes leave in one, in order, never lost on close; a real uvicorn server
speaks HTTP/1.1 through it (keep-alive, streamed bodies, Connection: close)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from motorcade_service_testing import live_server
from motorcade_service_testing.server import running_server

from motorcade_service.transport import CoalescingHttpToolsProtocol, CoalescingTransport


class RecordingTransport:
    """Stands in for a socket transport: records each write (one write = one send() on a real socket)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "written after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def test_writes_in_one_turn_leave_as_one_and_later_turns_separately() -> None:
    async def scenario() -> list[bytes]:
        real = RecordingTransport()
        transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert real.writes == []
        assert transport.get_write_buffer_size() == 45
        await asyncio.sleep(0)
        transport.write(b"next")
        await asyncio.sleep(0)
        assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)  # the rest is the real transport's
        return real.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}", b"next"]


def test_close_writes_what_was_collected_first_and_abort_drops_it() -> None:
    async def scenario() -> tuple[RecordingTransport, RecordingTransport]:
        loop = asyncio.get_running_loop()
        closing, aborting = RecordingTransport(), RecordingTransport()
        transport = CoalescingTransport(closing, loop)  # type: ignore[arg-type]
        transport.write(b"last words")
        transport.close()
        aborted = CoalescingTransport(aborting, loop)  # type: ignore[arg-type]
        aborted.write(b"never sent")
        aborted.abort()
        await asyncio.sleep(0)  # the scheduled flushes run: nothing more is written
        return closing, aborting

    closing, aborting = asyncio.run(scenario())
    assert closing.writes == [b"last words"]
    assert closing.closed
    assert aborting.writes == []
    assert aborting.aborted


async def json_or_stream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """``/stream``: three chunks, each in a later turn of the loop; anything else: a small JSON body."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for part in (b"one ", b"two ", b"three"):
            await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b'{"path":"' + scope["path"].encode() + b'"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """The app served by uvicorn over ``CoalescingHttpToolsProtocol`` (``live_server`` serves with it); its port."""
    with live_server(json_or_stream) as url:
        yield int(url.rsplit(":", 1)[1])


def read_until(conn: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_keep_alive_requests_get_whole_responses(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        for path in ("/first", "/second"):
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
            response = read_until(conn, b'"}')
            assert response.startswith(b"HTTP/1.1 201 Created\r\n"), response
            assert response.endswith(b'\r\n\r\n{"path":"' + path.encode() + b'"}'), response


def test_a_body_streamed_over_several_turns_arrives_whole_and_in_order(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        conn.sendall(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        response = read_until(conn, b"0\r\n\r\n")
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head
    assert body == b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"


def test_connection_close_sends_the_response_then_closes(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as conn:
        conn.sendall(b"GET /bye HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        response = read_until(conn, b"never in a response")  # reads until the server closes
    assert response.startswith(b"HTTP/1.1 201 Created\r\n")
    assert response.endswith(b'{"path":"/bye"}')


def test_an_idle_connection_answers_a_request_sent_as_the_server_shuts_down(tmp_path: Any) -> None:
    """A request written on an idle keep-alive connection just after shutdown began gets its answer, marked
    `Connection: close`, instead of a closed connection (which a proxy reports as 502 for a POST)."""
    config = uvicorn.Config(
        json_or_stream,
        uds=str(tmp_path / "api.sock"),
        http=CoalescingHttpToolsProtocol,
        log_config=None,
        lifespan="on",
    )
    with running_server(config) as running, socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(10)
        conn.connect(config.uds)
        conn.sendall(b"GET /first HTTP/1.1\r\nHost: test\r\n\r\n")
        assert read_until(conn, b'"}').startswith(b"HTTP/1.1 201 Created\r\n")
        running.should_exit = True
        time.sleep(0.25)  # the server's loop notices within 0.1 s, then shuts its connections down
        conn.sendall(b"GET /second HTTP/1.1\r\nHost: test\r\n\r\n")
        response = read_until(conn, b"never in a response")  # reads until the server closes
    assert response.startswith(b"HTTP/1.1 201 Created\r\n"), response
    assert b"\r\nconnection: close\r\n" in response.lower()
    assert response.endswith(b'{"path":"/second"}')
