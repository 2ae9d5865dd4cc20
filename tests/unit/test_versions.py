"""What counts as an exact version for the pin preflight."""

from __future__ import annotations

import pytest

from motorcade.schema import is_exact_version


@pytest.mark.parametrize(
    "value", ["4.3.1+ds1-8+deb12u1", "15.18-0+deb12u1", "1:2.6.2-4", "1.2.3", "sha256:ab12", "2.0~rc1-1", 7]
)
def test_exact_versions_are_accepted(value: object) -> None:
    """Debian, semantic and digest versions are exact."""
    assert is_exact_version(value)


@pytest.mark.parametrize(
    "value",
    [
        "latest",
        "LATEST",
        "",
        "  ",
        ">=1.2",
        "~1.2",
        "^1.2",
        "1.*",
        "1.x",
        "1.2, 1.3",
        "stable",
        "1.2 || 1.3",
        None,
        True,
    ],
)
def test_ranges_and_floating_tags_are_refused(value: object) -> None:
    """`latest`, ranges, wildcards and empty values are not pins."""
    assert not is_exact_version(value)
