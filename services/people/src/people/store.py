"""SQL for people: create, search with keyset cursors, read, update, delete, and lead conversion."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

from motorcade_service.db import Connection
from motorcade_service.errors import StoreError
from motorcade_service.fields import normalise_phone

from people.fields import Role
from people.models import ConversionOutcome, PersonCreate

PERSON_COLUMNS = (
    "p.id, p.full_name, p.preferred_name, p.emails, p.phones, p.organisation, p.roles, p.tags, p.created_at,"
    " p.updated_at, p.updated_by, p.sort_name,"
    " ARRAY(SELECT pl.lead_id FROM people.person_leads pl WHERE pl.person_id = p.id"
    " ORDER BY pl.converted_at, pl.lead_id) AS lead_ids"
)


class PersonNotFound(StoreError):
    status_code = 404


class LeadNotFound(StoreError):
    status_code = 404


class BadCursor(StoreError):
    status_code = 422


def person_out(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "sort_name"}


def encode_cursor(sort_name: str, person_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_name, str(person_id)]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, uuid.UUID]:
    try:
        sort_name, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(sort_name, str) or "\x00" in sort_name:
            raise ValueError("bad name")
        return sort_name, uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor("cursor is not one this API returned", field="query.cursor") from error


async def _fetch(conn: Connection, person_id: uuid.UUID) -> dict[str, Any]:
    cur = await conn.execute(f"SELECT {PERSON_COLUMNS} FROM people.persons p WHERE p.id = %s", (person_id,))
    row = await cur.fetchone()
    if row is None:
        raise PersonNotFound("no person with this id")
    return row


async def create_person(conn: Connection, person: PersonCreate, actor: str) -> dict[str, Any]:
    cur = await conn.execute(
        "INSERT INTO people.persons (full_name, preferred_name, emails, phones, organisation, roles, tags, updated_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            person.full_name,
            person.preferred_name,
            person.emails,
            person.phones,
            person.organisation,
            [str(r) for r in person.roles],
            person.tags,
            actor,
        ),
    )
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("INSERT … RETURNING gave no row")
    return await _fetch(conn, row["id"])


async def get_person(conn: Connection, person_id: uuid.UUID) -> dict[str, Any]:
    return await _fetch(conn, person_id)


async def update_person(conn: Connection, person_id: uuid.UUID, changes: dict[str, Any], actor: str) -> dict[str, Any]:
    columns = {"full_name", "preferred_name", "emails", "phones", "organisation", "roles", "tags"}
    assignments, params = [], []
    for name, value in sorted(changes.items()):
        if name not in columns:
            raise ValueError(f"not a person column: {name}")
        assignments.append(f"{name} = %s")
        params.append([str(v) for v in value] if name == "roles" else value)
    cur = await conn.execute(
        f"UPDATE people.persons SET {', '.join(assignments)}, updated_at = now(), updated_by = %s WHERE id = %s",
        [*params, actor, person_id],
    )
    if cur.rowcount != 1:
        raise PersonNotFound("no person with this id")
    return await _fetch(conn, person_id)


async def delete_person(conn: Connection, person_id: uuid.UUID) -> None:
    cur = await conn.execute("DELETE FROM people.persons WHERE id = %s", (person_id,))
    if cur.rowcount != 1:
        raise PersonNotFound("no person with this id")


async def search_people(
    conn: Connection,
    *,
    q: str | None,
    email: str | None,
    phone: str | None,
    organisation: str | None,
    role: Role | None,
    tag: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """People ordered by name; ``q`` matches a part of names, organisation, emails or phones (case-insensitive)."""
    where: list[str] = ["TRUE"]
    if q is not None:
        where.append(
            "(strpos(p.sort_name, lower(%(q)s)) > 0 OR strpos(lower(coalesce(p.preferred_name, '')), lower(%(q)s)) > 0"
            " OR strpos(lower(coalesce(p.organisation, '')), lower(%(q)s)) > 0"
            " OR EXISTS (SELECT 1 FROM unnest(p.emails || p.phones) v WHERE strpos(lower(v), lower(%(q)s)) > 0))"
        )
    named: dict[str, Any] = {"q": q}
    if email is not None:
        where.append("EXISTS (SELECT 1 FROM unnest(p.emails) e WHERE lower(e) = lower(%(email)s))")
        named["email"] = email
    if phone is not None:
        where.append("p.phones @> ARRAY[%(phone)s]::text[]")
        named["phone"] = phone
    if organisation is not None:
        where.append("lower(p.organisation) = lower(%(organisation)s)")
        named["organisation"] = organisation
    if role is not None:
        where.append("p.roles @> ARRAY[%(role)s]::text[]")
        named["role"] = str(role)
    if tag is not None:
        where.append("p.tags @> ARRAY[%(tag)s]::text[]")
        named["tag"] = tag
    if cursor is not None:
        named["after_name"], named["after_id"] = decode_cursor(cursor)
        where.append("(p.sort_name, p.id) > (%(after_name)s, %(after_id)s)")
    named["limit"] = limit + 1
    cur = await conn.execute(
        f"SELECT {PERSON_COLUMNS} FROM people.persons p WHERE {' AND '.join(where)}"
        " ORDER BY p.sort_name, p.id LIMIT %(limit)s",
        named,
    )
    rows = await cur.fetchall()
    next_cursor = encode_cursor(rows[limit - 1]["sort_name"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def convert_lead(
    conn: Connection, lead_id: uuid.UUID, roles: list[Role], actor: str
) -> tuple[ConversionOutcome, dict[str, Any]]:
    """Turn a lead into a person, or link it to the person already holding its email or phone; at most once per lead."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"convert:{lead_id}",))
        cur = await conn.execute("SELECT person_id FROM people.person_leads WHERE lead_id = %s", (lead_id,))
        done = await cur.fetchone()
        if done is not None:
            return ConversionOutcome.already_converted, await _fetch(conn, done["person_id"])
        cur = await conn.execute("SELECT name, email, phone FROM leads.leads WHERE id = %s", (lead_id,))
        lead = await cur.fetchone()
        if lead is None:
            raise LeadNotFound("no lead with this id")
        phone = normalise_phone(lead["phone"]) if lead["phone"] else None
        cur = await conn.execute(
            "SELECT id FROM people.persons p WHERE"
            " EXISTS (SELECT 1 FROM unnest(p.emails) e WHERE lower(e) = lower(%(email)s))"
            " OR p.phones @> ARRAY[%(phone)s]::text[]"
            " ORDER BY (EXISTS (SELECT 1 FROM unnest(p.emails) e WHERE lower(e) = lower(%(email)s))) DESC, p.created_at"
            " LIMIT 1 FOR UPDATE",
            {"email": lead["email"], "phone": phone},
        )
        match = await cur.fetchone()
        role_names = [str(r) for r in roles]
        if match is None:
            cur = await conn.execute(
                "INSERT INTO people.persons (full_name, emails, phones, roles, updated_by)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (lead["name"], [lead["email"]] if lead["email"] else [], [phone] if phone else [], role_names, actor),
            )
            created = await cur.fetchone()
            if created is None:
                raise RuntimeError("INSERT … RETURNING gave no row")
            person_id, outcome = created["id"], ConversionOutcome.created
        else:
            person_id, outcome = match["id"], ConversionOutcome.linked
            await conn.execute(
                "UPDATE people.persons SET"
                " emails = CASE WHEN %(email)s::text IS NULL OR EXISTS"
                "   (SELECT 1 FROM unnest(emails) e WHERE lower(e) = lower(%(email)s)) OR cardinality(emails) >= 10"
                "   THEN emails ELSE emails || %(email)s::text END,"
                " phones = CASE WHEN %(phone)s::text IS NULL OR %(phone)s = ANY(phones) OR cardinality(phones) >= 10"
                "   THEN phones ELSE phones || %(phone)s::text END,"
                " roles = ARRAY(SELECT DISTINCT r FROM unnest(roles || %(roles)s::text[]) r ORDER BY r),"
                " updated_at = now(), updated_by = %(actor)s WHERE id = %(id)s",
                {"email": lead["email"], "phone": phone, "roles": role_names, "actor": actor, "id": person_id},
            )
        await conn.execute(
            "INSERT INTO people.person_leads (lead_id, person_id, converted_by) VALUES (%s, %s, %s)",
            (lead_id, person_id, actor),
        )
        return outcome, await _fetch(conn, person_id)
