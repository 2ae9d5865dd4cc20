"""releases/<env>.yaml: the versions each step actually deployed, kept with comments and order."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from motorcade.workspace import write_atomic

HEADER = """\
# Release manifest for {env}: what is deployed, component by component.
# Written by `motorcade apply` (the pin gate) from what the step's hosts report; comments and
# order are kept. A step is complete only while its pins here match its latest apply.
"""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = True
    return yaml


def read(path: Path) -> dict[str, dict[str, Any]]:
    """Components and their pins; an absent file has none."""
    if not path.is_file():
        return {}
    data = _yaml().load(path.read_text(encoding="utf-8")) or {}
    components = data.get("components") or {}
    return {str(name): dict(pin) for name, pin in components.items()}


def pin(path: Path, env: str, step: str, run_id: str, date: str, versions: Mapping[str, Mapping[str, str]]) -> None:
    """Record `versions` (component -> {kind, version}) for `step`, keeping everything else as it was."""
    yaml = _yaml()
    if path.is_file():
        data = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    else:
        data = yaml.load(HEADER.format(env=env) + f"environment: {env}\ncomponents: {{}}\n")
    components = data.get("components")
    if not isinstance(components, CommentedMap):
        components = CommentedMap()
        data["components"] = components
    for component, found in versions.items():
        entry = components.get(component)
        if not isinstance(entry, CommentedMap):
            entry = CommentedMap()
            components[component] = entry
        entry["kind"] = found["kind"]
        entry["version"] = found["version"]
        entry["step"] = step
        entry["run"] = run_id
        entry["pinned_at"] = date
    if components and components.fa.flow_style():
        components.fa.set_block_style()
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    write_atomic(path, buffer.getvalue())
