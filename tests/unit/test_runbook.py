"""The runbook loader: the real runbook loads, and every kind of mistake is one line with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from motorcade.errors import RunbookError
from motorcade.render import render
from motorcade.runbook import load

REPO = Path(__file__).resolve().parents[2]
SEED_ORDER = [
    "WP_01_services_one_and_done.yml",
    "WP_02_intake_and_scheduling.yml",
    None,
    "PLAT_01_docker_runtime_base.yml",
    "PLAT_02A_networks_volumes_systemd_foundations.yml",
    "PLAT_02B_postgres_foundation.yml",
    "PLAT_02C_postgres_bringup.yml",
    "PLAT_03_postgres_schema_roles.yml",
    "PLAT_04A_postgres_connectivity_ro.yml",
    "PLAT_04_lead_intake_api.yml",
    "PLAT_05_people_api.yml",
    "PLAT_06_reverse_proxy_routes.yml",
    "PLAT_07_backups_postgres_to_s3.yml",
    "ID_01_keycloak_bootstrap.yml",
    "ID_02_freeipa_directory.yml",
    "ID_03_service_accounts_and_rbac.yml",
    "MAIL_01_mailcow_deploy.yml",
    "MAIL_02_imap_migrate.yml",
    "MAIL_03_branding.yml",
]


def test_the_repository_runbook_has_the_seed_order_and_lock() -> None:
    """runbook.yaml lists the runbook's 19 items in order with exact playbook names and PLAT_04A's lock."""
    runbook = load(REPO / "runbook.yaml")
    assert [s.playbook for s in runbook.steps] == SEED_ORDER
    assert [p.title for p in runbook.doc.phases] == [
        "Website (temporary WordPress)",
        "Platform (containers)",
        "Identity (SSO / directory)",
        "Mail/Calendar (groupware)",
    ]
    lock = runbook.step("PLAT_04A").locked
    assert lock is not None
    assert lock.checkpoint == "docs/checkpoints/2026-01-20-PLAT_04A/"
    assert "motorcade-postgres" in lock.root_cause
    assert lock.proceed_next == "PLAT_04"
    assert set(runbook.doc.environments) == {"staging", "prod", "lab"}
    assert runbook.environment("prod").promotes_from == "staging"


def test_committed_runbook_md_matches_runbook_yaml() -> None:
    """RUNBOOK.md is exactly what `motorcade runbook render` makes of runbook.yaml."""
    runbook = load(REPO / "runbook.yaml")
    assert (REPO / "RUNBOOK.md").read_text(encoding="utf-8") == render(runbook), "run `motorcade runbook render`"


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "ansible/playbooks").mkdir(parents=True)
    (tmp_path / "ansible/playbooks/A_01_first.yml").write_text("- hosts: all\n  tasks: []\n")
    (tmp_path / "ansible/playbooks/B_01_second.yml").write_text("- hosts: all\n  tasks: []\n")
    path = tmp_path / "runbook.yaml"
    path.write_text(body)
    return path


BASE = """\
version: 1
title: T
preamble: p
rules: []
environments:
  lab: {description: d, inventory: inv}
phases:
  - id: one
    title: One
    steps:
      - id: A_01
        title: First
        playbook: A_01_first.yml
      - id: B_01
        title: Second
        playbook: B_01_second.yml
        requires: [A_01]
acceptance: []
"""


def test_a_valid_small_runbook_loads(tmp_path: Path) -> None:
    """The base document used by the rejection tests is itself valid."""
    runbook = load(_write(tmp_path, BASE))
    assert [s.id for s in runbook.steps] == ["A_01", "B_01"]


@pytest.mark.parametrize(
    ("change", "line", "field", "problem"),
    [
        (("        title: Second\n", "        title: Second\n        colour: blue\n"), 16, "colour", "unknown key"),
        (("      - id: B_01\n", "      - id: A_01\n"), 14, "id", "duplicate step id 'A_01'"),
        (("requires: [A_01]", "requires: [Z_99]"), 17, "requires", "unknown step 'Z_99'"),
        (("playbook: B_01_second.yml", "playbook: B_02_missing.yml"), 16, "playbook", "missing playbook file"),
        (
            ("        playbook: A_01_first.yml\n", "        playbook: A_01_first.yml\n        requires: [B_01]\n"),
            14,
            "requires",
            "circular prerequisites",
        ),
        (("inventory: inv}", "inventory: inv, idempotence: sometimes}"), 6, "idempotence", "Input should be"),
        (
            ("        title: Second\n", "        title: Second\n        touches_state: true\n"),
            16,
            "touches_state",
            "needs a `backup`",
        ),
    ],
)
def test_mistakes_are_rejected_with_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, field: str, problem: str
) -> None:
    """Each invalid runbook raises RunbookError naming the line and field of the mistake."""
    body = BASE.replace(*change)
    assert body != BASE
    with pytest.raises(RunbookError) as caught:
        load(_write(tmp_path, body))
    message = str(caught.value)
    assert f"runbook.yaml:{line}: " in message, message
    assert field in caught.value.field
    assert problem in message
    assert "\n" not in message


def test_planned_step_may_lack_its_playbook_and_is_reported_once_it_exists(tmp_path: Path) -> None:
    """A planned step needs no playbook; once its playbook exists it is listed as a stale plan, still not ready."""
    body = BASE.replace("playbook: B_01_second.yml", "playbook: B_02_later.yml\n        planned: 12")
    runbook = load(_write(tmp_path, body))
    assert runbook.step("B_01").planned == 12
    assert runbook.stale_plans() == []
    (tmp_path / "ansible/playbooks/B_02_later.yml").write_text("- hosts: all\n  tasks: []\n")
    runbook = load(tmp_path / "runbook.yaml")
    assert [s.id for s in runbook.stale_plans()] == ["B_01"]
    assert [s.id for s in runbook.ready_steps()] == ["A_01"]
