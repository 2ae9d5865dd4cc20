"""The apply pipeline: one step through lock, preflight, backup, run, idempotence, verify, pin, log, record.

`apply` takes the environment's lock once for the whole sequence of steps, then runs each step's
stages in order. Whatever happens, the deploy log gets an entry and the ledger a final status.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from motorcade import checkpoints, gates, journal
from motorcade.ansible import Recap, run_playbook
from motorcade.context import Conductor, Stage, git_commit
from motorcade.errors import GateFailedError, MotorcadeError, PreflightError
from motorcade.schema import Step
from motorcade.status import next_step, step_statuses


@dataclass
class GateResult:
    stage: Stage
    status: str  # passed | failed | skipped
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """What one apply of one step did; `passed` is true only when every gate passed."""

    run_id: str
    step: str
    gates: list[GateResult] = field(default_factory=list)
    error: MotorcadeError | None = None
    recap: Recap | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(g.status != "failed" for g in self.gates)

    @property
    def failed_gate(self) -> str | None:
        return next((g.stage.gate for g in self.gates if g.status == "failed"), None)

    def gate(self, stage: Stage) -> GateResult | None:
        return next((g for g in self.gates if g.stage == stage), None)


def new_run_id(env: str, step: str) -> str:
    return f"{env}-{step}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def plan(
    conductor: Conductor, step_ids: list[str] | None = None, *, through: str | None = None, next_only: bool = False
) -> list[Step]:
    """The steps an apply will take: named ones, the next one, or every incomplete one through a step."""
    runbook = conductor.runbook
    if next_only:
        status = next_step(step_statuses(conductor))
        if status is None:
            raise PreflightError(
                f"nothing to apply next in {conductor.env_name}: see `motorcade plan {conductor.env_name}`"
            )
        return [status.step]
    if through is not None:
        statuses = {s.step.id: s for s in step_statuses(conductor)}
        todo: list[Step] = []
        unavailable: set[str] = set()
        for step in runbook.through(through):
            if statuses[step.id].complete:
                continue
            waits_for = [r for r in step.requires if r in unavailable]
            if step.planned is not None or waits_for:
                unavailable.add(step.id)
                issue = f" (issue #{step.planned})" if step.planned not in (None, True) else ""
                why = (
                    f"planned{issue}, not ready to apply"
                    if step.planned is not None
                    else "needs " + ", ".join(waits_for)
                )
                conductor.reporter.note(f"Skipping {step.id}: {why}")
                continue
            todo.append(step)
        return todo
    return [runbook.step(s) for s in step_ids or []]


def apply(
    conductor: Conductor, steps: list[Step], *, override: str | None = None, command: str = "motorcade apply"
) -> list[StepResult]:
    """Apply `steps` in order under the environment's lock; stops at the first step that fails."""
    ledger = conductor.ledger
    holder = ledger.acquire(conductor.env_name, conductor.operator, command)
    results: list[StepResult] = []
    try:
        for step in steps:
            result = apply_step(conductor, step, override=override, lock_detail=holder.describe())
            results.append(result)
            if not result.passed:
                break
    finally:
        ledger.release(conductor.env_name)
    return results


