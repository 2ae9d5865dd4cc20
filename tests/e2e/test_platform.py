"""Issues 4, 5 and 7 in the lab: the runbook from nothing through every gate, the LOCKED rerun refused, and drift."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import PLATFORM, WEBSITE, RunbookLab

pytestmark = pytest.mark.lab


def test_the_runbook_applies_from_nothing_through_every_gate(runbook_lab: RunbookLab) -> None:
    """`apply lab --through PLAT_07` on a fresh lab passes, and `status lab` shows every step it took complete."""
    applied = runbook_lab.applied
    assert applied.returncode == 0, applied.stdout[-6000:] + applied.stderr
    status = runbook_lab.motorcade("status", "lab").stdout
    for step in WEBSITE + PLATFORM:
        row = next((line for line in status.splitlines() if f" {step} " in line), f"{step}: no row")
        assert "complete" in row, status


def test_the_evidence_is_written_to_the_lab_workspace(runbook_lab: RunbookLab) -> None:
    """The deploy log, releases/lab.yaml and both checkpoints (website phase, PLAT_04A) are in the lab's workspace."""
    logs = list((runbook_lab.workspace / "docs/deployments").glob("*.md"))
    assert logs
    text = "".join(log.read_text() for log in logs)
    for step in ["WP_01", "WP_02", *PLATFORM]:
        assert f"lab {step} (apply) PASSED" in text, step
    releases = (runbook_lab.workspace / "releases/lab.yaml").read_text()
    for component in (
        "wordpress:",
        "podman:",
        "postgres-image:",
        "lead-intake:",
        "people:",
        "caddy:",
        "motorcade-backup:",
    ):
        assert component in releases, component
    checkpoints = runbook_lab.workspace / "docs/checkpoints"
    assert len(list(checkpoints.glob("*-PLAT_04A/checkpoint.yaml"))) == 1
    assert len(list(checkpoints.glob("*-WP_CHECKPOINT/checkpoint.yaml"))) == 1


def test_the_locked_step_refuses_a_rerun(runbook_lab: RunbookLab) -> None:
    """Once PLAT_04A has completed in the lab, applying it again exits 4 and names the next step."""
    again = runbook_lab.motorcade("apply", "lab", "PLAT_04A")
    assert again.returncode == 4
    assert "LOCKED" in again.stderr
    assert "PLAT_04" in again.stderr


# Every step the session applied, in two halves of about equal check-mode time (measured: ~135 s each).
DRIFT_HALVES = (
    ["WP_01", "PLAT_02C", "PLAT_03", "PLAT_06", "PLAT_07"],
    ["WP_02", "WP_CHECKPOINT", "PLAT_01", "PLAT_02A", "PLAT_02B", "PLAT_04A", "PLAT_04", "PLAT_05"],
)


def test_a_hand_edit_is_drift_until_the_step_is_rerun(runbook_lab: RunbookLab) -> None:
    """No drift after apply; a hand-edited config file is reported by `drift` (exit 6) and undone by a rerun."""
    # Every step in check mode after the whole apply: a later step that undoes an earlier one shows here, where each
    # step's own idempotence gate ran before the later steps. `drift` takes no lock and check mode changes nothing, so
    # the two halves run at once (the lab host is CPU-bound with one of them only about half of the time).
    assert sorted(DRIFT_HALVES[0] + DRIFT_HALVES[1]) == sorted(WEBSITE + PLATFORM)
    with ThreadPoolExecutor(max_workers=2) as pool:
        halves = list(pool.map(lambda steps: runbook_lab.motorcade("drift", "lab", *steps), DRIFT_HALVES))
    for steps, clean in zip(DRIFT_HALVES, halves, strict=True):
        assert clean.returncode == 0, clean.stdout + clean.stderr
        for step in steps:
            if step != "WP_CHECKPOINT":  # a checkpoint has no playbook to check
                assert f"{step}: no drift" in clean.stdout, clean.stdout
    edited = runbook_lab.on_host("echo '# hot edit' >> /etc/containers/containers.conf")
    assert edited.returncode == 0, edited.stderr
    drifted = runbook_lab.motorcade("drift", "lab", "PLAT_01")
    assert drifted.returncode == 6, drifted.stdout + drifted.stderr
    assert "PLAT_01" in drifted.stdout
    rerun = runbook_lab.motorcade("apply", "lab", "PLAT_01")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr
    assert "# hot edit" not in runbook_lab.on_host("cat /etc/containers/containers.conf").stdout
    assert runbook_lab.motorcade("drift", "lab", "PLAT_01").returncode == 0


def test_rerunning_the_foundations_and_the_database_steps_keeps_the_database(runbook_lab: RunbookLab) -> None:
    """PLAT_02A and PLAT_02C both ensure the PostgreSQL data volume; applied again after the whole runbook, neither
    recreates it (podman_volume would, emptying it, where the two steps' labels differ) and the cluster is the same.
    Nor does PLAT_02C restart PostgreSQL again: its restart check was proven on the first run for this unit, image
    and volume, and a restart would drop every API's connections."""
    identity = (
        "podman volume inspect --format '{{.CreatedAt}}' motorcade-postgres-data\n"
        "podman container inspect --format '{{.State.StartedAt}}' motorcade-postgres\n"
        "psql='podman exec motorcade-postgres psql -U postgres -At'\n"
        "$psql -c 'SELECT system_identifier FROM pg_control_system()'\n"
        "$psql -d motorcade -c 'SELECT count(*) FROM leads.schema_migrations'"
    )
    before = runbook_lab.on_host(identity)
    assert before.returncode == 0, before.stderr
    assert before.stdout.split()[-1] != "0", before.stdout  # lead-intake's migrations are in the database
    rerun = runbook_lab.motorcade("apply", "lab", "PLAT_02A", "PLAT_02C")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr
    after = runbook_lab.on_host(identity)
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout
