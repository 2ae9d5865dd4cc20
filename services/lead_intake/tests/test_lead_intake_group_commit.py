"""Submissions arriving together are stored by one statement (``lead_intake.writer``), each still its own lead.

Batches are made deterministic here: the app writes with one statement at a time, and the first submission's
statement is held on a table lock until every other submission is waiting for the next statement.
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from lead_intake.app import LeadIntakeAPI, create_app
from lead_intake.settings import Settings
from lead_intake.writer import LeadWriter
from lead_intake_helpers import lead_body
from motorcade_service_testing import live_server


@pytest.fixture(scope="module")
def one_writer(settings: Settings) -> Iterator[tuple[str, LeadIntakeAPI]]:
    """The app storing leads with one statement at a time, and its base URL."""
    app = create_app(settings.model_copy(update={"write_concurrency": 1, "db_pool_max_size": 4}))
    with live_server(app) as url:
        yield url, app


def post(url: str, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    with httpx.Client(base_url=url, timeout=30) as client:
        return client.post("/leads", json=body, headers=headers)


def submitted_as_one_batch(
    url: str,
    app: LeadIntakeAPI,
    owner_conn: psycopg.Connection[Any],
    submissions: list[tuple[dict[str, Any], str | None]],
) -> list[httpx.Response]:
    """Send ``submissions`` at once while the writer's one statement is held on a table lock, so that they all wait
    and go in the next statement together; their responses, in order."""
    writer: LeadWriter = app.state.lead_writer
    before = writer.stats.statements

    def until(condition: Any, what: str) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.02)

    with concurrent.futures.ThreadPoolExecutor(len(submissions) + 1) as threads:
        with owner_conn.transaction():
            owner_conn.execute("LOCK TABLE leads.leads IN SHARE ROW EXCLUSIVE MODE")  # holds every INSERT
            blocker = threads.submit(post, url, lead_body(name="Holds The Statement"))
            until(lambda: writer.stats.statements > before, "the first statement did not start")
            waiting = [threads.submit(post, url, body, key) for body, key in submissions]
            until(lambda: writer.waiting == len(submissions), "the submissions did not all wait")
        assert blocker.result().status_code == 201
        return [future.result() for future in waiting]


def stored(owner_conn: psycopg.Connection[Any], lead_id: str) -> tuple[Any, ...]:
    """A lead's name, email, message and key, and how many 'new' history entries it has."""
    row = owner_conn.execute(
        "SELECT l.name, l.email, l.message, l.idempotency_key,"
        " (SELECT count(*) FROM leads.lead_status_history h WHERE h.lead_id = l.id AND h.to_status = 'new')"
        " FROM leads.leads l WHERE l.id = %s",
        (lead_id,),
    ).fetchone()
    assert row is not None, f"lead {lead_id} not stored"
    return tuple(row)


def test_submissions_stored_together_are_each_their_own_lead(
    one_writer: tuple[str, LeadIntakeAPI], owner_conn: psycopg.Connection[Any]
) -> None:
    """Twelve submissions in one statement: twelve 201s, twelve leads, each receipt naming the lead made of its own
    body (with and without keys), each with its first history entry."""
    url, app = one_writer
    batch_id = uuid.uuid4().hex[:8]
    submissions = [
        (
            lead_body(name=f"Person {n} {batch_id}", email=f"p{n}-{batch_id}@example.org"),
            f"key-{n}-{batch_id}" if n % 2 else None,
        )
        for n in range(12)
    ]
    statements = app.state.lead_writer.stats.statements
    responses = submitted_as_one_batch(url, app, owner_conn, submissions)
    assert [r.status_code for r in responses] == [201] * 12, [r.text for r in responses]
    assert app.state.lead_writer.stats.statements == statements + 2  # the held one, then these twelve together
    assert len({r.json()["id"] for r in responses}) == 12
    for (body, key), response in zip(submissions, responses, strict=True):
        assert stored(owner_conn, response.json()["id"]) == (body["name"], body["email"], body["message"], key, 1)


