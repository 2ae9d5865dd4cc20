"""`motorcade`: the command line. It prints and exits; the library underneath does neither."""

from __future__ import annotations

import os
import sys

# pydantic scans every installed distribution for plugins on first use (~0.4 s here); we use none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
import tempfile
import traceback
from collections import Counter
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from motorcade import actions, checkpoints, render
from motorcade import apply as pipeline
from motorcade.ansible import TaskEvent, stop_orphans
from motorcade.context import Conductor, Stage
from motorcade.errors import DriftDetectedError, MotorcadeError, PreflightError, UsageError
from motorcade.runbook import Runbook, load
from motorcade.status import StepStatus, next_step, step_statuses

EPILOG_CODES = (
    "Exit codes: 0 ok, 1 a gate failed, 2 usage, 3 lock held, 4 step LOCKED, 5 preflight refused, "
    "6 drift found, 7 runbook invalid, 8 stale lock, 9 unknown step/env, 10 backup error, "
    "11 ansible could not run, 12 lab error, 70 internal error."
)

app = typer.Typer(
    name="motorcade",
    help="Apply Motorcade's runbook step by step, with every rule enforced as a gate.",
    epilog=EPILOG_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
runbook_app = typer.Typer(help="Validate and render runbook.yaml.", no_args_is_help=True)
lock_app = typer.Typer(help="Inspect or break an environment's apply lock.", no_args_is_help=True)
app.add_typer(runbook_app, name="runbook")
app.add_typer(lock_app, name="lock")

console = Console(highlight=False)
if not console.is_terminal:  # logs and CI: wide enough that the status table stays readable
    console = Console(highlight=False, width=160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Options:
    runbook: Path = Path("runbook.yaml")
    workspace: Path | None = None


OPTIONS = _Options()


def _default_runbook() -> Path:
    env = os.environ.get("MOTORCADE_RUNBOOK")
    if env:
        return Path(env)
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "runbook.yaml").is_file():
            return folder / "runbook.yaml"
    return here / "runbook.yaml"


@app.callback()
def main_options(
    runbook: Annotated[
        Path | None,
        typer.Option(help="runbook.yaml to use [default: $MOTORCADE_RUNBOOK, else the nearest runbook.yaml upwards]"),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(
            help="Where evidence is kept (ledger, deploy log, releases, "
            "checkpoints) [default: the environment's workspace from "
            "runbook.yaml, the repository for staging/prod]",
            envvar="MOTORCADE_WORKSPACE",
        ),
    ] = None,
) -> None:
    OPTIONS.runbook = runbook or _default_runbook()
    OPTIONS.workspace = workspace


def _runbook() -> Runbook:
    return load(OPTIONS.runbook)


def _conductor(env: str, reporter: CliReporter | None = None) -> Conductor:
    return Conductor.open(_runbook(), env, OPTIONS.workspace, reporter)


# -- progress ---------------------------------------------------------------------------------------

MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[dim]–[/]", "started": "[cyan]…[/]"}


class CliReporter:
    """Draws stages as lines and tasks as a live status line with running counts."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._status = console.status("")
        self._active = False

    def stage(self, step: str, stage: Stage, status: str, detail: str) -> None:
        if status == "started":
            self.counts.clear()
            self._status.update(f"{step} {stage.gate} {detail}")
            if not self._active and console.is_terminal:
                self._status.start()
                self._active = True
            return
        self.stop()
        console.print(f"  {MARK.get(status, status)} {step} [bold]{stage.gate:<11}[/] {detail}", markup=True)

    def task(self, event: TaskEvent) -> None:
        self.counts[event.status] += 1
        counts = " ".join(f"{k}={self.counts[k]}" for k in ("ok", "changed", "failed") if self.counts[k])
        self._status.update(f"{event.task} on {event.host} ({counts})")
        if event.status in ("changed", "failed", "unreachable"):
            colour = {"changed": "yellow", "failed": "red", "unreachable": "red"}[event.status]
            message = f": {event.message}" if event.message else ""
            console.print(f"      [{colour}]{event.status}[/] {event.host} | {event.task}{message}", markup=True)
        elif not console.is_terminal:
            pass  # no spinner without a terminal; changed/failed lines above are enough in logs

    def note(self, message: str) -> None:
        self.stop()
        console.print(f"    {message}")

    def stop(self) -> None:
        if self._active:
            self._status.stop()
            self._active = False


# -- commands ---------------------------------------------------------------------------------------


def _status_table(env: str, statuses: list[StepStatus]) -> Table:
    table = Table(title=f"Motorcade — {env}", title_justify="left")
    for column in ("#", "step", "playbook", "state", "blocked by", "detail"):
        table.add_column(column)
    colours = {
        "complete": "green",
        "failed": "red",
        "interrupted": "red",
        "evidence-missing": "red",
        "running": "cyan",
        "planned": "dim",
        "not-applied": "yellow",
    }
    for s in statuses:
        state = s.state + (" (LOCKED)" if s.locked and s.complete else "")
        table.add_row(
            str(s.number),
            s.step.id,
            s.step.playbook or "—",
            f"[{colours.get(s.state, 'white')}]{state}[/]",
            s.blocker or "",
            s.detail,
        )
    return table


@app.command()
def status(env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")]) -> None:
    """Show, for every step, whether it is complete here and which gate stands in the way.

    Example: motorcade status lab
    """
    conductor = _conductor(env)
    statuses = step_statuses(conductor)
    console.print(_status_table(env, statuses))
    holder = conductor.ledger.holder(env)
    if holder is not None:
        state = "held" if holder.alive() else "STALE (its process is gone; `motorcade lock break " + env + "`)"
        console.print(f"Lock {state}: {holder.describe()}")
    done = sum(1 for s in statuses if s.complete)
    console.print(f"{done} of {len(statuses)} steps complete in {env}.")


@app.command()
def plan(env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")]) -> None:
    """Say what `apply` would do next in ENV, and why each later step waits.

    Example: motorcade plan staging
    """
    conductor = _conductor(env)
    statuses = step_statuses(conductor)
    upcoming = next_step(statuses)
    for s in statuses:
        if s.complete:
            continue
        marker = "→" if upcoming is not None and s.step.id == upcoming.step.id else " "
        why = f"{s.blocker}: {s.detail}" if s.blocker else s.detail
        console.print(f"{marker} {s.number:>2}. {s.step.id:<14} {s.state:<16} {why}")
    if upcoming is None:
        console.print(
            "Nothing can be applied next."
            if any(not s.complete for s in statuses)
            else f"Every step is complete in {env}."
        )
    else:
        console.print(f"Next: motorcade apply {env} {upcoming.step.id}")


@app.command(name="apply")
def apply_cmd(
    env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")],
    steps: Annotated[list[str] | None, typer.Argument(help="Step ids to apply, in order (e.g. PLAT_01).")] = None,
    next_: Annotated[bool, typer.Option("--next", help="Apply the next incomplete step.")] = False,
    through: Annotated[
        str | None,
        typer.Option(
            help="Apply every incomplete step up to and including this one; `last` means the last step that exists."
        ),
    ] = None,
    override_lock: Annotated[
        bool, typer.Option("--override-lock", help="Rerun a LOCKED step (needs --reason).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why the LOCKED step is rerun; written to the deploy log.")] = None,
) -> None:
    """Take steps through lock, preflight, backup, run, idempotence, verify, pin, log and record.

    Examples: motorcade apply lab PLAT_01 · motorcade apply lab --next · motorcade apply lab --through last
    """
    chosen = sum(bool(x) for x in (steps, next_, through))
    if chosen != 1:
        raise UsageError("give step ids, --next or --through (exactly one)")
    if override_lock and not (reason and reason.strip()):
        raise UsageError('--override-lock needs --reason "..."')
    reporter = CliReporter()
    conductor = _conductor(env, reporter)
    todo = pipeline.plan(conductor, steps, through=through, next_only=next_)
    if not todo:
        console.print(f"Nothing to apply: every step through {through} is complete in {env}.")
        _print_status(conductor)
        return
    console.print(f"Applying {len(todo)} step(s) to {env}: {', '.join(s.id for s in todo)}")
    results = pipeline.apply(
        conductor, todo, override=reason if override_lock else None, command="motorcade apply " + " ".join(sys.argv[2:])
    )
    reporter.stop()
    failed = next((r for r in results if not r.passed), None)
    if failed is not None:
        err.print(f"{failed.step} is not complete: {failed.error}")
        raise typer.Exit(failed.error.exit_code if failed.error else 1)
    console.print(f"[green]{len(results)} step(s) complete in {env}.[/]")


def _print_status(conductor: Conductor) -> None:
    console.print(_status_table(conductor.env_name, step_statuses(conductor)))


@app.command()
def verify(
    env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")],
    step: Annotated[str, typer.Argument(help="Step id, e.g. PLAT_02C.")],
) -> None:
    """Run only a step's verification checks and show each result.

    Example: motorcade verify lab PLAT_02C
    """
    conductor = _conductor(env, CliReporter())
    result = actions.verify_step(conductor, conductor.runbook.step(step))
    for r in result.results:
        console.print(f"  {MARK['passed' if r['passed'] else 'failed']} {r['id']:<24} {r['host']}: {r['detail']}")
    if not result.passed:
        err.print(f"{step}: {result.error}")
        raise typer.Exit(1)
    console.print(f"{len(result.results)} check(s) passed.")


@app.command()
def drift(
    env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")],
    steps: Annotated[list[str] | None, typer.Argument(help="Only these steps [default: every complete step].")] = None,
) -> None:
    """Run complete steps in check mode with diff and list what would change (exit 6 if anything).

    Tasks that check mode skips without checking (modules without check-mode support, commands without
    `check_mode: false`) are listed after each step as "not checked": they are not drift, and not proof of none.

    Examples: motorcade drift lab · motorcade drift prod PLAT_03
    """
    conductor = _conductor(env, CliReporter())
    found = actions.drift(conductor, steps)
    drifted = 0
    for entry in found:
        if entry.changed or entry.note.startswith("check mode failed"):
            drifted += 1
            console.print(f"[red]{entry.step}[/]: {len(entry.changed)} task(s) would change {entry.note}")
            for event in entry.changed:
                console.print(f"    {event.host} | {event.task}")
        else:
            console.print(f"[green]{entry.step}[/]: no drift {entry.note}".rstrip())
        if entry.unchecked:
            console.print(f"    [yellow]{len(entry.unchecked)} task(s) not checked[/]: check mode cannot run them")
            for event in entry.unchecked:
                console.print(f"    {escape(event.host)} | {escape(event.task)} [dim]— {escape(event.message)}[/]")
    if not found:
        console.print(f"No complete step in {env} to check.")
    if drifted:
        raise DriftDetectedError(f"{drifted} step(s) drifted in {env}; rerun them with `motorcade apply {env} STEP`")


@app.command()
def history(
    env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")],
    step: Annotated[str | None, typer.Argument(help="Only this step.")] = None,
    limit: Annotated[int, typer.Option(help="How many runs to show, newest first.")] = 20,
) -> None:
    """List recorded runs with the result of each gate.

    Example: motorcade history lab PLAT_03
    """
    conductor = _conductor(env)
    if step:
        conductor.runbook.step(step)
    for run in conductor.ledger.runs(env, step.upper() if step else None, limit):
        gates = " ".join(f"{g.gate}:{g.status}" for g in conductor.ledger.gates(run.id))
        console.print(f"{run.started_at} {run.step:<14} {run.action:<6} {run.status:<11} {run.id}")
        console.print(f"    {gates}" + (f"\n    {run.message}" if run.message else ""))


@app.command()
def checkpoint(
    env: Annotated[str, typer.Argument(help="Environment: lab, staging or prod.")],
    step: Annotated[str, typer.Argument(help="Step id, e.g. PLAT_04A.")],
) -> None:
    """Show a step's checkpoint in ENV, or write one for a step whose latest apply passed.

    Example: motorcade checkpoint lab PLAT_04A
    """
    conductor = _conductor(env)
    the_step = conductor.runbook.step(step)
    found = checkpoints.find(conductor.workspace.checkpoints_dir, the_step.id, env)
    if found is not None:
        console.print(f"{the_step.id} checkpoint for {env}: {found.path} (dated {found.date}, run {found.run})")
        return
    run = conductor.ledger.latest_applies(env).get(the_step.id)
    if run is None or run.status != "passed":
        raise PreflightError(f"{the_step.id} has no passing apply in {env}: nothing to checkpoint")
    evidence = {
        "run": run.id,
        "commit": run.git_commit,
        "gates": {g.gate: {"status": g.status, "detail": g.detail} for g in conductor.ledger.gates(run.id)},
    }
    folder = checkpoints.write(
        conductor.workspace.checkpoints_dir,
        the_step.id,
        env,
        run.finished_at[:10] if run.finished_at else run.started_at[:10],
        evidence,
        f"# Checkpoint {the_step.id} ({env})\n\n- Run: `{run.id}`\n",
    )
    console.print(f"Checkpoint written: {folder}")


@app.command()
def restore(
    backup_id: Annotated[
        str, typer.Argument(help="Backup id, as printed by apply (it starts with the environment's name).")
    ],
) -> None:
    """Put a backup taken by the backup gate back on its hosts (checksums are verified first).

    Example: motorcade restore lab-PLAT_03-20261127T101500Z-1a2b
    """
    runbook = _runbook()
    env = next(
        (name for name in sorted(runbook.doc.environments, key=len, reverse=True) if backup_id.startswith(name + "-")),
        None,
    )
    if env is None:
        raise PreflightError(f"{backup_id!r} does not start with an environment name")
    conductor = Conductor.open(runbook, env, OPTIONS.workspace, CliReporter())
    for line in actions.restore(conductor, backup_id):
        console.print(f"  {line}")
    console.print(f"Backup {backup_id} restored; the deploy log has an entry.")


@runbook_app.command("render")
def runbook_render(
    check: Annotated[bool, typer.Option(help="Do not write; exit 1 when RUNBOOK.md is stale.")] = False,
) -> None:
    """Write RUNBOOK.md from runbook.yaml.

    Example: motorcade runbook render --check
    """
    runbook = _runbook()
    target = runbook.root / "RUNBOOK.md"
    text = render.render(runbook)
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            err.print(f"{target} is stale: run `motorcade runbook render`")
            raise typer.Exit(1)
        console.print(f"{target} matches runbook.yaml.")
        return
    target.write_text(text, encoding="utf-8")
    console.print(f"Wrote {target}.")


@runbook_app.command("validate")
def runbook_validate() -> None:
    """Load runbook.yaml and report the first problem with file, line and field.

    Example: motorcade runbook validate
    """
    runbook = _runbook()
    ready = len(runbook.ready_steps())
    console.print(f"{runbook.path}: valid; {len(runbook.steps)} steps, {ready} ready to apply.")
    for step in runbook.stale_plans():
        console.print(f"note: {step.id} is planned but {step.playbook} exists; remove `planned` to make it runnable")


@lock_app.command("status")
def lock_status(env: Annotated[str, typer.Argument(help="Environment.")]) -> None:
    """Show who holds ENV's apply lock.

    Example: motorcade lock status lab
    """
    holder = _conductor(env).ledger.holder(env)
    if holder is None:
        console.print(f"{env} is not locked.")
    else:
        console.print(f"{env} locked by {holder.describe()}" + ("" if holder.alive() else " — STALE"))


@lock_app.command("break")
def lock_break(
    env: Annotated[str, typer.Argument(help="Environment.")],
    force: Annotated[bool, typer.Option(help="Break even a lock whose process still runs.")] = False,
) -> None:
    """Remove a stale apply lock; its unfinished runs are marked interrupted.

    Example: motorcade lock break lab
    """
    conductor = _conductor(env)
    holder, interrupted = conductor.ledger.break_lock(env, force=force)
    if holder is None:
        console.print(f"{env} was not locked.")
        return
    console.print(f"Broke the lock of {holder.describe()}.")
    for run_id in interrupted:
        console.print(f"Run {run_id} is recorded as interrupted.")
    stopped = stop_orphans([conductor.workspace.run_dir(r) for r in interrupted])
    if stopped:
        console.print(f"Stopped {len(stopped)} Ansible process(es) it left running: {', '.join(map(str, stopped))}.")


def _mount_lab(argv: list[str]) -> None:
    """Add `motorcade lab` — imported only when asked for or for help, so `status` starts fast."""
    if len(argv) > 1 and "lab" not in argv and not any(a in ("--help", "-h") for a in argv):
        return
    from motorcade.cli.lab import app as lab_app

    app.add_typer(lab_app, name="lab", help="Bring the lab (a disposable Debian 12 host) up, down, or inspect it.")


def _bug(exc: BaseException) -> NoReturn:
    fd, path = tempfile.mkstemp(prefix="motorcade-crash-", suffix=".log")
    with os.fdopen(fd, "w") as handle:
        handle.write(" ".join(sys.argv) + "\n\n" + "".join(traceback.format_exception(exc)))
    err.print(f"motorcade hit an unexpected error: {type(exc).__name__}: {exc}")
    err.print(f"The details are in {path}; please attach that file to a bug report.")
    raise SystemExit(70)


def main() -> int:
    """Entry point: expected errors become one line and their exit code; unexpected ones a crash log."""
    _mount_lab(sys.argv)
    try:
        code = app(standalone_mode=False)
    except MotorcadeError as exc:
        err.print(f"motorcade: {exc}", markup=False)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("motorcade: interrupted")
        return 130
    except Exception as exc:
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):  # click's usage errors
            show()
            return int(exc.exit_code)  # type: ignore[attr-defined]
        _bug(exc)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
