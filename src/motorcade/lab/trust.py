"""The machine's own certificate authorities, trusted inside the lab host too.

Where HTTPS leaves this machine through an intercepting proxy, its CA sits in Debian's local CA folder
(/usr/local/share/ca-certificates) and `update-ca-certificates` adds it to the system bundle. The lab host is
a fresh Debian: without the same CA, apt over HTTPS, pip in image builds and every other TLS client there
fails. `lab up` copies each `*.crt` of that folder into the host's /usr/local/share/ca-certificates/
motorcade-machine/ and reruns update-ca-certificates when the set changed; CAs removed here are removed there.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import run
from motorcade.lab.config import LabConfig
from motorcade.lab.errors import LabError
from motorcade.lab.keys import ssh_argv

HOST_FOLDER = "/usr/local/share/ca-certificates/motorcade-machine"
_PEM_MARK = "-----BEGIN CERTIFICATE-----"
_EOF = "MOTORCADE_PEM_END"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*\.crt$")


@dataclass(frozen=True)
class TrustResult:
    """What `ensure_trust` found and did."""

    names: tuple[str, ...]  # the CA files now trusted by the lab host (their names on this machine)
    skipped: tuple[str, ...]  # files of the folder that are not PEM certificates
    changed: bool  # the host's set changed and its bundle was rebuilt


def machine_cas(folder: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """The PEM certificates among `folder`'s *.crt files (name → text), and the files skipped (not PEM, odd name)."""
    found: dict[str, str] = {}
    skipped: list[str] = []
    if not folder.is_dir():
        return found, ()
    for path in sorted(folder.glob("*.crt")):
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError):
            skipped.append(path.name)
            continue
        if _PEM_MARK not in text or _EOF in text or not _SAFE_NAME.match(path.name):
            skipped.append(path.name)
            continue
        found[path.name] = text if text.endswith("\n") else text + "\n"
    return found, tuple(skipped)


def sync_script(cas: dict[str, str]) -> str:
    """A root shell script that makes HOST_FOLDER hold exactly `cas` and rebuilds the bundle when it changed.

    It prints `changed` or `unchanged` as its last line.
    """
    lines = [
        "set -eu",
        "staged=$(mktemp -d)",
        "trap 'rm -rf \"$staged\"' EXIT",
    ]
    for name, text in cas.items():
        lines += [f"cat > \"$staged/{name}\" <<'{_EOF}'", text.rstrip("\n"), _EOF]
    lines += [
        f'if [ -d {HOST_FOLDER} ] && diff -r "$staged" {HOST_FOLDER} >/dev/null 2>&1; then',
        "    echo unchanged",
        "    exit 0",
        "fi",
        f"rm -rf {HOST_FOLDER}",
        f"install -d -m 0755 {HOST_FOLDER}",
        f'for file in "$staged"/*.crt; do [ -e "$file" ] && install -m 0644 "$file" {HOST_FOLDER}/; done',
        # --fresh drops certificates that left the folder from /etc/ssl/certs as well.
        "update-ca-certificates --fresh >/dev/null",
        "echo changed",
    ]
    return "\n".join(lines) + "\n"


def ensure_trust(config: LabConfig) -> TrustResult:
    """Make the lab host trust exactly the machine's local CAs (see the module's docstring)."""
    cas, skipped = machine_cas(config.ca_folder)
    script = sync_script(cas)
    with tempfile.TemporaryFile() as stdin:
        stdin.write(script.encode("ascii"))
        stdin.seek(0)
        result = run(ssh_argv(config, ["sudo", "-n", "sh", "-s"]), stdin=stdin, check=False, timeout=120)
    outcome = result.stdout.strip().splitlines()[-1:] or [""]
    if result.returncode != 0 or outcome[0] not in ("changed", "unchanged"):
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"could not install this machine's CAs in the lab host: {detail[0]}")
    return TrustResult(tuple(cas), skipped, outcome[0] == "changed")
