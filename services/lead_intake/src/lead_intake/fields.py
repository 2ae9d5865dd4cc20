"""Constrained field types shared by the request models: clean text, phone numbers, slugs."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
# Printable ASCII has no control, surrogate, private-use or unassigned character: such text skips the per-character
# Unicode lookup (most submissions are plain ASCII; anything else still goes through it).
_PRINTABLE_ASCII = re.compile(r"[ -~]*")


def _no_control_chars(value: str, *, multiline: bool) -> str:
    if _PRINTABLE_ASCII.fullmatch(value):
        return value
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char not in allowed and unicodedata.category(char) in {"Cc", "Cs", "Co", "Cn"}:
            raise ValueError("must not contain control or unassigned characters")
    return value


def _single_line(value: str) -> str:
    return _no_control_chars(value, multiline=False)


def _multi_line(value: str) -> str:
    return _no_control_chars(value, multiline=True)


def _phone(value: str) -> str:
    if not _PHONE_CHARS.match(value):
        raise ValueError("a phone number has digits, spaces, and optionally a leading + and ( ) . / -")
    digits = re.sub(r"\D", "", value)
    if not 6 <= len(digits) <= 15:
        raise ValueError("a phone number has between 6 and 15 digits")
    return ("+" if value.startswith("+") else "") + digits


def _raw_length(limit: int) -> BeforeValidator:
    """Enforce the schema's maxLength on the text as sent, before whitespace is stripped."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        return value

    return BeforeValidator(check)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _raw_length(200),
    AfterValidator(_single_line),
]
ServiceName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    _raw_length(120),
    AfterValidator(_single_line),
]
Message = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=5000), _raw_length(5000), AfterValidator(_multi_line)
]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=1000), _raw_length(1000), AfterValidator(_multi_line)
]
Phone = Annotated[
    str,
    Field(examples=["+41 44 668 18 00"]),
    StringConstraints(strip_whitespace=True, max_length=32),
    _raw_length(32),
    AfterValidator(_phone),
]
Source = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$"), Field(examples=["website"])]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{8,128}$")]
