"""The conductor's context for one environment: runbook, workspace, ledger, inventory and reporting."""

from __future__ import annotations

import getpass
import re
import socket
import subprocess
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Protocol

from motorcade.ansible import Inventory, Target, TaskEvent, read_inventory
from motorcade.errors import PreflightError
from motorcade.ledger import Ledger
from motorcade.runbook import Runbook
from motorcade.schema import Environment
from motorcade.workspace import Workspace

ANSIBLE_DIR = Path("ansible")


class Stage(IntEnum):
    """The named stages one step goes through, in order."""

    LOCK = 1
    PREFLIGHT = 2
    BACKUP = 3
    RUN = 4
    IDEMPOTENCE = 5
    VERIFY = 6
    PIN = 7
    LOG = 8
    RECORD = 9

    @property
    def gate(self) -> str:
        return self.name.lower()


class Reporter(Protocol):
    """How the library tells its caller what is happening; the CLI draws it, tests collect it."""

    def stage(self, step: str, stage: Stage, status: str, detail: str) -> None: ...

    def task(self, event: TaskEvent) -> None: ...

    def note(self, message: str) -> None: ...


class SilentReporter:
    def stage(self, step: str, stage: Stage, status: str, detail: str) -> None:
        pass

    def task(self, event: TaskEvent) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def operator_name() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def git_commit(root: Path) -> str | None:
    """The repository's commit, with `-dirty` when the work tree has changes; None outside git."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass
class Conductor:
    """Everything an operation on one environment needs."""

    runbook: Runbook
    env_name: str
    workspace: Workspace
    reporter: Reporter = field(default_factory=SilentReporter)
    operator: str = field(default_factory=operator_name)
    _ledger: Ledger | None = field(default=None, repr=False)
    _inventory: Inventory | None = field(default=None, repr=False)
    _secrets: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def open(
        cls, runbook: Runbook, env_name: str, workspace: Path | None = None, reporter: Reporter | None = None
    ) -> Conductor:
        """The conductor for `env_name`; the workspace defaults to the environment's own."""
        env = runbook.environment(env_name)
        root = workspace if workspace is not None else runbook.resolve(env.workspace)
        return cls(runbook, env_name, Workspace(root.resolve()), reporter or SilentReporter())

    @property
    def env(self) -> Environment:
        return self.runbook.environment(self.env_name)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.workspace.ledger_path)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    @property
    def ansible_dir(self) -> Path:
        return self.runbook.root / ANSIBLE_DIR

    def vault_password_file(self) -> Path | None:
        if self.env.vault_password_file is None:
            return None
        return self.runbook.resolve(self.env.vault_password_file)

    def target(self, limit: str | None = None) -> Target:
        password = self.vault_password_file()
        if password is not None and not password.is_file():
            raise PreflightError(
                f"vault password file {password} for {self.env_name} is missing"
                + (" (run `motorcade lab up`)" if self.env_name == "lab" else "")
            )
        return Target(
            inventory=[self.runbook.resolve(p) for p in self.env.inventory],
            ansible_dir=self.ansible_dir,
            vault_password_file=password,
            limit=limit,
        )

    def inventory(self) -> Inventory:
        """The environment's inventory, read once; vault values are remembered for redaction."""
        if self._inventory is None:
            for source in self.env.inventory:
                if not self.runbook.resolve(source).exists():
                    hint = " (run `motorcade lab up`)" if self.env_name == "lab" else ""
                    raise PreflightError(f"inventory source {source} for {self.env_name} does not exist{hint}")
            self._inventory = read_inventory(self.target())
            values = {
                str(v)
                for hv in self._inventory.hostvars.values()
                for k, v in hv.items()
                if k.startswith("vault_") and v not in (None, "") and len(str(v)) >= 4
            }
            self._secrets = sorted(values, key=len, reverse=True)
        return self._inventory

    def redact(self, text: str) -> str:
        """`text` with every known secret value replaced, for the deploy log and the ledger."""
        for secret in self._secrets:
            text = text.replace(secret, "«redacted»")
        return text

    def hostvars(self, host: str) -> dict[str, Any]:
        return self.inventory().hostvars.get(host, {})


_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")
_TEMPLATE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
MAX_NESTING = 8  # variables whose values name variables, as deep as an inventory reasonably goes


class SubstitutionError(KeyError):
    """A `{{ name }}` that cannot be filled: undefined, a loop, nested too deep, or not a plain name.

    A KeyError whose first argument says what and where (callers report "cannot fill {exc.args[0]}");
    `str()` gives the message without KeyError's quotes.
    """

    def __str__(self) -> str:
        return str(self.args[0])


def _lookup(path: str, variables: dict[str, Any]) -> Any:
    value: Any = variables
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


def _where(chain: tuple[str, ...]) -> str:
    return f" (in {' → '.join(chain)})" if chain else ""


def _render(text: str, variables: dict[str, Any], chain: tuple[str, ...]) -> str:
    """`text` with each `{{ name }}` replaced; a value that holds `{{ }}` itself is rendered in turn."""

    def fill(match: re.Match[str]) -> str:
        path = match.group(1)
        if path in chain:
            loop = " → ".join((*chain[chain.index(path) :], path))
            raise SubstitutionError(f"{path} (a loop: {loop})")
        try:
            value = _lookup(path, variables)
        except KeyError:
            inside = f", in {' → '.join(chain)}" if chain else ""
            raise SubstitutionError(f"{path} (undefined{inside})") from None
        if not (isinstance(value, str) and "{{" in value):
            return str(value)
        if len(chain) >= MAX_NESTING:
            raise SubstitutionError(f"{path} (nested more than {MAX_NESTING} levels: {' → '.join((*chain, path))})")
        return _render(value, variables, (*chain, path))

    rendered = _VAR.sub(fill, text)
    if chain:
        # A variable's value is a Jinja template for Ansible; only plain names are ours to fill.
        leftover = _TEMPLATE.search(rendered)
        if leftover is not None:
            where = _where(chain[:-1])
            raise SubstitutionError(
                f"{chain[-1]} (its value holds {leftover.group(0)}, not a plain variable name{where})"
            )
    return rendered


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Replace `{{ name }}` and `{{ name.key.0 }}` in strings (recursively through lists and dicts).

    A variable whose value holds `{{ other }}` itself (as inventories write for Ansible) is rendered in turn,
    at most MAX_NESTING levels deep. An unknown name, a loop, deeper nesting or a Jinja expression other than
    a plain name inside a variable's value raises SubstitutionError (a KeyError) naming the variable and
    the chain that led to it. `{{ }}` written in `value` itself that is not a name (e.g. Podman's
    `{{.Host.OCIRuntime.Name}}`) is left as it is.
    """
    if isinstance(value, str):
        return _render(value, variables, ())
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    return value
