"""Which tasks check mode skipped without checking them, read from the motorcade_skips callback's records."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from motorcade.ansible import check_mode_skip, unchecked_tasks
from motorcade.callback_plugins.motorcade_skips import SKIPS_VAR, CallbackModule

# Records as the callback wrote them for a real `ansible-playbook --check` on localhost (ansible-core 2.19.14).
# ansible-runner's own `runner_on_skipped` events carry no `res` at all, hence the callback.
REAL_RECORDS: list[dict[str, Any]] = [
    {
        "host": "localhost",
        "task": "Podman volume (no check mode)",
        "res": {"msg": "remote module (containers.podman.podman_volume) does not support check mode"},
    },
    {"host": "localhost", "task": "Plain command", "res": {"msg": "Command would have run if not in check mode"}},
    {"host": "localhost", "task": "Raw", "res": {}},
    {
        "host": "localhost",
        "task": "Script without creates",
        "res": {"msg": "Check mode is not supported for this task."},
    },
    {
        "host": "localhost",
        "task": "Skipped by when",
        "res": {"skip_reason": "Conditional result was False", "false_condition": False},
    },
    # A loop: one line per item, then the loop's summary.
    {"host": "localhost", "task": "Loop of commands", "res": {"msg": "Command would have run if not in check mode"}},
    {"host": "localhost", "task": "Loop of commands", "res": {"msg": "Command would have run if not in check mode"}},
    {"host": "localhost", "task": "Loop of commands", "res": {"msg": "All items skipped", "results": 2}},
    {"host": "localhost", "task": "Empty loop", "res": {"skipped_reason": "No items in the list", "results": 0}},
    {
        "host": "localhost",
        "task": "Loop with when on some items",
        "res": {"skip_reason": "Conditional result was False", "false_condition": "item == 'a'"},
    },
]


def test_only_tasks_check_mode_could_not_run_are_unchecked() -> None:
    """Modules without check mode, commands and raw are listed once per task; `when: false` and empty loops are not."""
    found = unchecked_tasks(REAL_RECORDS)
    assert [(e.host, e.task) for e in found] == [
        ("localhost", "Podman volume (no check mode)"),
        ("localhost", "Plain command"),
        ("localhost", "Raw"),
        ("localhost", "Script without creates"),
        ("localhost", "Loop of commands"),
    ]
    assert found[0].status == "unchecked"
    assert found[0].message == "remote module (containers.podman.podman_volume) does not support check mode"
    assert "raw" in found[2].message


@pytest.mark.parametrize(
    ("res", "unchecked"),
    [
        ({"censored": "the output has been hidden due to the fact that 'no_log: true' was specified"}, True),
        ({"msg": "/etc/app.conf exists, matching creates option"}, False),
        ({"msg": "This action (ansible.builtin.reboot) does not support check mode."}, True),
    ],
)
def test_a_skip_is_unchecked_only_when_nothing_answered(res: dict[str, Any], unchecked: bool) -> None:
    """A no_log skip may hide a check-mode skip, so it is listed; a module's own answer to `creates` is not."""
    assert (check_mode_skip(res) is not None) is unchecked


def _result(res: dict[str, Any], task: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        result=res,
        host=SimpleNamespace(get_name=lambda: "db1"),
        task=SimpleNamespace(name=task, action="ansible.builtin.raw"),
    )


def test_the_callback_records_what_the_parser_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The callback writes host, task (as ansible-runner names it) and the reason fields; stdout is left out."""
    path = tmp_path / "skips.jsonl"
    monkeypatch.setenv(SKIPS_VAR, str(path))
    callback = CallbackModule()
    callback.v2_playbook_on_start(None)
    assert path.read_text() == ""  # the file exists from the start: its absence means the callback did not run
    callback.v2_runner_on_skipped(
        _result({"msg": "Command would have run if not in check mode", "stdout": "", "changed": False}, "Migrate")
    )
    callback.v2_runner_item_on_skipped(_result({"msg": "All items skipped", "results": [{}, {}]}, None))
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records == [
        {"host": "db1", "task": "Migrate", "res": {"msg": "Command would have run if not in check mode"}},
        {"host": "db1", "task": "ansible.builtin.raw", "res": {"msg": "All items skipped", "results": 2}},
    ]
    assert [e.task for e in unchecked_tasks(records)] == ["Migrate"]
