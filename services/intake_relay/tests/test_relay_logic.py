"""Unit tests of one relay pass over an in-memory table: each outcome is recorded once, nothing is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from intake_relay.client import Answer
from intake_relay.config import DatabaseConfig, RelayConfig
from intake_relay.relay import relay_due
from intake_relay.store import Submission

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CONFIG = RelayConfig(DatabaseConfig("wordpress", "u", "p", "wp_mc_intake_submissions"), "http://api.invalid")


class MemoryStore:
    """The Store interface over a dict: id -> row."""

    def __init__(self, rows: dict[int, dict[str, Any]]) -> None:
        self.rows = rows

    def due(self, now: datetime, limit: int) -> list[Submission]:
        due = [
            Submission(i, r["reference"], r["payload"], r["attempts"])
            for i, r in sorted(self.rows.items())
            if r["status"] == "pending" and r["next"] <= now
        ]
        return due[:limit]

    def mark_relayed(self, s: Submission, now: datetime, lead_id: str | None) -> None:
        self.rows[s.id].update(status="relayed", attempts=s.attempts + 1, lead_id=lead_id)

    def mark_retry(self, s: Submission, now: datetime, when: datetime, error: str) -> None:
        self.rows[s.id].update(attempts=s.attempts + 1, next=when, error=error)

    def mark_rejected(self, s: Submission, now: datetime, error: str) -> None:
        self.rows[s.id].update(status="rejected", attempts=s.attempts + 1, error=error)


def row(reference: str) -> dict[str, Any]:
    return {"reference": reference, "payload": "{}", "attempts": 0, "status": "pending", "next": NOW}


def test_each_answer_leads_to_its_outcome_and_the_key_is_the_reference() -> None:
    """201 relays, 503 stays pending with a later attempt, 422 is kept as rejected; the key sent is the reference."""
    store = MemoryStore({1: row("MC-AAAA-AAAA"), 2: row("MC-BBBB-BBBB"), 3: row("MC-CCCC-CCCC")})
    answers = {
        "MC-AAAA-AAAA": Answer(201, "42"),
        "MC-BBBB-BBBB": Answer(503),
        "MC-CCCC-CCCC": Answer(422, reason="bad"),
    }
    keys: list[str] = []

    def post(base: str, body: str, key: str, timeout: float, ca: str) -> Answer:
        keys.append(key)
        return answers[key]

    summary = relay_due(store, CONFIG, post, clock=lambda: NOW)  # type: ignore[arg-type]
    assert keys == ["MC-AAAA-AAAA", "MC-BBBB-BBBB", "MC-CCCC-CCCC"]
    assert (summary.relayed, summary.retry, summary.rejected) == (["MC-AAAA-AAAA"], ["MC-BBBB-BBBB"], ["MC-CCCC-CCCC"])
    assert store.rows[1]["status"] == "relayed"
    assert store.rows[1]["lead_id"] == "42"
    assert store.rows[2]["status"] == "pending"
    assert store.rows[2]["next"] == NOW + timedelta(seconds=30)
    assert store.rows[3]["status"] == "rejected"
    assert store.rows[3]["error"] == "bad"


def test_a_relayed_submission_is_never_sent_again() -> None:
    """A second pass after success sends nothing; a retried one is not resent before its delay."""
    store = MemoryStore({1: row("MC-AAAA-AAAA"), 2: row("MC-BBBB-BBBB")})
    sent: list[str] = []

    def post(base: str, body: str, key: str, timeout: float, ca: str) -> Answer:
        sent.append(key)
        return Answer(201, "1") if key == "MC-AAAA-AAAA" else Answer(None, reason="refused")

    relay_due(store, CONFIG, post, clock=lambda: NOW)  # type: ignore[arg-type]
    relay_due(store, CONFIG, post, clock=lambda: NOW + timedelta(seconds=5))  # type: ignore[arg-type]
    assert sent == ["MC-AAAA-AAAA", "MC-BBBB-BBBB"]
    relay_due(store, CONFIG, post, clock=lambda: NOW + timedelta(seconds=31))  # type: ignore[arg-type]
    assert sent == ["MC-AAAA-AAAA", "MC-BBBB-BBBB", "MC-BBBB-BBBB"]
    assert store.rows[2]["attempts"] == 2
    assert store.rows[2]["status"] == "pending"
