"""The people directory: search, read, create, change, delete, and convert a lead into a person."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from motorcade_service.auth import Principal, require_scopes
from motorcade_service.db import ConnectionDep
from motorcade_service.errors import AUTH_RESPONSES, NOT_FOUND, UNREADABLE_BODY, VALIDATION_RESPONSES
from motorcade_service.fields import Phone
from motorcade_service.logs import log_event
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from people.fields import Organisation, Role, SearchText, Tag
from people.models import (
    Conversion,
    ConversionOutcome,
    ConversionResult,
    PersonCreate,
    PersonPage,
    PersonPublic,
    PersonUpdate,
)
from people.store import (
    convert_lead,
    create_person,
    delete_person,
    get_person,
    person_out,
    search_people,
    update_person,
)

router = APIRouter(tags=["people"], responses={**AUTH_RESPONSES, **VALIDATION_RESPONSES})
log = logging.getLogger("people.directory")
Reader = Annotated[Principal, require_scopes("people:read")]
Writer = Annotated[Principal, require_scopes("people:read", "people:write")]


class PeopleQuery(BaseModel):
    """Query parameters of the people search; unknown ones are refused."""

    model_config = ConfigDict(extra="forbid")
    q: SearchText | None = Field(default=None, description="Part of a name, organisation, email or phone.")
    email: EmailStr | None = Field(default=None, description="An exact email address (any case).")
    phone: Phone | None = Field(default=None, description="A phone number (compared normalised).")
    organisation: Organisation | None = Field(default=None, description="An exact organisation (any case).")
    role: Role | None = None
    tag: Tag | None = None
    cursor: Annotated[str | None, Field(max_length=600, pattern=r"^[A-Za-z0-9_-]+$")] = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


@router.get("/people", response_model=PersonPage)
async def search(conn: ConnectionDep, principal: Reader, query: Annotated[PeopleQuery, Query()]) -> PersonPage:
    """People ordered by name, filtered; follow `next_cursor` for more."""
    rows, next_cursor = await search_people(conn, **query.model_dump())
    return PersonPage(items=[PersonPublic.model_validate(person_out(r)) for r in rows], next_cursor=next_cursor)


@router.post("/people", status_code=201, response_model=PersonPublic, responses=UNREADABLE_BODY)
async def create(person: PersonCreate, conn: ConnectionDep, principal: Writer) -> PersonPublic:
    """Add a person."""
    row = await create_person(conn, person, principal.subject)
    log_event(log, "person_created", person_id=str(row["id"]))
    return PersonPublic.model_validate(person_out(row))


@router.post(
    "/people/from-lead",
    status_code=201,
    response_model=ConversionResult,
    responses={
        **NOT_FOUND,
        **UNREADABLE_BODY,
        200: {"model": ConversionResult, "description": "Linked to an existing person, or converted before."},
    },
)
async def from_lead(
    conversion: Conversion, conn: ConnectionDep, principal: Writer, response: Response
) -> ConversionResult:
    """Convert a lead into a person (201), or link it to the person who has its email or phone (200); idempotent."""
    outcome, row = await convert_lead(conn, conversion.lead_id, conversion.roles, principal.subject)
    if outcome is not ConversionOutcome.created:
        response.status_code = 200
    log_event(log, "lead_converted", lead_id=str(conversion.lead_id), person_id=str(row["id"]), outcome=outcome.value)
    return ConversionResult(outcome=outcome, person=PersonPublic.model_validate(person_out(row)))


@router.get("/people/{person_id}", response_model=PersonPublic, responses=NOT_FOUND)
async def read_one(person_id: uuid.UUID, conn: ConnectionDep, principal: Reader) -> PersonPublic:
    """One person, with the leads converted into them."""
    return PersonPublic.model_validate(person_out(await get_person(conn, person_id)))


@router.patch("/people/{person_id}", response_model=PersonPublic, responses={**NOT_FOUND, **UNREADABLE_BODY})
async def change(person_id: uuid.UUID, update: PersonUpdate, conn: ConnectionDep, principal: Writer) -> PersonPublic:
    """Change the fields sent; leave the others."""
    row = await update_person(conn, person_id, update.changes(), principal.subject)
    log_event(log, "person_updated", person_id=str(person_id), fields=sorted(update.model_fields_set))
    return PersonPublic.model_validate(person_out(row))


@router.delete("/people/{person_id}", status_code=204, responses=NOT_FOUND)
async def remove(person_id: uuid.UUID, conn: ConnectionDep, principal: Writer) -> Response:
    """Delete a person (their lead links go too; the leads themselves stay)."""
    await delete_person(conn, person_id)
    log_event(log, "person_deleted", person_id=str(person_id))
    return Response(status_code=204)
