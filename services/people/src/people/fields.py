"""The people API's own field types: roles, organisations, search text, tags (names and phone numbers:
``motorcade_service.fields``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from motorcade_service.fields import raw_length, single_line
from pydantic import AfterValidator, Field, StringConstraints


class Role(StrEnum):
    client = "client"
    staff = "staff"
    contact = "contact"
    partner = "partner"
    supplier = "supplier"


Organisation = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    raw_length(200),
    AfterValidator(single_line),
]
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    raw_length(100),
    AfterValidator(single_line),
]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$"), Field(examples=["vip"])]
