"""Fixtures for the website tests: the lab with WP_01 and WP_02 applied, a headless Chromium, the real lead-intake API.

The lab is the one the environment names (MOTORCADE_LAB_HOME, MOTORCADE_LAB_NAME, MOTORCADE_LAB_PORT_*), brought up
if needed; the playbooks run against it with ansible-playbook as the conductor does, with the site's public address
following the lab's published HTTP port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from motorcade import lab

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = ("WP_01_services_one_and_done.yml", "WP_02_intake_and_scheduling.yml")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
TABLE = "wp_mc_intake_submissions"


@dataclass(frozen=True)
class Site:
    """The lab's website as this machine reaches it, and a root shell on its host."""

    config: lab.LabConfig
    url: str

    def sudo(self, script: str) -> str:
        """Run the shell `script` as root on the lab host; return its output."""
        return subprocess.run(
            [*lab.ssh_argv(self.config), "sudo sh -es"],
            input=script,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout

    def sql(self, query: str) -> list[list[str]]:
        """Rows of `query` run on the site's MariaDB as root (tab-separated, no headers)."""
        out = self.sudo(f"mysql -N -B wordpress <<'SQL'\n{query}\nSQL\n")
        return [line.split("\t") for line in out.splitlines() if line]

    def relay_once(self) -> None:
        """Run the relay's unit once, as its timer does, and wait for it to finish."""
        self.sudo("systemctl start motorcade-intake-relay.service")

    def set_relay(self, **api: Any) -> None:
        """Change the relay's `api`/`backoff` settings in place (the test's own drift; WP_02 puts them back)."""
        import json

        script = (
            "import json\n"
            "p = '/etc/motorcade/intake-relay.json'\n"
            "c = json.load(open(p))\n"
            f"c['api'].update(json.loads({json.dumps(json.dumps(api))}))\n"
            "c['backoff']['initial_seconds'] = 1\n"
            "json.dump(c, open(p, 'w'), indent=2)\n"
        )
        self.sudo(f"python3 - <<'PY'\n{script}PY\n")

    def admin_password(self) -> str:
        """The WordPress administrator's password, from the lab's vault."""
        from ruamel.yaml import YAML

        vault = self.config.inventory_dir / "group_vars" / "all" / "vault.yml"
        plain = subprocess.run(
            ["ansible-vault", "view", "--vault-password-file", str(self.config.vault_password_file), str(vault)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return str(YAML(typ="safe").load(plain)["vault_wordpress_admin_password"])

    def gateway(self) -> str:
        """The address at which the lab host reaches this machine (its default gateway)."""
        return self.sudo("ip -4 route show default | awk '{print $3; exit}'").strip()


def apply(config: lab.LabConfig, url: str, playbook: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run one website playbook against the lab, with the committed and the generated inventories."""
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            str(REPO / "ansible" / "inventories" / "lab"),
            "-i",
            str(config.inventory_dir),
            "--vault-password-file",
            str(config.vault_password_file),
            "-e",
            f"wordpress_site_url={url}",
            *extra,
            str(REPO / "ansible" / "playbooks" / playbook),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        cwd=REPO / "ansible",
        env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible" / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
    )


@pytest.fixture(scope="session")
def site() -> Site:
    """The lab with WP_01 and WP_02 applied (each playbook must pass)."""
    config = lab.load_config(REPO)
    lab.up(config)
    url = f"http://localhost:{config.port('http').host}"
    for playbook in PLAYBOOKS:
        started = time.monotonic()
        result = apply(config, url, playbook)
        assert result.returncode == 0, f"{playbook} failed:\n{result.stdout[-4000:]}"
        recap = [line for line in result.stdout.splitlines() if " ok=" in line]
        print(f"{playbook}: {time.monotonic() - started:.0f} s; {' '.join(recap)}")
    return Site(config, url)


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
