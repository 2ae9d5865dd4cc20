"""The apply pipeline against real ansible-runner on localhost: each gate fails when it should."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import Project

pytestmark = pytest.mark.integration


def test_a_good_step_passes_every_gate_and_leaves_its_evidence(project: Project) -> None:
    """A state-touching step is backed up, run, rerun unchanged, verified, pinned, logged and shown complete."""
    done = project.motorcade("apply", "local", "FIX_01")
    assert done.returncode == 0, done.stdout + done.stderr
    for gate in ("lock", "preflight", "backup", "run", "idempotence", "verify", "pin", "log", "record"):
        assert f"FIX_01 {gate}" in done.stdout
    assert "Restore with: motorcade restore local-FIX_01-" in done.stdout
    assert (project.state / "etc/app.conf").read_text() == "greeting=hello\n"
    releases = (project.workspace / "releases/local.yaml").read_text()
    assert "fixture-tool:" in releases
    assert "version: 1.2.3" in releases
    logs = list((project.workspace / "docs/deployments").glob("*.md"))
    assert len(logs) == 1
    assert "local FIX_01 (apply) PASSED" in logs[0].read_text()
    assert "not-a-real-secret-fixture" not in logs[0].read_text()
    status = project.motorcade("status", "local")
    assert "FIX_01" in status.stdout
    assert "complete" in status.stdout.split("FIX_01", 1)[1].splitlines()[0]


def test_checks_are_told_when_the_apply_started(project: Project) -> None:
    """`{{ motorcade_apply_started_at }}` in a check is the start of the apply being verified: its own when applying,
    the newest apply's for `motorcade verify`."""
    first = project.motorcade("apply", "local", "FIX_01")
    assert first.returncode == 0, first.stdout + first.stderr
    time.sleep(1.1)  # the ledger's times have whole seconds
    second = project.motorcade("apply", "local", "FIX_01")
    assert second.returncode == 0, second.stdout + second.stderr
    with sqlite3.connect(project.workspace / ".motorcade/ledger.sqlite3") as db:
        rows = db.execute(
            "SELECT r.started_at, g.data FROM runs r JOIN gates g ON g.run_id = r.id"
            " WHERE r.step = 'FIX_01' AND r.action = 'apply' AND g.gate = 'verify' ORDER BY r.started_at"
        ).fetchall()
    assert len(rows) == 2
    assert rows[0][0] != rows[1][0]
    for started_at, data in rows:
        stamped = [r["detail"] for r in json.loads(data)["results"] if r["id"] == "knows-its-apply"]
        assert stamped == [f"`python3 -c import sys; print(sys.argv[1]) {started_at}` exited 0"]
    verified = project.motorcade("verify", "local", "FIX_01")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"print(sys.argv[1]) {rows[1][0]}`" in verified.stdout


def test_a_non_idempotent_task_is_named_and_the_step_is_not_complete(project: Project) -> None:
    """The idempotence gate fails on a second run that changes something, naming the task."""
    result = project.motorcade("apply", "local", "FIX_02")
    assert result.returncode == 1
    assert "Append a line to the journal file every time." in result.stdout + result.stderr
    status = project.motorcade("status", "local").stdout
    assert "idempotence" in status.split("FIX_02", 1)[1].splitlines()[0]


def test_a_failing_check_blocks_completion(project: Project) -> None:
    """A step whose playbook passes but whose verification fails is not complete, blocked by verify."""
    result = project.motorcade("apply", "local", "FIX_03")
    assert result.returncode == 1
    assert "missing-file" in result.stdout + result.stderr
    line = project.motorcade("status", "local").stdout.split("FIX_03", 1)[1].splitlines()[0]
    assert "failed" in line
    assert "verify" in line


