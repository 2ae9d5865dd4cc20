"""The ansible-runner adapter: run one playbook, follow its events, and return a `Recap`.

A run passes only when ansible-runner says `successful`, rc is 0, stats are present (ansible-runner
can report rc 0 without stats, issue 640) and no host failed or was unreachable.

In check mode Ansible skips every task whose module cannot predict its effect; those tasks were never checked, so a
check run also lists them (`Recap.unchecked`). ansible-runner's skip events carry no result, so the reasons come from
our own callback (`callback_plugins/motorcade_skips.py`), which writes them to a file in the run's folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motorcade.errors import AnsibleError


@dataclass(frozen=True)
class TaskEvent:
    """One task result on one host, as the progress display shows it."""

    host: str
    task: str
    status: str  # ok | changed | failed | unreachable | skipped | ignored | unchecked
    message: str = ""


@dataclass
class HostStats:
    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0
    ignored: int = 0

    def line(self, host: str) -> str:
        return (
            f"{host} ok={self.ok} changed={self.changed} failed={self.failures} "
            f"unreachable={self.unreachable} skipped={self.skipped}"
        )


@dataclass
class Recap:
    """What one playbook run did, per host and per task."""

    playbook: str
    status: str
    rc: int
    stats: dict[str, HostStats] | None
    artifact_dir: Path
    changed: list[TaskEvent] = field(default_factory=list)
    failed: list[TaskEvent] = field(default_factory=list)
    unreachable: list[TaskEvent] = field(default_factory=list)
    # Check runs only: tasks check mode skipped without predicting them (message: Ansible's reason).
    unchecked: list[TaskEvent] = field(default_factory=list)
    results: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (
            self.status == "successful"
            and self.rc == 0
            and self.stats is not None
            and not self.failed
            and not self.unreachable
            and self.failures == 0
        )

    @property
    def failures(self) -> int:
        return sum(s.failures + s.unreachable for s in (self.stats or {}).values())

    @property
    def changed_count(self) -> int:
        return sum(s.changed for s in (self.stats or {}).values())

    def line(self) -> str:
        if self.stats is None:
            return f"{self.playbook}: {self.status} rc={self.rc}, no stats"
        hosts = "; ".join(stats.line(host) for host, stats in sorted(self.stats.items()))
        return hosts or f"{self.playbook}: no hosts matched"

    def why(self) -> str:
        """One line saying why the run did not pass."""
        if self.unreachable:
            event = self.unreachable[0]
            return f"host {event.host} unreachable: {event.message}"
        if self.failed:
            event = self.failed[0]
            return f"task {event.task!r} failed on {event.host}: {event.message}"
        if self.stats is None:
            return f"ansible-runner ended {self.status} (rc {self.rc}) without stats"
        return f"ansible-runner ended {self.status} (rc {self.rc})"

    def task_results(self, task: str) -> list[tuple[str, dict[str, Any]]]:
        """The `res` of every host for tasks named `task` (used to read reports from gate playbooks)."""
        return [(host, res) for host, name, res in self.results if name == task]


Progress = Callable[[TaskEvent], None]


@dataclass(frozen=True)
class Target:
    """Where and how a playbook runs: the environment's inventory and secrets."""

    inventory: Sequence[Path]
    ansible_dir: Path
    vault_password_file: Path | None = None
    limit: str | None = None


MESSAGE_CHARS = 800  # a failed task's message is printed up to this long: enough for an assert's remediation


def _message(res: Mapping[str, Any]) -> str:
    """What a failed task said. A loop says only "One or more items failed": its first failed item says what."""
    items = res.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("failed") and (said := _message(item)):
                label = item.get("_ansible_item_label", item.get("item"))
                prefix = f"item {label}: " if isinstance(label, str | int) else ""
                return (prefix + said)[:MESSAGE_CHARS]
    for key in ("msg", "stderr", "reason"):
        value = res.get(key)
        if value:
            return " ".join(str(value).split())[:MESSAGE_CHARS]
    return ""


