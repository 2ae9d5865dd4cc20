"""Issue 4 in the lab: PLAT_01..PLAT_04A from nothing through every gate, the LOCKED rerun refused, and drift."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PLATFORM, Lab

pytestmark = pytest.mark.lab


def test_the_platform_steps_pass_every_gate_from_nothing(platform_lab: Lab) -> None:
    """Applying PLAT_01..PLAT_04A to a fresh lab passes, and `status lab` shows each platform step complete."""
    assert platform_lab.applied.returncode == 0, platform_lab.applied.stdout[-4000:] + platform_lab.applied.stderr
    status = platform_lab.motorcade("status", "lab").stdout
    for step in PLATFORM:
        assert "complete" in status.split(f" {step} ", 1)[1].splitlines()[0], status


def test_the_evidence_is_written_to_the_lab_workspace(platform_lab: Lab) -> None:
    """The deploy log, releases/lab.yaml and PLAT_04A's checkpoint exist in the lab's own workspace."""
    logs = list((platform_lab.workspace / "docs/deployments").glob("*.md"))
    assert logs
    text = "".join(log.read_text() for log in logs)
    for step in PLATFORM:
        assert f"lab {step} (apply) PASSED" in text
    releases = (platform_lab.workspace / "releases/lab.yaml").read_text()
    assert "podman:" in releases
    assert "postgres-image:" in releases
    checkpoints = list((platform_lab.workspace / "docs/checkpoints").glob("*-PLAT_04A/checkpoint.yaml"))
    assert len(checkpoints) == 1


def test_the_locked_step_refuses_a_rerun(platform_lab: Lab) -> None:
    """Once PLAT_04A has completed in the lab, applying it again exits 4 and names the next step."""
    again = platform_lab.motorcade("apply", "lab", "PLAT_04A")
    assert again.returncode == 4
    assert "LOCKED" in again.stderr
    assert "PLAT_04" in again.stderr


def test_a_hand_edit_is_drift_until_the_step_is_rerun(platform_lab: Lab) -> None:
    """No drift after apply; a hand-edited config file is reported by `drift` (exit 6) and undone by a rerun."""
    clean = platform_lab.motorcade("drift", "lab")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    edited = platform_lab.on_host("echo '# hot edit' >> /etc/containers/containers.conf")
    assert edited.returncode == 0, edited.stderr
    drifted = platform_lab.motorcade("drift", "lab", "PLAT_01")
    assert drifted.returncode == 6, drifted.stdout + drifted.stderr
    assert "PLAT_01" in drifted.stdout
    rerun = platform_lab.motorcade("apply", "lab", "PLAT_01")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr
    assert "# hot edit" not in platform_lab.on_host("cat /etc/containers/containers.conf").stdout
    assert platform_lab.motorcade("drift", "lab", "PLAT_01").returncode == 0
