"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from lead_intake import __version__
from lead_intake.auth import SCOPES, ApiKeyAuthenticator
from lead_intake.db import make_pool
from lead_intake.errors import install_error_handlers
from lead_intake.logs import configure_logging
from lead_intake.middleware import AccessLogMiddleware, BodyLimitMiddleware
from lead_intake.ratelimit import RateLimiter
from lead_intake.routes import health, public, staff
from lead_intake.settings import Settings
from lead_intake.store import StoreError


def _route_path(scope: Scope) -> str:
    """The path the router matches: the request's path without the ``root_path`` the app is served under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class LeadIntakeAPI(FastAPI):
    """FastAPI, with ``POST /leads`` — the public form's endpoint, the one under load — answered by
    ``public.serve_intake`` before the framework's layers (see ``lead_intake.routes.public``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and _route_path(scope) == "/leads":
            scope["app"] = self
            await public.serve_intake(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> LeadIntakeAPI:
    """Build the app; the pool opens with the lifespan and does not wait for the database (``/readyz`` tells)."""
    settings = settings or Settings()
    pool = make_pool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=False)
        try:
            yield
        finally:
            await pool.close()

    app = LeadIntakeAPI(
        title="Motorcade lead-intake API",
        version=__version__,
        description="The public intake form's endpoint and the staff's view of leads. Staff scopes: "
        + "; ".join(f"`{name}` ({text.rstrip('.')})" for name, text in SCOPES.items()),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.authenticator = ApiKeyAuthenticator()
    app.state.rate_limiter = RateLimiter.per_worker(
        settings.rate_limit_per_minute, settings.rate_limit_burst, settings.rate_limit_max_clients, settings.workers
    )
    install_error_handlers(app)

    async def store_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StoreError):
            raise exc
        body: dict[str, object] = {"detail": exc.detail}
        if exc.status_code == 422:
            body["errors"] = [{"field": exc.field, "message": exc.detail, "type": "value_error"}]
        return JSONResponse(body, status_code=exc.status_code)

    app.add_exception_handler(StoreError, store_error)
    app.include_router(health.router)
    public.add_intake_route(app)
    app.include_router(staff.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    return app


def main_app() -> LeadIntakeAPI:
    """The factory uvicorn runs in each worker: JSON logs to stdout, settings from the environment."""
    settings = Settings()
    configure_logging("lead_intake", settings.log_level)
    return create_app(settings)
