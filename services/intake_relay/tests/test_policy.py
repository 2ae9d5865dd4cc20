"""Unit tests of the relay's pure logic: outcome of an answer, backoff and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake_relay.policy import Outcome, backoff_seconds, classify, next_attempt, retry_after_seconds

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, Outcome.RELAYED),
        (200, Outcome.RELAYED),
        (None, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.RETRY),
        (408, Outcome.RETRY),
        (302, Outcome.RETRY),
        (400, Outcome.REJECTED),
        (409, Outcome.REJECTED),
        (413, Outcome.REJECTED),
        (422, Outcome.REJECTED),
    ],
)
def test_classify(status: int | None, outcome: Outcome) -> None:
    """Only 200/201 count as relayed; no answer, 5xx, 408 and 429 are retried; other 4xx are kept as rejected."""
    assert classify(status) is outcome


def test_backoff_doubles_up_to_the_ceiling() -> None:
    """The delay doubles from the initial one after each failed attempt and never passes the ceiling."""
    assert [backoff_seconds(n, 30, 600) for n in range(7)] == [0, 30, 60, 120, 240, 480, 600]
    assert backoff_seconds(10_000, 30, 3600) == 3600


def test_retry_after_in_seconds_and_as_a_date() -> None:
    """Retry-After is read as delta-seconds or as an HTTP date; garbage reads as absent."""
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds("Fri, 27 Nov 2026 12:05:00 GMT", NOW) == 300
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_next_attempt_honours_a_later_retry_after_within_the_ceiling() -> None:
    """The next attempt waits for the longer of backoff and Retry-After, capped at the ceiling."""
    assert next_attempt(1, 30, 3600, None, NOW) == NOW + timedelta(seconds=30)
    assert next_attempt(1, 30, 3600, 90, NOW) == NOW + timedelta(seconds=90)
    assert next_attempt(1, 30, 3600, 99_999, NOW) == NOW + timedelta(seconds=3600)
