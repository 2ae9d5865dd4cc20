"""RUNBOOK.md, rendered from runbook.yaml so the prose and the data can never disagree."""

from __future__ import annotations

from motorcade.runbook import Runbook
from motorcade.schema import Step

NOTICE = "<!-- Rendered from runbook.yaml by `motorcade runbook render`. Edit runbook.yaml, not this file. -->"


def _step_line(runbook: Runbook, step: Step) -> list[str]:
    number = runbook.number(step.id)
    if step.kind == "checkpoint":
        return [f"{number}. {step.title}"]
    line = f"{number}. `{step.playbook}`"
    if step.notes:
        line += f" ({step.notes})"
    if step.planned is not None:
        line += " — *planned*" + (f" (issue #{step.planned})" if step.planned is not True else "")
    lines = [line]
    if step.locked is not None:
        lock = step.locked
        lines += [
            f"   - **{lock.reason}**",
            f"   - Checkpoint: `{lock.checkpoint}`",
            f"   - Root cause resolved: {lock.root_cause}",
            f"   - Status: {', '.join(lock.verified)} VERIFIED",
            f"   - Proceed next to: `{runbook.step(lock.proceed_next).playbook}`",
        ]
    return lines


def _gates_row(step: Step) -> str:
    backup = "—"
    if step.backup is not None:
        parts = [
            *step.backup.paths,
            *(f"pg:{p.database}" for p in step.backup.postgres),
            *(f"mysql:{m.database}" for m in step.backup.mysql),
            *(f"volume:{v}" for v in step.backup.volumes),
        ]
        backup = ", ".join(f"`{p}`" for p in parts)
    checks = ", ".join(f"{c.id} ({c.kind})" for c in step.checks) or "—"
    pins = ", ".join(p.component for p in step.pins) or "—"
    requires = ", ".join(step.requires) or "—"
    return f"| {step.id} | {requires} | {step.hosts} | {backup} | {checks} | {pins} |"


def render(runbook: Runbook) -> str:
    doc = runbook.doc
    out = [NOTICE, f"# {doc.title}", "", doc.preamble.strip(), "", "## Rules (Non-negotiable)"]
    out += [f"- **{rule.title}**: {rule.text}" for rule in doc.rules]
    out += ["", "## Environments"]
    for name, env in doc.environments.items():
        extra = f" (promotes from {env.promotes_from})" if env.promotes_from else ""
        out.append(f"- **{name}**: {env.description}{extra}")
    out += ["", "## Current recommended order"]
    for phase in doc.phases:
        out += ["", f"### {phase.title}"]
        for step in phase.steps:
            out += _step_line(runbook, step)
    out += ["", "## Acceptance criteria", 'A step is "complete" only when:']
    out += [f"- {criterion.text}" for criterion in doc.acceptance]
    out += [
        "",
        "## Gates per step",
        "",
        "What `motorcade apply` requires and records for each step (from runbook.yaml).",
        "",
        "| Step | Requires | Hosts | Backup first | Checks | Pins |",
        "|---|---|---|---|---|---|",
    ]
    out += [_gates_row(step) for step in runbook.steps]
    return "\n".join(out) + "\n"
