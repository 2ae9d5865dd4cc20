"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from motorcade_service.app import create_service_app, serving
from motorcade_service.logs import configure_logging

from people import __version__
from people.auth import API_KEYS
from people.migrate import MIGRATIONS
from people.routes import directory
from people.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app (``motorcade_service.app``: pool, authentication, errors, health, middleware) with its routes."""
    settings = settings or Settings()
    app = create_service_app(
        settings,
        title="Motorcade people API",
        version=__version__,
        description="The directory of the people Motorcade works with.",
        api_keys=API_KEYS,
        migrations=MIGRATIONS,
        # Converting a lead into a person reads the lead-intake API's table.
        required_tables={"leads.leads": "leads schema not migrated (lead-intake first)"},
        app_class=FastAPI,
    )
    app.include_router(directory.router)
    return app


def main_app() -> FastAPI:
    """The factory uvicorn runs in each worker: JSON logs to stdout, settings from the environment, the start-up's
    objects frozen (``serving``)."""
    settings = Settings()
    configure_logging(settings.application_name, settings.log_level)
    return serving(create_app(settings))
