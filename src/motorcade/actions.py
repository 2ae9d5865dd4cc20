"""Operations beside apply: checks only (`verify`), drift detection (`drift`) and `restore`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from motorcade import gates, journal
from motorcade.ansible import TaskEvent, run_playbook
from motorcade.apply import new_run_id
from motorcade.context import Conductor, git_commit
from motorcade.errors import MotorcadeError
from motorcade.schema import Step
from motorcade.status import step_statuses


@dataclass
class VerifyResult:
    run_id: str
    results: list[dict[str, object]]
    error: str | None

    @property
    def passed(self) -> bool:
        return self.error is None


def verify_step(conductor: Conductor, step: Step) -> VerifyResult:
    """Run only the step's checks; recorded as a `verify` run (it does not change completeness)."""
    run_id = new_run_id(conductor.env_name, step.id)
    conductor.ledger.start_run(
        run_id, conductor.env_name, step.id, "verify", conductor.operator, git_commit(conductor.runbook.root)
    )
    results: list[dict[str, object]] = []
    error: str | None = None
    # Checks asking for evidence of "this apply" (motorcade_apply_started_at) are asked about the newest apply.
    applied = conductor.ledger.latest_applies(conductor.env_name).get(step.id)
    try:
        outcome = gates.verify(
            conductor, step, conductor.workspace.run_dir(run_id), applied.started_at if applied else None
        )
        results = outcome.data["results"]
        conductor.ledger.record_gate(run_id, "verify", "passed", outcome.detail, outcome.data)
    except MotorcadeError as exc:
        error = conductor.redact(str(exc))
        conductor.ledger.record_gate(run_id, "verify", "failed", error)
    conductor.ledger.finish_run(
        run_id, "passed" if error is None else "failed", None if error is None else "verify", error, None
    )
    return VerifyResult(run_id, results, error)


@dataclass
class Drift:
    step: str
    changed: list[TaskEvent] = field(default_factory=list)
    note: str = ""
    diffs: list[str] = field(default_factory=list)
    # Tasks check mode skipped without checking: not drift, but "no drift" says nothing about them.
    unchecked: list[TaskEvent] = field(default_factory=list)


def drift(conductor: Conductor, only: list[str] | None = None) -> list[Drift]:
    """Check mode with diff of every complete step (or of `only`); each entry lists the tasks that would change
    and those check mode skipped without checking."""
    wanted = {conductor.runbook.step(s).id for s in only} if only else None
    found: list[Drift] = []
    for status in step_statuses(conductor):
        step = status.step
        if wanted is not None and step.id not in wanted:
            continue
        if not status.complete or step.kind == "checkpoint":
            continue
        if step.locked is not None:
            found.append(Drift(step.id, note="LOCKED: not rerun, not even in check mode"))
            continue
        run_dir = conductor.workspace.state_dir / "drift" / new_run_id(conductor.env_name, step.id)
        recap = run_playbook(
            conductor.runbook.playbook_path(step),
            conductor.target(),
            run_dir,
            check=True,
            diff=True,
            progress=conductor.reporter.task,
        )
        entry = Drift(step.id, list(recap.changed), unchecked=list(recap.unchecked))
        if not recap.passed:
            entry.note = "check mode failed: " + recap.why()
        found.append(entry)
    return found


def restore(conductor: Conductor, backup_id: str) -> list[str]:
    """Restore a backup onto its hosts (under the environment's lock) and log it."""
    holder = conductor.ledger.acquire(conductor.env_name, conductor.operator, f"motorcade restore {backup_id}")
    run_id = new_run_id(conductor.env_name, "RESTORE")
    record = conductor.ledger.backup(backup_id)
    step_id = record["step"] if record else "RESTORE"
    outcome, lines, error = "failed", [], None
    try:
        reports = gates.restore(conductor, backup_id, conductor.workspace.run_dir(run_id))
        lines = [f"{host}: {what}" for host, report in sorted(reports.items()) for what in report["restored"]]
        outcome = "passed"
    except MotorcadeError as exc:
        error = exc
    finally:
        journal.append(
            conductor.workspace.deployments_dir,
            journal.Entry(
                run_id=run_id,
                env=conductor.env_name,
                step=step_id,
                action=f"restore {backup_id}",
                outcome=outcome,
                operator=conductor.operator,
                git_commit=git_commit(conductor.runbook.root),
                gates=[("restore", outcome, conductor.redact(str(error)) if error else "; ".join(lines))],
            ),
            datetime.now(UTC),
        )
        conductor.ledger.release(conductor.env_name)
        del holder
    if error is not None:
        raise error
    return lines
