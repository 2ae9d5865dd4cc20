"""The people API's migrations: ``migrations/NNNN_name.sql``, for the ``people`` schema."""

from __future__ import annotations

from motorcade_service.migrate import Migrations

MIGRATIONS = Migrations(
    package="people.migrations",
    schema="people",
    runtime_role="people_app",
    lock_key=0x5045_4F50,  # "PEOP": one migrator at a time
)
migrate = MIGRATIONS.apply
