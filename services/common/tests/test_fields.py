"""The field validators: the text checks' ASCII fast path agrees with the Unicode rule; phone numbers are normalised."""

from __future__ import annotations

import unicodedata

import pytest

from motorcade_service.fields import multi_line, normalise_phone, single_line


def refused(text: str, allowed: set[str]) -> bool:
    return any(c not in allowed and unicodedata.category(c) in {"Cc", "Cs", "Co", "Cn"} for c in text)


@pytest.mark.parametrize("code", range(0x100))
def test_fast_path_agrees_with_the_unicode_rule(code: int) -> None:
    """Every Latin-1 character, alone and inside ASCII text, is refused exactly when the Unicode rule refuses it."""
    for text in (chr(code), f"Ada {chr(code)} Lovelace"):
        for check, allowed in ((single_line, set()), (multi_line, {"\n", "\r", "\t"})):
            if refused(text, allowed):
                with pytest.raises(ValueError, match="control"):
                    check(text)
            else:
                assert check(text) == text


@pytest.mark.parametrize(
    ("given", "stored"),
    [("+41 44 668 18 00", "+41446681800"), (" (044) 668-18.00 ", "0446681800"), ("+1/555/0100", "+15550100")],
)
def test_phone_numbers_are_stored_as_digits_with_their_plus(given: str, stored: str) -> None:
    """Spaces and ( ) . / - go; a leading + stays."""
    assert normalise_phone(given) == stored


@pytest.mark.parametrize(
    ("given", "problem"),
    [("12345", "between 6 and 15"), ("+1234567890123456", "between 6 and 15"), ("044 668 18 00 ext 2", "digits")],
)
def test_phone_numbers_that_cannot_be_dialled_are_refused(given: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        normalise_phone(given)
