"""The lead-intake API's settings: environment variables prefixed ``LEAD_INTAKE_``, secrets also as
``LEAD_INTAKE_<NAME>_FILE`` (the shared ones are documented in ``motorcade_service.settings``)."""

from __future__ import annotations

from typing import ClassVar

from motorcade_service.settings import ServiceSettings
from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Everything the lead-intake service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LEAD_INTAKE_", extra="ignore", frozen=True)
    application_name: ClassVar[str] = "lead_intake"

    db_user: str = "lead_intake_app"
    rate_limit_per_minute: float = Field(default=30.0, gt=0)
    rate_limit_burst: int = Field(default=10, ge=1)
    rate_limit_max_clients: int = Field(default=50_000, ge=100)
    write_concurrency: int = Field(default=2, ge=1)
    write_batch_max: int = Field(default=64, ge=1, le=1_000)

    @model_validator(mode="after")
    def _writes_fit_the_pool(self) -> Settings:
        if self.write_concurrency > self.db_pool_max_size:
            raise ValueError("write_concurrency must not exceed db_pool_max_size (each statement holds a connection)")
        return self
