"""Constrained field types shared by the request models: clean text, phone numbers, roles and tags."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
# Printable ASCII has no control, surrogate, private-use or unassigned character: such text skips the per-character
# Unicode lookup (most submissions are plain ASCII; anything else still goes through it).
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def _single_line(value: str) -> str:
    if _PRINTABLE_ASCII.fullmatch(value):
        return value
    for char in value:
        if unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"}:
            raise ValueError("must not contain control or unassigned characters")
    return value


def _phone(value: str) -> str:
    if not _PHONE_CHARS.match(value):
        raise ValueError("a phone number has digits, spaces, and optionally a leading + and ( ) . / -")
    digits = re.sub(r"\D", "", value)
    if not 6 <= len(digits) <= 15:
        raise ValueError("a phone number has between 6 and 15 digits")
    return ("+" if value.startswith("+") else "") + digits


def normalise_phone(value: str) -> str:
    """The stored form of a phone number (digits, with a leading + when given); raises ValueError when invalid."""
    return _phone(value.strip())


def _raw_length(limit: int) -> BeforeValidator:
    """Enforce the schema's maxLength on the text as sent, before whitespace is stripped."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        return value

    return BeforeValidator(check)


class Role(StrEnum):
    client = "client"
    staff = "staff"
    contact = "contact"
    partner = "partner"
    supplier = "supplier"


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _raw_length(200),
    AfterValidator(_single_line),
]
Organisation = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _raw_length(200),
    AfterValidator(_single_line),
]
SearchText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    _raw_length(100),
    AfterValidator(_single_line),
]
Phone = Annotated[
    str,
    Field(examples=["+41 44 668 18 00"]),
    StringConstraints(strip_whitespace=True, max_length=32),
    _raw_length(32),
    AfterValidator(_phone),
]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$"), Field(examples=["vip"])]
