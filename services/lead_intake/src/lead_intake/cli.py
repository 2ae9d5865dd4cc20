"""``python -m lead_intake serve|migrate|create-api-key|revoke-api-key|openapi``: the CLI prints, the library raises."""

from __future__ import annotations

from motorcade_service.cli import ServiceCli

from lead_intake.auth import API_KEYS
from lead_intake.migrate import MIGRATIONS
from lead_intake.settings import Settings

CLI = ServiceCli(
    package="lead_intake",
    description="Motorcade lead-intake API.",
    settings=Settings,
    api_keys=API_KEYS,
    migrations=MIGRATIONS,
    key_holder_help="A unique name for the key's holder (shown in the lead history).",
)
main = CLI.main
