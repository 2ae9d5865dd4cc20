"""People CRUD and search, with field-level validation and scopes."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from people_helpers import auth, person_body, unique


def create(client: httpx.Client, key: str, **overrides: Any) -> dict[str, Any]:
    response = client.post("/people", json=person_body(**overrides), headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_create_read_update_delete(client: httpx.Client, staff_key: str) -> None:
    """A person is created (phones normalised), read back, partly changed (null clears organisation), then deleted."""
    person = create(client, staff_key)
    assert person["phones"] == ["+12025550143"] and person["updated_by"] == "api-key:staff-full"
    assert client.get(f"/people/{person['id']}", headers=auth(staff_key)).json() == person
    changed = client.patch(
        f"/people/{person['id']}", json={"organisation": None, "tags": ["vip", "airport"]}, headers=auth(staff_key)
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["organisation"], body["tags"], body["full_name"]) == (None, ["vip", "airport"], "Grace Hopper")
    assert client.delete(f"/people/{person['id']}", headers=auth(staff_key)).status_code == 204
    assert client.get(f"/people/{person['id']}", headers=auth(staff_key)).status_code == 404
    assert client.delete(f"/people/{person['id']}", headers=auth(staff_key)).status_code == 404


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"full_name": "  "}, "body.full_name", "at least 1 character"),
        ({"emails": ["a@example.org", "A@example.org"]}, "body.emails", "duplicate"),
        ({"emails": ["nope"]}, "body.emails.0", "email"),
        ({"phones": ["12"]}, "body.phones.0", "between 6 and 15 digits"),
        ({"roles": ["king"]}, "body.roles.0", "client"),
        ({"tags": ["Not A Slug"]}, "body.tags.0", "pattern"),
        ({"organisation": "Acme\x07"}, "body.organisation", "control"),
        ({"nickname": "x"}, "body.nickname", "Extra inputs"),
    ],
)
def test_invalid_person_names_the_field_and_writes_nothing(
    client: httpx.Client,
    staff_key: str,
    owner_conn: psycopg.Connection[Any],
    overrides: dict[str, Any],
    field: str,
    fragment: str,
) -> None:
    """Each kind of bad input answers 422 naming the field, and no person is stored."""
    before = owner_conn.execute("SELECT count(*) FROM people.persons").fetchone()
    response = client.post("/people", json=person_body(**overrides), headers=auth(staff_key))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(e["field"] == field and fragment.lower() in e["message"].lower() for e in errors), errors
    assert owner_conn.execute("SELECT count(*) FROM people.persons").fetchone() == before


@pytest.mark.parametrize(("patch", "fragment"), [({"full_name": None}, "cannot be null"), ({}, "at least one field")])
def test_invalid_patch_is_422(client: httpx.Client, staff_key: str, patch: dict[str, Any], fragment: str) -> None:
    """A PATCH clearing a required field, or changing nothing, answers 422 and leaves the person as it was."""
    person = create(client, staff_key)
    response = client.patch(f"/people/{person['id']}", json=patch, headers=auth(staff_key))
    assert response.status_code == 422 and fragment in response.json()["detail"]
    assert client.get(f"/people/{person['id']}", headers=auth(staff_key)).json() == person


def test_search_by_each_criterion(client: httpx.Client, staff_key: str) -> None:
    """q (name part, organisation, email part), exact email in any case, normalised phone, role and tag all find her."""
    org = unique("Org")
    tag = unique("t")
    email = f"{unique('m')}@example.com"
    person = create(
        client,
        staff_key,
        full_name=f"Margaret {org}x",
        emails=[email],
        phones=["+41 44 555 01 99"],
        organisation=org,
        roles=["partner"],
        tags=[tag],
    )
    create(client, staff_key, full_name="Someone Else", emails=[], phones=[], organisation=None, tags=[])
    queries = [
        {"q": org.lower()},
        {"q": email[:6].upper()},
        {"email": email.upper()},
        {"phone": "+41445550199"},
        {"phone": "+41 (44) 555-01-99"},
        {"organisation": org.upper()},
        {"role": "partner", "tag": tag},
        {"tag": tag},
    ]
    for query in queries:
        found = client.get("/people", params=query, headers=auth(staff_key)).json()["items"]
        assert [p["id"] for p in found] == [person["id"]], query


def test_pagination_follows_name_order(client: httpx.Client, staff_key: str) -> None:
    """Following next_cursor walks every match once, in name order."""
    tag = unique("page")
    names = [f"{letter} Pager" for letter in "edcba"]
    for name in names:
        create(client, staff_key, full_name=name, tags=[tag])
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"tag": tag, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/people", params=params, headers=auth(staff_key)).json()
        seen += [p["full_name"] for p in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == sorted(names)


def test_forged_cursor_is_422(client: httpx.Client, staff_key: str) -> None:
    """A cursor the API did not issue answers 422 naming the cursor."""
    response = client.get("/people", params={"cursor": "W1tdXQ"}, headers=auth(staff_key))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer mpp_wrong"}])
def test_without_valid_key_is_401(client: httpx.Client, headers: dict[str, str]) -> None:
    """Searching without a valid bearer key answers 401."""
    response = client.get("/people", headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"


def test_reader_cannot_write(client: httpx.Client, reader_key: str) -> None:
    """A people:read key can search but gets 403 naming people:write when creating."""
    assert client.get("/people", headers=auth(reader_key)).status_code == 200
    response = client.post("/people", json=person_body(), headers=auth(reader_key))
    assert response.status_code == 403 and "people:write" in response.json()["detail"]


def test_lead_intake_key_is_not_a_people_key(client: httpx.Client, settings: Any) -> None:
    """A lead-intake staff key does not open the people API (separate key tables and prefixes)."""
    from lead_intake.auth import create_api_key as create_lead_key

    key = create_lead_key(settings.migration_conninfo(), unique("leads-only-"), ["leads:read"])
    assert client.get("/people", headers=auth(key)).status_code == 401
