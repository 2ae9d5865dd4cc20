"""Progress reporting: the lab calls back with events instead of printing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class LabStage(Enum):
    """The phases of bringing the lab up or down, in order."""

    CHECK = "check"
    ARTIFACTS = "artifacts"
    IMAGE = "image"
    SECRETS = "secrets"
    HOST = "host"
    BOOT = "boot"
    BASE_IMAGE = "base-image"
    SSH = "ssh"
    TRUST = "trust"
    S3 = "s3"
    INVENTORY = "inventory"
    DOWN = "down"
    RESET = "reset"


@dataclass(frozen=True)
class LabEvent:
    """One progress message: which stage, what happened, and whether it was served from cache."""

    stage: LabStage
    message: str
    cached: bool = False


Progress = Callable[[LabEvent], None]


def ignore(_event: LabEvent) -> None:
    """A progress callback that discards every event."""