def apply_step(
    conductor: Conductor, step: Step, *, override: str | None = None, lock_detail: str = "held"
) -> StepResult:
    """Take one step through every stage; the caller holds the environment's lock."""
    env, ledger, reporter = conductor.env_name, conductor.ledger, conductor.reporter
    run_id = new_run_id(env, step.id)
    run_dir = conductor.workspace.run_dir(run_id)
    commit = git_commit(conductor.runbook.root)
    ledger.start_run(run_id, env, step.id, "apply", conductor.operator, commit, override)
    result = StepResult(run_id, step.id)
    today = datetime.now(UTC).strftime("%Y-%m-%d")

    def passed(stage: Stage, detail: str, data: dict[str, Any] | None = None, status: str = "passed") -> None:
        gate = GateResult(stage, status, conductor.redact(detail), data or {})
        result.gates.append(gate)
        ledger.record_gate(run_id, stage.gate, status, gate.detail, _redact_data(conductor, gate.data))
        reporter.stage(step.id, stage, status, gate.detail)

    stage = Stage.LOCK
    try:
        passed(Stage.LOCK, lock_detail)
        stage = Stage.PREFLIGHT
        reporter.stage(step.id, stage, "started", "")
        complete = {s.step.id for s in step_statuses(conductor) if s.complete}
        outcome = gates.preflight(conductor, step, complete, override)
        passed(stage, outcome.detail, outcome.data)
        if step.kind == "checkpoint":
            _phase_checkpoint(conductor, step, run_id, today)
            for skipped in (Stage.BACKUP, Stage.RUN, Stage.IDEMPOTENCE, Stage.VERIFY, Stage.PIN):
                passed(skipped, "not applicable to a checkpoint step", status="skipped")
        else:
            stage = Stage.BACKUP
            if step.touches_state:
                reporter.stage(step.id, stage, "started", "")
                outcome = gates.backup(conductor, step, run_id, run_dir)
                passed(stage, outcome.detail, outcome.data)
                reporter.note(f"Restore path: {outcome.data['restore_path']}")
                reporter.note(f"Restore with: {outcome.data['restore_command']}")
            else:
                passed(stage, "step does not touch state", status="skipped")
            stage = Stage.RUN
            reporter.stage(step.id, stage, "started", step.playbook or "")
            recap = run_playbook(
                conductor.runbook.playbook_path(step), conductor.target(), run_dir / "run", progress=reporter.task
            )
            result.recap = recap
            if not recap.passed:
                raise GateFailedError("run", recap.why() + f" — {recap.line()}")
            passed(stage, recap.line(), {"recap": recap.line()})
            stage = Stage.IDEMPOTENCE
            reporter.stage(step.id, stage, "started", conductor.env.idempotence)
            passed(stage, *_idempotence(conductor, step, run_dir))
            stage = Stage.VERIFY
            reporter.stage(step.id, stage, "started", f"{len(step.checks)} check(s)")
            started = ledger.run(run_id)
            outcome = gates.verify(conductor, step, run_dir, started.started_at if started else None)
            passed(stage, outcome.detail, outcome.data)
            stage = Stage.PIN
            reporter.stage(step.id, stage, "started", "")
            outcome = gates.pin(conductor, step, run_id, run_dir, today)
            passed(stage, outcome.detail, outcome.data)
            if step.locked is not None:
                folder = _locked_checkpoint(conductor, step, run_id, today, result)
                reporter.note(f"Checkpoint written: {folder}")
    except MotorcadeError as exc:
        result.error = exc
        gate = exc.gate if isinstance(exc, GateFailedError) else stage.gate
        data = {"recap": result.recap.line()} if result.recap is not None and stage == Stage.RUN else {}
        if isinstance(exc, GateFailedError) and exc.gate == "verify":
            data = {"message": str(exc)}
        failed_stage = Stage[gate.upper()] if gate.upper() in Stage.__members__ else stage
        result.gates.append(GateResult(failed_stage, "failed", conductor.redact(str(exc)), data))
        ledger.record_gate(run_id, failed_stage.gate, "failed", conductor.redact(str(exc)), data)
        reporter.stage(step.id, failed_stage, "failed", conductor.redact(str(exc)))
    finally:
        _log_and_record(conductor, step, run_id, commit, override, result)
    return result


def _idempotence(conductor: Conductor, step: Step, run_dir: Any) -> tuple[str, dict[str, Any]]:
    check = conductor.env.idempotence == "check"
    recap = run_playbook(
        conductor.runbook.playbook_path(step),
        conductor.target(),
        run_dir / "idempotence",
        check=check,
        diff=check,
        progress=conductor.reporter.task,
    )
    if not recap.passed:
        raise GateFailedError("idempotence", "the second run failed: " + recap.why())
    if recap.changed:
        names = sorted({f"{e.task} ({e.host})" for e in recap.changed})
        raise GateFailedError(
            "idempotence", f"{len(recap.changed)} task(s) changed on the second run: " + "; ".join(names)
        )
    how = "check mode" if check else "second converge"
    return f"{how}: changed=0", {"mode": how, "recap": recap.line()}


