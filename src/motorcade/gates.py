"""The gates of the apply pipeline that need evidence from the hosts: preflight, backup, verify, pin.

Each gate returns an `Outcome` (recorded in the ledger) or raises `GateFailedError`/`PreflightError`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motorcade import agent, checkpoints, releases
from motorcade.ansible import Recap, run_playbook
from motorcade.context import Conductor, substitute
from motorcade.errors import BackupError, GateFailedError, PreflightError, StepLockedError
from motorcade.schema import Step, is_exact_version

GATE_PLAYBOOK = Path(__file__).parent / "playbooks" / "gate.yml"
AGENT = Path(agent.__file__)
AGENT_TASK = "Run the Motorcade gate agent."
BACKUP_ROOT_VAR = "motorcade_backup_root"
DEFAULT_BACKUP_ROOT = "/var/backups/motorcade"


@dataclass
class Outcome:
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


def hosts_of(conductor: Conductor, step: Step) -> list[str]:
    hosts = conductor.inventory().hosts(step.hosts)
    if not hosts:
        raise PreflightError(f"{step.id}: no host in {conductor.env_name}'s inventory matches `{step.hosts}`")
    return hosts


# -- preflight ----------------------------------------------------------------------------------


def preflight(conductor: Conductor, step: Step, complete: set[str], override: str | None) -> Outcome:
    """Refuse the step unless prerequisites, lock, secrets, exact pins and promotion all hold."""
    env = conductor.env_name
    if step.planned is not None:
        issue = f" (issue #{step.planned})" if step.planned is not True else ""
        raise PreflightError(f"{step.id} is planned{issue}: its playbook does not exist yet")
    missing = [r for r in step.requires if r not in complete]
    if missing:
        raise PreflightError(f"{step.id} needs {', '.join(missing)} complete in {env} first")
    notes: list[str] = []
    if step.locked is not None:
        point = checkpoints.find(conductor.workspace.checkpoints_dir, step.id, env)
        if point is not None:
            if override is None:
                raise StepLockedError(
                    f"{step.id} is LOCKED in {env} ({step.locked.reason}); checkpoint {point.path}. "
                    f'Proceed next to {step.locked.proceed_next}, or rerun with --override-lock --reason "..."'
                )
            notes.append(f"LOCKED step rerun by override: {override}")
        else:
            notes.append("LOCKED step: first run here, its checkpoint is written when it passes")
    if step.kind == "checkpoint":
        return Outcome("; ".join([*notes, "prerequisites complete"]))
    hosts = hosts_of(conductor, step)
    for host in hosts:
        hostvars = conductor.hostvars(host)
        absent = [name for name in step.secrets if hostvars.get(name) in (None, "")]
        if absent:
            raise PreflightError(
                f"{step.id}: secrets missing on {host}: {', '.join(absent)} (add them to {env}'s vault)"
            )
        for pin in step.pins:
            if pin.expect_var is None:
                continue
            wanted = hostvars.get(pin.expect_var)
            if wanted is None:
                raise PreflightError(
                    f"{step.id}: {pin.component} is not pinned: {pin.expect_var} is undefined on {host}"
                )
            if not is_exact_version(wanted):
                raise PreflightError(
                    f"{step.id}: {pin.component} must be pinned to an exact version, "
                    f"{pin.expect_var} is {wanted!r} on {host}"
                )
    source = conductor.env.promotes_from
    if source is not None:
        notes.append(_promotion(conductor, step, source, hosts))
    return Outcome(
        "; ".join([*notes, f"{len(hosts)} host(s), secrets present, pins exact"]),
        {"hosts": hosts, "override": override},
    )


def _promotion(conductor: Conductor, step: Step, source: str, hosts: list[str]) -> str:
    """In an environment that promotes from `source`, each wanted version must be proven there."""
    from motorcade.status import step_statuses

    upstream = Conductor.open(conductor.runbook, source)
    try:
        statuses = {s.step.id: s for s in step_statuses(upstream)}
        if not statuses[step.id].complete:
            raise PreflightError(f"{step.id} is not complete in {source}, which {conductor.env_name} promotes from")
        proven = releases.read(upstream.workspace.releases_file(source))
    finally:
        upstream.close()
    for pin in step.pins:
        if pin.expect_var is None:
            continue
        wanted = str(conductor.hostvars(hosts[0]).get(pin.expect_var))
        have = str((proven.get(pin.component) or {}).get("version"))
        if wanted not in have:
            raise PreflightError(f"{step.id}: {pin.component} {wanted} was not proven in {source} (it runs {have})")
    return f"pins proven in {source}"


# -- the agent on the hosts -----------------------------------------------------------------------


def _agent(
    conductor: Conductor,
    step: Step,
    run_dir: Path,
    mode: str,
    specs: dict[str, dict[str, Any]],
    limit: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Run agent.py `mode` on the step's hosts; returns each host's JSON report."""
    encoded = {host: base64.b64encode(json.dumps(spec).encode()).decode() for host, spec in specs.items()}
    recap: Recap = run_playbook(
        GATE_PLAYBOOK,
        conductor.target(limit=limit or ",".join(specs)),
        run_dir / f"gate-{mode}",
        extravars={
            "motorcade_hosts": ",".join(specs),
            "motorcade_agent": str(AGENT),
            "motorcade_agent_mode": mode,
            "motorcade_agent_specs": encoded,
        },
        collect=[AGENT_TASK],
        progress=conductor.reporter.task,
    )
    reports: dict[str, dict[str, Any]] = {}
    for host, res in recap.task_results(AGENT_TASK):
        try:
            reports[host] = json.loads(str(res.get("stdout") or "").strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            reports[host] = {"error": str(res.get("msg") or res.get("stderr") or "no report")[:300]}
    if recap.unreachable:
        raise GateFailedError(mode, recap.why())
    for host in specs:
        if host not in reports:
            raise GateFailedError(mode, f"no report from {host}: {recap.why()}")
        if "error" in reports[host]:
            raise GateFailedError(mode, f"{host}: {reports[host]['error']}")
    return reports


# -- backup -------------------------------------------------------------------------------------


def backup(conductor: Conductor, step: Step, run_id: str, run_dir: Path) -> Outcome:
    """Copy the step's state on every host; the manifests (with sha256 per item) go to the ledger."""
    if step.backup is None:
        raise GateFailedError("backup", f"{step.id} declares no backup")
    hosts = hosts_of(conductor, step)
    specs = {}
    for host in hosts:
        root = str(conductor.hostvars(host).get(BACKUP_ROOT_VAR) or DEFAULT_BACKUP_ROOT)
        try:
            items = substitute(step.backup.model_dump(mode="json"), conductor.hostvars(host))
        except KeyError as exc:
            raise GateFailedError("backup", f"cannot fill {exc.args[0]} in the backup of {step.id}") from None
        specs[host] = {"id": run_id, "root": root, **items}
    reports = _agent(conductor, step, run_dir, "backup", specs)
    locations = [f"{host}:{report['location']}" for host, report in sorted(reports.items())]
    conductor.ledger.record_backup(
        run_id,
        conductor.env_name,
        step.id,
        run_id,
        " ".join(locations),
        {"hosts": reports, "roots": {h: s["root"] for h, s in specs.items()}},
    )
    copied = sum(1 for r in reports.values() for i in r["items"] if i.get("present"))
    absent = sum(1 for r in reports.values() for i in r["items"] if not i.get("present"))
    return Outcome(
        f"{copied} item(s) copied, {absent} not present yet",
        {"backup_id": run_id, "restore_path": " ".join(locations), "restore_command": f"motorcade restore {run_id}"},
    )


def restore(conductor: Conductor, backup_id: str, run_dir: Path) -> dict[str, dict[str, Any]]:
    """Put the backup `backup_id` back on the hosts it was taken from."""
    record = conductor.ledger.backup(backup_id)
    if record is None:
        raise BackupError(f"no backup {backup_id} in {conductor.env_name}'s ledger")
    step = conductor.runbook.step(record["step"])
    roots: dict[str, str] = record["manifest"]["roots"]
    specs = {host: {"id": backup_id, "root": root} for host, root in roots.items()}
    return _agent(conductor, step, run_dir, "restore", specs)


# -- verify -------------------------------------------------------------------------------------


APPLY_STARTED_VAR = "motorcade_apply_started_at"


def verify(conductor: Conductor, step: Step, run_dir: Path, applied_at: str | None = None) -> Outcome:
    """Run the step's declared checks, on the hosts or from the controller; every result is kept.

    Checks see the host's inventory variables and ``motorcade_apply_started_at``: when the apply being verified
    started (``applied_at``, UTC, e.g. ``2026-11-27T08:00:05Z``), so a check can ask for evidence made by this apply.
    """
    extra = {APPLY_STARTED_VAR: applied_at} if applied_at else {}
    hosts = hosts_of(conductor, step)
    results: list[dict[str, Any]] = []
    on_hosts: dict[str, dict[str, Any]] = {host: {"checks": []} for host in hosts}
    for check in step.checks:
        raw = check.model_dump(mode="json", by_alias=False)
        for host in hosts if check_origin(raw) == "target" else hosts[:1]:
            try:
                spec = substitute(raw, {**conductor.hostvars(host), **extra})
            except KeyError as exc:
                results.append(
                    {
                        "host": host,
                        "id": check.id,
                        "kind": check.kind,
                        "passed": False,
                        "detail": f"cannot fill {exc.args[0]} in the check",
                    }
                )
                continue
            if check_origin(raw) == "controller":
                results.append({"host": "controller", **agent.check(spec)})
            else:
                on_hosts[host]["checks"].append(spec)
    wanted = {host: spec for host, spec in on_hosts.items() if spec["checks"]}
    if wanted:
        for host, report in _agent(conductor, step, run_dir, "verify", wanted).items():
            results += [{"host": host, **r} for r in report["results"]]
    failed = [r for r in results if not r["passed"]]
    data = {"results": results}
    if failed:
        first = failed[0]
        raise GateFailedError(
            "verify",
            f"{len(failed)} of {len(results)} check(s) failed; {first['id']} on {first['host']}: {first['detail']}",
        )
    return Outcome(f"{len(results)} check(s) passed", data)


def check_origin(raw: dict[str, Any]) -> str:
    return str(raw.get("origin", "target"))


# -- pin ----------------------------------------------------------------------------------------


def pin(conductor: Conductor, step: Step, run_id: str, run_dir: Path, date: str) -> Outcome:
    """Record what the hosts actually run in releases/<env>.yaml; wanted versions must match."""
    if not step.pins:
        return Outcome("no components to pin", {"pins": {}})
    hosts = hosts_of(conductor, step)
    specs = {host: {"pins": [p.model_dump(mode="json") for p in step.pins]} for host in hosts}
    reports = _agent(conductor, step, run_dir, "pins", specs)
    found: dict[str, dict[str, str]] = {}
    for p in step.pins:
        versions = {}
        for host, report in reports.items():
            entry = report.get(p.component) or {}
            if "error" in entry:
                raise GateFailedError("pin", f"{p.component} on {host}: {entry['error']}")
            versions[host] = str(entry["version"])
            if p.expect_var is not None:
                wanted = str(conductor.hostvars(host).get(p.expect_var))
                ok = versions[host] == wanted if p.kind == "package" else wanted in versions[host]
                if not ok:
                    raise GateFailedError(
                        "pin", f"{p.component} on {host} is {versions[host]}, but {p.expect_var} wants {wanted}"
                    )
        if len(set(versions.values())) > 1:
            raise GateFailedError("pin", f"{p.component} differs between hosts: {versions}")
        found[p.component] = {"kind": p.kind, "version": next(iter(versions.values()))}
    path = conductor.workspace.releases_file(conductor.env_name)
    releases.pin(path, conductor.env_name, step.id, run_id, date, found)
    return Outcome(f"{len(found)} component(s) pinned in releases/{conductor.env_name}.yaml", {"pins": found})
