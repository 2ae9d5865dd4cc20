"""A real PostgreSQL 15 with the PLAT_03 contract; both services' migrations run as motorcade_owner (the people API
reads leads), and the app is served as people_app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from lead_intake.migrate import migrate as migrate_leads

from motorcade_service_testing import ContractCluster, contract_cluster, live_server
from people.app import create_app
from people.auth import create_api_key
from people.migrate import migrate
from people.settings import Settings
from people_helpers import make_settings


@pytest.fixture(scope="session")
def cluster() -> Iterator[ContractCluster]:
    with contract_cluster() as started:
        yield started


@pytest.fixture(scope="session")
def settings(cluster: ContractCluster) -> Settings:
    built = make_settings(cluster)
    migrate_leads(built.migration_conninfo())
    migrate(built.migration_conninfo())
    return built


@pytest.fixture(scope="session")
def base_url(settings: Settings) -> Iterator[str]:
    with live_server(create_app(settings)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as opened:
        yield opened


@pytest.fixture(scope="session")
def staff_key(settings: Settings) -> str:
    return create_api_key(settings.migration_conninfo(), "staff-full", ["people:read", "people:write"])


@pytest.fixture(scope="session")
def reader_key(settings: Settings) -> str:
    return create_api_key(settings.migration_conninfo(), "staff-reader", ["people:read"])


@pytest.fixture
def owner_conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.migration_conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture
def leads_conn(cluster: ContractCluster) -> Iterator[psycopg.Connection[Any]]:
    """A connection as lead_intake_app, the role that writes leads in production."""
    with psycopg.connect(cluster.conninfo("lead_intake_app"), autocommit=True) as conn:
        yield conn
