"""``python -m lead_intake serve|migrate|create-api-key|revoke-api-key|openapi``: the CLI prints, the library raises."""

from __future__ import annotations

import argparse
import json
import sys

import psycopg
from pydantic import ValidationError

from lead_intake.auth import SCOPES, ApiKeyError, create_api_key, revoke_api_key
from lead_intake.logs import configure_logging
from lead_intake.migrate import MigrationError, migrate
from lead_intake.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lead_intake", description="Motorcade lead-intake API.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="Run the API (uvicorn; port and workers from the settings).")
    commands.add_parser("migrate", help="Apply pending SQL migrations as the migration role.")
    create = commands.add_parser("create-api-key", help="Create a staff API key and print it once.")
    create.add_argument("--name", required=True, help="A unique name for the key's holder (shown in the lead history).")
    create.add_argument("--scope", action="append", required=True, choices=sorted(SCOPES), help="Repeat for several.")
    revoke = commands.add_parser("revoke-api-key", help="Revoke a staff API key by name.")
    revoke.add_argument("--name", required=True)
    commands.add_parser("openapi", help="Print the OpenAPI schema as JSON.")
    return parser


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise SystemExit(f"error: invalid settings ({where}): {first['msg'].removeprefix('Value error, ')}") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "openapi":
        from lead_intake.app import create_app

        print(json.dumps(create_app(Settings(environment="development")).openapi(), indent=2))
        return 0
    settings = _settings()
    configure_logging("lead_intake", settings.log_level)
    try:
        if args.command == "serve":
            import uvicorn

            uvicorn.run(
                "lead_intake.app:main_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                loop="uvloop",  # both pinned in requirements.lock; named so a missing one fails instead of slowing
                http="httptools",
                proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips,
                log_config=None,
                access_log=False,
                server_header=False,
            )
        elif args.command == "migrate":
            applied = migrate(settings.migration_conninfo())
            print(f"applied migrations: {applied}" if applied else "no pending migrations")
        elif args.command == "create-api-key":
            print(create_api_key(settings.migration_conninfo(), args.name, args.scope))
        elif args.command == "revoke-api-key":
            revoke_api_key(settings.migration_conninfo(), args.name)
            print(f"revoked API key {args.name!r}")
    except (ApiKeyError, MigrationError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except psycopg.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"error: database: {first_line}", file=sys.stderr)
        return 1
    return 0
