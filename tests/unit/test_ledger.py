"""The ledger's lock and run records, on a real SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from motorcade.errors import LockHeldError, StaleLockError
from motorcade.ledger import Ledger


def test_the_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    """While a live process holds the lock, acquiring it again raises LockHeldError naming that process."""
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.acquire("lab", "alice@box", "motorcade apply lab X")
    with pytest.raises(LockHeldError, match=f"pid {os.getpid()}") as caught:
        ledger.acquire("lab", "bob@box", "motorcade apply lab Y")
    assert not isinstance(caught.value, StaleLockError)
    ledger.release("lab")
    ledger.acquire("lab", "bob@box", "motorcade apply lab Y")


def test_a_lock_whose_process_is_gone_is_stale_and_breakable(tmp_path: Path) -> None:
    """A lock left by a dead process is reported stale; breaking it marks that process's runs interrupted."""
    path = tmp_path / "ledger.sqlite3"
    script = (
        "import sys; from pathlib import Path; from motorcade.ledger import Ledger;"
        f"l = Ledger(Path({str(path)!r})); l.acquire('lab', 'ghost', 'apply');"
        "l.start_run('r1', 'lab', 'A_01', 'apply', 'ghost', None)"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    ledger = Ledger(path)
    with pytest.raises(StaleLockError, match="motorcade lock break lab"):
        ledger.acquire("lab", "me", "apply")
    holder, interrupted = ledger.break_lock("lab")
    assert interrupted == ["r1"]
    assert holder is not None
    assert holder.owner == "ghost"
    run = ledger.run("r1")
    assert run is not None
    assert run.status == "interrupted"
    ledger.acquire("lab", "me", "apply")


def test_latest_applies_picks_the_newest_run_per_step(tmp_path: Path) -> None:
    """Only each step's newest apply counts; verify runs do not."""
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    for run_id, step, action, status in [
        ("1", "A", "apply", "failed"),
        ("2", "A", "apply", "passed"),
        ("3", "A", "verify", "failed"),
        ("4", "B", "apply", "passed"),
    ]:
        ledger.start_run(run_id, "lab", step, action, "me", None)
        ledger.finish_run(run_id, status, None, None, None)
    latest = ledger.latest_applies("lab")
    assert {k: v.id for k, v in latest.items()} == {"A": "2", "B": "4"}
