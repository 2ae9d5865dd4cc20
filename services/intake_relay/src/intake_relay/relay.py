"""One relay run: send every due submission once, record each outcome before the next."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from intake_relay.client import Answer, post_lead
from intake_relay.config import RelayConfig
from intake_relay.errors import LockedError, RelayError
from intake_relay.policy import Outcome, classify, next_attempt, retry_after_seconds
from intake_relay.store import Store, connect

Poster = Callable[[str, str, str, float, str], Answer]


@dataclass
class Summary:
    """What a run did, by outcome (references only: no personal data)."""

    configured: bool = True
    relayed: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"configured": self.configured, "relayed": self.relayed, "retry": self.retry, "rejected": self.rejected}


def relay_due(
    store: Store, config: RelayConfig, post: Poster = post_lead, clock: Callable[[], datetime] | None = None
) -> Summary:
    """Send the due submissions through `post` and record each outcome in `store`."""
    now_of = clock or (lambda: datetime.now(UTC))
    summary = Summary()
    for submission in store.due(now_of(), config.batch_size):
        answer = post(
            config.api_base_url, submission.payload, submission.reference, config.timeout_seconds, config.ca_file
        )
        now = now_of()
        outcome = classify(answer.status)
        if outcome is Outcome.RELAYED:
            store.mark_relayed(submission, now, answer.lead_id)
            summary.relayed.append(submission.reference)
        elif outcome is Outcome.REJECTED:
            store.mark_rejected(submission, now, answer.reason or f"HTTP {answer.status}")
            summary.rejected.append(submission.reference)
        else:
            when = next_attempt(
                submission.attempts + 1,
                config.backoff_initial_seconds,
                config.backoff_max_seconds,
                retry_after_seconds(answer.retry_after, now),
                now,
            )
            store.mark_retry(submission, now, when, answer.reason or f"HTTP {answer.status}")
            summary.retry.append(submission.reference)
    return summary


def run_once(config: RelayConfig) -> Summary:
    """One run under an exclusive lock: nothing when the API is not configured, else relay what is due."""
    if not config.configured:
        return Summary(configured=False)
    try:
        descriptor = os.open(config.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise RelayError(f"cannot open the lock file {config.lock_file}: {error.strerror}") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise LockedError(f"another relay run holds {config.lock_file}") from error
        with connect(config.database) as store:
            return relay_due(store, config)
    finally:
        os.close(descriptor)
