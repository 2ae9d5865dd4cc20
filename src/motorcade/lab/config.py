"""Where the lab lives and what it binds: defaults, then an optional TOML file, then environment variables.

Environment variables:
  MOTORCADE_LAB_HOME      lab state (SSH keys, vault password, inventory, workspace); default <repo>/.lab
  MOTORCADE_LAB_CACHE     built artifacts (root filesystems, images); default ~/.cache/motorcade/lab
  MOTORCADE_LAB_CONFIG    a TOML file; default <lab home>/config.toml when it exists
  MOTORCADE_LAB_NAME      name of the lab host container, its network and volume; default motorcade-lab
  MOTORCADE_LAB_MIRROR    Debian mirror used by debootstrap and by apt inside the lab
  MOTORCADE_LAB_FORM      auto (default: a KVM virtual machine where KVM works, else a systemd container),
                          container, or vm (a QEMU virtual machine, under TCG where KVM does not work)
  MOTORCADE_LAB_CA_DIR    this machine's local CAs (*.crt) that the lab host trusts too;
                          default /usr/local/share/ca-certificates
  MOTORCADE_LAB_PORT_<N>  host port of the forward named N (SSH, HTTP, HTTPS, APP), e.g. MOTORCADE_LAB_PORT_SSH=42022

The TOML file may hold `name`, `cache`, `mirror`, `form`, `ca_folder` and a `[ports]` table of `NAME = HOST_PORT` or
`NAME = {host = HOST_PORT, guest = GUEST_PORT}` (new names add forwards).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from motorcade.lab.errors import LabConfigError

BIND_ADDRESS = "127.0.0.1"
# Debian's folder of locally added CAs (an HTTPS-intercepting proxy's CA lives here); see motorcade.lab.trust.
DEFAULT_CA_FOLDER = Path("/usr/local/share/ca-certificates")
DEFAULT_NAME = "motorcade-lab"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LAB_HOSTNAME = "lab-host"
LAB_USER = "motorcade"
SUITE = "bookworm"
BASE_IMAGE = "docker.io/library/debian:bookworm-slim"
FORMS = ("auto", "container", "vm")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")


@dataclass(frozen=True)
class PortForward:
    """One TCP port published from the lab host to 127.0.0.1 on this machine."""

    name: str
    host: int
    guest: int

    @property
    def address(self) -> str:
        """Where to reach it from this machine, as host:port."""
        return f"{BIND_ADDRESS}:{self.host}"


DEFAULT_PORTS: tuple[PortForward, ...] = (
    PortForward("ssh", 42022, 22),
    PortForward("http", 42080, 80),
    PortForward("https", 42443, 443),
    PortForward("app", 42081, 8081),
)


@dataclass(frozen=True)
class LabConfig:
    """Everything that decides where the lab keeps its files and what it binds."""

    repo: Path
    home: Path
    cache: Path
    name: str = DEFAULT_NAME
    mirror: str = DEFAULT_MIRROR
    form: str = "auto"
    ports: tuple[PortForward, ...] = field(default=DEFAULT_PORTS)
    ca_folder: Path = DEFAULT_CA_FOLDER

    @property
    def lab_files(self) -> Path:
        """The committed lab/ folder (package lists, configuration copied into the host)."""
        return self.repo / "lab"

    @property
    def network(self) -> str:
        """The podman network on this machine that the lab host container sits on alone."""
        return f"{self.name}-net"

    @property
    def storage_volume(self) -> str:
        """The podman volume holding the lab host's own container storage (/var/lib/containers)."""
        return f"{self.name}-storage"

    @property
    def inventory_dir(self) -> Path:
        return self.home / "inventory"

    @property
    def vault_password_file(self) -> Path:
        return self.home / "vault-password"

    @property
    def workspace(self) -> Path:
        return self.home / "workspace"

    @property
    def ssh_dir(self) -> Path:
        return self.home / "ssh"

    @property
    def ssh_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    def port(self, name: str) -> PortForward:
        """The forward called `name` (e.g. "ssh")."""
        for forward in self.ports:
            if forward.name == name:
                return forward
        raise LabConfigError(f"the lab has no port forward named {name!r}")


def default_repo() -> Path:
    """The repository this package was loaded from (src/motorcade/lab → repo root)."""
    return Path(__file__).resolve().parents[3]