def _locked_checkpoint(conductor: Conductor, step: Step, run_id: str, today: str, result: StepResult) -> str:
    if step.locked is None:
        raise ValueError(f"{step.id} is not a LOCKED step")
    evidence = {
        "run": run_id,
        "commit": git_commit(conductor.runbook.root),
        "gates": {g.stage.gate: {"status": g.status, "detail": g.detail} for g in result.gates},
        "checks": (result.gate(Stage.VERIFY) or GateResult(Stage.VERIFY, "", "")).data.get("results", []),
    }
    lock = step.locked
    summary = (
        f"# Checkpoint {step.id} ({conductor.env_name}, {today})\n\n"
        f"- Status: **{lock.reason}**\n- Run: `{run_id}`\n"
        f"- Root cause resolved: {lock.root_cause}\n- Verified: {', '.join(lock.verified)}\n"
        f"- Proceed next to: `{lock.proceed_next}`\n\nEvidence: `checkpoint.yaml` beside this file.\n"
    )
    folder = checkpoints.write(
        conductor.workspace.checkpoints_dir,
        step.id,
        conductor.env_name,
        today,
        _redact_data(conductor, evidence),
        conductor.redact(summary),
    )
    return str(folder)


def _phase_checkpoint(conductor: Conductor, step: Step, run_id: str, today: str) -> None:
    statuses = {s.step.id: s for s in step_statuses(conductor)}
    evidence = {
        "run": run_id,
        "steps": {
            r: {"run": getattr(statuses[r].run, "id", None), "detail": statuses[r].detail} for r in step.requires
        },
    }
    phase = conductor.runbook.phase_of(step.id)
    summary = f"# Checkpoint {phase.title} ({conductor.env_name}, {today})\n\n" + "".join(
        f"- {r}: {statuses[r].detail}\n" for r in step.requires
    )
    checkpoints.write(conductor.workspace.checkpoints_dir, step.id, conductor.env_name, today, evidence, summary)


def _log_and_record(
    conductor: Conductor, step: Step, run_id: str, commit: str | None, override: str | None, result: StepResult
) -> None:
    """The log and record stages: always run, whatever happened before."""
    backup = result.gate(Stage.BACKUP)
    pins = (result.gate(Stage.PIN) or GateResult(Stage.PIN, "", "")).data.get("pins", {})
    outcome = "passed" if result.passed else "failed"
    entry = journal.Entry(
        run_id=run_id,
        env=conductor.env_name,
        step=step.id,
        action="apply",
        outcome=outcome,
        operator=conductor.operator,
        git_commit=commit,
        recap=result.recap.line() if result.recap is not None else None,
        gates=[(g.stage.gate, g.status, g.detail) for g in result.gates],
        backup_id=backup.data.get("backup_id") if backup else None,
        restore_path=backup.data.get("restore_path") if backup else None,
        restore_command=backup.data.get("restore_command") if backup else None,
        pins={c: str(v.get("version")) for c, v in pins.items()},
        override=override,
    )
    try:
        path = journal.append(conductor.workspace.deployments_dir, entry)
        detail = str(path.relative_to(conductor.workspace.root))
        conductor.ledger.record_gate(run_id, "log", "passed", detail)
        result.gates.append(GateResult(Stage.LOG, "passed", detail))
        conductor.reporter.stage(step.id, Stage.LOG, "passed", detail)
    except OSError as exc:
        result.gates.append(GateResult(Stage.LOG, "failed", f"cannot append the deploy log: {exc}"))
        conductor.ledger.record_gate(run_id, "log", "failed", str(exc))
        conductor.reporter.stage(step.id, Stage.LOG, "failed", str(exc))
    status = "passed" if result.passed else "failed"
    message = conductor.redact(str(result.error)) if result.error else None
    conductor.ledger.finish_run(
        run_id, status, result.failed_gate, message, backup.data.get("backup_id") if backup else None
    )
    conductor.reporter.stage(step.id, Stage.RECORD, status, f"run {run_id}")


def _redact_data(conductor: Conductor, data: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(conductor.redact(json.dumps(data, default=str))))
