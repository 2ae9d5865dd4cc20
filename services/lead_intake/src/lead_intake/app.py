"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from motorcade_service.app import create_service_app, serving
from motorcade_service.logs import configure_logging
from starlette.types import Receive, Scope, Send

from lead_intake import __version__
from lead_intake.auth import API_KEYS
from lead_intake.migrate import MIGRATIONS
from lead_intake.ratelimit import RateLimiter
from lead_intake.routes import public, staff
from lead_intake.settings import Settings
from lead_intake.writer import LeadWriter


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
    """Build the app (``motorcade_service.app``: pool, authentication, errors, health, middleware) with its routes."""
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Motorcade lead-intake API",
        version=__version__,
        description="The public intake form's endpoint and the staff's view of leads.",
        api_keys=API_KEYS,
        migrations=MIGRATIONS,
        app_class=LeadIntakeAPI,
    )
    app.state.rate_limiter = RateLimiter.per_worker(
        settings.rate_limit_per_minute, settings.rate_limit_burst, settings.rate_limit_max_clients, settings.workers
    )
    app.state.lead_writer = LeadWriter(
        app.state.pool, concurrency=settings.write_concurrency, max_batch=settings.write_batch_max
    )
    public.add_intake_route(app)
    app.include_router(staff.router)
    return app


def main_app() -> LeadIntakeAPI:
    """The factory uvicorn runs in each worker: JSON logs to stdout, settings from the environment, the start-up's
    objects frozen (``serving``)."""
    settings = Settings()
    configure_logging(settings.application_name, settings.log_level)
    return serving(create_app(settings))
