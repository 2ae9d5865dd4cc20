"""Request bodies and headers the lead-intake tests share."""

from __future__ import annotations

from typing import Any

from lead_intake.settings import Settings
from motorcade_service_testing import ContractCluster


def make_settings(cluster: ContractCluster, **overrides: Any) -> Settings:
    """Production settings pointing at the test cluster (real random passwords, so no placeholder is involved)."""
    values: dict[str, Any] = {
        "environment": "production",
        "db_host": cluster.host,
        "db_port": cluster.port,
        "db_password": cluster.passwords["lead_intake_app"],
        "migration_db_password": cluster.passwords["motorcade_owner"],
        "db_pool_min_size": 1,
        "db_pool_max_size": 4,
        "workers": 1,  # the tests serve the app in one process
        "rate_limit_per_minute": 1_000_000,
        "rate_limit_burst": 1_000_000,
    }
    values.update(overrides)
    return Settings(**values)


def lead_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "phone": "+44 20 7946 0958",
        "service": "airport transfer",
        "requested_window": {"start": "2031-05-01T09:00:00+02:00", "end": "2031-05-01T11:00:00+02:00"},
        "message": "Two passengers,\nthree suitcases.",
        "source": "website",
        "consent": True,
    }
    body.update(overrides)
    return body


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
