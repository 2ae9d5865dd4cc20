"""The people API's settings: environment variables prefixed ``PEOPLE_``, secrets also as ``PEOPLE_<NAME>_FILE``
(documented in ``motorcade_service.settings``)."""

from __future__ import annotations

from typing import ClassVar

from motorcade_service.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    """Everything the people service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="PEOPLE_", extra="ignore", frozen=True)
    application_name: ClassVar[str] = "people"

    db_user: str = "people_app"