def test_one_key_in_one_batch_is_one_lead(
    one_writer: tuple[str, LeadIntakeAPI], owner_conn: psycopg.Connection[Any]
) -> None:
    """Within one statement, as across statements: a key sent three times with one body is one lead (one 201, then
    200s with its id); a key sent with two bodies stores the first and refuses the other (422); a key stored earlier
    is replayed (200) with its body and refused (422) with another."""
    url, app = one_writer
    same, differing, earlier = (f"{name}-{uuid.uuid4()}" for name in ("same", "differing", "earlier"))
    first = post(url, lead_body(message="Stored before."), earlier)
    assert first.status_code == 201
    submissions = [
        *[(lead_body(message="Sent three times."), same)] * 3,
        (lead_body(message="One body."), differing),
        (lead_body(message="Another body."), differing),
        (lead_body(message="Stored before."), earlier),
        (lead_body(message="Not what was stored."), earlier),
        (lead_body(message="No key."), None),
    ]
    responses = submitted_as_one_batch(url, app, owner_conn, submissions)
    codes = [r.status_code for r in responses]
    assert sorted(codes[:3]) == [200, 200, 201] and len({r.json()["id"] for r in responses[:3]}) == 1, codes
    assert [r.headers.get("Idempotent-Replayed") for r in responses[:3] if r.status_code == 200] == ["true"] * 2
    assert sorted(codes[3:5]) == [201, 422]
    refused = next(r for r in responses[3:5] if r.status_code == 422)
    assert "already used with a different request body" in refused.json()["detail"]
    kept = next(body for (body, _), r in zip(submissions[3:5], responses[3:5], strict=True) if r.status_code == 201)
    assert codes[5:] == [200, 422, 201]
    assert responses[5].json() == first.json()
    for key, message in (("same", "Sent three times."), ("differing", kept["message"]), ("earlier", "Stored before.")):
        key = {"same": same, "differing": differing, "earlier": earlier}[key]
        rows = owner_conn.execute(
            "SELECT message, (SELECT count(*) FROM leads.lead_status_history h WHERE h.lead_id = l.id)"
            " FROM leads.leads l WHERE idempotency_key = %s",
            (key,),
        ).fetchall()
        assert rows == [(message, 1)], key


def test_a_submission_the_database_refuses_fails_alone(
    one_writer: tuple[str, LeadIntakeAPI], owner_conn: psycopg.Connection[Any]
) -> None:
    """When the database refuses one submission of a batch (here a constraint added for the test), the batch is
    written again one by one: the others are stored (201), that one answers 500 and is not stored, half or whole."""
    url, app = one_writer
    marker = uuid.uuid4().hex[:8]
    refused_name = f"Refused {marker}"
    owner_conn.execute(
        f"ALTER TABLE leads.leads ADD CONSTRAINT refused_for_test CHECK (name <> '{refused_name}') NOT VALID"
    )
    try:
        retried = app.state.lead_writer.stats.retried_one_by_one
        submissions: list[tuple[dict[str, Any], str | None]] = [
            (lead_body(name=f"Accepted {n} {marker}"), None) for n in range(7)
        ]
        submissions.insert(3, (lead_body(name=refused_name), None))
        responses = submitted_as_one_batch(url, app, owner_conn, submissions)
    finally:
        owner_conn.execute("ALTER TABLE leads.leads DROP CONSTRAINT refused_for_test")
    codes = [r.status_code for r in responses]
    assert codes == [201] * 3 + [500] + [201] * 4, codes
    assert responses[3].json()["detail"] == "internal error; the request was not applied"
    assert app.state.lead_writer.stats.retried_one_by_one == retried + 1
    names = owner_conn.execute(
        "SELECT l.name, count(h.id) FROM leads.leads l LEFT JOIN leads.lead_status_history h ON h.lead_id = l.id"
        " WHERE l.name LIKE %s GROUP BY l.name ORDER BY l.name",
        (f"% {marker}",),
    ).fetchall()
    assert names == sorted((f"Accepted {n} {marker}", 1) for n in range(7))
