"""Converting leads into people: linked, never duplicated."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from people_helpers import auth, insert_lead, person_body, unique


def convert(client: httpx.Client, key: str, lead_id: str) -> httpx.Response:
    return client.post("/people/from-lead", json={"lead_id": lead_id}, headers=auth(key))


def test_converting_twice_returns_the_same_person(
    client: httpx.Client, staff_key: str, leads_conn: psycopg.Connection[Any], owner_conn: psycopg.Connection[Any]
) -> None:
    """The first conversion creates a client (201), the second returns the same person (200); one person, one link."""
    email = f"{unique('lead')}@example.org"
    lead_id = insert_lead(leads_conn, name="Linus Lead", email=email, phone="+4915550001")
    first = convert(client, staff_key, lead_id)
    assert first.status_code == 201, first.text
    assert first.json()["outcome"] == "created"
    person = first.json()["person"]
    assert (person["full_name"], person["emails"], person["phones"], person["roles"], person["lead_ids"]) == (
        "Linus Lead",
        [email],
        ["+4915550001"],
        ["client"],
        [lead_id],
    )
    again = convert(client, staff_key, lead_id)
    assert again.status_code == 200 and again.json()["outcome"] == "already_converted"
    assert again.json()["person"]["id"] == person["id"]
    count = owner_conn.execute("SELECT count(*) FROM people.persons WHERE %s = ANY(emails)", (email,)).fetchone()
    assert count == (1,)


def test_second_lead_of_a_known_person_is_linked(
    client: httpx.Client, staff_key: str, leads_conn: psycopg.Connection[Any]
) -> None:
    """A lead whose email (any case) belongs to an existing person links to that person and adds its new phone."""
    email = f"{unique('known')}@example.org"
    existing = client.post(
        "/people", json=person_body(emails=[email], phones=[], roles=["contact"]), headers=auth(staff_key)
    ).json()
    lead_id = insert_lead(
        leads_conn,
        name="Other Spelling",
        email=email.upper().replace("@EXAMPLE.ORG", "@example.org"),
        phone="+4915550002",
    )
    response = convert(client, staff_key, lead_id)
    assert response.status_code == 200 and response.json()["outcome"] == "linked"
    person = response.json()["person"]
    assert person["id"] == existing["id"] and person["lead_ids"] == [lead_id]
    assert person["phones"] == ["+4915550002"] and person["roles"] == ["client", "contact"]
    assert person["full_name"] == existing["full_name"]


def test_phone_only_lead_links_by_phone(
    client: httpx.Client, staff_key: str, leads_conn: psycopg.Connection[Any]
) -> None:
    """A lead with only a phone links to the person with that phone."""
    phone = "+41" + str(uuid.uuid4().int)[:9]
    existing = client.post("/people", json=person_body(emails=[], phones=[phone]), headers=auth(staff_key)).json()
    lead_id = insert_lead(leads_conn, name="Phone Only", email=None, phone=phone)
    response = convert(client, staff_key, lead_id)
    assert response.json()["person"]["id"] == existing["id"]


def test_converted_person_is_found_by_search(
    client: httpx.Client, staff_key: str, leads_conn: psycopg.Connection[Any]
) -> None:
    """After conversion, searching by the lead's email finds the person."""
    email = f"{unique('findme')}@example.org"
    lead_id = insert_lead(leads_conn, name="Findable Person", email=email, phone=None)
    person_id = convert(client, staff_key, lead_id).json()["person"]["id"]
    found = client.get("/people", params={"email": email}, headers=auth(staff_key)).json()["items"]
    assert [p["id"] for p in found] == [person_id]


def test_unknown_lead_is_404_and_writes_nothing(
    client: httpx.Client, staff_key: str, owner_conn: psycopg.Connection[Any]
) -> None:
    """Converting a lead that does not exist answers 404 and creates no person or link."""
    before = owner_conn.execute(
        "SELECT (SELECT count(*) FROM people.persons), (SELECT count(*) FROM people.person_leads)"
    )
    counts = before.fetchone()
    response = convert(client, staff_key, str(uuid.uuid4()))
    assert response.status_code == 404 and "lead" in response.json()["detail"]
    after = owner_conn.execute(
        "SELECT (SELECT count(*) FROM people.persons), (SELECT count(*) FROM people.person_leads)"
    )
    assert after.fetchone() == counts


def test_deleting_the_person_frees_the_lead(
    client: httpx.Client, staff_key: str, leads_conn: psycopg.Connection[Any]
) -> None:
    """Deleting a converted person removes the link but keeps the lead, which can be converted again."""
    lead_id = insert_lead(leads_conn, name="Temporary", email=f"{unique('tmp')}@example.org", phone=None)
    person_id = convert(client, staff_key, lead_id).json()["person"]["id"]
    assert client.delete(f"/people/{person_id}", headers=auth(staff_key)).status_code == 204
    again = convert(client, staff_key, lead_id)
    assert again.status_code == 201 and again.json()["person"]["id"] != person_id
