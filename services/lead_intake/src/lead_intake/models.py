"""What comes in (``LeadCreate``, ``StatusChange``) and goes out (``LeadReceipt``, ``LeadPublic``, ``LeadPage``)."""

from __future__ import annotations

import hashlib
import json
import uuid
from enum import StrEnum
from typing import Annotated

from motorcade_service.fields import Name, Phone
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StrictBool, field_validator, model_validator

from lead_intake.fields import Message, Note, ServiceName, Source


class LeadStatus(StrEnum):
    new = "new"
    contacted = "contacted"
    scheduled = "scheduled"
    won = "won"
    lost = "lost"


# The life of a lead: new → contacted → scheduled → won, and lost from any open state.
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.new: frozenset({LeadStatus.contacted, LeadStatus.lost}),
    LeadStatus.contacted: frozenset({LeadStatus.scheduled, LeadStatus.lost}),
    LeadStatus.scheduled: frozenset({LeadStatus.won, LeadStatus.lost}),
    LeadStatus.won: frozenset(),
    LeadStatus.lost: frozenset(),
}


class TimeWindow(BaseModel):
    """When the client would like the service: both ends with a time zone, the end after the start."""

    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class LeadCreate(BaseModel):
    """A submission of the public intake form."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    email: Annotated[EmailStr, Field(max_length=254)] | None = None
    phone: Phone | None = None
    service: ServiceName
    requested_window: TimeWindow | None = None
    message: Message | None = None
    source: Source = "website"
    consent: StrictBool = Field(
        description="The person agrees that Motorcade stores this request to answer it; must be true."
    )
    website: Annotated[str, Field(max_length=200, description="Honeypot: leave empty (hidden from humans).")] | None = (
        None
    )

    @field_validator("consent")
    @classmethod
    def _consent_given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("consent is required to store your request")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> LeadCreate:
        if self.email is None and self.phone is None:
            raise ValueError("give an email address or a phone number (or both)")
        return self

    def request_hash(self) -> bytes:
        """A digest of the normalised submission, to tell a retry from a different request under the same key."""
        payload = self.model_dump(mode="json", exclude={"website"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).digest()


class LeadReceipt(BaseModel):
    """What the public form gets back: enough to refer to its request, nothing more."""

    id: uuid.UUID
    status: LeadStatus
    created_at: AwareDatetime


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: LeadStatus
    note: Note | None = None


class HistoryEntry(BaseModel):
    from_status: LeadStatus | None
    to_status: LeadStatus
    note: str | None
    changed_by: str
    changed_at: AwareDatetime


class LeadPublic(BaseModel):
    """A lead as staff see it."""

    id: uuid.UUID
    status: LeadStatus
    name: str
    email: str | None
    phone: str | None
    service: str
    requested_window: TimeWindow | None
    message: str | None
    source: str
    consent_at: AwareDatetime
    created_at: AwareDatetime
    updated_at: AwareDatetime


class LeadDetail(LeadPublic):
    history: list[HistoryEntry]


class LeadPage(BaseModel):
    items: list[LeadPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")
