"""The public intake form's endpoint.

``POST /leads`` is the one route under public load, so ``serve_intake`` answers it as a plain ASGI app: the app
(``LeadIntakeAPI``) hands it the request before FastAPI's layers (middleware stack, router, dependency solving, the
response model validated and serialised again), which cost more CPU than everything else in the request (profiled with
py-spy). What those layers did for this route it does itself: the body size limit, the request id and access log line,
the rate limit, and errors answered by the app's own exception handlers. The OpenAPI operation still comes from
``submit_lead``'s signature and the errors are FastAPI's own (``RequestValidationError`` with the same
``loc``/``type``/``msg``, ``HTTPException``), so the contract and the answers are those of a FastAPI route — but for
one thing: the rate limit is taken before the body is read, so malformed bodies count against it too.
"""

from __future__ import annotations

import email.message
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from motorcade_service.errors import BODY_TOO_LARGE, VALIDATION_RESPONSES, ErrorBody
from motorcade_service.logs import log_event
from motorcade_service.middleware import BodyTooLarge, log_request, request_id, send_413
from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from lead_intake.fields import IdempotencyKey
from lead_intake.models import LeadCreate, LeadReceipt
from lead_intake.writer import LeadWriter

log = logging.getLogger("lead_intake.intake")
_IDEMPOTENCY_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


def _json_content_type(value: str) -> bool:
    """``application/json`` or ``application/…+json``, parameters allowed (FastAPI's rule)."""
    if value == "application/json":  # what the form and nearly every client send: no header parsing
        return True
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def parse_submission(body: bytes, content_type: str | None, key: str | None) -> tuple[LeadCreate, str | None]:
    """The form and its Idempotency-Key, or ``RequestValidationError`` with every problem, as FastAPI reports them."""
    errors: list[Any] = []
    if key is not None:
        try:
            key = _IDEMPOTENCY_KEY.validate_python(key)
        except ValidationError as error:
            errors += [{**e, "loc": ("header", "idempotency-key", *e["loc"])} for e in error.errors(include_url=False)]
    lead: LeadCreate | None = None
    if not body:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        value: object = body  # a body without a JSON content type is validated as bytes (and refused)
        if content_type is not None and _json_content_type(content_type):
            try:
                value = json.loads(body)
            except json.JSONDecodeError as error:
                problem = {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
                raise RequestValidationError([problem], body=error.doc) from error
            except (ValueError, RecursionError) as error:  # not UTF-8/16/32, or nested too deep
                raise HTTPException(400, "There was an error parsing the body") from error
        try:
            lead = LeadCreate.model_validate(value)
        except ValidationError as error:
            errors += [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
    if errors or lead is None:
        raise RequestValidationError(errors)
    return lead, key


class ClientGone(Exception):
    """The client disconnected before its body arrived: there is nobody to answer."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; ``BodyTooLarge`` as soon as more than ``limit`` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _store(app: FastAPI, body: bytes, scope: Scope) -> tuple[int, bytes, dict[str, Any]]:
    """Validate, check the honeypot and store; the status, the receipt and what the access line adds (the lead's id,
    and its source when it is new or ``replayed`` when it is not)."""
    lead, key = parse_submission(body, _header(scope, b"content-type"), _header(scope, b"idempotency-key"))
    if lead.website:
        log_event(log, "honeypot_tripped")
        raise HTTPException(400, "submission rejected")
    writer: LeadWriter = app.state.lead_writer
    created = await writer.create(lead, key)
    receipt = LeadReceipt.model_validate(created.row).model_dump_json().encode()
    lead_id = str(created.row["id"])
    if created.replayed:
        return 200, receipt, {"lead_id": lead_id, "replayed": True}
    return 201, receipt, {"lead_id": lead_id, "source": lead.source}


def _error_handler(app: FastAPI, error: Exception) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The app's handler for ``error``, looked up along its class's MRO as Starlette does (``Exception`` last)."""
    for cls in type(error).__mro__:
        if cls in app.exception_handlers:
            return cast(Callable[[Request, Exception], Awaitable[Response]], app.exception_handlers[cls])
    raise error


async def serve_intake(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``POST /leads``: body limit, rate limit, validation, honeypot, stored by the app's ``LeadWriter`` (with
    the submissions arriving meanwhile); 201, or 200 for a retry; every error through the app's exception handlers;
    one access log line with the request id and the lead's id (a created lead has no line of its own: in the lab
    every line also costs conmon and journald CPU)."""
    app: FastAPI = scope["app"]
    began = time.perf_counter()
    scope["request_id"] = rid = request_id(scope)
    settings = app.state.settings
    status = 500
    stored: dict[str, Any] = {}
    id_header = (b"x-request-id", rid.encode())
    try:
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > settings.max_body_bytes):
            raise BodyTooLarge(settings.max_body_bytes)
        client = scope.get("client")
        app.state.rate_limiter.take(client[0] if client else "unknown")
        status, receipt, stored = await _store(app, await read_body(receive, settings.max_body_bytes), scope)
    except BodyTooLarge:
        status = 413
        await send_413(send, settings.max_body_bytes, [id_header])
    except ClientGone:
        status = 499  # nginx's "client closed request": logged, nothing sent
    except Exception as error:  # every other outcome is answered by the app's handler for it
        response = await _error_handler(app, error)(Request(scope, receive), error)
        status = response.status_code
        response.headers["x-request-id"] = rid
        await response(scope, receive, send)
    else:  # a failure while sending is not answered again: it propagates to the server, which logs it
        headers = [(b"content-length", str(len(receipt)).encode()), (b"content-type", b"application/json"), id_header]
        if "replayed" in stored:
            headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": receipt})
    finally:
        log_request("POST", "/leads", status, began, rid, **stored)


class IntakeRoute(APIRoute):
    """An APIRoute served by ``serve_intake``; its endpoint's signature documents the operation.

    ``LeadIntakeAPI`` sends ``POST /leads`` to ``serve_intake`` before the router; this keeps the router's own match
    (a mounted sub-path, a ``root_path``) on the same code.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = serve_intake


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": LeadReceipt, "description": "A retry: the lead created earlier under this Idempotency-Key."},
    400: {"model": ErrorBody, "description": "Rejected as automated (honeypot filled), or an undecodable body."},
    429: {"model": ErrorBody, "description": "Too many submissions from this client; see Retry-After."},
    503: {
        "model": ErrorBody,
        "description": "The database could not be reached in time (a restart, a restore, an outage). Retry after "
        "`Retry-After` seconds with the same `Idempotency-Key`: the lead is stored once.",
    },
    **BODY_TOO_LARGE,
    **VALIDATION_RESPONSES,
}


def add_intake_route(app: FastAPI) -> None:
    """Put ``POST /leads`` on the app's own router: an included router would match every request against its routes
    twice more (a tenth of the request's CPU in the profile)."""
    app.router.add_api_route(
        "/leads",
        submit_lead,
        methods=["POST"],
        tags=["intake"],
        status_code=201,
        response_model=LeadReceipt,
        responses=RESPONSES,
        route_class_override=IntakeRoute,
    )


async def submit_lead(
    lead: LeadCreate,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(description="Any unique string (a UUID); retrying with the same key returns the same lead."),
    ] = None,
) -> LeadReceipt:
    """Receive a prospective client's request. Needs an email or a phone, and consent."""
    # Only the signature above is used (it shapes the OpenAPI schema and FastAPI's validation errors): IntakeRoute
    # answers the request with serve_intake, so this body never runs; reaching it would mean the route class was not
    # applied.
    raise NotImplementedError("IntakeRoute serves this operation with serve_intake")
