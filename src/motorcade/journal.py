"""The deploy log: one Markdown entry per apply, passed or failed, in docs/deployments/YYYY-MM-DD.md (UTC)."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path


@dataclass
class Entry:
    """What a deploy log entry says; every text in it has been through secret redaction."""

    run_id: str
    env: str
    step: str
    action: str
    outcome: str
    operator: str
    git_commit: str | None
    recap: str | None = None
    gates: list[tuple[str, str, str]] = field(default_factory=list)
    backup_id: str | None = None
    restore_path: str | None = None
    restore_command: str | None = None
    pins: dict[str, str] = field(default_factory=dict)
    override: str | None = None


def log_file(directory: Path, when: datetime) -> Path:
    return directory / f"{when.astimezone(UTC):%Y-%m-%d}.md"


def render(entry: Entry, when: datetime) -> str:
    mark = {"passed": "PASSED", "failed": "FAILED"}.get(entry.outcome, entry.outcome.upper())
    lines = [
        f"## {when.astimezone(UTC):%H:%M:%SZ} {entry.env} {entry.step} ({entry.action}) {mark}",
        "",
        f"- Run: `{entry.run_id}`",
        f"- Operator: {entry.operator}",
        f"- Commit: `{entry.git_commit or 'unknown'}`",
    ]
    if entry.override:
        lines.append(f"- Lock override: {entry.override}")
    if entry.recap:
        lines.append(f"- Recap: {entry.recap}")
    if entry.backup_id:
        lines.append(f"- Backup: `{entry.backup_id}` at `{entry.restore_path}`")
        lines.append(f"- Restore: `{entry.restore_command}`")
    if entry.pins:
        lines.append("- Pins: " + ", ".join(f"{c}={v}" for c, v in sorted(entry.pins.items())))
    if entry.gates:
        lines.append("- Gates:")
        lines += [f"  - {gate}: {status}" + (f" ({detail})" if detail else "") for gate, status, detail in entry.gates]
    return "\n".join(lines) + "\n\n"


def append(directory: Path, entry: Entry, when: datetime | None = None) -> Path:
    """Append `entry` to the day's log (created with a title), under an exclusive file lock."""
    when = when or datetime.now(UTC)
    path = log_file(directory, when)
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if handle.tell() == 0:
            handle.write(
                f"# Deployments {when.astimezone(UTC):%Y-%m-%d} (UTC)\n\n"
                "Appended by `motorcade` for every apply, passed or failed. Do not edit entries.\n\n"
            )
        handle.write(render(entry, when))
        handle.flush()
        os.fsync(handle.fileno())
    return path


def mentions(directory: Path, day: str, run_id: str) -> bool:
    """True when the log of `day` (YYYY-MM-DD) has an entry for `run_id`."""
    path = directory / f"{day}.md"
    try:
        return f"`{run_id}`" in path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
