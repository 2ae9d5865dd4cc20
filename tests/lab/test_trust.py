"""Which of the machine's local CA files the lab host is given (motorcade.lab.trust), without a lab."""

from __future__ import annotations

import subprocess
from pathlib import Path

from motorcade.lab.trust import HOST_FOLDER, machine_cas, sync_script

PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"


def test_only_plainly_named_pem_certificates_are_taken(tmp_path: Path) -> None:
    (tmp_path / "corp-proxy.crt").write_text(PEM, encoding="ascii")
    (tmp_path / "no-newline.crt").write_text(PEM.rstrip("\n"), encoding="ascii")
    (tmp_path / "binary.crt").write_bytes(b"\x30\x82\x01\x0a\xff")
    (tmp_path / "notes.txt").write_text(PEM, encoding="ascii")
    (tmp_path / "we'ird.crt").write_text(PEM, encoding="ascii")
    found, skipped = machine_cas(tmp_path)
    assert sorted(found) == ["corp-proxy.crt", "no-newline.crt"]
    assert found["no-newline.crt"].endswith("-----END CERTIFICATE-----\n")
    assert sorted(skipped) == ["binary.crt", "we'ird.crt"]


def test_a_missing_folder_means_no_ca() -> None:
    assert machine_cas(Path("/nonexistent/ca-folder")) == ({}, ())


def test_the_sync_script_is_valid_shell_holding_each_certificate() -> None:
    script = sync_script({"a.crt": PEM, "b.crt": PEM})
    assert subprocess.run(["sh", "-n"], input=script, text=True, check=False).returncode == 0
    assert script.count(PEM.rstrip("\n")) == 2
    assert HOST_FOLDER in script
    assert "update-ca-certificates --fresh" in script