def load_config(repo: Path | None = None, environ: Mapping[str, str] | None = None) -> LabConfig:
    """Build the lab's configuration from defaults, the optional TOML file and environment variables."""
    env = os.environ if environ is None else environ
    root = (repo or default_repo()).resolve()
    home = Path(env.get("MOTORCADE_LAB_HOME") or root / ".lab").expanduser().resolve()
    default_cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "motorcade" / "lab"
    config = LabConfig(repo=root, home=home, cache=default_cache)
    config_file = Path(env.get("MOTORCADE_LAB_CONFIG") or home / "config.toml").expanduser()
    if config_file.is_file():
        config = _apply_file(config, config_file)
    elif "MOTORCADE_LAB_CONFIG" in env:
        raise LabConfigError(f"MOTORCADE_LAB_CONFIG names {config_file}, which does not exist")
    config = _apply_env(config, env)
    _validate(config)
    return config


def _apply_file(config: LabConfig, path: Path) -> LabConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise LabConfigError(f"{path}: {error}") from error
    unknown = set(data) - {"name", "cache", "mirror", "form", "ca_folder", "ports"}
    if unknown:
        raise LabConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    if "name" in data:
        config = replace(config, name=str(data["name"]))
    if "cache" in data:
        config = replace(config, cache=Path(str(data["cache"])).expanduser().resolve())
    if "mirror" in data:
        config = replace(config, mirror=str(data["mirror"]))
    if "form" in data:
        config = replace(config, form=str(data["form"]))
    if "ca_folder" in data:
        config = replace(config, ca_folder=Path(str(data["ca_folder"])).expanduser())
    ports = data.get("ports", {})
    if not isinstance(ports, dict):
        raise LabConfigError(f"{path}: [ports] must be a table of NAME = PORT")
    for name, value in ports.items():
        if isinstance(value, dict):
            host, guest = value.get("host"), value.get("guest")
        else:
            host, guest = value, None
        config = _set_port(config, str(name).lower(), host, guest, f"{path}: ports.{name}")
    return config


def _apply_env(config: LabConfig, env: Mapping[str, str]) -> LabConfig:
    if env.get("MOTORCADE_LAB_CACHE"):
        config = replace(config, cache=Path(env["MOTORCADE_LAB_CACHE"]).expanduser().resolve())
    if env.get("MOTORCADE_LAB_NAME"):
        config = replace(config, name=env["MOTORCADE_LAB_NAME"])
    if env.get("MOTORCADE_LAB_MIRROR"):
        config = replace(config, mirror=env["MOTORCADE_LAB_MIRROR"])
    if env.get("MOTORCADE_LAB_FORM"):
        config = replace(config, form=env["MOTORCADE_LAB_FORM"])
    if env.get("MOTORCADE_LAB_CA_DIR"):
        config = replace(config, ca_folder=Path(env["MOTORCADE_LAB_CA_DIR"]).expanduser())
    prefix = "MOTORCADE_LAB_PORT_"
    for key in sorted(env):
        if key.startswith(prefix):
            config = _set_port(config, key[len(prefix) :].lower(), env[key], None, key)
    return config


def _set_port(config: LabConfig, name: str, host: object, guest: object, where: str) -> LabConfig:
    current = {forward.name: forward for forward in config.ports}
    host_port = _as_port(host, where)
    if guest is None:
        if name not in current:
            raise LabConfigError(f"{where}: a new forward needs both host and guest ports")
        guest_port = current[name].guest
    else:
        guest_port = _as_port(guest, where)
    updated = PortForward(name, host_port, guest_port)
    ports = tuple(updated if f.name == name else f for f in config.ports)
    if name not in current:
        ports = (*ports, updated)
    return replace(config, ports=ports)


def _as_port(value: object, where: str) -> int:
    try:
        port = int(str(value))
    except ValueError:
        raise LabConfigError(f"{where}: {value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise LabConfigError(f"{where}: {port} is not between 1 and 65535")
    return port


def _validate(config: LabConfig) -> None:
    if not _NAME_RE.match(config.name):
        raise LabConfigError(f"lab name {config.name!r} must be lowercase letters, digits, '.', '_' or '-'")
    if config.form not in FORMS:
        raise LabConfigError(f"lab form {config.form!r} is not one of {', '.join(FORMS)}")
    hosts = [f.host for f in config.ports]
    guests = [f.guest for f in config.ports]
    for label, values in (("host", hosts), ("guest", guests)):
        duplicates = sorted({p for p in values if values.count(p) > 1})
        if duplicates:
            raise LabConfigError(f"lab {label} port(s) used twice: {', '.join(map(str, duplicates))}")
    if "ssh" not in {f.name for f in config.ports}:
        raise LabConfigError("the lab needs a port forward named 'ssh'")
