"""The lead-intake API's migrations: ``migrations/NNNN_name.sql``, for the ``leads`` schema."""

from __future__ import annotations

from motorcade_service.migrate import Migrations

MIGRATIONS = Migrations(
    package="lead_intake.migrations",
    schema="leads",
    runtime_role="lead_intake_app",
    lock_key=0x4C45_4144,  # "LEAD": one migrator at a time
)
migrate = MIGRATIONS.apply
