"""The text validators' ASCII fast path gives the same verdict as the per-character Unicode rule."""

from __future__ import annotations

import unicodedata

import pytest

from lead_intake.fields import _multi_line, _single_line


def refused(text: str, allowed: set[str]) -> bool:
    return any(c not in allowed and unicodedata.category(c) in {"Cc", "Cs", "Co", "Cn"} for c in text)


@pytest.mark.parametrize("code", range(0x100))
def test_fast_path_agrees_with_the_unicode_rule(code: int) -> None:
    """Every Latin-1 character, alone and inside ASCII text, is refused exactly when the Unicode rule refuses it."""
    for text in (chr(code), f"Ada {chr(code)} Lovelace"):
        for check, allowed in ((_single_line, set()), (_multi_line, {"\n", "\r", "\t"})):
            if refused(text, allowed):
                with pytest.raises(ValueError, match="control"):
                    check(text)
            else:
                assert check(text) == text
