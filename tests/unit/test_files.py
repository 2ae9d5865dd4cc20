"""Release manifests, the deploy log and variable substitution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from motorcade import journal, releases
from motorcade.context import substitute


def test_pinning_keeps_comments_and_order(tmp_path: Path) -> None:
    """Writing a pin updates one component in place and keeps hand-written comments and order."""
    path = tmp_path / "lab.yaml"
    path.write_text(
        "# kept comment\nenvironment: lab\ncomponents:\n  zeta:  # why zeta\n    kind: package\n"
        "    version: '1'\n  alpha:\n    kind: image\n    version: sha256:aa\n"
    )
    releases.pin(
        path,
        "lab",
        "S_01",
        "run-1",
        "2026-11-27",
        {"zeta": {"kind": "package", "version": "2"}, "new": {"kind": "command", "version": "3"}},
    )
    text = path.read_text()
    assert "# kept comment" in text
    assert "# why zeta" in text
    assert text.index("zeta") < text.index("alpha") < text.index("new:")
    assert releases.read(path)["zeta"]["version"] == "2"
    assert releases.read(path)["alpha"]["version"] == "sha256:aa"


def test_the_deploy_log_appends_entries_under_a_dated_file(tmp_path: Path) -> None:
    """Entries go to docs/deployments/YYYY-MM-DD.md (UTC), titled once, and are found by run id."""
    when = datetime(2026, 11, 27, 23, 59, tzinfo=UTC)
    for run in ("r-1", "r-2"):
        journal.append(tmp_path, journal.Entry(run, "lab", "S_01", "apply", "failed", "me", "abc"), when)
    text = (tmp_path / "2026-11-27.md").read_text()
    assert text.count("# Deployments 2026-11-27") == 1
    assert journal.mentions(tmp_path, "2026-11-27", "r-2")
    assert not journal.mentions(tmp_path, "2026-11-27", "r-3")


def test_substitution_fills_variables_and_refuses_unknown_ones() -> None:
    """`{{ name }}` in check specs is filled from host variables; an unknown name raises KeyError."""
    assert substitute({"url": "https://{{ host }}:{{ port }}/", "n": [1, "{{port}}"]}, {"host": "h", "port": 8443}) == {
        "url": "https://h:8443/",
        "n": [1, "8443"],
    }
    ports = {"motorcade_lab_ports": {"app": {"host": 42081}}, "hosts": ["a", "b"]}
    assert substitute("http://127.0.0.1:{{ motorcade_lab_ports.app.host }}/{{ hosts.1 }}", ports) == (
        "http://127.0.0.1:42081/b"
    )
    with pytest.raises(KeyError, match="nope"):
        substitute("{{ nope }}", {})


def test_environment_paths_expand_variables_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """`${VAR:-default}` in runbook paths takes the variable when set and non-empty, else the default."""
    from motorcade.runbook import expand_env

    monkeypatch.delenv("MOTORCADE_TEST_HOME", raising=False)
    assert expand_env("${MOTORCADE_TEST_HOME:-.lab}/inventory") == ".lab/inventory"
    monkeypatch.setenv("MOTORCADE_TEST_HOME", "/var/tmp/lab2")
    assert expand_env("${MOTORCADE_TEST_HOME:-.lab}/inventory") == "/var/tmp/lab2/inventory"
    assert expand_env("${MOTORCADE_TEST_HOME}/x") == "/var/tmp/lab2/x"
