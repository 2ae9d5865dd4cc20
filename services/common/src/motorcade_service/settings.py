"""Settings from the environment (a prefix per service) and secret files (``<PREFIX><NAME>_FILE``).

A service subclasses ``ServiceSettings`` with its own ``env_prefix``, ``application_name`` and runtime role::

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="PEOPLE_", extra="ignore", frozen=True)
        application_name: ClassVar[str] = "people"
        db_user: str = "people_app"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

SECRET_FIELDS = ("db_password", "migration_db_password")
PLACEHOLDER_SECRETS = frozenset({"", "changethis", "changeme", "password", "secret", "postgres"})


def usable_cpus() -> int:
    """CPUs this process may run on (a container's cpuset included): the default number of uvicorn workers."""
    return max(1, len(os.sched_getaffinity(0)))


def env_prefix(settings_cls: type[BaseSettings]) -> str:
    """The prefix of the service's variables, e.g. ``LEAD_INTAKE_``."""
    return str(settings_cls.model_config.get("env_prefix", ""))


class SecretFilesSource(PydanticBaseSettingsSource):
    """Reads ``<PREFIX><FIELD>_FILE`` for secret fields (Podman/Kubernetes secrets mounted as files)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            variable = f"{env_prefix(self.settings_cls)}{name.upper()}"
            path = os.environ.get(f"{variable}_FILE")
            if path is None:
                continue
            if variable in os.environ:
                raise ValueError(f"set either {variable} or {variable}_FILE, not both")
            try:
                values[name] = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as error:
                raise ValueError(f"{variable}_FILE: cannot read {path}: {error.strerror}") from error
        return values


class ServiceSettings(BaseSettings):
    """What every Motorcade service reads from its environment; a service adds its prefix, role and own settings."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    # The name the service gives its logs, its pool and its PostgreSQL connections (application_name).
    application_name: ClassVar[str] = "motorcade_service"

    environment: Literal["development", "lab", "staging", "production"] = "production"
    db_host: str = "motorcade-postgres"
    db_port: int = Field(default=5432, ge=1, le=65535)
    db_name: str = "motorcade"
    db_user: str
    db_password: SecretStr = SecretStr("")
    db_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    db_pool_min_size: int = Field(default=2, ge=1)
    db_pool_max_size: int = Field(default=10, ge=1)
    db_connect_timeout: int = Field(default=5, ge=1)
    # Seconds a request waits for a pooled connection; then it answers 503 (the database is unavailable).
    db_pool_timeout: float = Field(default=10.0, gt=0)
    migration_db_user: str = "motorcade_owner"
    migration_db_password: SecretStr = SecretStr("")
    host: str = "0.0.0.0"  # noqa: S104 (inside its container; only the proxy publishes a port)
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default_factory=usable_cpus, ge=1, le=32)
    # Peers whose X-Forwarded-For/-Proto are believed: addresses, networks, and "unix:" for the proxy on the socket
    # systemd passes (motorcade_service.listen, transport.UNIX_PEER).
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_body_bytes: int = Field(default=16_384, ge=1_024)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, SecretFilesSource(settings_cls)

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("db_pool_min_size must not exceed db_pool_max_size")
        if self.environment != "development" and self.db_password.get_secret_value().lower() in PLACEHOLDER_SECRETS:
            prefix = env_prefix(type(self))
            raise ValueError(
                f"{prefix}DB_PASSWORD (or _FILE) is empty or a placeholder; set a real secret"
                f" (or {prefix}ENVIRONMENT=development)"
            )
        return self

    def require_migration_password(self) -> str:
        """The migration role's password; refuses placeholders outside development."""
        value = self.migration_db_password.get_secret_value()
        if self.environment != "development" and value.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(
                f"{env_prefix(type(self))}MIGRATION_DB_PASSWORD (or _FILE) is empty or a placeholder; set a real secret"
            )
        return value

    def conninfo(self) -> str:
        """libpq keywords for the runtime (least-privilege) role."""
        return self._conninfo(self.db_user, self.db_password.get_secret_value())

    def migration_conninfo(self) -> str:
        """libpq keywords for the migration role."""
        return self._conninfo(self.migration_db_user, self.require_migration_password())

    def _conninfo(self, user: str, password: str) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.db_host,
            port=self.db_port,
            dbname=self.db_name,
            user=user,
            password=password,
            sslmode=self.db_sslmode,
            connect_timeout=self.db_connect_timeout,
            application_name=self.application_name,
        )
