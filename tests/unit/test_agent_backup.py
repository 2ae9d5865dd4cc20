"""The agent's backup of a MariaDB database before the step that installs MariaDB, and when it does not answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motorcade import agent


def _fake_mysql(folder: Path, script: str) -> None:
    folder.mkdir(exist_ok=True)
    tool = folder / "mysql"
    tool.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    tool.chmod(0o755)


def test_without_mariadb_the_database_is_recorded_as_not_present_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a fresh host (no `mysql` at all) the backup gate passes and says the database is not there yet."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = agent.backup({"root": str(tmp_path), "id": "run-1", "mysql": [{"database": "wordpress"}]})
    assert result["items"] == [{"kind": "mysql", "source": "wordpress", "present": False}]
    manifest = json.loads((tmp_path / "run-1" / "manifest.json").read_text())
    assert manifest["items"][0]["present"] is False


def test_a_mariadb_that_does_not_answer_fails_the_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed MariaDB that cannot be asked is an error naming the database, not a silent skip."""
    _fake_mysql(tmp_path / "bin", 'echo "ERROR 2002 (HY000): Can\'t connect to local server" >&2\nexit 1\n')
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(RuntimeError, match="MariaDB did not answer whether wordpress exists: ERROR 2002"):
        agent.backup({"root": str(tmp_path), "id": "run-2", "mysql": [{"database": "wordpress"}]})


def test_a_server_without_the_database_records_it_as_not_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers without the database (the step creates it) is fine: nothing to back up yet."""
    _fake_mysql(tmp_path / "bin", "exit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = agent.backup({"root": str(tmp_path), "id": "run-3", "mysql": [{"database": "wordpress"}]})
    assert result["items"][0]["present"] is False
