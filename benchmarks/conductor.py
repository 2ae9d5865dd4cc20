#!/usr/bin/env python3
"""Conductor benchmarks, measured side by side in one run (figures, not pass/fail).

1. The run stage of `motorcade apply` (ansible-runner with our event handler) against bare
   `ansible-playbook` on the same playbook and inventory, alternating, median of N each.
   Target ratio <= 1.05.
2. `motorcade status` (the whole CLI, wall clock) on a ledger holding 1,000 recorded runs.
   Target <= 0.3 s.

Usage: python benchmarks/conductor.py [--rounds 5] [--tasks 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from motorcade.ansible import Target, run_playbook
from motorcade.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "project"


def make_playbook(folder: Path, tasks: int) -> Path:
    lines = ["- name: Benchmark play", "  hosts: local", "  gather_facts: false", "  tasks:"]
    for i in range(tasks):
        lines += [
            f"    - name: Ensure benchmark file {i} exists.",
            "      ansible.builtin.copy:",
            f'        dest: "{{{{ fixture_root }}}}/bench-{i}.txt"',
            f'        content: "{i}\\n"',
            '        mode: "0644"',
        ]
    path = folder / "ansible" / "playbooks" / "BENCH_01.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def bench_run_stage(root: Path, rounds: int, tasks: int) -> None:
    playbook = make_playbook(root, tasks)
    inventory = root / "ansible" / "inventories" / "local"
    target = Target([inventory], root / "ansible")
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible" / "ansible.cfg"))
    bare, ours = [], []
    run_playbook(playbook, target, root / "warm")  # first run creates the files; both sides then converge
    for i in range(rounds):
        start = time.perf_counter()
        subprocess.run(
            ["ansible-playbook", "-i", str(inventory), str(playbook)], env=env, check=True, stdout=subprocess.DEVNULL
        )
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        recap = run_playbook(playbook, target, root / f"r{i}", progress=lambda event: None)
        ours.append(time.perf_counter() - start)
        if not recap.passed:
            raise SystemExit(f"the benchmark playbook failed: {recap.why()}")
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"run stage, {tasks} tasks on localhost, median of {rounds}:")
    print(f"  bare ansible-playbook      {b:6.2f} s   (min {min(bare):.2f}, max {max(bare):.2f})")
    print(f"  motorcade (ansible-runner) {o:6.2f} s   (min {min(ours):.2f}, max {max(ours):.2f})")
    print(f"  ratio                      {o / b:6.3f}   (target <= 1.05)")


def bench_status(root: Path, rounds: int, runs: int = 1000) -> None:
    workspace = root / "workspace"
    ledger = Ledger(workspace / ".motorcade" / "ledger.sqlite3")
    steps = ["FIX_01", "FIX_02", "FIX_03", "FIX_04", "FIX_05", "FIX_06", "FIX_07", "FIX_08"]
    for i in range(runs):
        run_id = f"local-{steps[i % len(steps)]}-{i:05d}"
        ledger.start_run(run_id, "local", steps[i % len(steps)], "apply", "bench", None)
        for gate in ("lock", "preflight", "backup", "run", "idempotence", "verify", "pin", "log"):
            ledger.record_gate(run_id, gate, "passed", "benchmark")
        ledger.finish_run(run_id, "passed" if i % 3 else "failed", None if i % 3 else "verify", None, None)
    ledger.close()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "motorcade.cli.main", "--runbook", str(root / "runbook.yaml"), "status", "local"],
            check=True,
            stdout=subprocess.DEVNULL,
            cwd=root,
        )
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    python = time.perf_counter() - start
    print(f"motorcade status with {runs} recorded runs, wall clock, median of {rounds}:")
    print(
        f"  motorcade status local     {statistics.median(times):6.3f} s   (min {min(times):.3f}; "
        f"bare python start {python:.3f} s; target <= 0.3 s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="motorcade-bench-") as tmp:
        root = Path(tmp) / "project"
        shutil.copytree(FIXTURE, root)
        state = Path(tmp) / "server"
        state.mkdir()
        with (root / "ansible/inventories/local/group_vars/all/main.yml").open("a") as handle:
            handle.write(f"fixture_root: {state}\n")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        bench_run_stage(root, args.rounds, args.tasks)
        bench_status(root, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
