#!/usr/bin/env python3
"""POST /leads through the proxy, straight to the service, and PostgreSQL's insert rate, side by side in the lab.

Needs a lab with the runbook applied through PLAT_06 (`motorcade apply lab --through PLAT_06`; for a lab of one's own
the same MOTORCADE_LAB_* variables as `motorcade lab`). Measures in one run, each for --duration seconds after a 2 s
warm-up, at the same concurrency, with the same form body as benchmarks/leads_post.py (source `benchmark`):
  1. through the proxy: h2load on this machine → the lab's HTTPS port → Caddy (TLS) → motorcade-lead-intake's Unix
     socket (held by systemd, app_service_socket), HTTP/1.1 keep-alive over TLS;
  2. direct: h2load in a throwaway container on the lab host's motorcade-backend network → motorcade-lead-intake:8000;
  3. pgbench in a throwaway container on the same network (the motorcade-postgres image's pgbench) inserting the same
     rows one per transaction (leads_post.SINGLE_LEAD: a lead and its first history row in one statement) as
     lead_intake_app (password from the service's secret file, never on a command line). The service stores the
     submissions arriving together in one statement (group commit, lead_intake.writer); PostgreSQL's rate here is
     that of one lead per commit, what every submission cost before.
The three run one after the other, --rounds times (3; before each round the benchmark's rows are deleted, the tables
vacuumed, --seed-rows leads stored and the tables analysed — see clean_up — and a CHECKPOINT before each
measurement); the median round of each is shown with every round's rate beside it, and the
ratios of the rounds' rates side by side. Then once more through the proxy with fewer clients (--light-concurrency, 8):
the latency below saturation.
Prints requests (transactions) per second, p50/p99 latency in ms, and the ratios (issue 5's targets: ≥ 1,000 req/s with
p99 ≤ 50 ms through the proxy, and ≥ 30 % of the pgbench insert rate — the issue does not say whether through the proxy
or straight to the service, so the target is printed beside both), and the CPU each request cost: the whole
machine's (kernel included; other work on the machine counts too) and each lab component's (processes descending from
the lab's init, by command: lead-intake's uvicorn workers, caddy, postgres, journald, conmon), per row stored over all
rounds, so the warm-ups count. Its rows are deleted before each round and at the end.
The lab's inventory lifts the per-client rate limit for this (ansible/inventories/lab/group_vars/all/apps.yml).

    python benchmarks/leads_through_proxy.py [--duration 15] [--rounds 3] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import leads_post  # the services' benchmark: the same body, pgbench statement and h2load run

from motorcade import lab

SOURCE = "benchmark"
BODY = {**leads_post.BODY, "source": SOURCE}
PGBENCH_SCRIPT = leads_post.PGBENCH_SCRIPT.replace("'website'", f"'{SOURCE}'")
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
H2LOAD_IMAGE = "localhost/motorcade-bench-h2load:bookworm"
POSTGRES_IMAGE = "localhost/motorcade-postgres:current"
NETWORK = "motorcade-backend"
SERVICE = "motorcade-lead-intake"
DB_PASSWORD_FILE = "/etc/motorcade/lead-intake/secrets/db_password"  # noqa: S105 (a path, not a password)


TICK = os.sysconf("SC_CLK_TCK")


def _lab_init_pid(config: lab.LabConfig) -> str:
    """The host PID of the lab's init: every process of the lab (its nested containers too) descends from it."""
    found = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.State.Pid}}", config.name],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not found or found == "0":
        raise SystemExit(f"error: the lab container {config.name} is not running (motorcade lab up)")
    return found


