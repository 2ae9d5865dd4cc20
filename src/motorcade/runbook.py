"""runbook.yaml as data: load, validate, and answer questions about steps and environments.

Every rejection is one line naming file, line and field, e.g.
``runbook.yaml:57: phases[1].steps[3](PLAT_02C).requires: unknown step 'PLAT_99'``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from motorcade.errors import RunbookError, UnknownEnvironmentError, UnknownStepError
from motorcade.schema import Environment, Phase, RunbookDoc, Step

PLAYBOOK_DIR = Path("ansible/playbooks")
SECRETS_CATALOG = Path("ansible/secrets.yml")


@dataclass(frozen=True)
class Runbook:
    """A validated runbook and the repository it belongs to."""

    doc: RunbookDoc
    path: Path
    root: Path
    _index: dict[str, tuple[int, Phase, Step]] = field(repr=False, compare=False)

    @property
    def steps(self) -> list[Step]:
        return [step for phase in self.doc.phases for step in phase.steps]

    def step(self, step_id: str) -> Step:
        try:
            return self._index[step_id.upper()][2]
        except KeyError:
            known = ", ".join(s.id for s in self.steps)
            raise UnknownStepError(f"unknown step {step_id!r} (known: {known})") from None

    def number(self, step_id: str) -> int:
        """The step's 1-based number in the runbook's order, as printed in RUNBOOK.md."""
        return self._index[step_id][0]

    def phase_of(self, step_id: str) -> Phase:
        return self._index[step_id][1]

    def environment(self, name: str) -> Environment:
        try:
            return self.doc.environments[name]
        except KeyError:
            known = ", ".join(self.doc.environments)
            raise UnknownEnvironmentError(f"unknown environment {name!r} (known: {known})") from None

    def playbook_path(self, step: Step) -> Path:
        if step.playbook is None:
            raise UnknownStepError(f"step {step.id} has no playbook")
        return self.root / PLAYBOOK_DIR / step.playbook

    def resolve(self, path: str) -> Path:
        """A path from runbook.yaml: `${VAR:-default}` and `~` expanded, relative to the repository root."""
        expanded = Path(expand_env(path)).expanduser()
        return expanded if expanded.is_absolute() else self.root / expanded

    def stale_plans(self) -> list[Step]:
        """Planned steps whose playbook exists already: they stay unrunnable until `planned` is removed."""
        return [s for s in self.steps if s.planned is not None and s.playbook and self.playbook_path(s).is_file()]

    def ready_steps(self) -> list[Step]:
        """Steps that exist (not `planned`), in order."""
        return [s for s in self.steps if s.planned is None]

    def through(self, step_id: str) -> list[Step]:
        """All steps up to and including `step_id`; `last` means the last step that exists."""
        if step_id.lower() == "last":
            ready = self.ready_steps()
            step_id = ready[-1].id if ready else self.steps[0].id
        target = self.step(step_id)
        return self.steps[: self.number(target.id)]


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Expand `${VAR}` and `${VAR:-default}` from the process environment (unset or empty → default)."""
    return _ENV_REF.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), text)


def load(path: str | Path) -> Runbook:
    """Load and validate runbook.yaml, raising `RunbookError` with file, line and field."""
    path = Path(path)
    display = os.path.relpath(path) if path.is_absolute() else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunbookError(display, None, "file", exc.strerror or str(exc)) from None
    try:
        raw = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        raise RunbookError(display, line, "yaml", str(exc.problem)) from None
    if not isinstance(raw, CommentedMap):
        raise RunbookError(display, 1, "document", "must be a mapping")
    try:
        doc = RunbookDoc.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        line, field_name = _locate(raw, loc)
        raise RunbookError(display, line, field_name, _message(error)) from None
    runbook = Runbook(doc=doc, path=path, root=path.parent.resolve(), _index=_index(doc))
    _check_semantics(runbook, raw, display)
    return runbook


def _index(doc: RunbookDoc) -> dict[str, tuple[int, Phase, Step]]:
    index: dict[str, tuple[int, Phase, Step]] = {}
    number = 0
    for phase in doc.phases:
        for step in phase.steps:
            number += 1
            index.setdefault(step.id, (number, phase, step))
    return index


