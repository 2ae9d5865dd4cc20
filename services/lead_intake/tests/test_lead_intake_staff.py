"""Staff endpoints: authentication and scopes, filters and cursor pagination, status changes with history."""

from __future__ import annotations

import uuid

import httpx
import pytest

from lead_intake_helpers import auth, lead_body


def new_lead(client: httpx.Client, **overrides: object) -> str:
    response = client.post("/leads", json=lead_body(**overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer mli_not-a-real-key"}, {"Authorization": "Basic YTpi"}]
)
def test_staff_list_without_valid_key_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    """Listing leads without a valid bearer key answers 401 with a Bearer challenge."""
    response = client.get("/leads", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_status_change_needs_write_scope(client: httpx.Client, reader_key: str) -> None:
    """A key with only leads:read can read a lead but gets 403 naming the missing scope when changing its status."""
    lead_id = new_lead(client)
    assert client.get(f"/leads/{lead_id}", headers=auth(reader_key)).status_code == 200
    response = client.post(f"/leads/{lead_id}/status", json={"status": "contacted"}, headers=auth(reader_key))
    assert response.status_code == 403
    assert "leads:write" in response.json()["detail"]


def test_revoked_key_is_refused(client: httpx.Client, settings: object) -> None:
    """A key stops working once revoked."""
    from lead_intake.auth import create_api_key, revoke_api_key

    conninfo = settings.migration_conninfo()  # type: ignore[attr-defined]
    key = create_api_key(conninfo, "to-revoke", ["leads:read"])
    assert client.get("/leads", headers=auth(key)).status_code == 200
    revoke_api_key(conninfo, "to-revoke")
    assert client.get("/leads", headers=auth(key)).status_code == 401


def test_lead_moves_through_its_life_with_history(client: httpx.Client, staff_key: str) -> None:
    """new → contacted → scheduled → won is accepted step by step and recorded with who changed it and the note."""
    lead_id = new_lead(client)
    for status in ("contacted", "scheduled", "won"):
        response = client.post(
            f"/leads/{lead_id}/status", json={"status": status, "note": f"now {status}"}, headers=auth(staff_key)
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
    history = client.get(f"/leads/{lead_id}", headers=auth(staff_key)).json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "new"),
        ("new", "contacted"),
        ("contacted", "scheduled"),
        ("scheduled", "won"),
    ]
    assert history[-1]["changed_by"] == "api-key:staff-full" and history[-1]["note"] == "now won"


@pytest.mark.parametrize(("path", "illegal"), [([], "scheduled"), ([], "won"), (["lost"], "contacted"), ([], "new")])
def test_illegal_transition_is_409_and_changes_nothing(
    client: httpx.Client, staff_key: str, path: list[str], illegal: str
) -> None:
    """Skipping a step, leaving a final state or staying put answers 409 and leaves status and history as they were."""
    lead_id = new_lead(client)
    for status in path:
        assert (
            client.post(f"/leads/{lead_id}/status", json={"status": status}, headers=auth(staff_key)).status_code == 200
        )
    before = client.get(f"/leads/{lead_id}", headers=auth(staff_key)).json()
    response = client.post(f"/leads/{lead_id}/status", json={"status": illegal}, headers=auth(staff_key))
    assert response.status_code == 409
    assert f"to {illegal}" in response.json()["detail"]
    assert client.get(f"/leads/{lead_id}", headers=auth(staff_key)).json() == before


def test_unknown_lead_is_404(client: httpx.Client, staff_key: str) -> None:
    """Reading or moving a lead that does not exist answers 404."""
    missing = uuid.uuid4()
    assert client.get(f"/leads/{missing}", headers=auth(staff_key)).status_code == 404
    response = client.post(f"/leads/{missing}/status", json={"status": "contacted"}, headers=auth(staff_key))
    assert response.status_code == 404


def test_cursor_pagination_walks_every_lead_once(client: httpx.Client, staff_key: str) -> None:
    """Following next_cursor with a small page size returns each matching lead exactly once, newest first."""
    source = f"pager-{uuid.uuid4().hex[:8]}"
    created = [new_lead(client, source=source) for _ in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"source": source, "limit": 3} | ({"cursor": cursor} if cursor else {})
        page = client.get("/leads", params=params, headers=auth(staff_key)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))


def test_filters_by_status(client: httpx.Client, staff_key: str) -> None:
    """The status filter returns only leads in that status."""
    source = f"filter-{uuid.uuid4().hex[:8]}"
    moved, untouched = new_lead(client, source=source), new_lead(client, source=source)
    client.post(f"/leads/{moved}/status", json={"status": "contacted"}, headers=auth(staff_key))
    page = client.get("/leads", params={"source": source, "status": "contacted"}, headers=auth(staff_key)).json()
    assert [item["id"] for item in page["items"]] == [moved]
    page = client.get("/leads", params={"source": source, "status": "new"}, headers=auth(staff_key)).json()
    assert [item["id"] for item in page["items"]] == [untouched]


def test_forged_cursor_is_422(client: httpx.Client, staff_key: str) -> None:
    """A cursor the API did not issue answers 422 with a clear message."""
    response = client.get("/leads", params={"cursor": "bm9wZQ"}, headers=auth(staff_key))
    assert response.status_code == 422
    assert "cursor" in response.json()["detail"]
