"""Sockets passed by systemd (socket activation), and a client on a Unix socket as the services see it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from motorcade_service_testing.server import running_server

from motorcade_service.listen import ListenFdsError, describe, passed_sockets
from motorcade_service.transport import UNIX_PEER, CoalescingHttpToolsProtocol


@pytest.fixture
def listening(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "api.sock"))
    sock.listen()
    yield sock
    sock.close()


def test_the_sockets_named_for_this_process_are_taken_and_the_variables_removed(listening: socket.socket) -> None:
    environ = {"LISTEN_PID": "4242", "LISTEN_FDS": "1", "LISTEN_FDNAMES": "api", "OTHER": "kept"}
    (taken,) = passed_sockets(environ, pid=4242, start=listening.fileno())
    assert taken.fileno() == listening.fileno()
    assert taken.family == socket.AF_UNIX
    assert describe(taken).endswith("/api.sock")
    assert not taken.get_inheritable()  # a child process does not inherit the listening socket
    assert environ == {"OTHER": "kept"}
    taken.detach()  # the fixture closes it


def test_variables_for_another_process_are_left_alone() -> None:
    environ = {"LISTEN_PID": "1", "LISTEN_FDS": "1"}
    assert passed_sockets(environ, pid=4242) == []
    assert environ == {"LISTEN_PID": "1", "LISTEN_FDS": "1"}
    assert passed_sockets({}, pid=4242) == []


def test_a_count_that_is_no_number_or_no_socket_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ListenFdsError, match="not a number"):
        passed_sockets({"LISTEN_PID": "7", "LISTEN_FDS": "two"}, pid=7)
    with (tmp_path / "file").open("w") as not_a_socket, pytest.raises(ListenFdsError, match="is not a socket"):
        passed_sockets({"LISTEN_PID": "7", "LISTEN_FDS": "1"}, pid=7, start=not_a_socket.fileno())


async def echo_client(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the client address the app sees (served without lifespan events)."""
    body = str(scope["client"][0] if scope["client"] else None).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.parametrize(
    ("trusted", "seen"), [(f"127.0.0.1,{UNIX_PEER}", "203.0.113.7"), ("127.0.0.1", UNIX_PEER)], ids=["trusted", "not"]
)
def test_a_client_on_a_unix_socket_is_the_forwarded_one_when_unix_peers_are_trusted(
    tmp_path: Path, trusted: str, seen: str
) -> None:
    """Over a Unix socket the client has no address: it is "unix:", and its X-Forwarded-For counts only when
    FORWARDED_ALLOW_IPS names "unix:" (rate limits then see the real client, not one "unix:" for all)."""
    path = tmp_path / "api.sock"
    config = uvicorn.Config(
        echo_client,
        uds=str(path),
        http=CoalescingHttpToolsProtocol,
        proxy_headers=True,
        forwarded_allow_ips=trusted,
        log_config=None,
        lifespan="off",
    )
    with running_server(config), httpx.Client(transport=httpx.HTTPTransport(uds=str(path))) as client:
        answer = client.get("http://api/", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.text == seen
