"""SQL for leads: create (idempotent), list with keyset cursors, read, and status changes with history."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import psycopg
from motorcade_service.db import Connection
from motorcade_service.errors import StoreError

from lead_intake.models import TRANSITIONS, LeadCreate, LeadStatus

LEAD_COLUMNS = (
    "id, status, name, email, phone, service, window_start, window_end, message, source, consent_at,"
    " created_at, updated_at"
)


class LeadNotFound(StoreError):
    status_code = 404


class IdempotencyConflict(StoreError):
    status_code = 422


class IllegalTransition(StoreError):
    status_code = 409


class BadCursor(StoreError):
    status_code = 422


RECEIPT_COLUMNS = "id, status, created_at"  # what the form gets back (LeadReceipt)
_SUBMITTED_COLUMNS = (
    "id, name, email, phone, service, window_start, window_end, message, source, idempotency_key, request_hash"
)
# Any number of submissions in one statement (one plan, one commit): each column arrives as an array, the rows are
# unnested, inserted with their first history rows, and returned with RECEIPT_COLUMNS. A submission whose key is
# already used is skipped by ON CONFLICT and not returned; _STORED_UNDER_KEYS then finds the lead holding it. (Doing
# that lookup here too would put a scan of leads.leads in the statement's cached generic plan, planned for the table
# as last analysed: after the table was emptied, a sequential scan kept by every statement as it grows again.) The
# rows are inserted in the order of their keys: two statements in flight holding the same two keys take them in the
# same order, so one waits for the other instead of each waiting for the other (a deadlock). The ids are chosen by
# the caller, to match rows to submissions.
CREATE_LEADS = (
    "WITH submitted AS (SELECT * FROM unnest(%(id)s::uuid[], %(name)s::text[], %(email)s::text[], %(phone)s::text[],"
    " %(service)s::text[], %(window_start)s::timestamptz[], %(window_end)s::timestamptz[], %(message)s::text[],"
    f" %(source)s::text[], %(key)s::text[], %(hash)s::bytea[]) AS s ({_SUBMITTED_COLUMNS})),"
    " lead AS (INSERT INTO leads.leads (id, name, email, phone, service, window_start, window_end, message, source,"
    " consent_at, idempotency_key, request_hash) SELECT id, name, email, phone, service, window_start, window_end,"
    " message, source, now(), idempotency_key, request_hash FROM submitted ORDER BY idempotency_key"
    f" ON CONFLICT (idempotency_key) DO NOTHING RETURNING {RECEIPT_COLUMNS}, idempotency_key),"
    " history AS (INSERT INTO leads.lead_status_history (lead_id, from_status, to_status, changed_by)"
    " SELECT id, NULL, 'new', 'intake-form' FROM lead)"
    f" SELECT {RECEIPT_COLUMNS}, idempotency_key FROM lead"
)
_STORED_UNDER_KEYS = (
    f"SELECT {RECEIPT_COLUMNS}, idempotency_key, request_hash FROM leads.leads WHERE idempotency_key = ANY(%s::text[])"
)


@dataclass(frozen=True)
class Submission:
    """A validated form and the Idempotency-Key it came with."""

    lead: LeadCreate
    key: str | None

    @cached_property
    def request_hash(self) -> bytes | None:
        """The body's digest when there is a key (``LeadCreate.request_hash``), else None."""
        return self.lead.request_hash() if self.key is not None else None


@dataclass(frozen=True)
class Created:
    row: dict[str, Any]
    replayed: bool


def lead_out(row: dict[str, Any]) -> dict[str, Any]:
    """A lead row shaped like ``LeadPublic``."""
    out = {k: v for k, v in row.items() if k not in {"window_start", "window_end"}}
    out["requested_window"] = (
        None if row["window_start"] is None else {"start": row["window_start"], "end": row["window_end"]}
    )
    return out


