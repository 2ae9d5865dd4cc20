"""A real PostgreSQL 15 with the PLAT_03 contract, migrated as motorcade_owner; the app served as lead_intake_app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from lead_intake.app import create_app
from lead_intake.auth import create_api_key
from lead_intake.migrate import migrate
from lead_intake.settings import Settings
from lead_intake_helpers import make_settings
from motorcade_service_testing import ContractCluster, contract_cluster, live_server


@pytest.fixture(scope="session")
def cluster() -> Iterator[ContractCluster]:
    with contract_cluster() as started:
        yield started


@pytest.fixture(scope="session")
def settings(cluster: ContractCluster) -> Settings:
    built = make_settings(cluster)
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
    return create_api_key(settings.migration_conninfo(), "staff-full", ["leads:read", "leads:write"])


@pytest.fixture(scope="session")
def reader_key(settings: Settings) -> str:
    return create_api_key(settings.migration_conninfo(), "staff-reader", ["leads:read"])


@pytest.fixture
def owner_conn(settings: Settings) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(settings.migration_conninfo(), autocommit=True) as conn:
        yield conn
