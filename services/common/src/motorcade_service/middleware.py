"""ASGI middleware: request ids and access logs without personal data, and the request body size limit."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from motorcade_service.logs import log_event

log = logging.getLogger("motorcade_service.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    """Answers 413 when Content-Length or the bytes actually received exceed ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await send_413(send, self.max_bytes)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_413(send, self.max_bytes)


async def send_413(send: Send, limit: int, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer 413 and close the connection (the rest of the body is not read)."""
    body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a plain token (it is logged and echoed), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            incoming = str(value.decode("latin-1"))
            if _REQUEST_ID.match(incoming):
                return incoming
            break
    return uuid.uuid4().hex


def log_request(method: str, route: str, status: int, began: float, request_id: str, **fields: Any) -> None:
    """The access log line: method, route template, status and duration, and ``fields`` (ids, never what the caller
    typed)."""
    log_event(
        log,
        "request",
        method=method,
        route=route,
        status=status,
        duration_ms=round((time.perf_counter() - began) * 1000, 2),
        request_id=request_id,
        **fields,
    )


class AccessLogMiddleware:
    """Logs method, route template, status and duration — never the raw path, query string, body or client address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope["request_id"] = rid = request_id(scope)
        status = 500
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            log_request(scope["method"], getattr(route, "path", "<unmatched>"), status, began, rid)