def test_a_locked_step_runs_once_then_is_refused_unless_overridden(project: Project) -> None:
    """A LOCKED step writes its checkpoint on its first pass, refuses a rerun (exit 4), and logs an override."""
    first = project.motorcade("apply", "local", "FIX_04")
    assert first.returncode == 0, first.stdout + first.stderr
    checkpoints = list((project.workspace / "docs/checkpoints").glob("*-FIX_04/checkpoint.yaml"))
    assert len(checkpoints) == 1
    assert "local" in checkpoints[0].read_text()
    again = project.motorcade("apply", "local", "FIX_04")
    assert again.returncode == 4
    assert "LOCKED" in again.stderr
    assert "Traceback" not in again.stderr
    no_reason = project.motorcade("apply", "local", "FIX_04", "--override-lock")
    assert no_reason.returncode == 2
    forced = project.motorcade("apply", "local", "FIX_04", "--override-lock", "--reason", "auditor asked for a rerun")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    log = next((project.workspace / "docs/deployments").glob("*.md")).read_text()
    assert "Lock override: auditor asked for a rerun" in log


def test_an_unpinned_component_is_refused_before_anything_runs(project: Project) -> None:
    """Preflight refuses a component whose wanted version is `latest` (exit 5), and nothing runs."""
    result = project.motorcade("apply", "local", "FIX_05")
    assert result.returncode == 5
    assert "fixture_loose_version is 'latest'" in result.stderr
    history = project.motorcade("history", "local", "FIX_05").stdout
    assert "preflight:failed" in history
    assert "run:" not in history


def test_an_unreachable_host_fails_the_run(project: Project) -> None:
    """A host that cannot be reached fails the run gate with the host named."""
    result = project.motorcade("apply", "local", "FIX_06")
    assert result.returncode == 1
    assert "ghost unreachable" in result.stderr


def test_prerequisites_must_be_complete_first(project: Project) -> None:
    """A step is refused while a step it requires is incomplete, and allowed once it is complete."""
    refused = project.motorcade("apply", "local", "FIX_08")
    assert refused.returncode == 5
    assert "needs FIX_01" in refused.stderr
    assert project.motorcade("apply", "local", "--through", "FIX_01").returncode == 0
    assert project.motorcade("apply", "local", "FIX_08").returncode == 0


def test_prod_like_environment_needs_pins_proven_upstream(project: Project) -> None:
    """An environment that promotes from another refuses a step until it is complete there."""
    refused = project.motorcade("apply", "later", "FIX_01")
    assert refused.returncode == 5
    assert "not complete in local" in refused.stderr
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    promoted = project.motorcade("apply", "later", "FIX_01")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "check mode: changed=0" in promoted.stdout


def test_restore_puts_the_backed_up_state_back(project: Project) -> None:
    """`motorcade restore` returns a backed-up file to its content at backup time."""
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    conf = project.state / "etc/app.conf"
    conf.write_text("greeting=hand-edited\n")
    second = project.motorcade("apply", "local", "FIX_01")
    assert second.returncode == 0
    backup_id = second.stdout.split("motorcade restore ", 1)[1].split()[0]
    assert conf.read_text() == "greeting=hello\n"
    restored = project.motorcade("restore", backup_id)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert conf.read_text() == "greeting=hand-edited\n"


def test_drift_reports_a_hand_edit_and_a_rerun_undoes_it(project: Project) -> None:
    """`drift` exits 6 naming the task a manual change affects; applying the step again removes the drift."""
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    assert project.motorcade("drift", "local").returncode == 0
    (project.state / "etc/app.conf").write_text("greeting=edited by hand\n")
    drifted = project.motorcade("drift", "local", "FIX_01")
    assert drifted.returncode == 6
    assert "Ensure the config file says hello." in drifted.stdout
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    assert project.motorcade("drift", "local").returncode == 0


