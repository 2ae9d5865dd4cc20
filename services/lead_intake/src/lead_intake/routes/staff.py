"""Staff endpoints: list, read and move leads along their life. Bearer API key with scopes."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from motorcade_service.auth import Principal, require_scopes
from motorcade_service.db import ConnectionDep
from motorcade_service.errors import AUTH_RESPONSES, NOT_FOUND, UNREADABLE_BODY, VALIDATION_RESPONSES, ErrorBody
from motorcade_service.logs import log_event
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from lead_intake.fields import Source
from lead_intake.models import LeadDetail, LeadPage, LeadPublic, LeadStatus, StatusChange
from lead_intake.store import change_status, get_lead, lead_out, list_leads

router = APIRouter(tags=["staff"], responses={**AUTH_RESPONSES, **VALIDATION_RESPONSES})
log = logging.getLogger("lead_intake.staff")


class LeadFilters(BaseModel):
    """Query parameters of the lead list; unknown ones are refused."""

    model_config = ConfigDict(extra="forbid")
    status: LeadStatus | None = None
    source: Source | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    cursor: Annotated[str | None, Field(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")] = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


@router.get("/leads", response_model=LeadPage)
async def list_all(
    conn: ConnectionDep,
    principal: Annotated[Principal, require_scopes("leads:read")],
    filters: Annotated[LeadFilters, Query()],
) -> LeadPage:
    """Leads newest first, filtered; follow `next_cursor` for more."""
    rows, next_cursor = await list_leads(conn, **filters.model_dump())
    return LeadPage(items=[LeadPublic.model_validate(lead_out(r)) for r in rows], next_cursor=next_cursor)


@router.get("/leads/{lead_id}", response_model=LeadDetail, responses=NOT_FOUND)
async def read_one(
    lead_id: uuid.UUID, conn: ConnectionDep, principal: Annotated[Principal, require_scopes("leads:read")]
) -> LeadDetail:
    """One lead with its status history."""
    row, history = await get_lead(conn, lead_id)
    return LeadDetail.model_validate({**lead_out(row), "history": history})


@router.post(
    "/leads/{lead_id}/status",
    response_model=LeadDetail,
    responses={
        **NOT_FOUND,
        **UNREADABLE_BODY,
        409: {"model": ErrorBody, "description": "The lead's life does not allow this change."},
    },
)
async def set_status(
    lead_id: uuid.UUID,
    change: StatusChange,
    conn: ConnectionDep,
    principal: Annotated[Principal, require_scopes("leads:read", "leads:write")],
) -> LeadDetail:
    """Move the lead: new → contacted → scheduled → won, or lost from any open state."""
    await change_status(conn, lead_id, change.status, change.note, principal.subject)
    log_event(log, "lead_status_changed", lead_id=str(lead_id), status=change.status.value)
    row, history = await get_lead(conn, lead_id)
    return LeadDetail.model_validate({**lead_out(row), "history": history})
