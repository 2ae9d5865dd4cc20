"""The text validator's ASCII fast path gives the same verdict as the per-character Unicode rule."""

from __future__ import annotations

import unicodedata

import pytest

from people.fields import _single_line


@pytest.mark.parametrize("code", range(0x100))
def test_fast_path_agrees_with_the_unicode_rule(code: int) -> None:
    """Every Latin-1 character, alone and inside ASCII text, is refused exactly when the Unicode rule refuses it."""
    for text in (chr(code), f"Ada {chr(code)} Lovelace"):
        if any(unicodedata.category(c) in {"Cc", "Cs", "Co", "Cn"} for c in text):
            with pytest.raises(ValueError, match="control"):
                _single_line(text)
        else:
            assert _single_line(text) == text
