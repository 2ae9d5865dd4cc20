"""Settings from the environment (prefix ``MOTORCADE_BACKUP_``) or an env file; secrets only from files."""

from __future__ import annotations

from pathlib import Path

import psycopg.conninfo
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from motorcade_backup.errors import ConfigError
from motorcade_backup.redact import register_secret

DEFAULT_ENV_FILE = Path("/etc/motorcade/backup/backup.env")  # where PLAT_07 (backup_postgres_env_file) writes it


class Settings(BaseSettings):
    """Everything the tool needs; every secret is the *path* of a file (kept in Vault, written by the role)."""

    model_config = SettingsConfigDict(env_prefix="MOTORCADE_BACKUP_", extra="ignore", frozen=True)

    s3_endpoint: str = Field(description="S3 endpoint URL, e.g. http://127.0.0.1:8333")
    s3_bucket: str = Field(min_length=3, max_length=63)
    s3_region: str = "us-east-1"
    s3_access_key: str = Field(min_length=1)
    s3_secret_key_file: Path
    s3_prefix: str = "postgres"
    encryption_key_file: Path = Field(description="age identity file (AGE-SECRET-KEY-...)")
    database_dsn: str = Field(description="libpq conninfo without password, e.g. 'host=/run/postgresql dbname=x'")
    database_password_file: Path | None = None
    maintenance_db: str = "postgres"
    pg_bindir: Path = Path("/usr/lib/postgresql/15/bin")
    retain_daily: int = Field(default=7, ge=1)
    retain_weekly: int = Field(default=4, ge=1)
    retain_monthly: int = Field(default=12, ge=1)
    part_size_mb: int = Field(default=32, ge=5, le=1024)
    upload_concurrency: int = Field(default=3, ge=1, le=16)
    restore_jobs: int = Field(default=2, ge=1, le=16)
    work_dir: Path = Path("/var/tmp")  # noqa: S108 - a private mkdtemp() dir is created inside
    lock_dir: Path = Path("/run/lock")
    log_level: str = "INFO"

    @field_validator("s3_prefix")
    @classmethod
    def _strip_prefix(cls, value: str) -> str:
        return value.strip("/")

    @property
    def database(self) -> str:
        """The database named by the DSN."""
        name = psycopg.conninfo.conninfo_to_dict(self.database_dsn).get("dbname")
        if not name:
            raise ConfigError("MOTORCADE_BACKUP_DATABASE_DSN names no database (dbname=...)")
        return str(name)

    @property
    def key_prefix(self) -> str:
        """Where this database's objects live in the bucket (ends with '/')."""
        return f"{self.s3_prefix}/{self.database}/" if self.s3_prefix else f"{self.database}/"

    def s3_secret_key(self) -> str:
        """The S3 secret key, read from its file and registered for redaction."""
        return _read_secret(self.s3_secret_key_file, "MOTORCADE_BACKUP_S3_SECRET_KEY_FILE")

    def database_password(self) -> str | None:
        """The database password (or None when the DSN authenticates otherwise)."""
        if self.database_password_file is None:
            return None
        return _read_secret(self.database_password_file, "MOTORCADE_BACKUP_DATABASE_PASSWORD_FILE")

    def check_encryption_key(self) -> str:
        """Read the age identity (to register it for redaction and fail early if unreadable)."""
        return _read_secret(self.encryption_key_file, "MOTORCADE_BACKUP_ENCRYPTION_KEY_FILE")


def _read_secret(path: Path, name: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from None
    if not value:
        raise ConfigError(f"{name}: {path} is empty")
    for line in value.splitlines():
        if line.strip() and not line.startswith("#"):
            register_secret(line.strip())
    register_secret(value)
    return value


def load_settings(env_file: Path | None = None) -> Settings:
    """Load settings from the environment, then the env file (environment wins)."""
    if env_file is None and DEFAULT_ENV_FILE.is_file():
        env_file = DEFAULT_ENV_FILE
    if env_file is not None and not env_file.is_file():
        raise ConfigError(f"settings file {env_file} does not exist")
    try:
        settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "_".join(str(p) for p in first["loc"]).upper()
        raise ConfigError(f"setting MOTORCADE_BACKUP_{field}: {first['msg']}") from None
    register_secret(settings.s3_access_key)
    _ = settings.database
    return settings