async def create_leads(conn: Connection, submissions: Sequence[Submission]) -> list[Created | Exception]:
    """Store the submissions in one atomic statement, each lead with its first history entry; the outcome of each, in
    order: ``Created`` (``row`` holds RECEIPT_COLUMNS; ``replayed`` for a key already used with the same body), or
    the error to raise for it: ``IdempotencyConflict`` for a key already used with another body; the database's
    error if looking up the lead holding a key failed (``RuntimeError`` if it is not there, which nothing in the API
    makes possible).

    Submissions sharing a key are one lead: the first stores it (unless the key was used before), the others are
    retries of it. Nothing is stored when this raises (the statement failed): the caller may try the submissions one by
    one. Once the statement has stored them, a failed lookup of the keys it skipped is the outcome of the submissions
    that needed it, not an error of the batch.
    """
    writing: dict[int, uuid.UUID] = {}  # the submissions written (the first of those sharing a key): their new ids
    first_with_key: dict[str, int] = {}
    for index, submission in enumerate(submissions):
        if submission.key is not None:
            if submission.key in first_with_key:
                continue
            first_with_key[submission.key] = index
        writing[index] = uuid.uuid4()
    leads = [submissions[index].lead for index in writing]
    windows = [lead.requested_window for lead in leads]
    params = {
        "id": list(writing.values()),
        "name": [lead.name for lead in leads],
        "email": [lead.email for lead in leads],
        "phone": [lead.phone for lead in leads],
        "service": [lead.service for lead in leads],
        "window_start": [window.start if window else None for window in windows],
        "window_end": [window.end if window else None for window in windows],
        "message": [lead.message for lead in leads],
        "source": [lead.source for lead in leads],
        "key": [submissions[index].key for index in writing],
        "hash": [submissions[index].request_hash for index in writing],
    }
    cur = await conn.execute(CREATE_LEADS, params)
    inserted: dict[uuid.UUID, dict[str, Any]] = {}
    stored: dict[str, tuple[dict[str, Any], bytes | None]] = {}  # key: its lead, and its request hash if it was there
    for row in await cur.fetchall():
        key = row.pop("idempotency_key")
        inserted[row["id"]] = row
        if key is not None:
            stored[key] = (row, None)
    # A key not inserted was already used: by a lead stored before, or by a concurrent statement, which ON CONFLICT
    # waited for and which has committed. Either is visible to this new statement. Planned for its keys each time:
    # retries are rare, and a cached plan could be one for a table that looked empty.
    used = [key for key in first_with_key if key not in stored]
    not_found: Exception = RuntimeError("the lead holding this Idempotency-Key vanished")
    if used:
        try:
            cur = await conn.execute(_STORED_UNDER_KEYS, (used,), prepare=False)
            found = await cur.fetchall()
        except psycopg.Error as error:  # the batch is stored: only the submissions that needed the lookup fail
            not_found, found = error, []
        for row in found:
            key, stored_hash = row.pop("idempotency_key"), row.pop("request_hash")
            stored[key] = (row, bytes(stored_hash))
    outcomes: list[Created | Exception] = []
    for index, submission in enumerate(submissions):
        if submission.key is None:
            outcomes.append(Created(row=dict(inserted[writing[index]]), replayed=False))
            continue
        if submission.key not in stored:  # the others are stored: only this submission fails
            outcomes.append(not_found)
            continue
        row, stored_hash = stored[submission.key]
        if stored_hash is None and index == first_with_key[submission.key]:
            outcomes.append(Created(row=dict(row), replayed=False))
        elif (stored_hash or submissions[first_with_key[submission.key]].request_hash) == submission.request_hash:
            outcomes.append(Created(row=dict(row), replayed=True))
        else:
            outcomes.append(
                IdempotencyConflict(
                    "this Idempotency-Key was already used with a different request body",
                    field="header.idempotency-key",
                )
            )
    return outcomes


def encode_cursor(created_at: datetime, lead_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{lead_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise BadCursor("cursor is not one this API returned", field="query.cursor") from error


async def list_leads(
    conn: Connection,
    *,
    status: LeadStatus | None,
    source: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; the cursor is the (created_at, id) of the last lead seen."""
    where, params = ["TRUE"], []
    filters: list[tuple[str, Any]] = [
        ("status = %s", status),
        ("source = %s", source),
        ("created_at >= %s", created_after),
        ("created_at < %s", created_before),
    ]
    for clause, value in filters:
        if value is not None:
            where.append(clause)
            params.append(value)
    if cursor is not None:
        where.append("(created_at, id) < (%s, %s)")
        params.extend(decode_cursor(cursor))
    cur = await conn.execute(
        f"SELECT {LEAD_COLUMNS} FROM leads.leads WHERE {' AND '.join(where)}"
        " ORDER BY created_at DESC, id DESC LIMIT %s",
        [*params, limit + 1],
    )
    rows = await cur.fetchall()
    next_cursor = encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_lead(conn: Connection, lead_id: uuid.UUID) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cur = await conn.execute(f"SELECT {LEAD_COLUMNS} FROM leads.leads WHERE id = %s", (lead_id,))
    row = await cur.fetchone()
    if row is None:
        raise LeadNotFound("no lead with this id")
    cur = await conn.execute(
        "SELECT from_status, to_status, note, changed_by, changed_at FROM leads.lead_status_history"
        " WHERE lead_id = %s ORDER BY id",
        (lead_id,),
    )
    return row, await cur.fetchall()


async def change_status(
    conn: Connection, lead_id: uuid.UUID, new: LeadStatus, note: str | None, changed_by: str
) -> None:
    """Move the lead to ``new`` if its life allows it, recording who did it; the row is locked meanwhile."""
    async with conn.transaction():
        cur = await conn.execute("SELECT status FROM leads.leads WHERE id = %s FOR UPDATE", (lead_id,))
        row = await cur.fetchone()
        if row is None:
            raise LeadNotFound("no lead with this id")
        current = LeadStatus(row["status"])
        if new not in TRANSITIONS[current]:
            allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final)"
            raise IllegalTransition(f"a lead cannot go from {current} to {new}; allowed from {current}: {allowed}")
        await conn.execute("UPDATE leads.leads SET status = %s, updated_at = now() WHERE id = %s", (new, lead_id))
        await conn.execute(
            "INSERT INTO leads.lead_status_history (lead_id, from_status, to_status, note, changed_by)"
            " VALUES (%s, %s, %s, %s, %s)",
            (lead_id, current, new, note, changed_by),
        )
