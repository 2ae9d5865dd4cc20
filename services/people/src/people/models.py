"""What comes in (``PersonCreate``, ``PersonUpdate``, ``Conversion``) and goes out (``PersonPublic``, ...)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from motorcade_service.fields import Name, Phone
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, model_validator

from people.fields import Organisation, Role, Tag

T = TypeVar("T")


def _unique(values: list[T]) -> list[T]:
    seen: set[str] = set()
    for value in values:
        key = str(value).lower()
        if key in seen:
            raise ValueError(f"duplicate entry {str(value)!r}")
        seen.add(key)
    return values


Email = Annotated[EmailStr, Field(max_length=254)]
Emails = Annotated[list[Email], Field(max_length=10), AfterValidator(_unique)]
Phones = Annotated[list[Phone], Field(max_length=10), AfterValidator(_unique)]
Roles = Annotated[list[Role], Field(max_length=5), AfterValidator(_unique)]
Tags = Annotated[list[Tag], Field(max_length=20), AfterValidator(_unique)]


class PersonCreate(BaseModel):
    """A new person: a client, a member of staff, a contact…"""

    model_config = ConfigDict(extra="forbid")
    full_name: Name
    preferred_name: Name | None = None
    emails: Emails = []
    phones: Phones = []
    organisation: Organisation | None = None
    roles: Roles = []
    tags: Tags = []


class PersonUpdate(BaseModel):
    """A partial change: only the fields sent change; ``null`` clears ``preferred_name`` or ``organisation``."""

    model_config = ConfigDict(extra="forbid")
    full_name: Name | None = None
    preferred_name: Name | None = None
    emails: Emails | None = None
    phones: Phones | None = None
    organisation: Organisation | None = None
    roles: Roles | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _required_not_cleared(self) -> PersonUpdate:
        for name in ("full_name", "emails", "phones", "roles", "tags"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null (send [] to empty a list)")
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class PersonPublic(BaseModel):
    id: uuid.UUID
    full_name: str
    preferred_name: str | None
    emails: list[str]
    phones: list[str]
    organisation: str | None
    roles: list[Role]
    tags: list[str]
    lead_ids: list[uuid.UUID] = Field(description="Leads converted into this person.")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    updated_by: str


class PersonPage(BaseModel):
    items: list[PersonPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class Conversion(BaseModel):
    """Convert the lead ``lead_id`` into a person (or link it to the person who already has its email or phone)."""

    model_config = ConfigDict(extra="forbid")
    lead_id: uuid.UUID
    roles: Roles = [Role.client]


class ConversionOutcome(StrEnum):
    created = "created"
    linked = "linked"
    already_converted = "already_converted"


class ConversionResult(BaseModel):
    outcome: ConversionOutcome = Field(
        description="`created`: a new person; `linked`: an existing person with the lead's email or phone; "
        "`already_converted`: this lead was converted before (the same person is returned)."
    )
    person: PersonPublic