def check_mode_skip(res: Mapping[str, Any]) -> str | None:
    """Why check mode skipped a task without checking it, from the skipped result `res`; None for a real answer.

    A false `when` (`false_condition`, `skip_reason`) or an empty loop (`skipped_reason`) is a real answer: an apply
    would not run the task either. A loop's summary (`results`) is not judged: its items are, one by one.
    """
    if any(key in res for key in ("false_condition", "skip_reason", "skipped_reason", "results")):
        return None
    if "censored" in res:
        return "skipped; no_log hides why"
    message = " ".join(str(res.get("msg") or "").split())[:400]
    if not message:
        return "skipped with no reason given (ansible.builtin.raw does so in check mode)"
    # "remote module (...) does not support check mode", "This action (...) does not support check mode.",
    # "Command would have run if not in check mode", "Check mode is not supported for this task." (script)
    if "check mode" in message.lower():
        return message
    return None  # a module's own answer, e.g. script's "... exists, matching creates option"


def unchecked_tasks(records: Iterable[Mapping[str, Any]]) -> list[TaskEvent]:
    """The tasks check mode skipped without checking, once per host and task, from `motorcade_skips` records."""
    found: dict[tuple[str, str], TaskEvent] = {}
    for record in records:
        reason = check_mode_skip(record.get("res") or {})
        key = (str(record.get("host") or ""), str(record.get("task") or ""))
        if reason is not None and key not in found:
            found[key] = TaskEvent(key[0], key[1], "unchecked", reason)
    return list(found.values())


