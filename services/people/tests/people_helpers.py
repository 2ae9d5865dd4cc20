"""Settings, bodies and headers the people tests share."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from motorcade_service_testing import ContractCluster
from people.settings import Settings


def make_settings(cluster: ContractCluster, **overrides: Any) -> Settings:
    """Production settings pointing at the test cluster (real random passwords, so no placeholder is involved)."""
    values: dict[str, Any] = {
        "environment": "production",
        "db_host": cluster.host,
        "db_port": cluster.port,
        "db_password": cluster.passwords["people_app"],
        "migration_db_password": cluster.passwords["motorcade_owner"],
        "db_pool_min_size": 1,
        "db_pool_max_size": 4,
        "workers": 1,  # the tests serve the app in one process
    }
    values.update(overrides)
    return Settings(**values)


def person_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "full_name": "Grace Hopper",
        "preferred_name": "Grace",
        "emails": ["grace@example.org"],
        "phones": ["+1 (202) 555-0143"],
        "organisation": "Navy",
        "roles": ["client"],
        "tags": ["vip"],
    }
    body.update(overrides)
    return body


def insert_lead(conn: psycopg.Connection[Any], *, name: str, email: str | None, phone: str | None) -> str:
    """Insert a lead the way the lead-intake API stores it (normalised phone), as lead_intake_app."""
    row = conn.execute(
        "INSERT INTO leads.leads (name, email, phone, service, source, consent_at) VALUES (%s, %s, %s, 'transfer',"
        " 'website', now()) RETURNING id",
        (name, email, phone),
    ).fetchone()
    assert row is not None
    return str(row[0])


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
