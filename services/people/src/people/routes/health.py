"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: the database answers and is migrated)."""

from __future__ import annotations

import logging

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel

from people.db import Connection
from people.logs import log_event
from people.migrate import TRACKING_TABLE, latest_version

router = APIRouter(tags=["health"])
log = logging.getLogger("people.health")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    detail: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness, "description": "Not ready."}})
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable as the runtime role, holds every migration this version ships, and has leads."""
    pool: AsyncConnectionPool[Connection] = request.app.state.pool
    try:
        async with pool.connection(timeout=3.0) as conn:
            cur = await conn.execute(
                f"SELECT coalesce(max(version), 0) AS version, to_regclass('leads.leads') IS NOT NULL AS leads"
                f" FROM {TRACKING_TABLE}"
            )
            row = await cur.fetchone()
    except (psycopg.Error, PoolTimeout) as error:
        log_event(log, "not_ready", level=logging.WARNING, reason=type(error).__name__)
        return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, status_code=503)
    version = row["version"] if row else 0
    if row is None or not row["leads"]:
        return JSONResponse({"status": "unavailable", "detail": "leads schema not migrated (lead-intake first)"}, 503)
    if version < latest_version():
        return JSONResponse(
            {"status": "unavailable", "detail": f"migrations pending: at {version}, need {latest_version()}"},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "detail": f"database reachable, schema version {version}"})
