"""Fixtures for the website tests: the session's runbook lab (WP_01, WP_02 applied by the conductor), Chromium.

The lab is `runbook_lab` (tests/runbook_lab.py): a fresh lab on free ports with `motorcade apply lab --through …` run
once per session, or the lab MOTORCADE_TEST_LAB_HOME names. The site's address follows that lab's published HTTP port
(the inventory's wordpress_site_url is a template of it); nothing here runs a playbook.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from tests.runbook_lab import RunbookLab

WEBSITE_STEPS = ("WP_01", "WP_02", "WP_CHECKPOINT")
# The lead-intake API behind the reverse proxy, as the relay reaches it on the lab host.
API_STEPS = ("PLAT_04", "PLAT_06")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
TABLE = "wp_mc_intake_submissions"
RELAY_SETTINGS = "/etc/motorcade/intake-relay.json"
API_UNIT = "motorcade-lead-intake.service"
# The socket systemd holds for it (role app_service): while it listens, a request starts the API again.
API_SOCKET = "motorcade-lead-intake.socket"
API_CONTAINER = "motorcade-lead-intake"
REFERENCE = re.compile(r"MC-[2-9A-Z]{4}-[2-9A-Z]{4}")


@dataclass(frozen=True)
class Site:
    """The lab's website as this machine reaches it, and a root shell on its host."""

    lab: RunbookLab
    url: str
    api_in_lab: bool  # PLAT_04 and PLAT_06 are complete: the relay's configured API is the lab's own

    def sudo(self, script: str, timeout: float = 300) -> str:
        """Run the shell `script` as root on the lab host; return its output (a failure fails the test)."""
        done = self.lab.on_host(script, timeout=timeout)
        assert done.returncode == 0, f"on the lab host: {script.strip()[:200]}\n{done.stdout[-2000:]}{done.stderr}"
        return done.stdout

    def sql(self, query: str) -> list[list[str]]:
        """Rows of `query` run on the site's MariaDB as root (tab-separated, no headers)."""
        out = self.sudo(f"mysql -N -B wordpress <<'SQL'\n{query}\nSQL\n")
        return [line.split("\t") for line in out.splitlines() if line]

    def leads(self, reference: str) -> list[str]:
        """Ids of the leads the lab's lead-intake API stored under the Idempotency-Key `reference` (PostgreSQL)."""
        assert REFERENCE.fullmatch(reference)  # so it is safe inside the SQL below
        query = f"SELECT id FROM leads.leads WHERE idempotency_key = '{reference}'"  # noqa: S608
        out = self.sudo(
            f"podman exec -i motorcade-postgres psql -X -A -t -U postgres -d motorcade -c {shlex.quote(query)}"
        )
        return [line for line in out.splitlines() if line.strip()]

    def relay_once(self) -> None:
        """Run the relay's unit once, as its timer does, and wait for it to finish."""
        self.sudo("systemctl start motorcade-intake-relay.service")

    def set_relay(self, **api: Any) -> None:
        """Change the relay's `api` settings in place, retrying after 1 s (the test's own drift: `restore_relay`)."""
        self.sudo(f"[ -f {RELAY_SETTINGS}.before-test ] || cp -p {RELAY_SETTINGS} {RELAY_SETTINGS}.before-test")
        script = (
            "import json\n"
            f"p = {RELAY_SETTINGS!r}\n"
            "c = json.load(open(p))\n"
            f"c['api'].update(json.loads({json.dumps(json.dumps(api))}))\n"
            "c['backoff']['initial_seconds'] = 1\n"
            "json.dump(c, open(p, 'w'), indent=2)\n"
        )
        self.sudo(f"python3 - <<'PY'\n{script}PY\n")

    def restore_relay(self) -> None:
        """Put back the relay's settings as WP_02 wrote them (`set_relay` keeps a copy beside them)."""
        self.sudo(
            f"if [ -f {RELAY_SETTINGS}.before-test ]; then mv -f {RELAY_SETTINGS}.before-test {RELAY_SETTINGS}; fi"
        )

    def stop_api(self) -> None:
        """Stop the lab's lead-intake API (its systemd unit, hence its container), and its socket: socket activation
        would otherwise start it again at the next request through the proxy."""
        self.sudo(f"systemctl stop {API_SOCKET} {API_UNIT}")

    def start_api(self, timeout: float = 180) -> None:
        """Start the lab's lead-intake API and its socket; wait until its container reports healthy."""
        self.sudo(f"systemctl start {API_SOCKET} {API_UNIT}")
        deadline = time.monotonic() + timeout
        while True:
            health = self.lab.on_host(f"podman inspect --format '{{{{.State.Health.Status}}}}' {API_CONTAINER}")
            if health.stdout.strip() == "healthy":
                return
            assert time.monotonic() < deadline, f"{API_CONTAINER} is not healthy: {health.stdout}{health.stderr}"
            time.sleep(2)

    def admin_password(self) -> str:
        """The WordPress administrator's password, from the lab's vault."""
        return str(self.lab.vault()["vault_wordpress_admin_password"])

    def gateway(self) -> str:
        """The address at which the lab host reaches this machine (its default gateway)."""
        return self.sudo("ip -4 route show default | awk '{print $3; exit}'").strip()


def complete_steps(runbook_lab: RunbookLab) -> set[str]:
    """The steps `motorcade status lab` shows complete (one call, rather than one per step)."""
    status = runbook_lab.motorcade("status", "lab")
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr
    cells = ([cell.strip() for cell in line.split("│")] for line in status.stdout.splitlines())
    return {row[2] for row in cells if len(row) > 4 and row[4] == "complete"}


@pytest.fixture(scope="session")
def site(runbook_lab: RunbookLab) -> Site:
    """The session lab's website: WP_01, WP_02 and the checkpoint complete through every gate of the conductor."""
    applied = runbook_lab.applied
    complete = complete_steps(runbook_lab)
    for step in WEBSITE_STEPS:
        assert f"✗ {step} " not in applied.stdout, f"{step} failed in the session's apply:\n{applied.stdout[-4000:]}"
        assert step in complete, f"{step} is not complete in the lab:\n{applied.stdout[-4000:]}"
    api_in_lab = all(step in complete for step in API_STEPS)
    return Site(runbook_lab, f"http://localhost:{runbook_lab.config.port('http').host}", api_in_lab)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page per test."""
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104 - the lab host must reach it
        return int(sock.getsockname()[1])


@contextmanager
def serve_everywhere(app: Any, port: int) -> Iterator[None]:
    """Serve `app` on all addresses at `port` (the lab host reaches this machine through its gateway)."""
    server = uvicorn.Server(uvicorn.Config(app, host="0.0.0.0", port=port, log_config=None, access_log=False))  # noqa: S104
    thread = threading.Thread(target=server.run, name=f"lead-intake-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the lead-intake API on port {port} did not start")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
