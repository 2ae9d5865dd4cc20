"""The public intake form's endpoint."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response

from lead_intake.db import ConnectionDep
from lead_intake.errors import BODY_TOO_LARGE, VALIDATION_RESPONSES, ErrorBody
from lead_intake.fields import IdempotencyKey
from lead_intake.logs import log_event
from lead_intake.models import LeadCreate, LeadReceipt
from lead_intake.store import create_lead

router = APIRouter(tags=["intake"])
log = logging.getLogger("lead_intake.intake")


async def rate_limited(request: Request) -> None:
    await request.app.state.rate_limiter(request)


@router.post(
    "/leads",
    status_code=201,
    response_model=LeadReceipt,
    dependencies=[Depends(rate_limited)],
    responses={
        200: {"model": LeadReceipt, "description": "A retry: the lead created earlier under this Idempotency-Key."},
        400: {"model": ErrorBody, "description": "Rejected as automated (honeypot filled), or an undecodable body."},
        429: {"model": ErrorBody, "description": "Too many submissions from this client; see Retry-After."},
        **BODY_TOO_LARGE,
        **VALIDATION_RESPONSES,
    },
)
async def submit_lead(
    lead: LeadCreate,
    conn: ConnectionDep,
    response: Response,
    idempotency_key: Annotated[
        IdempotencyKey | None,
        Header(description="Any unique string (a UUID); retrying with the same key returns the same lead."),
    ] = None,
) -> LeadReceipt:
    """Receive a prospective client's request. Needs an email or a phone, and consent."""
    if lead.website:
        log_event(log, "honeypot_tripped")
        raise HTTPException(400, "submission rejected")
    created = await create_lead(conn, lead, idempotency_key)
    if created.replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    else:
        log_event(log, "lead_created", lead_id=str(created.row["id"]), source=lead.source)
    return LeadReceipt.model_validate(created.row)
