"""`up`, `down`, `reset` and `status`: the lab's public lifecycle, each safe to rerun or to resume."""

from __future__ import annotations

import fcntl
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from motorcade.lab import artifacts, host
from motorcade.lab.config import BASE_IMAGE, LabConfig
from motorcade.lab.errors import LabBusyError, LabConfigError, LabLeftoverError
from motorcade.lab.events import LabEvent, LabStage, Progress, ignore
from motorcade.lab.inventory import vault_file, write_inventory
from motorcade.lab.keys import ensure_keys, ssh_argv, write_known_hosts
from motorcade.lab.ports import check_free, is_listening
from motorcade.lab.status import LabStatus
from motorcade.lab.vault import ensure_vault, load_catalogue

FORM = "systemd container (podman, nested podman)"


@contextmanager
def _locked(config: LabConfig) -> Iterator[None]:
    config.home.mkdir(parents=True, exist_ok=True)
    with (config.home / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabBusyError(f"another `motorcade lab` command is working on {config.home}") from None
        yield


def up(config: LabConfig, progress: Progress = ignore) -> LabStatus:
    """Bring the lab host up (building or reusing cached artifacts); rerunning it only fixes what is missing."""
    with _locked(config):
        started = time.monotonic()
        info = host.inspect(config)
        if info is not None and info.ports_label != host.ports_label(config.ports):
            raise LabConfigError(
                f"{config.name} was created with ports {info.ports_label or '(none)'}; "
                "run `motorcade lab reset` to apply the new ports"
            )
        if info is None or not info.running:
            progress(LabEvent(LabStage.CHECK, "checking that the lab's ports on 127.0.0.1 are free"))
            check_free(config.ports)
        host_fs = artifacts.ensure(config, "host", progress)
        base_fs = artifacts.ensure(config, "base", progress)

        keys = ensure_keys(config)
        write_known_hosts(config, keys)
        catalogue = load_catalogue(config.repo / "ansible" / "secrets.yml")
        added = ensure_vault(vault_file(config), config.vault_password_file, catalogue)
        progress(
            LabEvent(
                LabStage.SECRETS,
                f"vault: {len(added)} secret(s) generated" if added else "vault: every catalogued secret present",
                cached=not added,
            )
        )
        config.workspace.mkdir(parents=True, exist_ok=True)

        if info is None:
            image, cached = host.ensure_image(host_fs)
            progress(LabEvent(LabStage.IMAGE, f"host image {image}", cached=cached))
            progress(LabEvent(LabStage.HOST, f"creating the lab host container {config.name}"))
            host.create(config, image, keys)
            info = host.inspect(config)
        if info is not None and not info.running:
            progress(LabEvent(LabStage.HOST, f"starting {config.name}"))
            host.start(config)
        else:
            progress(LabEvent(LabStage.HOST, f"{config.name} is already running", cached=True))
        state = host.wait_booted(config)
        progress(LabEvent(LabStage.BOOT, f"systemd is {state}"))
        if host.ensure_access(config, keys):
            progress(LabEvent(LabStage.SSH, "installed this lab home's SSH keys into the host"))
        if host.has_base_image(config):
            progress(LabEvent(LabStage.BASE_IMAGE, f"{BASE_IMAGE} present in the lab host", cached=True))
        else:
            progress(LabEvent(LabStage.BASE_IMAGE, f"loading {BASE_IMAGE} into the lab host"))
            host.load_base_image(config, base_fs)
        host.wait_ssh(config)
        progress(LabEvent(LabStage.SSH, f"SSH ready on 127.0.0.1:{config.port('ssh').host}"))
        inventory = write_inventory(config)
        progress(LabEvent(LabStage.INVENTORY, f"inventory {inventory} ({time.monotonic() - started:.1f} s in all)"))
        return _status(config)


def down(config: LabConfig, progress: Progress = ignore) -> LabStatus:
    """Stop the lab host (its disk is kept for the next `up`) and prove nothing of it still runs or listens."""
    with _locked(config):
        if host.stop(config):
            progress(LabEvent(LabStage.DOWN, f"stopped {config.name}"))
        else:
            progress(LabEvent(LabStage.DOWN, f"{config.name} was not running", cached=True))
        leftovers = leftovers_of(config)
        if leftovers:
            raise LabLeftoverError(f"after down, still running: {'; '.join(leftovers)}")
        progress(LabEvent(LabStage.DOWN, "verified: no lab process, container or listening port is left"))
        return _status(config)


def leftovers_of(config: LabConfig) -> list[str]:
    """What of the lab still runs or listens on this machine (empty when it is fully down)."""
    found = []
    info = host.inspect(config)
    if info is not None and info.running:
        found.append(f"container {config.name} ({info.status})")
    if info is not None:
        for pid, what in ((info.pid, "init"), (info.conmon_pid, "conmon")):
            if pid and _pid_alive(pid):
                found.append(f"{what} process {pid}")
    found += [f"port {f.address} ({f.name})" for f in config.ports if is_listening(f.host)]
    return found


def _pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def reset(config: LabConfig, progress: Progress = ignore, *, rebuild: bool = False, start: bool = True) -> LabStatus:
    """Throw the lab host away (container, storage, workspace), then bring up a clean one unless `start` is False.

    SSH keys and vault secrets are kept. With `rebuild`, the cached root filesystems are rebuilt too.
    """
    with _locked(config):
        host.stop(config)
        for what in host.remove(config):
            progress(LabEvent(LabStage.RESET, f"removed {what}"))
        if config.workspace.exists():
            artifacts.remove_tree(config.workspace)
            progress(LabEvent(LabStage.RESET, f"emptied the workspace {config.workspace}"))
        if rebuild:
            for path in artifacts.drop_cache(config):
                progress(LabEvent(LabStage.RESET, f"removed cached {path.name}"))
            host.remove_image(artifacts.planned(config, "host"))
    if start:
        return up(config, progress)
    return _status(config)


def status(config: LabConfig) -> LabStatus:
    """What is up and where: container state, systemd state, ports, SSH command, inventory."""
    return _status(config)


def _status(config: LabConfig) -> LabStatus:
    info = host.inspect(config)
    state = "absent" if info is None else info.status
    system_state = None
    failed: tuple[str, ...] = ()
    if info is not None and info.running:
        system_state = host.system_state(config)
        if system_state == "degraded":
            failed = tuple(host.failed_units(config))
    return LabStatus(
        name=config.name,
        form=FORM,
        state=state,
        system_state=system_state,
        ports=config.ports,
        ssh_command=shlex.join(ssh_argv(config)),
        inventory=config.inventory_dir,
        vault_password_file=config.vault_password_file,
        workspace=config.workspace,
        home=config.home,
        cache=config.cache,
        failed_units=failed,
    )
