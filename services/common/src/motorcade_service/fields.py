"""Validators and constrained field types of the services' request models: clean text, names, phone numbers."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

_PHONE_CHARS = re.compile(r"^\+?[0-9 ()./-]+$")
# Printable ASCII has no control, surrogate, private-use or unassigned character: such text skips the per-character
# Unicode lookup (most submissions are plain ASCII; anything else still goes through it).
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn"})


def _no_control_chars(value: str, *, multiline: bool) -> str:
    if _PRINTABLE_ASCII.fullmatch(value):
        return value
    allowed = {"\n", "\r", "\t"} if multiline else set()
    for char in value:
        if char not in allowed and unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise ValueError("must not contain control or unassigned characters")
    return value


def single_line(value: str) -> str:
    """``value`` unchanged; ValueError if it holds a control (line breaks included), surrogate, private-use or
    unassigned character."""
    return _no_control_chars(value, multiline=False)


def multi_line(value: str) -> str:
    """As ``single_line``, but line breaks and tabs are allowed."""
    return _no_control_chars(value, multiline=True)


def normalise_phone(value: str) -> str:
    """The stored form of a phone number (digits, with a leading + when given); raises ValueError when invalid."""
    value = value.strip()
    if not _PHONE_CHARS.match(value):
        raise ValueError("a phone number has digits, spaces, and optionally a leading + and ( ) . / -")
    digits = re.sub(r"\D", "", value)
    if not 6 <= len(digits) <= 15:
        raise ValueError("a phone number has between 6 and 15 digits")
    return ("+" if value.startswith("+") else "") + digits


def raw_length(limit: int) -> BeforeValidator:
    """Enforce the schema's maxLength on the text as sent, before whitespace is stripped."""

    def check(value: object) -> object:
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        return value

    return BeforeValidator(check)


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    raw_length(200),
    AfterValidator(single_line),
]
Phone = Annotated[
    str,
    Field(examples=["+41 44 668 18 00"]),
    StringConstraints(strip_whitespace=True, max_length=32),
    raw_length(32),
    AfterValidator(normalise_phone),
]