def _component(pid: str, comm: str, parents: dict[str, str], cmdlines: dict[str, str]) -> str:
    """Which part of the platform a lab process is: the service a Python process serves (its own command line or
    an ancestor's, for uvicorn's worker processes), else its command name."""
    if comm.startswith("python") or comm == "uvicorn":
        ancestor: str | None = pid
        while ancestor and ancestor in cmdlines:
            for service in ("lead_intake", "people"):
                if f"{service} serve" in cmdlines[ancestor]:
                    return service.replace("_", "-")
            ancestor = parents.get(ancestor)
        return "python (other)"
    if comm.startswith("postgres") or comm.startswith("pgbench"):
        return comm.split()[0]
    return {"caddy": "caddy", "systemd-journal": "journald", "conmon": "conmon"}.get(comm, "other lab processes")


def lab_cpu_seconds(init_pid: str) -> dict[str, tuple[str, float]]:
    """CPU seconds (user + system) used so far by each live process of the lab: PID → (component, seconds)."""
    parents: dict[str, str] = {}
    cmdlines: dict[str, str] = {}
    usage: dict[str, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdlines[entry.name] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[entry.name] = fields[1]
        usage[entry.name] = (comm, (int(fields[11]) + int(fields[12])) / TICK)

    def in_lab(pid: str) -> bool:
        while pid in parents:
            if pid == init_pid:
                return True
            pid = parents[pid]
        return False

    return {
        pid: (_component(pid, comm, parents, cmdlines), seconds)
        for pid, (comm, seconds) in usage.items()
        if in_lab(pid)
    }


def cpu_by_component(before: dict[str, tuple[str, float]], after: dict[str, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per component between two snapshots: a process started meanwhile counts whole, one that ended
    meanwhile (a recycled pool connection) is missing the part it used since the first snapshot."""
    totals: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        earlier = before.get(pid)
        used = seconds - earlier[1] if earlier is not None and earlier[0] == name else seconds
        totals[name] = totals.get(name, 0.0) + used
    return totals


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (all CPUs; /proc/stat), interrupts and softirqs included."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICK


class CpuMeter:
    """CPU used per request during one tool's measurements (summed over the rounds): the whole machine, and the lab's
    components."""

    def __init__(self, config: lab.LabConfig) -> None:
        self.init_pid = _lab_init_pid(config)
        self.busy = 0.0
        self.lab_used: dict[str, float] = {}
        self.local_tools = 0.0

    def __enter__(self) -> CpuMeter:
        self._busy = machine_busy_seconds()
        self._lab = lab_cpu_seconds(self.init_pid)
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return self

    def __exit__(self, *exc: object) -> None:
        self.busy += machine_busy_seconds() - self._busy
        for name, seconds in cpu_by_component(self._lab, lab_cpu_seconds(self.init_pid)).items():
            self.lab_used[name] = self.lab_used.get(name, 0.0) + seconds
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.local_tools += (children.ru_utime + children.ru_stime) - (
            self._children.ru_utime + self._children.ru_stime
        )

    def per_request_ms(self, requests: float) -> dict[str, float]:
        """Milliseconds of CPU per request: the machine in all, then each component using ≥ 1 % of it."""
        shares = {"machine (all CPU, kernel included)": self.busy}
        if self.local_tools > 0:
            shares["load generator on this machine"] = self.local_tools
        used = self.lab_used.items()
        shares.update(sorted(((k, v) for k, v in used if v >= 0.01 * self.busy), key=lambda kv: -kv[1]))
        return {name: seconds / max(requests, 1) * 1000 for name, seconds in shares.items()}


def on_lab_host(config: lab.LabConfig, script: str, timeout: float = 900) -> str:
    """Run the shell `script` as root on the lab host; return its output."""
    result = subprocess.run(
        [*lab.ssh_argv(config), "sudo sh -es"],
        input=script,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"error: on the lab host: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def figures(latencies_ms: list[float], rate: float, errors: int) -> dict[str, float]:
    cut = statistics.quantiles(sorted(latencies_ms), n=100)
    return {"rate": rate, "p50": cut[49], "p99": cut[98], "count": len(latencies_ms), "errors": errors}


def parse_h2load(stdout: str, log: str) -> dict[str, float]:
    """h2load's rate and non-2xx count from its summary, latencies from its request log (µs, third column)."""
    rate = float(re.search(r"finished in [\d.]+s, ([\d.]+) req/s", stdout).group(1))  # type: ignore[union-attr]
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", stdout)
    errored = re.search(r"requests: .*?(\d+) failed, (\d+) errored", stdout)
    errors = sum(int(codes.group(i)) for i in (2, 3, 4)) if codes else 0
    errors += int(errored.group(1)) if errored else 0
    latencies = [int(row.split("\t")[2]) / 1000.0 for row in log.splitlines() if row]
    return figures(latencies, rate, errors)


def through_proxy(config: lab.LabConfig, duration: int, concurrency: int) -> dict[str, float]:
    """h2load on this machine against the lab's HTTPS port (the proxy's `localhost` site)."""
    leads_post.BODY = BODY  # run_h2load posts leads_post.BODY
    workdir = Path(tempfile.mkdtemp(prefix="motorcade-bench-proxy-"))
    try:
        return leads_post.run_h2load(
            f"https://localhost:{config.port('https').host}/api", duration, concurrency, workdir
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def direct(config: lab.LabConfig, duration: int, concurrency: int) -> dict[str, float]:
    """h2load in a container on the backend network, straight to the service's port."""
    body = shlex.quote(json.dumps(BODY))
    output = on_lab_host(
        config,
        f"""
if ! podman image exists {H2LOAD_IMAGE}; then
  printf 'FROM {BASE_IMAGE}\\nRUN apt-get update && apt-get install -y --no-install-recommends nghttp2-client \\
    && rm -rf /var/lib/apt/lists/*\\n' | podman build --pull=never --quiet --tag {H2LOAD_IMAGE} -f - /tmp >/dev/null
fi
work=$(mktemp -d)
printf '%s' {body} > "$work/body.json"
podman run --rm --network {NETWORK} --volume "$work:/work" {H2LOAD_IMAGE} h2load --h1 -c {concurrency} -t 1 \
  -D {duration} --warm-up-time=2 -d /work/body.json -H 'content-type: application/json' --log-file=/work/h2load.log \
  http://{SERVICE}:8000/leads > "$work/out.txt"
cat "$work/out.txt"; echo '=====LOG====='; cat "$work/h2load.log"; rm -rf "$work"
""",
    )
    stdout, log = output.split("=====LOG=====\n", 1)
    return parse_h2load(stdout, log)


def pgbench(config: lab.LabConfig, duration: int, concurrency: int) -> dict[str, float]:
    """pgbench inserting the same rows one per transaction, as lead_intake_app over the backend network."""
    output = on_lab_host(
        config,
        f"""
work=$(mktemp -d); chmod 0777 "$work"
cat > "$work/insert_lead.sql" <<'SQL'
{PGBENCH_SCRIPT}SQL
podman run --rm --network {NETWORK} --user 10001:10001 --volume "$work:/work" --workdir /work \
  --volume {DB_PASSWORD_FILE}:/run/secrets/db_password:ro --entrypoint sh {POSTGRES_IMAGE} -c \
  'PGPASSWORD=$(cat /run/secrets/db_password) exec /usr/lib/postgresql/15/bin/pgbench -n -h motorcade-postgres \
   -U lead_intake_app -M prepared -c {concurrency} -j 2 -T {duration} -f /work/insert_lead.sql -l \
   --log-prefix /work/tx motorcade' > "$work/out.txt"
cat "$work/out.txt"; echo '=====LOG====='; cat "$work"/tx*; rm -rf "$work"
""",
    )
    stdout, log = output.split("=====LOG=====\n", 1)
    rate = float(re.search(r"tps = ([\d.]+)", stdout).group(1))  # type: ignore[union-attr]
    latencies = [int(line.split()[2]) / 1000.0 for line in log.splitlines() if line]
    return figures(latencies, rate, 0)


def count_rows(config: lab.LabConfig) -> int:
    """How many leads the benchmark has stored so far (its rows have source 'benchmark')."""
    return int(as_superuser(config, "SELECT count(*) FROM leads.leads WHERE source = 'benchmark'").strip())


def as_superuser(config: lab.LabConfig, *statements: str) -> str:
    """Run each statement on its own (autocommit) as the superuser, over the container's socket; their output."""
    commands = " ".join(f"-c {shlex.quote(sql)}" for sql in statements)
    return on_lab_host(config, f"podman exec --user postgres motorcade-postgres psql -qAt -d motorcade {commands}")


def checkpoint(config: lab.LabConfig) -> None:
    """Write out what earlier work left dirty, so its checkpoint does not land in the next measurement."""
    as_superuser(config, "CHECKPOINT")


def clean_up(config: lab.LabConfig, seed_rows: int = 0) -> None:
    """Delete the rows the benchmark inserted and vacuum both tables (else autovacuum runs during the next run); then
    insert ``seed_rows`` leads with their history rows and analyse both tables.

    Why seed: a table vacuumed nearly empty has statistics saying so, and every connection's cached plans made from
    them — the foreign-key check of each history row included — read the whole table (a sequential scan is the cheaper
    plan for a few pages). The plans are kept as the table grows during the measurement, until autovacuum's next
    ANALYZE replaces them (autovacuum wakes once a minute): in pg_stat_user_tables, one sequential scan of leads.leads
    per row inserted, and PostgreSQL's CPU per request up to 6 times higher in some rounds than in others. Seeded and
    analysed, the measurement starts from a table whose statistics describe it, as they do where leads accumulate.
    """
    statements = [
        "WITH gone AS (SELECT id FROM leads.leads WHERE source = 'benchmark'), "
        "h AS (DELETE FROM leads.lead_status_history WHERE lead_id IN (SELECT id FROM gone)) "
        "DELETE FROM leads.leads WHERE source = 'benchmark'",
        "VACUUM (ANALYZE) leads.leads, leads.lead_status_history",
    ]
    if seed_rows:
        statements += [
            "WITH seeded AS (INSERT INTO leads.leads (name, email, service, source, consent_at)"  # noqa: S608 (an int)
            " SELECT 'Seed Person', 'seed@example.org', 'airport transfer', 'benchmark', now()"
            f" FROM generate_series(1, {int(seed_rows)}) RETURNING id)"
            " INSERT INTO leads.lead_status_history (lead_id, from_status, to_status, changed_by)"
            " SELECT id, NULL, 'new', 'benchmark-seed' FROM seeded",
            "ANALYZE leads.leads, leads.lead_status_history",
        ]
    as_superuser(config, *statements, "CHECKPOINT")


def median_round(rounds: list[dict[str, float]]) -> dict[str, float]:
    """The round with the median rate (the lower middle one of an even count)."""
    return sorted(rounds, key=lambda r: r["rate"])[(len(rounds) - 1) // 2]


def ratios(upper: list[dict[str, float]], lower: list[dict[str, float]]) -> str:
    """The ratio of each round's rates, side by side in that round, when there are several rounds."""
    if len(upper) < 2:
        return ""
    return " (each round: " + ", ".join(f"{u['rate'] / b['rate']:.1%}" for u, b in zip(upper, lower, strict=True)) + ")"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients for every tool")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the three measurements, one after the other; the median round is shown, every round's rate "
        "beside it (runs on a shared 2-core machine vary by a third within minutes)",
    )
    parser.add_argument(
        "--light-concurrency",
        type=int,
        default=8,
        help="a second run through the proxy with fewer clients: the latency below saturation (0: skip it)",
    )
    parser.add_argument(
        "--seed-rows",
        type=int,
        default=20_000,
        help="leads stored and analysed before each round, so that the statistics (and every cached plan) describe "
        "a table that holds leads rather than one just emptied (see clean_up)",
    )
    args = parser.parse_args()
    if shutil.which("h2load") is None:
        print("error: h2load not found (apt-get install nghttp2-client)", file=sys.stderr)
        return 1
    config = lab.load_config()
    meters = {name: CpuMeter(config) for name in ("proxy", "direct", "pgbench")}
    load_before = os.getloadavg()[0]
    stored = dict.fromkeys(meters, 0)  # rows stored during each tool's metered measurements

    def metered(name: str, run: Callable[[], dict[str, float]]) -> dict[str, float]:
        checkpoint(config)
        before = count_rows(config)
        with meters[name]:
            figures = run()
        stored[name] += count_rows(config) - before
        return figures

    tools: dict[str, Callable[[], dict[str, float]]] = {
        "proxy": lambda: through_proxy(config, args.duration, args.concurrency),
        "direct": lambda: direct(config, args.duration, args.concurrency),
        "pgbench": lambda: pgbench(config, args.duration, args.concurrency),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in tools}
    loads = []
    for number in range(1, args.rounds + 1):
        print(f"round {number} of {args.rounds} …", file=sys.stderr, flush=True)
        clean_up(config, args.seed_rows)  # every round starts from the same tables
        for name, run in tools.items():
            results[name].append(metered(name, run))
        loads.append(os.getloadavg()[0])
    light = through_proxy(config, args.duration, args.light_concurrency) if args.light_concurrency else None
    clean_up(config)
    proxied, straight, baseline = (median_round(results[name]) for name in tools)
    print(
        f"POST /leads in the lab ({config.name}), {args.rounds} round(s) of {args.duration} s per tool, concurrency "
        f"{args.concurrency}, {os.cpu_count()} CPUs shared by the machine and the lab; load average (1 min) before "
        f"{load_before:.1f}, after each round " + ", ".join(f"{load:.1f}" for load in loads)
    )
    print(f"{'median round':44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'count':>8} {'errors':>7}  rounds (req/s)")
    rows = (
        ("through the proxy (h2load, HTTPS, HTTP/1.1)", proxied),
        ("direct to the service (h2load, backend net)", straight),
        ("pgbench, same rows, one per tx", baseline),
    )
    for (label, result), name in zip(rows, tools, strict=True):
        print(
            f"{label:44} {result['rate']:9.0f} {result['p50']:8.2f} {result['p99']:8.2f} "
            f"{result['count']:8.0f} {result['errors']:7.0f}  " + " ".join(f"{r['rate']:.0f}" for r in results[name])
        )
    # Every request stores one row: the rows stored during a measurement count its warm-up too, which the CPU
    # figures include. The direct and pgbench rows include starting their throwaway container on the lab host.
    print("CPU per request, ms (every round; rows stored during the measurements, warm-ups included):")
    for (label, _), (name, meter) in zip(rows, meters.items(), strict=True):
        figures = meter.per_request_ms(stored[name])
        print(f"  {label}: {stored[name]} rows; " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))
    if light is not None:
        print(
            f"through the proxy with {args.light_concurrency} clients: {light['rate']:.0f} req/s, "
            f"p50 {light['p50']:.2f} ms, p99 {light['p99']:.2f} ms, {light['errors']:.0f} errors"
        )
    print(f"proxy / direct: {proxied['rate'] / straight['rate']:.1%}" + ratios(results["proxy"], results["direct"]))
    print(
        f"through the proxy / pgbench insert rate: {proxied['rate'] / baseline['rate']:.1%} (target ≥ 30%)"
        + ratios(results["proxy"], results["pgbench"])
    )
    print(
        f"direct / pgbench insert rate: {straight['rate'] / baseline['rate']:.1%} (target ≥ 30%)"
        + ratios(results["direct"], results["pgbench"])
    )
    print(
        f"through the proxy: {proxied['rate']:.0f} req/s, p99 {proxied['p99']:.1f} ms "
        "(target ≥ 1,000 req/s with p99 ≤ 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
