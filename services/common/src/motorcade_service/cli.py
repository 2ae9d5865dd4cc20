"""``python -m <service> serve|migrate|create-api-key|revoke-api-key|openapi``: the CLI prints, the library raises."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass

import psycopg
from pydantic import ValidationError

from motorcade_service.auth import ApiKeyError, ApiKeys
from motorcade_service.logs import configure_logging
from motorcade_service.migrate import MigrationError, Migrations
from motorcade_service.settings import ServiceSettings


@dataclass(frozen=True)
class ServiceCli:
    """The commands of the service in ``package`` (its app factories live in ``<package>.app``: ``create_app`` and
    ``main_app``)."""

    package: str
    description: str
    settings: type[ServiceSettings]
    api_keys: ApiKeys
    migrations: Migrations
    key_holder_help: str = "A unique name for the key's holder."

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=f"python -m {self.package}", description=self.description)
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser("serve", help="Run the API (uvicorn; port and workers from the settings).")
        commands.add_parser("migrate", help="Apply pending SQL migrations as the migration role.")
        create = commands.add_parser("create-api-key", help="Create a staff API key and print it once.")
        create.add_argument("--name", required=True, help=self.key_holder_help)
        create.add_argument(
            "--scope", action="append", required=True, choices=sorted(self.api_keys.scopes), help="Repeat for several."
        )
        revoke = commands.add_parser("revoke-api-key", help="Revoke a staff API key by name.")
        revoke.add_argument("--name", required=True)
        commands.add_parser("openapi", help="Print the OpenAPI schema as JSON.")
        return parser

    def load_settings(self) -> ServiceSettings:
        try:
            return self.settings()
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "settings"
            message = first["msg"].removeprefix("Value error, ")
            raise SystemExit(f"error: invalid settings ({where}): {message}") from None

    def serve(self, settings: ServiceSettings) -> None:
        """Run the API with uvicorn on its TCP port and on every socket systemd passed (socket activation: the
        proxy's way in, held by systemd across restarts; motorcade_service.listen). Exits 3 if it did not start."""
        import logging

        import uvicorn
        from uvicorn.supervisors import Multiprocess

        from motorcade_service.listen import describe, passed_sockets
        from motorcade_service.transport import CoalescingHttpToolsProtocol

        config = uvicorn.Config(
            f"{self.package}.app:main_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",  # both pinned in requirements.lock; named so a missing one fails instead of slowing
            http=CoalescingHttpToolsProtocol,  # httptools, a response in one write (transport.py)
            proxy_headers=True,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            log_config=None,
            access_log=False,
            server_header=False,
        )
        passed = passed_sockets()
        sockets = [config.bind_socket(), *passed]
        for sock in passed:
            logging.getLogger("uvicorn.error").info("Uvicorn also serving on %s (passed by systemd)", describe(sock))
        if config.workers > 1:
            Multiprocess(config, sockets=sockets).run()
            return
        server = uvicorn.Server(config)
        server.run(sockets=sockets)
        if not server.started:
            sys.exit(3)  # uvicorn's STARTUP_FAILURE, as uvicorn.run exits

    def main(self, argv: list[str] | None = None) -> int:
        args = self.parser().parse_args(argv)
        if args.command == "openapi":
            app = importlib.import_module(f"{self.package}.app").create_app(self.settings(environment="development"))
            print(json.dumps(app.openapi(), indent=2))
            return 0
        settings = self.load_settings()
        configure_logging(settings.application_name, settings.log_level)
        try:
            if args.command == "serve":
                self.serve(settings)
            elif args.command == "migrate":
                applied = self.migrations.apply(settings.migration_conninfo())
                print(f"applied migrations: {applied}" if applied else "no pending migrations")
            elif args.command == "create-api-key":
                print(self.api_keys.create(settings.migration_conninfo(), args.name, args.scope))
            elif args.command == "revoke-api-key":
                self.api_keys.revoke(settings.migration_conninfo(), args.name)
                print(f"revoked API key {args.name!r}")
        except (ApiKeyError, MigrationError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except psycopg.Error as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            print(f"error: database: {first_line}", file=sys.stderr)
            return 1
        return 0
