"""Benchmark the lab: `up` from nothing (cold cache), `up` from cache, `down`, and `up` after `down`.

Run as root on the machine that hosts the lab:

    python benchmarks/lab_up.py              # cold in a throwaway cache, then cached runs
    python benchmarks/lab_up.py --skip-cold  # only the cached runs, reusing the shared cache

It uses a lab of its own (name motorcade-labbench, free ports, a temporary home), removes everything it
created at the end, and prints one line per measurement. Targets: cold ≤ 600 s, cached ≤ 120 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from motorcade import lab  # noqa: E402 - the path above makes the source tree importable
from motorcade.lab import artifacts, host  # noqa: E402
from motorcade.lab.ports import free_port  # noqa: E402

TARGETS = {"up, cold cache": 600.0, "up, from cache": 120.0}


class Timeline:
    """Progress callback that remembers when each event arrived, to split a run into stages."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: list[tuple[float, lab.LabEvent]] = []

    def __call__(self, event: lab.LabEvent) -> None:
        self.marks.append((time.monotonic() - self.start, event))

    def stages(self, total: float) -> str:
        parts = []
        for index, (at, event) in enumerate(self.marks):
            until = self.marks[index + 1][0] if index + 1 < len(self.marks) else total
            if until - at >= 0.5:
                parts.append(f"{event.message[:48]} {until - at:.1f}s")
        return "; ".join(parts)


def measure(label: str, action: Callable[[Timeline], object], results: list[tuple[str, float, str]]) -> None:
    timeline = Timeline()
    started = time.monotonic()
    action(timeline)
    elapsed = time.monotonic() - started
    target = TARGETS.get(label)
    verdict = ""
    if target is not None:
        verdict = f" (target ≤ {target:.0f} s: {'met' if elapsed <= target else 'MISSED'})"
    results.append((label, elapsed, timeline.stages(elapsed)))
    print(f"{label:<32} {elapsed:7.1f} s{verdict}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-cold", action="store_true", help="reuse the shared cache instead of a cold one")
    parser.add_argument("--stages", action="store_true", help="also print where each run spent its time")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="motorcade-labbench-"))
    env = {
        **os.environ,
        "MOTORCADE_LAB_HOME": str(work / "home"),
        "MOTORCADE_LAB_NAME": "motorcade-labbench",
        **{f"MOTORCADE_LAB_PORT_{name}": str(free_port()) for name in ("SSH", "HTTP", "HTTPS", "APP")},
    }
    if not options.skip_cold:
        env["MOTORCADE_LAB_CACHE"] = str(work / "cache")
    config = lab.load_config(REPO, env)
    image = host.host_image_name(artifacts.planned(config, "host"))
    results: list[tuple[str, float, str]] = []
    print(f"lab benchmark: {os.cpu_count()} cores, cache {config.cache}", flush=True)
    try:
        if not options.skip_cold:
            in_use = subprocess.run(
                ["podman", "ps", "-a", "--filter", f"ancestor={image}", "--format", "{{.Names}}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            if in_use:
                print(
                    f"cannot measure a cold start: {image} is used by {', '.join(in_use)}; "
                    "run `motorcade lab reset --keep-down` there or use --skip-cold",
                    file=sys.stderr,
                )
                return 2
            subprocess.run(["podman", "rmi", "--ignore", image], capture_output=True, check=True)
            measure("up, cold cache", lambda t: lab.up(config, t), results)
            measure("down", lambda t: lab.down(config, t), results)
            measure("up after down (same host)", lambda t: lab.up(config, t), results)
            lab.reset(config, start=False)
            shutil.rmtree(config.home)
        measure("up, from cache", lambda t: lab.up(config, t), results)
        measure("up again (nothing to do)", lambda t: lab.up(config, t), results)
        measure("down", lambda t: lab.down(config, t), results)
        measure("up after down (same host)", lambda t: lab.up(config, t), results)
        measure("reset (clean host, up again)", lambda t: lab.reset(config, t), results)
        measure("down", lambda t: lab.down(config, t), results)
    finally:
        lab.reset(config, start=False)
        shutil.rmtree(work, ignore_errors=True)
    if options.stages:
        for label, _elapsed, stages in results:
            print(f"  {label}: {stages}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
