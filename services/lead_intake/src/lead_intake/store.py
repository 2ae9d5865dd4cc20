"""SQL for leads: create (idempotent), list with keyset cursors, read, and status changes with history."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
CREATE_LEAD = (
    "WITH lead AS (INSERT INTO leads.leads (name, email, phone, service, window_start, window_end, message, source,"
    " consent_at, idempotency_key, request_hash) VALUES (%(name)s, %(email)s, %(phone)s, %(service)s, %(window_start)s,"
    " %(window_end)s, %(message)s, %(source)s, now(), %(key)s, %(hash)s) ON CONFLICT (idempotency_key) DO NOTHING"
    f" RETURNING {RECEIPT_COLUMNS}, request_hash),"
    " history AS (INSERT INTO leads.lead_status_history (lead_id, from_status, to_status, changed_by)"
    " SELECT id, NULL, 'new', 'intake-form' FROM lead)"
    f" SELECT {RECEIPT_COLUMNS}, request_hash, false AS replayed FROM lead"
    f" UNION ALL SELECT {RECEIPT_COLUMNS}, request_hash, true FROM leads.leads"
    " WHERE idempotency_key = %(key)s AND NOT EXISTS (SELECT FROM lead)"
)


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


async def create_lead(conn: Connection, lead: LeadCreate, idempotency_key: str | None) -> Created:
    """Insert the lead and its first history entry atomically; with a key already used, return that lead.

    ``Created.row`` holds ``RECEIPT_COLUMNS``.
    """
    window = lead.requested_window
    params = {
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "service": lead.service,
        "window_start": window.start if window else None,
        "window_end": window.end if window else None,
        "message": lead.message,
        "source": lead.source,
        "key": idempotency_key,
        "hash": lead.request_hash() if idempotency_key else None,
    }
    # One statement, one round trip, for a new lead and for a retry alike: insert the lead and its first history row,
    # or (the key already used) skip both and return the existing lead. A lead inserted under the same key by a
    # concurrent request that commits after this statement's snapshot is not visible to it: no row then, and the
    # lookup below (a new snapshot) finds it.
    cur = await conn.execute(CREATE_LEAD, params)
    row = await cur.fetchone()
    if row is None:
        if idempotency_key is None:
            raise RuntimeError("INSERT … RETURNING gave no row")
        cur = await conn.execute(
            f"SELECT {RECEIPT_COLUMNS}, request_hash, true AS replayed FROM leads.leads WHERE idempotency_key = %s",
            (idempotency_key,),
        )
        row = await cur.fetchone()
        if row is None:
            raise RuntimeError("the lead holding this Idempotency-Key vanished")
    stored_hash, replayed = row.pop("request_hash"), row.pop("replayed")
    if replayed and bytes(stored_hash) != params["hash"]:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request body", field="header.idempotency-key"
        )
    return Created(row=row, replayed=replayed)


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
