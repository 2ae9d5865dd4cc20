"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from people import __version__
from people.auth import SCOPES, ApiKeyAuthenticator
from people.db import make_pool
from people.errors import install_error_handlers
from people.logs import configure_logging
from people.middleware import AccessLogMiddleware, BodyLimitMiddleware
from people.routes import directory, health
from people.settings import Settings
from people.store import StoreError


def create_app(settings: Settings | None = None) -> FastAPI:
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

    app = FastAPI(
        title="Motorcade people API",
        version=__version__,
        description="The directory of the people Motorcade works with. Scopes: "
        + "; ".join(f"`{name}` ({text.rstrip('.')})" for name, text in SCOPES.items()),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.state.authenticator = ApiKeyAuthenticator()
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
    app.include_router(directory.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    return app


def main_app() -> FastAPI:
    """The factory uvicorn runs in each worker: JSON logs to stdout, settings from the environment."""
    settings = Settings()
    configure_logging("people", settings.log_level)
    return create_app(settings)
