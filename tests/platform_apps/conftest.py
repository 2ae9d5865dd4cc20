"""The lab with the APIs behind the proxy (PLAT_01 … PLAT_06 applied), as the tests of tests/platform_apps use it.

`lab_env` brings the lab up and applies the runbook through PLAT_06 once per session:
- by default the conductor does it (`motorcade lab up`, then `motorcade apply lab --through PLAT_06`), on the lab the
  runbook's `lab` environment names (<repo>/.lab);
- when MOTORCADE_LAB_HOME names another lab (a developer's own, with its own name and ports), that lab is brought up and
  the step playbooks are run on it with ansible-playbook, as the conductor's run stage does (the conductor's `lab`
  environment always means <repo>/.lab).
Then it fetches the proxy's internal root certificate from the lab host and reads the staff keys from the lab's vault.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from motorcade import lab
from motorcade.lab.vault import read_vault

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The step playbooks through PLAT_06, in runbook order (PLAT_04A, a LOCKED read-only check, adds nothing they need).
PLAYBOOKS = (
    "PLAT_01_docker_runtime_base.yml",
    "PLAT_02A_networks_volumes_systemd_foundations.yml",
    "PLAT_02B_postgres_foundation.yml",
    "PLAT_02C_postgres_bringup.yml",
    "PLAT_03_postgres_schema_roles.yml",
    "PLAT_04_lead_intake_api.yml",
    "PLAT_05_people_api.yml",
    "PLAT_06_reverse_proxy_routes.yml",
)
# Where PLAT_06 exports the internal CA's root certificate on the host (caddy_proxy_internal_root_export).
INTERNAL_ROOT = "/etc/motorcade/caddy/internal-root.crt"


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


def _run(argv: list[str], env: dict[str, str], timeout: float) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO, env=env)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        pytest.fail(f"{' '.join(argv[:4])} … exited {result.returncode}:\n{tail}")


def _vault_values(config: lab.LabConfig) -> dict[str, object]:
    """Every variable of the encrypted files among the lab inventory's group_vars/all."""
    password = config.vault_password_file.read_bytes().strip()
    values: dict[str, object] = {}
    for path in sorted((config.inventory_dir / "group_vars" / "all").glob("*.yml")):
        if path.read_bytes().startswith(b"$ANSIBLE_VAULT"):
            values.update(read_vault(path, password))
    return values


@pytest.fixture(scope="session")
def lab_env() -> AppsLab:
    """The lab, with the runbook applied through PLAT_06; left up for the next session (the lab is idempotent)."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "PATH": f"{BIN}:{os.environ['PATH']}"}
    config = lab.load_config(REPO, env)
    _run([str(BIN / "motorcade"), "lab", "up"], env, timeout=1800)
    if config.home == (REPO / ".lab").resolve():
        _run([str(BIN / "motorcade"), "apply", "lab", "--through", "PLAT_06"], env, timeout=5400)
    else:
        env["ANSIBLE_CONFIG"] = str(REPO / "ansible" / "ansible.cfg")
        for playbook in PLAYBOOKS:
            _run(
                [
                    str(BIN / "ansible-playbook"),
                    "-i",
                    str(REPO / "ansible" / "inventories" / "lab"),
                    "-i",
                    str(config.inventory_dir),
                    "--vault-password-file",
                    str(config.vault_password_file),
                    str(REPO / "ansible" / "playbooks" / playbook),
                ],
                env,
                timeout=3600,
            )
    ca_file = config.home / "caddy-internal-root.crt"
    probe = AppsLab(config, "", ca_file, "", "")
    ca_file.write_text(probe.ssh(f"cat {INTERNAL_ROOT}"), encoding="utf-8")
    secrets = _vault_values(config)
    return AppsLab(
        config=config,
        # The lab's proxy serves `localhost` (caddy_proxy_site_addresses in ansible/inventories/lab).
        base_url=f"https://localhost:{config.port('https').host}",
        ca_file=ca_file,
        # The vault holds the keys' random parts; the keys carry the services' prefixes (apps.yml).
        lead_intake_key=f"mli_{secrets['vault_lead_intake_staff_api_key']}",
        people_key=f"mpp_{secrets['vault_people_staff_api_key']}",
    )
