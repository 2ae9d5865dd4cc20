"""A throwaway PostgreSQL 15 cluster carrying the PLAT_03 contract, for the services' tests."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("MOTORCADE_PG_BIN", "/usr/lib/postgresql/15/bin"))
CONTRACT_SQL = Path(__file__).resolve().parents[2] / "plat03_contract.sql"
DATABASE = "motorcade"


class PostgresStartError(RuntimeError):
    """The throwaway cluster could not be created or started."""


@dataclass(frozen=True)
class ContractCluster:
    """Where the cluster listens and the password of each PLAT_03 role."""

    host: str
    port: int
    socket_dir: Path
    passwords: dict[str, str]

    def conninfo(self, role: str, dbname: str = DATABASE) -> str:
        """A libpq connection string for ``role`` over TCP (password authentication, like in production)."""
        return f"host={self.host} port={self.port} dbname={dbname} user={role} password={self.passwords[role]}"

    def superuser_conninfo(self, dbname: str = DATABASE) -> str:
        """A libpq connection string for the ``postgres`` superuser over the Unix socket."""
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user=postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = list(args)
    if os.geteuid() == 0:  # postgres refuses to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise PostgresStartError(f"{' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result  # type: ignore[no-any-return]


def apply_contract(socket_dir: Path, port: int, passwords: dict[str, str]) -> None:
    """Create the PLAT_03 database, schemas, roles and default privileges from the one contract SQL file."""
    variables = {
        "owner_password": passwords["motorcade_owner"],
        "lead_intake_password": passwords["lead_intake_app"],
        "people_password": passwords["people_app"],
        "ro_password": passwords["motorcade_ro"],
    }
    args = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(socket_dir),
        "-p",
        str(port),
        "-U",
        "postgres",
    ]
    for name, value in variables.items():
        args += ["-v", f"{name}={value}"]
    args += ["-f", str(CONTRACT_SQL), "postgres"]
    _as_postgres(args)


@contextmanager
def contract_cluster(*, durable: bool = False) -> Iterator[ContractCluster]:
    """Start a fresh PostgreSQL 15 (temp dir, free port) with the PLAT_03 contract; stop and remove it afterwards.

    ``durable=False`` (tests) turns fsync and synchronous commit off; ``durable=True`` keeps the defaults (benchmarks).
    """
    base = Path(tempfile.mkdtemp(prefix="motorcade-svc-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    port = free_port()
    passwords = {
        role: secrets.token_urlsafe(24) for role in ("motorcade_owner", "lead_intake_app", "people_app", "motorcade_ro")
    }
    started = False
    try:
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ]
        )
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=100"
        if not durable:  # tests do not need crash safety; benchmarks keep PostgreSQL's defaults
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "start"]
        )
        started = True
        apply_contract(sockets, port, passwords)
        yield ContractCluster(host="127.0.0.1", port=port, socket_dir=sockets, passwords=passwords)
    finally:
        if started:
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)
