"""The shape of runbook.yaml: pydantic models, strict about unknown keys and bad values.

Semantic rules that need the whole document (duplicate ids, prerequisites, playbook files) live in
`runbook.py`; this module only says what each mapping may hold.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STEP_ID = r"^[A-Z]+_[0-9A-Z_]+$"
NAME = r"^[a-z][a-z0-9_-]*$"

Gate = Literal["lock", "preflight", "backup", "run", "idempotence", "verify", "pin", "log", "record"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Rule(Strict):
    """One of the runbook's non-negotiable rules and the gates that enforce it."""

    id: Annotated[str, Field(pattern=NAME)]
    title: str
    text: str
    gates: list[Gate]


class Criterion(Strict):
    """One acceptance criterion and the gate that computes it."""

    text: str
    gate: Gate


class Environment(Strict):
    """Where a runbook is applied: an inventory, its secrets and the workspace keeping its evidence."""

    description: str
    inventory: list[str]
    vault_password_file: str | None = None
    workspace: str = "."
    promotes_from: str | None = None
    idempotence: Literal["converge", "check"] = "converge"

    @field_validator("inventory", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class Lock(Strict):
    """A LOCKED step: it runs once per environment, leaves a checkpoint, and then refuses reruns."""

    reason: str
    checkpoint: str
    root_cause: str
    verified: list[str]
    proceed_next: Annotated[str, Field(pattern=STEP_ID)]


DB_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class PostgresBackup(Strict):
    database: Annotated[str, Field(pattern=DB_NAME)]
    container: str | None = None
    user: str = "postgres"


class MysqlBackup(Strict):
    database: Annotated[str, Field(pattern=DB_NAME)]


class BackupSpec(Strict):
    """What a state-touching step copies before it runs, on its target hosts."""

    paths: list[str] = []
    postgres: list[PostgresBackup] = []
    mysql: list[MysqlBackup] = []
    volumes: list[str] = []

    @field_validator("paths")
    @classmethod
    def _absolute(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith(("/", "{{")):
                raise ValueError(f"backup path {path!r} must be absolute")
        return paths

    def is_empty(self) -> bool:
        return not (self.paths or self.postgres or self.mysql or self.volumes)


class _Check(Strict):
    id: Annotated[str, Field(pattern=NAME)]
    description: str | None = None
    # Where the check runs: on each of the step's hosts, or once on the machine running motorcade.
    origin: Literal["target", "controller"] = Field("target", alias="from")


class HttpCheck(_Check):
    kind: Literal["http"]
    url: str
    status: int = 200
    contains: str | None = None
    validate_certs: bool = True
    ca_path: str | None = None


class TcpCheck(_Check):
    kind: Literal["tcp"]
    port: Annotated[int, Field(ge=1, le=65535)]
    host: str = "127.0.0.1"
    state: Literal["open", "closed"] = "open"


class FileCheck(_Check):
    kind: Literal["file"]
    path: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    mode: Annotated[str, Field(pattern=r"^0[0-7]{3,4}$")] | None = None
    owner: str | None = None
    contains: str | None = None


class CommandCheck(_Check):
    kind: Literal["command"]
    argv: Annotated[list[str], Field(min_length=1)]
    rc: int = 0
    stdout_contains: str | None = None
    stdout_equals: str | None = None


class SqlCheck(_Check):
    kind: Literal["sql"]
    database: str
    query: str
    expect: str
    container: str | None = None
    user: str = "postgres"


class ContainerCheck(_Check):
    kind: Literal["container"]
    name: str
    healthy: bool = False


class UnitCheck(_Check):
    kind: Literal["unit"]
    name: str
    active: Literal["active", "inactive", "failed"] | None = None
    enabled: Literal["enabled", "disabled", "static", "masked"] | None = None


Check = Annotated[
    HttpCheck | TcpCheck | FileCheck | CommandCheck | SqlCheck | ContainerCheck | UnitCheck,
    Field(discriminator="kind"),
]


class Pin(Strict):
    """A component whose deployed version the pin gate records in releases/<env>.yaml."""

    component: Annotated[str, Field(pattern=NAME)]
    kind: Literal["package", "image", "command"]
    name: str | None = None
    argv: list[str] | None = None
    expect_var: str | None = None

    @field_validator("argv")
    @classmethod
    def _non_empty(cls, argv: list[str] | None) -> list[str] | None:
        if argv is not None and not argv:
            raise ValueError("argv must not be empty")
        return argv

    @model_validator(mode="after")
    def _target(self) -> Pin:
        if self.kind == "command" and not self.argv:
            raise ValueError("a pin of kind command needs argv")
        if self.kind != "command" and not self.name:
            raise ValueError(f"a pin of kind {self.kind} needs name")
        return self


class Step(Strict):
    """One numbered item of the runbook's order."""

    id: Annotated[str, Field(pattern=STEP_ID)]
    title: str
    kind: Literal["playbook", "checkpoint"] = "playbook"
    playbook: Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9_]+\.yml$")] | None = None
    notes: str | None = None
    requires: list[str] = []
    planned: Literal[True] | Annotated[int, Field(ge=1)] | None = None
    hosts: str = "all"
    touches_state: bool = False
    backup: BackupSpec | None = None
    checks: list[Check] = []
    pins: list[Pin] = []
    secrets: list[Annotated[str, Field(pattern=r"^vault_[a-z0-9_]+$")]] = []
    locked: Lock | None = None


class Phase(Strict):
    id: Annotated[str, Field(pattern=NAME)]
    title: str
    steps: Annotated[list[Step], Field(min_length=1)]


class RunbookDoc(Strict):
    """The whole of runbook.yaml."""

    version: Literal[1]
    title: str
    preamble: str
    rules: list[Rule]
    environments: dict[Annotated[str, Field(pattern=NAME)], Environment]
    phases: Annotated[list[Phase], Field(min_length=1)]
    acceptance: list[Criterion]


_RANGE = re.compile(r"(^[~^<>=!])|[*,|\s]|(^|\.)x($|\.)|^(latest|stable|current|newest|head|main|master)$", re.I)
_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+:~_@-]*$")


def is_exact_version(value: object) -> bool:
    """True when `value` names one exact version: no `latest`, no range, no wildcard."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return False
    text = str(value).strip()
    return bool(text) and _EXACT.match(text) is not None and _RANGE.search(text) is None
