"""The public POST /leads: validation, idempotency, honeypot, body size and rate limits."""

from __future__ import annotations

import concurrent.futures
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from lead_intake.app import create_app
from lead_intake.settings import Settings
from lead_intake_helpers import lead_body
from motorcade_service_testing import live_server


def count_rows(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    leads = conn.execute("SELECT count(*) FROM leads.leads").fetchone()
    history = conn.execute("SELECT count(*) FROM leads.lead_status_history").fetchone()
    assert leads is not None and history is not None
    return leads[0], history[0]


def test_submission_is_stored_with_its_first_history_entry(
    client: httpx.Client, owner_conn: psycopg.Connection[Any]
) -> None:
    """A valid submission answers 201 with a receipt and stores the lead, normalised, with a 'new' history entry."""
    response = client.post("/leads", json=lead_body(email="Ada@Example.ORG"))
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert set(receipt) == {"id", "status", "created_at"} and receipt["status"] == "new"
    row = owner_conn.execute(
        "SELECT email, phone, status, consent_at IS NOT NULL FROM leads.leads WHERE id = %s", (receipt["id"],)
    ).fetchone()
    assert row == ("Ada@example.org", "+442079460958", "new", True)
    history = owner_conn.execute(
        "SELECT from_status, to_status FROM leads.lead_status_history WHERE lead_id = %s", (receipt["id"],)
    ).fetchall()
    assert history == [(None, "new")]


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"email": None, "phone": None}, "body", "email address or a phone number"),
        ({"email": "not-an-email"}, "body.email", "email"),
        ({"phone": "call me maybe"}, "body.phone", "phone number"),
        ({"consent": False}, "body.consent", "consent is required"),
        ({"consent": "true"}, "body.consent", "valid boolean"),
        ({"name": ""}, "body.name", "at least 1 character"),
        ({"name": "Ada\x00"}, "body.name", "control"),
        (
            {"requested_window": {"start": "2031-05-01T11:00:00Z", "end": "2031-05-01T09:00:00Z"}},
            "body.requested_window",
            "end must be after start",
        ),
        (
            {"requested_window": {"start": "2031-05-01T09:00:00", "end": "2031-05-01T11:00:00"}},
            "body.requested_window.start",
            "timezone",
        ),
        ({"source": "Web Site!"}, "body.source", "pattern"),
        ({"colour": "blue"}, "body.colour", "Extra inputs"),
    ],
)
def test_invalid_submission_names_the_field_and_writes_nothing(
    client: httpx.Client, owner_conn: psycopg.Connection[Any], overrides: dict[str, Any], field: str, fragment: str
) -> None:
    """Each kind of bad input answers 422 naming the offending field, and leaves no lead or history row behind."""
    before = count_rows(owner_conn)
    response = client.post("/leads", json=lead_body(**overrides))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"] == field and fragment.lower() in e["message"].lower() for e in errors), errors
    assert count_rows(owner_conn) == before


