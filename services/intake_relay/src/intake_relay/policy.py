"""What an answer of the lead-intake API means for a stored submission, and when to try again (pure logic)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Answers worth retrying: the request may succeed later unchanged.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Outcome(enum.Enum):
    """What happens to a submission after one attempt."""

    RELAYED = "relayed"  # the API holds the lead (201 created, or 200 replayed for the same Idempotency-Key)
    RETRY = "retry"  # the API is down, slow or overloaded: stay pending, try again after a delay
    REJECTED = "rejected"  # the API refuses this body for good (400, 409, 413, 422, …): kept for staff


def classify(status: int | None) -> Outcome:
    """The outcome of an attempt that got HTTP `status` (None: no answer at all — refused, reset, timed out)."""
    if status is None:
        return Outcome.RETRY
    if status in (200, 201):
        return Outcome.RELAYED
    if status in RETRYABLE_STATUSES or status >= 500:
        return Outcome.RETRY
    if 400 <= status < 500:
        return Outcome.REJECTED
    return Outcome.RETRY  # 1xx, other 2xx or 3xx: not what the API promises; try again rather than lose it


def backoff_seconds(attempts: int, initial: int, ceiling: int) -> int:
    """Delay before the next try after `attempts` failed ones: initial, 2x, 4x, … capped at `ceiling`."""
    if attempts < 1:
        return 0
    return int(min(ceiling, initial * 2 ** min(attempts - 1, 32)))


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - now).total_seconds()))


def next_attempt(attempts: int, initial: int, ceiling: int, retry_after: int | None, now: datetime) -> datetime:
    """When to try again: the backoff, or the API's Retry-After when that is later (never beyond the ceiling)."""
    delay = backoff_seconds(attempts, initial, ceiling)
    if retry_after is not None:
        delay = min(ceiling, max(delay, retry_after))
    return now + timedelta(seconds=delay)
