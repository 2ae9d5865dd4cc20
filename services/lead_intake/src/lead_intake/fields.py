"""The lead-intake API's own field types (names and phone numbers: ``motorcade_service.fields``)."""

from __future__ import annotations

from typing import Annotated

from motorcade_service.fields import multi_line, raw_length, single_line
from pydantic import AfterValidator, Field, StringConstraints

ServiceName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    raw_length(120),
    AfterValidator(single_line),
]
Message = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000), raw_length(5000), AfterValidator(multi_line)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=1000), raw_length(1000), AfterValidator(multi_line)
]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$"), Field(examples=["website"])]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,128}$")]
