"""Checkpoints: a folder of evidence that a step completed, docs/checkpoints/<date>-<STEP>/.

A LOCKED step gets one after its single passing apply; from then on the step refuses reruns in
the environments its checkpoint names.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from motorcade.workspace import write_atomic


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: str
    environments: list[str]
    date: str
    run: str | None


def find(directory: Path, step: str, env: str) -> Checkpoint | None:
    """The newest checkpoint of `step` that covers `env`, if any."""
    found: Checkpoint | None = None
    for meta in sorted(directory.glob(f"*-{step}/checkpoint.yaml")):
        data = YAML(typ="safe").load(meta.read_text(encoding="utf-8")) or {}
        envs = [str(e) for e in data.get("environments") or []]
        if data.get("step") == step and env in envs:
            found = Checkpoint(meta.parent, step, envs, str(data.get("date")), data.get("run"))
    return found


def write(directory: Path, step: str, env: str, date: str, evidence: dict[str, Any], summary: str) -> Path:
    """Write (or extend to `env`) the checkpoint of `step` dated `date`; returns its folder."""
    folder = directory / f"{date}-{step}"
    meta = folder / "checkpoint.yaml"
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    data: dict[str, Any] = {}
    if meta.is_file():
        data = yaml.load(meta.read_text(encoding="utf-8")) or {}
    envs = sorted(set(data.get("environments") or []) | {env})
    data.update(step=step, date=date, environments=envs)
    data.setdefault("evidence", {})[env] = evidence
    data["run"] = evidence.get("run")
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    write_atomic(meta, buffer.getvalue())
    write_atomic(folder / "README.md", summary)
    return folder