def _message(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _locate(raw: Any, loc: tuple[Any, ...]) -> tuple[int | None, str]:
    """Walk the round-trip YAML along a pydantic error location: the line and a readable field path."""
    node = raw
    line: int | None = raw.lc.line + 1
    parts: list[str] = []
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            line = node.lc.key(key)[0] + 1
            parts.append(f".{key}" if parts else str(key))
            node = node[key]
            if isinstance(node, CommentedMap) and "id" in node:
                parts[-1] += f"({node['id']})"
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
            line = node.lc.item(key)[0] + 1
            parts.append(f"[{key}]")
            node = node[key]
            if isinstance(node, CommentedMap) and "id" in node:
                parts[-1] += f"({node['id']})"
        elif isinstance(node, CommentedMap) and isinstance(key, str) and node.get("kind") == key:
            continue  # a discriminated union's tag, not a key in the document
        else:
            parts.append(f".{key}" if parts else str(key))
            break
    return line, "".join(parts)


def _step_nodes(raw: CommentedMap) -> Iterator[tuple[str, CommentedMap]]:
    for p, phase in enumerate(raw["phases"]):
        for s, step in enumerate(phase["steps"]):
            yield f"phases[{p}].steps[{s}]({step['id']})", step


def _check_semantics(runbook: Runbook, raw: CommentedMap, display: str) -> None:
    def fail(node: CommentedMap, key: str | None, where: str, problem: str) -> None:
        line = (node.lc.key(key)[0] if key is not None and key in node else node.lc.line) + 1
        raise RunbookError(display, line, where + (f".{key}" if key else ""), problem)

    doc = runbook.doc
    nodes = dict(_step_nodes(raw))
    seen: set[str] = set()
    known = {step.id for step in runbook.steps}
    catalog = _secret_names(runbook.root / SECRETS_CATALOG)
    for (where, node), step in zip(nodes.items(), runbook.steps, strict=True):
        if step.id in seen:
            fail(node, "id", where, f"duplicate step id {step.id!r}")
        seen.add(step.id)
        for required in step.requires:
            if required not in known:
                fail(node, "requires", where, f"unknown step {required!r}")
        if step.kind == "playbook" and step.playbook is None:
            fail(node, None, where, "a playbook step needs `playbook`")
        if step.kind == "checkpoint" and (step.playbook or step.touches_state or step.checks or step.pins):
            fail(node, "kind", where, "a checkpoint step has no playbook, backup, checks or pins")
        if step.playbook is not None:
            exists = runbook.playbook_path(step).is_file()
            if step.planned is None and not exists:
                fail(node, "playbook", where, f"missing playbook file {PLAYBOOK_DIR / step.playbook}")
        if step.touches_state and (step.backup is None or step.backup.is_empty()):
            fail(node, "touches_state", where, "a step that touches state needs a `backup` (no backup, no run)")
        if not step.touches_state and step.backup is not None:
            fail(node, "backup", where, "declares a backup but `touches_state` is false")
        if step.locked is not None and step.locked.proceed_next not in known:
            fail(node["locked"], "proceed_next", where + ".locked", f"unknown step {step.locked.proceed_next!r}")
        ids = [check.id for check in step.checks]
        for check_id in ids:
            if ids.count(check_id) > 1:
                fail(node, "checks", where, f"duplicate check id {check_id!r}")
        components = [pin.component for pin in step.pins]
        for component in components:
            if components.count(component) > 1:
                fail(node, "pins", where, f"duplicate pin component {component!r}")
        if catalog is not None:
            for secret in step.secrets:
                if secret not in catalog:
                    fail(node, "secrets", where, f"{secret!r} is not in {SECRETS_CATALOG}")
    cycle = _find_cycle({step.id: step.requires for step in runbook.steps})
    if cycle:
        where, node = next((w, n) for w, n in nodes.items() if n["id"] == cycle[0])
        fail(node, "requires", where, "circular prerequisites: " + " -> ".join(cycle))
    for name, env in doc.environments.items():
        if env.promotes_from is not None and env.promotes_from not in doc.environments:
            env_node = raw["environments"][name]
            fail(env_node, "promotes_from", f"environments.{name}", f"unknown environment {env.promotes_from!r}")


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in the prerequisite graph as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


def _secret_names(path: Path) -> set[str] | None:
    if not path.is_file():
        return None
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    return set((data.get("secrets") or {}).keys())
