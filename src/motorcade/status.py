"""Status and plan: whether each step is complete in an environment, computed from evidence.

A step is complete when its latest apply passed every gate *and* the evidence is still where the
gates put it: its pins in releases/<env>.yaml and its entry in the deploy log. A LOCKED step is
also complete where a checkpoint covers the environment. For anything else, `blocker` names the
gate that stands in the way.
"""

from __future__ import annotations

from dataclasses import dataclass

from motorcade import checkpoints, journal, releases
from motorcade.context import Conductor
from motorcade.ledger import RunRecord
from motorcade.schema import Step


@dataclass(frozen=True)
class StepStatus:
    step: Step
    number: int
    state: str  # complete | not-applied | failed | interrupted | running | planned | evidence-missing
    blocker: str | None  # the gate (or "prerequisites") in the way, None when complete
    detail: str
    run: RunRecord | None = None
    locked: bool = False

    @property
    def complete(self) -> bool:
        return self.state == "complete"


def step_statuses(conductor: Conductor) -> list[StepStatus]:
    """The status of every step of the runbook in the conductor's environment, in order."""
    runbook, ledger, ws, env = conductor.runbook, conductor.ledger, conductor.workspace, conductor.env_name
    latest = ledger.latest_applies(env)
    holder = ledger.holder(env)
    pinned = releases.read(ws.releases_file(env))
    result: list[StepStatus] = []
    done: set[str] = set()
    for step in runbook.steps:
        number = runbook.number(step.id)
        run = latest.get(step.id)
        status = _one(conductor, step, number, run, holder is not None and holder.alive(), pinned)
        if status.complete:
            done.add(step.id)
        elif status.state in ("not-applied",) and (missing := [r for r in step.requires if r not in done]):
            status = StepStatus(
                step, number, "not-applied", "prerequisites", "waiting for " + ", ".join(missing), run, status.locked
            )
        result.append(status)
    return result


def _one(
    conductor: Conductor,
    step: Step,
    number: int,
    run: RunRecord | None,
    lock_alive: bool,
    pinned: dict[str, dict[str, object]],
) -> StepStatus:
    ws, env = conductor.workspace, conductor.env_name
    locked = step.locked is not None
    if step.planned is not None:
        issue = f" (issue #{step.planned})" if step.planned is not True else ""
        return StepStatus(step, number, "planned", "playbook", f"planned{issue}: no playbook yet", run, locked)
    if locked and (point := checkpoints.find(ws.checkpoints_dir, step.id, env)) is not None:
        return StepStatus(
            step, number, "complete", None, f"LOCKED; checkpoint {point.path.relative_to(ws.root)}", run, True
        )
    if run is None:
        return StepStatus(step, number, "not-applied", "run", "never applied here", None, locked)
    if run.status == "running":
        if lock_alive:
            return StepStatus(step, number, "running", "lock", f"being applied (run {run.id})", run, locked)
        gates = conductor.ledger.gates(run.id)
        at = gates[-1].gate if gates else "lock"
        return StepStatus(step, number, "interrupted", at, f"run {run.id} was interrupted after {at}", run, locked)
    if run.status in ("failed", "interrupted"):
        failed = run.failed_gate or "run"
        return StepStatus(step, number, run.status, failed, run.message or f"{failed} failed", run, locked)
    # passed: check the evidence is still in place
    for gate in conductor.ledger.gates(run.id):
        if gate.gate == "pin" and gate.status == "passed":
            for component, found in (gate.data.get("pins") or {}).items():
                have = pinned.get(component, {})
                if str(have.get("version")) != str(found.get("version")):
                    return StepStatus(
                        step,
                        number,
                        "evidence-missing",
                        "pin",
                        f"releases/{env}.yaml no longer pins {component}={found.get('version')}",
                        run,
                        locked,
                    )
    day = (run.finished_at or run.started_at)[:10]
    if not journal.mentions(ws.deployments_dir, day, run.id):
        return StepStatus(
            step,
            number,
            "evidence-missing",
            "log",
            f"docs/deployments/{day}.md has no entry for run {run.id}",
            run,
            locked,
        )
    if locked:
        return StepStatus(
            step,
            number,
            "evidence-missing",
            "checkpoint",
            f"passed but its checkpoint is missing: `motorcade checkpoint {env} {step.id}`",
            run,
            locked,
        )
    return StepStatus(step, number, "complete", None, f"passed {run.finished_at} (run {run.id})", run, locked)


def next_step(statuses: list[StepStatus]) -> StepStatus | None:
    """The first step that is not complete and could be applied now."""
    for status in statuses:
        if status.complete:
            continue
        if status.state == "planned" or status.blocker == "prerequisites" or status.state == "running":
            return None
        return status
    return None
