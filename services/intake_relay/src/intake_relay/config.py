"""The relay's settings: one JSON file written by Ansible (wordpress_intake role), readable by the relay's user only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake_relay.errors import ConfigError


@dataclass(frozen=True)
class DatabaseConfig:
    """How to reach the submissions table in the site's MariaDB."""

    name: str
    user: str
    password: str
    table: str
    unix_socket: str = "/run/mysqld/mysqld.sock"
    host: str = ""
    port: int = 3306


@dataclass(frozen=True)
class RelayConfig:
    """Everything one relay run needs."""

    database: DatabaseConfig
    api_base_url: str
    timeout_seconds: float = 10.0
    ca_file: str = ""
    backoff_initial_seconds: int = 30
    backoff_max_seconds: int = 3600
    batch_size: int = 50
    lock_file: str = "/run/motorcade-intake-relay/relay.lock"

    @property
    def configured(self) -> bool:
        """Whether the lead-intake API's address is set (otherwise submissions wait as pending)."""
        return bool(self.api_base_url.strip())


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"`{name}` must be a JSON object")
    return value


def parse_config(data: dict[str, Any]) -> RelayConfig:
    """Build the settings from the decoded JSON object; raise ConfigError naming the first missing key."""
    database, api, backoff = _section(data, "database"), _section(data, "api"), _section(data, "backoff")
    for key in ("name", "user", "password", "table"):
        if not database.get(key):
            raise ConfigError(f"`database.{key}` is missing")
    try:
        return RelayConfig(
            database=DatabaseConfig(
                name=str(database["name"]),
                user=str(database["user"]),
                password=str(database["password"]),
                table=str(database["table"]),
                unix_socket=str(database.get("unix_socket", "")),
                host=str(database.get("host", "")),
                port=int(database.get("port", 3306)),
            ),
            api_base_url=str(api.get("base_url", "")).rstrip("/"),
            timeout_seconds=float(api.get("timeout_seconds", 10)),
            ca_file=str(api.get("ca_file", "")),
            backoff_initial_seconds=int(backoff.get("initial_seconds", 30)),
            backoff_max_seconds=int(backoff.get("max_seconds", 3600)),
            batch_size=int(data.get("batch_size", 50)),
            lock_file=str(data.get("lock_file", "/run/motorcade-intake-relay/relay.lock")),
        )
    except (TypeError, ValueError) as error:
        raise ConfigError(f"a setting has the wrong type: {error}") from error


def load_config(path: Path) -> RelayConfig:
    """Read the settings file at `path`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not valid JSON (line {error.lineno})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return parse_config(data)
