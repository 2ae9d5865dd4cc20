"""``python -m people serve|migrate|create-api-key|revoke-api-key|openapi``: the CLI prints, the library raises."""

from __future__ import annotations

from motorcade_service.cli import ServiceCli

from people.auth import API_KEYS
from people.migrate import MIGRATIONS
from people.settings import Settings

CLI = ServiceCli(
    package="people",
    description="Motorcade people API.",
    settings=Settings,
    api_keys=API_KEYS,
    migrations=MIGRATIONS,
    key_holder_help="A unique name for the key's holder (recorded on the people it changes).",
)
main = CLI.main