def test_malformed_json_is_a_clear_422(client: httpx.Client) -> None:
    """A body that is not JSON answers 422 with a message, not a 500."""
    response = client.post("/leads", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "field"),
    [
        (b"", "application/json", 422, "body"),
        (b'{"name": "Ada"}', "text/plain", 422, "body"),
        (b"\x83\xff\xfe", "application/json", 400, None),
    ],
)
def test_missing_mistyped_or_undecodable_body_is_a_4xx(
    client: httpx.Client, content: bytes, content_type: str, status: int, field: str | None
) -> None:
    """An empty body, a body that is not declared JSON, and bytes that are not text answer 4xx, never 5xx."""
    response = client.post("/leads", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["errors"][0]["field"] == field


def test_header_and_body_errors_are_reported_together(client: httpx.Client) -> None:
    """A bad Idempotency-Key and a bad field in the same request are both named in one 422."""
    response = client.post("/leads", json=lead_body(consent=False), headers={"Idempotency-Key": "short"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"header.idempotency-key", "body.consent"}


def test_openapi_documents_the_intake_operation(client: httpx.Client) -> None:
    """POST /leads, served by its own route handler, is still documented from its signature: body, header, answers."""
    operation = client.get("/openapi.json").json()["paths"]["/leads"]["post"]
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/LeadCreate"}
    assert [p["name"] for p in operation["parameters"]] == ["idempotency-key"]
    assert set(operation["responses"]) == {"200", "201", "400", "413", "422", "429", "503"}
    assert "Idempotency-Key" in operation["responses"]["503"]["description"]  # a retry is safe with the same key


def test_same_idempotency_key_returns_the_same_lead(client: httpx.Client, owner_conn: psycopg.Connection[Any]) -> None:
    """A retry with the same key and body answers 200 with the first lead's id; only one lead exists."""
    key = str(uuid.uuid4())
    first = client.post("/leads", json=lead_body(), headers={"Idempotency-Key": key})
    retry = client.post("/leads", json=lead_body(), headers={"Idempotency-Key": key})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json() == retry.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    rows = owner_conn.execute("SELECT count(*) FROM leads.leads WHERE idempotency_key = %s", (key,)).fetchone()
    assert rows == (1,)


def test_concurrent_retries_with_one_key_store_one_lead(base_url: str, owner_conn: psycopg.Connection[Any]) -> None:
    """Eight simultaneous submissions under one key make one lead: one 201 and seven 200s with the same id."""
    key = str(uuid.uuid4())

    def submit(_: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            return client.post("/leads", json=lead_body(), headers={"Idempotency-Key": key})

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(submit, range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    rows = owner_conn.execute(
        "SELECT count(*), (SELECT count(*) FROM leads.lead_status_history h JOIN leads.leads l ON l.id = h.lead_id"
        " WHERE l.idempotency_key = %s) FROM leads.leads WHERE idempotency_key = %s",
        (key, key),
    ).fetchone()
    assert rows == (1, 1)


def test_same_idempotency_key_with_another_body_is_refused(client: httpx.Client) -> None:
    """Reusing a key for a different submission answers 422 saying so, and does not touch the first lead."""
    key = str(uuid.uuid4())
    assert client.post("/leads", json=lead_body(), headers={"Idempotency-Key": key}).status_code == 201
    response = client.post("/leads", json=lead_body(message="Something else"), headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


def test_malformed_idempotency_key_is_refused(client: httpx.Client) -> None:
    """A key outside 8-128 safe characters answers 422 naming the header."""
    response = client.post("/leads", json=lead_body(), headers={"Idempotency-Key": "short"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"


def test_honeypot_submission_is_rejected_and_not_stored(
    client: httpx.Client, owner_conn: psycopg.Connection[Any]
) -> None:
    """A filled honeypot field answers 400 and stores nothing."""
    before = count_rows(owner_conn)
    response = client.post("/leads", json=lead_body(website="http://spam.example"))
    assert response.status_code == 400
    assert count_rows(owner_conn) == before


def test_declared_oversized_body_gets_413(client: httpx.Client, settings: Settings) -> None:
    """A Content-Length above the limit answers 413 before the body is read."""
    body = lead_body(message="x" * (settings.max_body_bytes + 10))
    response = client.post("/leads", json=body)
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_streamed_oversized_body_gets_413(client: httpx.Client, settings: Settings) -> None:
    """A chunked body (no Content-Length) is cut off with 413 once it passes the limit."""

    def chunks() -> Any:
        yield b'{"name": "' + b"y" * 4096
        for _ in range(settings.max_body_bytes // 4096 + 2):
            yield b"y" * 4096
        yield b'"}'

    response = client.post("/leads", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_rate_limit_answers_429_with_retry_after(settings: Settings) -> None:
    """A client over its burst gets 429 with Retry-After, malformed bodies too; the first requests of the burst go
    through."""
    limited = settings.model_copy(update={"rate_limit_burst": 2, "rate_limit_per_minute": 1.0})
    with live_server(create_app(limited)) as url, httpx.Client(base_url=url) as client:
        codes = [client.post("/leads", json=lead_body()).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        response = client.post("/leads", json=lead_body())
        assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
        malformed = client.post("/leads", content=b"{not json", headers={"Content-Type": "application/json"})
        assert malformed.status_code == 429


def test_rate_limit_is_per_client_key() -> None:
    """Each client has its own bucket, refilled over time (pure logic, fake clock)."""
    from lead_intake.ratelimit import RateLimiter

    limiter = RateLimiter(per_minute=60, burst=1, max_clients=100)
    assert limiter.retry_after("a", now=0.0) == 0
    assert limiter.retry_after("a", now=0.1) > 0
    assert limiter.retry_after("b", now=0.1) == 0
    assert limiter.retry_after("a", now=1.2) == 0
