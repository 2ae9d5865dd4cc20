"""The public intake form's endpoint.

``POST /leads`` is the one route under public load, so it is served by ``IntakeRoute``: a handler that reads,
validates and stores the submission itself. FastAPI's generic path (dependency solving with an exit stack per
dependency, the response model validated and serialised again) cost more CPU than everything else in the request
(profiled with cProfile and py-spy). The OpenAPI operation still comes from ``submit_lead``'s signature, the errors
are FastAPI's own (``RequestValidationError`` with the same ``loc``/``type``/``msg``, ``HTTPException``) and go
through the app's handlers, so the contract and the answers are unchanged — but for one thing: the rate limit is
taken before the body is read, so malformed bodies count against it too (FastAPI parsed the JSON first).
"""

from __future__ import annotations

import email.message
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter, ValidationError

from lead_intake.db import Connection
from lead_intake.errors import BODY_TOO_LARGE, VALIDATION_RESPONSES, ErrorBody
from lead_intake.fields import IdempotencyKey
from lead_intake.logs import log_event
from lead_intake.models import LeadCreate, LeadReceipt
from lead_intake.store import create_lead

log = logging.getLogger("lead_intake.intake")
_IDEMPOTENCY_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


def _json_content_type(value: str) -> bool:
    """``application/json`` or ``application/…+json``, parameters allowed (FastAPI's rule)."""
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


async def receive_submission(request: Request) -> Response:
    """Rate limit, validation, honeypot, then one INSERT … RETURNING on a pooled connection; 201, or 200 for a retry."""
    await request.app.state.rate_limiter(request)
    lead, key = parse_submission(
        await request.body(), request.headers.get("content-type"), request.headers.get("idempotency-key")
    )
    if lead.website:
        log_event(log, "honeypot_tripped")
        raise HTTPException(400, "submission rejected")
    pool: AsyncConnectionPool[Connection] = request.app.state.pool
    async with pool.connection() as conn:
        created = await create_lead(conn, lead, key)
    receipt = LeadReceipt.model_validate(created.row).model_dump_json().encode()
    if created.replayed:
        return Response(receipt, 200, {"Idempotent-Replayed": "true"}, media_type="application/json")
    log_event(log, "lead_created", lead_id=str(created.row["id"]), source=lead.source)
    return Response(receipt, 201, media_type="application/json")


class IntakeRoute(APIRoute):
    """An APIRoute whose requests go to ``receive_submission``; its endpoint's signature only documents the API."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return receive_submission


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": LeadReceipt, "description": "A retry: the lead created earlier under this Idempotency-Key."},
    400: {"model": ErrorBody, "description": "Rejected as automated (honeypot filled), or an undecodable body."},
    429: {"model": ErrorBody, "description": "Too many submissions from this client; see Retry-After."},
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
    # answers the request itself, so this body never runs; reaching it would mean the route class was not applied.
    raise NotImplementedError("IntakeRoute serves this operation with receive_submission")
