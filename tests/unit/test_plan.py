"""Planning an apply: which steps `--through` takes, and which it skips and why."""

from __future__ import annotations

import shutil
from pathlib import Path

from motorcade.apply import plan
from motorcade.context import Conductor, Stage
from motorcade.runbook import load
from motorcade.status import next_step, step_statuses

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "project"


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def stage(self, step: str, stage: Stage, status: str, detail: str) -> None:
        pass

    def task(self, event: object) -> None:
        pass

    def note(self, message: str) -> None:
        self.lines.append(message)


def test_through_skips_planned_steps_and_what_needs_them(tmp_path: Path) -> None:
    """`--through` leaves out a planned step and every step requiring it, saying why for each."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    runbook_file = root / "runbook.yaml"
    text = runbook_file.read_text().replace(
        "acceptance:",
        "      - {id: FIX_09, title: Later, playbook: FIX_09_later.yml, planned: 42, hosts: local}\n"
        "      - {id: FIX_10, title: After, playbook: FIX_04_locked.yml, hosts: local, requires: [FIX_09]}\n"
        "acceptance:",
    )
    runbook_file.write_text(text)
    notes = Notes()
    conductor = Conductor.open(load(runbook_file), "local", tmp_path / "ws", notes)
    chosen = [s.id for s in plan(conductor, through="last")]
    assert chosen == [f"FIX_0{i}" for i in range(1, 9)]
    assert notes.lines == ["Skipping FIX_09: planned (issue #42), not ready to apply", "Skipping FIX_10: needs FIX_09"]


def test_a_fresh_environment_has_nothing_complete_and_a_next_step(tmp_path: Path) -> None:
    """With an empty ledger no step is complete, FIX_08 waits for FIX_01, and the next step is the first."""
    conductor = Conductor.open(load(FIXTURE / "runbook.yaml"), "local", tmp_path / "ws")
    statuses = step_statuses(conductor)
    assert not any(s.complete for s in statuses)
    waiting = next(s for s in statuses if s.step.id == "FIX_08")
    assert waiting.blocker == "prerequisites"
    assert "FIX_01" in waiting.detail
    upcoming = next_step(statuses)
    assert upcoming is not None
    assert upcoming.step.id == "FIX_01"