def _read_skips(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


SKIPS_VAR = "MOTORCADE_SKIPS_FILE"  # read by callback_plugins/motorcade_skips.py
CALLBACK_DIR = Path(__file__).parent / "callback_plugins"


def run_playbook(
    playbook: Path,
    target: Target,
    private_dir: Path,
    *,
    extravars: Mapping[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    collect: Sequence[str] = (),
    progress: Progress | None = None,
) -> Recap:
    """Run `playbook` through ansible-runner and summarise it; tasks named in `collect` keep their results.

    With `check`, the recap also lists the tasks check mode skipped without checking (`Recap.unchecked`).
    """
    if not playbook.is_file():
        raise AnsibleError(f"playbook not found: {playbook}")
    private_dir.mkdir(parents=True, exist_ok=True)
    cmdline: list[str] = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    if target.vault_password_file is not None:
        cmdline += ["--vault-password-file", str(target.vault_password_file)]
    if target.limit:
        cmdline += ["--limit", target.limit]
    recap = Recap(playbook.name, "unstarted", -1, None, private_dir / "artifacts")
    wanted = set(collect)

    def on_event(event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        host = str(data.get("host") or data.get("remote_addr") or "")
        task = str(data.get("task") or "")
        res = data.get("res") or {}
        status: str | None = None
        if kind == "runner_on_ok":
            status = "changed" if res.get("changed") else "ok"
        elif kind == "runner_on_failed":
            status = "ignored" if data.get("ignore_errors") else "failed"
        elif kind == "runner_on_unreachable":
            status = "unreachable"
        elif kind == "runner_on_skipped":
            status = "skipped"
        if status is None:
            return True
        task_event = TaskEvent(host, task, status, _message(res) if status in ("failed", "unreachable") else "")
        if status == "changed":
            recap.changed.append(task_event)
        elif status == "failed":
            recap.failed.append(task_event)
        elif status == "unreachable":
            recap.unreachable.append(task_event)
        if task in wanted:
            recap.results.append((host, task, dict(res)))
        if progress is not None:
            progress(task_event)
        return True

    envvars = {
        "ANSIBLE_CONFIG": str(target.ansible_dir / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(target.ansible_dir / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        # Lets `motorcade lock break` find and stop an ansible-playbook orphaned by a killed conductor.
        RUN_DIR_VAR: str(private_dir.resolve()),
    }
    skips = private_dir / "skips.jsonl"
    if check:
        skips.unlink(missing_ok=True)  # a reused folder must not report an earlier run's skips
        envvars[SKIPS_VAR] = str(skips.resolve())
        envvars["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(
            filter(None, (str(CALLBACK_DIR), os.environ.get("ANSIBLE_CALLBACK_PLUGINS")))
        )
    import ansible_runner  # imported here: it is slow to import and `status` never needs it

    try:
        result = ansible_runner.run(
            private_data_dir=str(private_dir),
            project_dir=str(target.ansible_dir),
            playbook=str(playbook.resolve()),
            inventory=[str(p) for p in target.inventory],
            extravars=dict(extravars or {}),
            cmdline=" ".join(_quote(c) for c in cmdline) or None,
            envvars=envvars,
            event_handler=on_event,
            quiet=True,
            json_mode=False,
            ident="run",
        )
    except Exception as exc:  # ansible-runner raises bare exceptions for setup problems
        raise AnsibleError(f"ansible-runner could not run {playbook.name}: {exc}") from exc
    recap.status = str(result.status)
    recap.rc = int(result.rc if result.rc is not None else -1)
    recap.artifact_dir = Path(result.config.artifact_dir)
    stats = result.stats
    if stats:
        hosts: dict[str, HostStats] = {}
        for key, attr in (
            ("ok", "ok"),
            ("changed", "changed"),
            ("failures", "failures"),
            ("dark", "unreachable"),
            ("skipped", "skipped"),
            ("ignored", "ignored"),
        ):
            for host, count in (stats.get(key) or {}).items():
                setattr(hosts.setdefault(host, HostStats()), attr, int(count))
        for host in stats.get("processed") or {}:
            hosts.setdefault(host, HostStats())
        recap.stats = hosts
    if check and recap.stats is not None:
        if not skips.is_file():
            # Without it every skipped task would pass for checked: the very blindness the list exists to end.
            raise AnsibleError(f"the motorcade_skips callback did not run for {playbook.name} (from {CALLBACK_DIR})")
        recap.unchecked = unchecked_tasks(_read_skips(skips))
    return recap


RUN_DIR_VAR = "MOTORCADE_RUN_DIR"


def stop_orphans(run_dirs: Sequence[Path]) -> list[int]:
    """SIGTERM every process started for one of `run_dirs` (found by its environment); their pids."""
    import signal

    wanted = {str(d.resolve()) for d in run_dirs}
    stopped: list[int] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(RUN_DIR_VAR.encode() + b"="):
                value = entry.split(b"=", 1)[1].decode(errors="replace")
                if any(value == d or value.startswith(d + "/") for d in wanted):
                    try:
                        os.kill(int(proc.name), signal.SIGTERM)
                        stopped.append(int(proc.name))
                    except OSError:
                        pass
                break
    return stopped


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./=:@," for c in arg) else "'" + arg.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class Inventory:
    """An environment's hosts, groups and variables as Ansible resolves them (vault decrypted)."""

    hostvars: dict[str, dict[str, Any]]
    groups: dict[str, list[str]]

    def hosts(self, pattern: str) -> list[str]:
        """Hosts matching a simple pattern: `all`, group or host names joined by `:` or `,`."""
        found: list[str] = []
        for part in pattern.replace(",", ":").split(":"):
            part = part.strip()
            names = (
                sorted(self.hostvars)
                if part == "all"
                else self.groups.get(part, [part] if part in self.hostvars else [])
            )
            found += [name for name in names if name not in found]
        return found


def read_inventory(target: Target) -> Inventory:
    """Run `ansible-inventory --list` on the target's sources and return hosts, groups and variables."""
    args = ["ansible-inventory", "--list"]
    for inventory in target.inventory:
        args += ["-i", str(inventory)]
    if target.vault_password_file is not None:
        args += ["--vault-password-file", str(target.vault_password_file)]
    env = dict(os.environ, ANSIBLE_CONFIG=str(target.ansible_dir / "ansible.cfg"))
    try:
        # stdin from /dev/null: Ansible refuses to start with a non-blocking stdin (a conductor run in the background
        # of some shells, or under a CI runner), and ansible-inventory never reads it.
        proc = subprocess.run(
            args, capture_output=True, stdin=subprocess.DEVNULL, text=True, env=env, timeout=120, check=False
        )
    except FileNotFoundError as exc:
        raise AnsibleError("ansible-inventory not found: install Ansible (./run setup)") from exc
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        raise AnsibleError("cannot read the inventory: " + (lines[-1] if lines else f"exit {proc.returncode}"))
    data = json.loads(proc.stdout)
    hostvars: dict[str, dict[str, Any]] = dict((data.pop("_meta", {}) or {}).get("hostvars") or {})

    def members(group: str, seen: set[str]) -> list[str]:
        if group in seen:
            return []
        seen.add(group)
        node = data.get(group) or {}
        hosts = list(node.get("hosts") or [])
        for child in node.get("children") or []:
            hosts += members(child, seen)
        return hosts

    groups = {group: sorted(set(members(group, set()))) for group in data}
    for host in groups.get("all", []):
        hostvars.setdefault(host, {})
    return Inventory(hostvars, groups)
