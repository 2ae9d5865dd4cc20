"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: the database answers and is migrated)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from pydantic import BaseModel

from motorcade_service.db import Connection
from motorcade_service.logs import log_event
from motorcade_service.migrate import Migrations

log = logging.getLogger("motorcade_service.health")


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    detail: str


def health_router(migrations: Migrations, required_tables: Mapping[str, str] | None = None) -> APIRouter:
    """``/healthz`` and ``/readyz`` for a service whose schema ``migrations`` describes.

    ``required_tables``: tables of other services this one needs (qualified name → what ``/readyz`` says while the
    table is missing), e.g. ``{"leads.leads": "leads schema not migrated (lead-intake first)"}``.
    """
    needed = dict(required_tables or {})
    latest = migrations.latest_version()
    checks = "".join(f", to_regclass(%s) IS NOT NULL AS needed_{number}" for number in range(len(needed)))
    query = f"SELECT coalesce(max(version), 0) AS version{checks} FROM {migrations.tracking_table}"
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    async def readyz(request: Request) -> JSONResponse:
        pool: AsyncConnectionPool[Connection] = request.app.state.pool
        try:
            async with pool.connection(timeout=3.0) as conn:
                cur = await conn.execute(query, list(needed))
                row = await cur.fetchone()
        except (psycopg.Error, PoolTimeout) as error:
            log_event(log, "not_ready", level=logging.WARNING, reason=type(error).__name__)
            return JSONResponse({"status": "unavailable", "detail": "database unreachable"}, status_code=503)
        if row is None:  # an aggregate always gives one row
            raise RuntimeError("the readiness query returned no row")
        for number, missing in enumerate(needed.values()):
            if not row[f"needed_{number}"]:
                return JSONResponse({"status": "unavailable", "detail": missing}, status_code=503)
        version = row["version"]
        if version < latest:
            return JSONResponse(
                {"status": "unavailable", "detail": f"migrations pending: at {version}, need {latest}"},
                status_code=503,
            )
        return JSONResponse({"status": "ok", "detail": f"database reachable, schema version {version}"})

    router.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready."}},
        description="The database is reachable as the runtime role and holds every migration this version ships"
        + (", and the tables it needs from other services." if needed else "."),
    )
    return router
