"""The lab with the APIs behind the proxy, as the tests of tests/platform_apps use it.

`lab_env` builds on the session's `runbook_lab` (tests/runbook_lab.py: a fresh lab with `motorcade apply lab
--through PLAT_07` run once): it requires PLAT_04, PLAT_05 and PLAT_06 to be complete there, fetches the proxy's
internal root certificate from the lab host and reads the staff keys from the lab's vault.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from motorcade import lab
from tests.runbook_lab import RunbookLab

# Where PLAT_06 exports the internal CA's root certificate on the host (caddy_proxy_internal_root_export).
INTERNAL_ROOT = "/etc/motorcade/caddy/internal-root.crt"
STEPS = ("PLAT_04", "PLAT_05", "PLAT_06")


@dataclass(frozen=True)
class AppsLab:
    """How the tests reach the lab: the proxy's HTTPS address, the CA to trust, the staff keys, SSH."""

    config: lab.LabConfig
    base_url: str
    ca_file: Path
    lead_intake_key: str
    people_key: str

    def ssh(self, command: str) -> str:
        """Run `command` on the lab host as root; return its standard output."""
        return subprocess.run(
            [*lab.ssh_argv(self.config), f"sudo sh -c {_quote(command)}"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


@pytest.fixture(scope="session")
def lab_env(runbook_lab: RunbookLab) -> AppsLab:
    """The session's lab, where PLAT_04..PLAT_06 passed every gate: the proxy's address, its CA, the staff keys."""
    applied = runbook_lab.applied
    assert applied.returncode == 0, applied.stdout[-6000:] + applied.stderr
    for step in STEPS:
        assert runbook_lab.applied_ok(step), f"{step} is not complete in the session's lab"
    config = runbook_lab.config
    ca_file = config.home / "caddy-internal-root.crt"
    probe = AppsLab(config, "", ca_file, "", "")
    ca_file.write_text(probe.ssh(f"cat {INTERNAL_ROOT}"), encoding="utf-8")
    secrets = runbook_lab.vault()
    return AppsLab(
        config=config,
        # The lab's proxy serves `localhost` (caddy_proxy_site_addresses in ansible/inventories/lab).
        base_url=f"https://localhost:{config.port('https').host}",
        ca_file=ca_file,
        # The vault holds the keys' random parts; the keys carry the services' prefixes (apps.yml).
        lead_intake_key=f"mli_{secrets['vault_lead_intake_staff_api_key']}",
        people_key=f"mpp_{secrets['vault_people_staff_api_key']}",
    )
