#!/usr/bin/env python3
"""POST /leads straight to the lead-intake service vs PostgreSQL's own insert rate for the same rows, side by side.

Starts a throwaway PostgreSQL 15 with the PLAT_03 contract (PostgreSQL's durable defaults: fsync and synchronous commit
on), applies the lead-intake migrations as motorcade_owner, then measures in one run:
  1. the service (`python -m lead_intake serve`, N uvicorn workers, as lead_intake_app, JSON logs on) under
     ApacheBench (`ab -k`, keep-alive, fixed concurrency) posting the same form body;
  2. pgbench with a custom script doing what the service's transaction does (INSERT the lead RETURNING id, INSERT its
     first history row), as lead_intake_app over TCP, same concurrency;
and prints requests (transactions) per second, p50 and p99 latency, and the service/pgbench ratio (issue 5's target:
≥ 30 %; ≥ 1,000 req/s with p99 ≤ 50 ms applies through the proxy, measured later). Needs root (runuser), `ab`
(Debian: apache2-utils), `pgbench` (postgresql-contrib / postgresql-15), and the services installed
(pip install -e services/testing -e services/lead_intake).

    python benchmarks/leads_post.py [--duration 15] [--concurrency 32] [--workers 2]
"""

# ruff: noqa: S603, S607 - runs ab, runuser and pgbench from PATH with fixed arguments
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lead_intake.migrate import migrate
from motorcade_service_testing import ContractCluster, contract_cluster, free_port, service_process

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BODY = {
    "name": "Benchmark Person",
    "email": "bench@example.org",
    "phone": "+41 44 555 01 99",
    "service": "airport transfer",
    "requested_window": {"start": "2031-05-01T09:00:00+02:00", "end": "2031-05-01T11:00:00+02:00"},
    "message": "Two passengers, three suitcases.",
    "source": "website",
    "consent": True,
}
# The service's transaction, as pgbench runs it (same columns and values as the service stores for BODY).
PGBENCH_SCRIPT = """\
BEGIN;
INSERT INTO leads.leads (name, email, phone, service, window_start, window_end, message, source, consent_at)
  VALUES ('Benchmark Person', 'bench@example.org', '+41445550199', 'airport transfer',
          '2031-05-01T09:00:00+02:00', '2031-05-01T11:00:00+02:00', 'Two passengers, three suitcases.',
          'website', now())
  RETURNING id \\gset
INSERT INTO leads.lead_status_history (lead_id, from_status, to_status, changed_by)
  VALUES (:id, NULL, 'new', 'intake-form');
END;
"""


def run_ab(url: str, duration: int, concurrency: int, workdir: Path) -> dict[str, float]:
    """ApacheBench with keep-alive for ``duration`` seconds; percentiles from its CSV (ms, fractional)."""
    body = workdir / "body.json"
    body.write_text(json.dumps(BODY))
    percentiles = workdir / "ab.csv"
    result = subprocess.run(
        [
            "ab",
            "-q",
            "-k",
            "-t",
            str(duration),
            "-n",
            "10000000",
            "-c",
            str(concurrency),
            "-p",
            str(body),
            "-T",
            "application/json",
            "-e",
            str(percentiles),
            f"{url}/leads",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"Failed requests:\s+(\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", result.stdout)
    complete = int(re.search(r"Complete requests:\s+(\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    with percentiles.open() as handle:
        table = {int(float(row[0])): float(row[1]) for row in csv.reader(handle) if row[0][0].isdigit()}
    return {
        "rate": rate,
        "p50": table[50],
        "p99": table[99],
        "count": complete,
        "errors": failed + (int(non2xx.group(1)) if non2xx else 0),
    }


def run_pgbench(cluster: ContractCluster, duration: int, concurrency: int, workdir: Path) -> dict[str, float]:
    """pgbench with the custom script as lead_intake_app over TCP; latencies from its per-transaction log (µs)."""
    script = workdir / "insert_lead.sql"
    script.write_text(PGBENCH_SCRIPT)
    logs = workdir / "pgbench-log"
    logs.mkdir()
    shutil.chown(workdir, "postgres")
    shutil.chown(logs, "postgres")
    env = {"PATH": os.environ["PATH"], "PGPASSWORD": cluster.passwords["lead_intake_app"]}
    result = subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "pgbench"),
            "-n",
            "-h",
            cluster.host,
            "-p",
            str(cluster.port),
            "-U",
            "lead_intake_app",
            "-M",
            "prepared",
            "-c",
            str(concurrency),
            "-j",
            "2",
            "-T",
            str(duration),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(logs / "tx"),
            "motorcade",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=logs,
    )
    rate = float(re.search(r"tps = ([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    latencies = sorted(
        int(line.split()[2]) / 1000.0 for path in logs.iterdir() for line in path.read_text().splitlines()
    )
    cut = statistics.quantiles(latencies, n=100)
    return {"rate": rate, "p50": cut[49], "p99": cut[98], "count": len(latencies), "errors": 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients for both tools")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the service")
    args = parser.parse_args()
    for tool in ("ab", "runuser"):
        if shutil.which(tool) is None:
            print(f"error: {tool} not found (ab: apt-get install apache2-utils)", file=sys.stderr)
            return 1
    workdir = Path(tempfile.mkdtemp(prefix="motorcade-bench-leads-"))
    try:
        with contract_cluster(durable=True) as cluster:
            owner = f"{cluster.conninfo('motorcade_owner')}"
            migrate(owner)
            env = {
                "LEAD_INTAKE_ENVIRONMENT": "production",
                "LEAD_INTAKE_DB_HOST": cluster.host,
                "LEAD_INTAKE_DB_PORT": str(cluster.port),
                "LEAD_INTAKE_DB_PASSWORD": cluster.passwords["lead_intake_app"],
                "LEAD_INTAKE_HOST": "127.0.0.1",
                "LEAD_INTAKE_PORT": str(free_port()),
                "LEAD_INTAKE_WORKERS": str(args.workers),
                "LEAD_INTAKE_DB_POOL_MAX_SIZE": "16",
                "LEAD_INTAKE_RATE_LIMIT_PER_MINUTE": "100000000",
                "LEAD_INTAKE_RATE_LIMIT_BURST": "100000000",
            }
            with service_process("lead_intake", env) as service:
                time.sleep(2)  # let every worker finish starting before the warm-up
                run_ab(service.base_url, 3, args.concurrency, workdir)  # warm-up: pools filled, code paths hot
                direct = run_ab(service.base_url, args.duration, args.concurrency, workdir)
            baseline = run_pgbench(cluster, args.duration, args.concurrency, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    load = os.getloadavg()
    print(
        f"POST /leads, {args.duration} s each, concurrency {args.concurrency}, {args.workers} uvicorn workers, "
        f"{os.cpu_count()} CPUs, load average before/after {load[0]:.1f}"
    )
    print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'count':>8} {'errors':>7}")
    for label, figures in (("service direct (ab -k)", direct), ("pgbench, same 2 INSERTs", baseline)):
        print(
            f"{label:34} {figures['rate']:9.0f} {figures['p50']:8.2f} {figures['p99']:8.2f} "
            f"{figures['count']:8.0f} {figures['errors']:7.0f}"
        )
    print(f"service / pgbench insert rate: {direct['rate'] / baseline['rate']:.1%} (target ≥ 30%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