def test_drift_lists_the_tasks_check_mode_skipped_without_checking(project: Project) -> None:
    """A module without check mode and a plain command are listed as not checked; a false `when` is not; no drift."""
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    # Added after the apply, so only drift's check run ever sees them: none of them runs for real.
    with (project.root / "ansible/playbooks/FIX_01_config.yml").open("a") as handle:
        handle.write(
            "    - name: Make a scratch file (tempfile has no check mode).\n"
            "      ansible.builtin.tempfile:\n"
            "        state: file\n"
            "    - name: Run a command.\n"
            "      ansible.builtin.command: 'true'\n"
            "      changed_when: false\n"
            "    - name: Only when asked.\n"
            "      ansible.builtin.command: 'false'\n"
            "      when: false\n"
        )
    result = project.motorcade("drift", "local", "FIX_01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FIX_01: no drift" in result.stdout
    assert "2 task(s) not checked: check mode cannot run them" in result.stdout
    assert (
        "local | Make a scratch file (tempfile has no check mode). — remote module (ansible.builtin.tempfile) "
        "does not support check mode"
    ) in result.stdout
    assert "local | Run a command. — Command would have run if not in check mode" in result.stdout
    assert "Only when asked." not in result.stdout


def test_removed_evidence_makes_a_step_incomplete(project: Project) -> None:
    """Deleting a step's pin from releases/<env>.yaml turns `complete` into evidence-missing at the pin gate."""
    assert project.motorcade("apply", "local", "FIX_01").returncode == 0
    (project.workspace / "releases/local.yaml").write_text("environment: local\ncomponents: {}\n")
    line = project.motorcade("status", "local").stdout.split("FIX_01", 1)[1].splitlines()[0]
    assert "evidence-missing" in line
    assert "pin" in line


def _wait_for_run(project: Project, timeout: float = 60) -> None:
    ledger = project.workspace / ".motorcade/ledger.sqlite3"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    row = db.execute("SELECT count(*) FROM gates WHERE gate = 'preflight'").fetchone()
            except sqlite3.OperationalError as error:  # the apply made the file and is creating its tables
                if "no such table" not in str(error):
                    raise
                row = None
            if row and row[0]:
                time.sleep(2)  # let the playbook start
                return
        time.sleep(0.2)
    raise AssertionError("the apply never got past preflight")


def _processes_of(project: Project) -> list[int]:
    marker = f"MOTORCADE_RUN_DIR={project.workspace.resolve()}/".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "environ").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def test_two_concurrent_applies_only_one_runs(project: Project) -> None:
    """While one apply holds the environment, a second exits 3 naming the holder."""
    first = project.popen("apply", "local", "FIX_07")
    try:
        _wait_for_run(project)
        second = project.motorcade("apply", "local", "FIX_01")
        assert second.returncode == 3
        assert f"pid {first.pid}" in second.stderr
    finally:
        (project.state / "go").touch()
        first.communicate(timeout=120)
    assert first.returncode == 0


def test_kill_9_mid_run_leaves_a_truthful_status_and_a_recoverable_lock(project: Project) -> None:
    """After kill -9 mid-run, status says interrupted, the stale lock is named and breakable, and a rerun passes."""
    victim = project.popen("apply", "local", "FIX_07")
    _wait_for_run(project)
    deadline = time.monotonic() + 60
    while not _processes_of(project) and time.monotonic() < deadline:
        time.sleep(0.5)  # until ansible-playbook runs, so the kill leaves it orphaned
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=30)
    status = project.motorcade("status", "local")
    assert status.returncode == 0
    line = status.stdout.split("FIX_07", 1)[1].splitlines()[0]
    assert "interrupted" in line
    assert "STALE" in status.stdout
    refused = project.motorcade("apply", "local", "FIX_07")
    assert refused.returncode == 8
    assert "lock break local" in refused.stderr
    broken = project.motorcade("lock", "break", "local")
    assert broken.returncode == 0
    time.sleep(2)  # SIGTERM takes a moment
    assert not _processes_of(project), "an ansible-playbook of the killed apply is still running"
    (project.state / "go").touch()
    rerun = project.motorcade("apply", "local", "FIX_07")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    history = project.motorcade("history", "local", "FIX_07").stdout
    assert "interrupted" in history
    assert "passed" in history
