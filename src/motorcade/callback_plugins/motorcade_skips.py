"""Ansible callback: one JSON line per skipped task (or loop item) with why it was skipped.

ansible-runner's `runner_on_skipped` event carries no result, so a task check mode skipped because its module cannot
predict its effect looks the same as one a false `when` skipped. `motorcade.ansible.run_playbook` points
MOTORCADE_SKIPS_FILE at a file in the run's folder and reads these lines after the run (`unchecked_tasks`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ansible.plugins.callback import CallbackBase  # type: ignore[import-untyped]

DOCUMENTATION = """
name: motorcade_skips
type: aggregate
short_description: records why each task was skipped, for motorcade
description:
  - Appends one JSON line per skipped task or loop item to the file named by MOTORCADE_SKIPS_FILE.
"""

SKIPS_VAR = "MOTORCADE_SKIPS_FILE"
# The result's fields that say why it was skipped; the rest (stdout, invocation...) is left out.
REASON_KEYS = ("msg", "skip_reason", "skipped_reason", "false_condition", "censored")


class CallbackModule(CallbackBase):  # type: ignore[misc]
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "motorcade_skips"
    # Loaded only from the directory motorcade adds to ANSIBLE_CALLBACK_PLUGINS, and silent without the variable.
    CALLBACK_NEEDS_ENABLED = False

    def v2_playbook_on_start(self, playbook: Any) -> None:
        # An empty file proves the callback ran: no file after a run means skips went unrecorded.
        self._write(None)

    def v2_runner_on_skipped(self, result: Any) -> None:
        self._write(result)

    def v2_runner_item_on_skipped(self, result: Any) -> None:
        self._write(result)

    def _write(self, result: Any) -> None:
        path = os.environ.get(SKIPS_VAR)
        if not path:
            return
        text = ""
        if result is not None:
            res = dict(result.result)
            task = result.task
            line: dict[str, Any] = {
                "host": result.host.get_name(),
                "task": task.name or task.action,  # as ansible-runner's events name it (no role prefix)
                "res": {key: res[key] for key in REASON_KEYS if key in res},
            }
            if "results" in res:
                line["res"]["results"] = len(res["results"])  # a loop's summary: its items come as their own lines
            text = json.dumps(line, default=str) + "\n"
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write(text)
