"""`up`, `down`, `reset` and `status`: the lab's public lifecycle, each safe to rerun or to resume.

The lab host takes one of two forms, chosen when it is created and kept until `reset`:
- a QEMU virtual machine, where KVM works (or when asked for with form = vm, then under TCG);
- a systemd container with nested Podman on this machine's Podman, everywhere else.
"""

from __future__ import annotations

import fcntl
import shlex
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from motorcade.lab import artifacts, host, kvm, s3, trust, vm
from motorcade.lab.config import BASE_IMAGE, LabConfig
from motorcade.lab.errors import LabBusyError, LabConfigError, LabLeftoverError
from motorcade.lab.events import LabEvent, LabStage, Progress, ignore
from motorcade.lab.host import ContainerInfo
from motorcade.lab.inventory import vault_file, write_inventory
from motorcade.lab.keys import LabKeys, ensure_keys, ssh_argv, write_known_hosts
from motorcade.lab.ports import check_free, is_listening
from motorcade.lab.status import LabStatus
from motorcade.lab.vault import ensure_vault, load_catalogue

CONTAINER = "container"
VM = "vm"
FORM_LABELS = {
    CONTAINER: "systemd container (podman, nested podman)",
    VM: "QEMU virtual machine",
}


@contextmanager
def _locked(config: LabConfig) -> Iterator[None]:
    config.home.mkdir(parents=True, exist_ok=True)
    with (config.home / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LabBusyError(f"another `motorcade lab` command is working on {config.home}") from None
        yield


def existing_form(config: LabConfig) -> str | None:
    """The form of the lab host that exists now (container or vm), or None when there is none."""
    if host.inspect(config) is not None:
        return CONTAINER
    if vm.inspect(config) is not None:
        return VM
    return None


def _inspect(config: LabConfig, form: str) -> ContainerInfo | None:
    return host.inspect(config) if form == CONTAINER else vm.inspect(config)


def _choose_form(config: LabConfig, progress: Progress) -> tuple[str, str]:
    """(form, accelerator) for this run; says once, when a new host is made, why KVM is not used."""
    form = existing_form(config)
    if form == CONTAINER or (form is None and config.form == CONTAINER):
        return CONTAINER, ""
    verdict = kvm.probe(config.cache)
    if form == VM or config.form == VM:
        if not verdict.usable and form is None:
            progress(LabEvent(LabStage.CHECK, f"KVM is not usable: {verdict.reason}; the VM runs under TCG (slow)"))
        return VM, "kvm" if verdict.usable else "tcg"
    if verdict.usable:
        progress(LabEvent(LabStage.CHECK, "KVM works here: the lab host is a KVM virtual machine"))
        return VM, "kvm"
    progress(LabEvent(LabStage.CHECK, f"KVM is not usable: {verdict.reason}; the lab host is a systemd container"))
    return CONTAINER, ""


def up(config: LabConfig, progress: Progress = ignore) -> LabStatus:
    """Bring the lab host up (building or reusing cached artifacts); rerunning it only fixes what is missing."""
    with _locked(config):
        started = time.monotonic()
        form, accel = _choose_form(config, progress)
        info = _inspect(config, form)
        if info is not None and info.ports_label != host.ports_label(config.ports):
            raise LabConfigError(
                f"{config.name} was created with ports {info.ports_label or '(none)'}; "
                "run `motorcade lab reset` to apply the new ports"
            )
        if info is None or not info.running:
            progress(LabEvent(LabStage.CHECK, "checking that the lab's ports on 127.0.0.1 are free"))
            check_free(config.ports)
        host_fs = artifacts.ensure(config, "host" if form == CONTAINER else "vm", progress)
        base_fs = artifacts.ensure(config, "base", progress)

        keys = ensure_keys(config)
        write_known_hosts(config, keys)
        catalogue = load_catalogue(config.repo / "ansible" / "secrets.yml")
        added = ensure_vault(vault_file(config), config.vault_password_file, catalogue)
        message = f"vault: {len(added)} secret(s) generated" if added else "vault: every catalogued secret present"
        progress(LabEvent(LabStage.SECRETS, message, cached=not added))
        config.workspace.mkdir(parents=True, exist_ok=True)

        if form == CONTAINER:
            _up_container(config, info, host_fs, keys, progress)
        else:
            _up_vm(config, info, host_fs, keys, accel, progress)
        if _has_base_image(config, form):
            progress(LabEvent(LabStage.BASE_IMAGE, f"{BASE_IMAGE} present in the lab host", cached=True))
        else:
            progress(LabEvent(LabStage.BASE_IMAGE, f"loading {BASE_IMAGE} into the lab host"))
            (host.load_base_image if form == CONTAINER else vm.load_base_image)(config, base_fs)
        host.wait_ssh(config)
        progress(LabEvent(LabStage.SSH, f"SSH ready on 127.0.0.1:{config.port('ssh').host}"))
        _trust(config, progress)
        served = s3.ensure_s3(config)
        progress(LabEvent(LabStage.S3, served.message, cached=not served.changed))
        inventory = write_inventory(config)
        progress(LabEvent(LabStage.INVENTORY, f"inventory {inventory} ({time.monotonic() - started:.1f} s in all)"))
        return _status(config)


def _up_container(
    config: LabConfig, info: ContainerInfo | None, fs: artifacts.Artifact, keys: LabKeys, progress: Progress
) -> None:
    if info is None:
        image = host.host_image_name(fs)
        if host.image_exists(image):
            progress(LabEvent(LabStage.IMAGE, f"host image {image} present", cached=True))
        else:
            progress(LabEvent(LabStage.IMAGE, f"importing the host image {image}"))
            host.import_image(fs)
        progress(LabEvent(LabStage.HOST, f"creating the lab host container {config.name}"))
        host.create(config, image, keys)
        info = host.inspect(config)
    if info is not None and not info.running:
        progress(LabEvent(LabStage.HOST, f"starting {config.name}"))
        host.start(config)
    else:
        progress(LabEvent(LabStage.HOST, f"{config.name} is already running", cached=True))
    progress(LabEvent(LabStage.BOOT, f"systemd is {host.wait_booted(config)}"))
    if host.ensure_access(config, keys):
        progress(LabEvent(LabStage.SSH, "installed this lab home's SSH keys into the host"))


def _up_vm(
    config: LabConfig,
    info: ContainerInfo | None,
    fs: artifacts.Artifact,
    keys: LabKeys,
    accel: str,
    progress: Progress,
) -> None:
    if info is None:
        progress(LabEvent(LabStage.HOST, f"creating the lab virtual machine's disk in {vm.folder(config)}"))
        vm.create(config, fs)
    if info is None or not info.running:
        progress(LabEvent(LabStage.HOST, f"booting the lab virtual machine ({accel.upper()})"))
        vm.start(config, fs, keys, accel)
    else:
        progress(LabEvent(LabStage.HOST, "the lab virtual machine is already running", cached=True))
    progress(LabEvent(LabStage.BOOT, f"systemd is {vm.wait_booted(config)}"))


def _trust(config: LabConfig, progress: Progress) -> None:
    trusted = trust.ensure_trust(config)
    for name in trusted.skipped:
        skipped = f"skipped {config.ca_folder / name}: not a PEM certificate with a plain file name"
        progress(LabEvent(LabStage.TRUST, skipped))
    names = ", ".join(trusted.names) or "none"
    where = f"this machine's CAs from {config.ca_folder}: {names}"
    if trusted.changed:
        progress(LabEvent(LabStage.TRUST, f"the lab host now trusts {where}"))
    else:
        progress(LabEvent(LabStage.TRUST, f"the lab host trusts {where}", cached=True))


def _has_base_image(config: LabConfig, form: str) -> bool:
    return host.has_base_image(config) if form == CONTAINER else vm.has_base_image(config)


def down(config: LabConfig, progress: Progress = ignore) -> LabStatus:
    """Stop the lab host (its disk is kept for the next `up`) and prove nothing of it still runs or listens."""
    with _locked(config):
        stopped = host.stop(config) or vm.stop(config)
        if stopped:
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
            if pid and Path(f"/proc/{pid}").exists():
                found.append(f"{what} process {pid}")
    machine = vm.inspect(config)
    if machine is not None and machine.running:
        found.append(f"QEMU process {machine.pid}")
    found += [f"port {f.address} ({f.name})" for f in config.ports if is_listening(f.host)]
    return found


def reset(config: LabConfig, progress: Progress = ignore, *, rebuild: bool = False, start: bool = True) -> LabStatus:
    """Throw the lab host away (container or VM disk, workspace), then bring up a clean one unless `start` is False.

    SSH keys and vault secrets are kept. With `rebuild`, the cached artifacts are rebuilt too.
    """
    with _locked(config):
        host.stop(config)
        for what in host.remove(config) + vm.remove(config):
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
    """What is up and where: host state, systemd state, ports, SSH command, inventory."""
    return _status(config)


def _status(config: LabConfig) -> LabStatus:
    form = existing_form(config)
    info = None if form is None else _inspect(config, form)
    state = "absent" if info is None else info.status
    label = "none yet" if form is None else FORM_LABELS[form]
    if form == VM:
        label += f" ({vm.accelerator(config).upper()})"
    system_state = None
    s3_state: str | None = None
    failed: tuple[str, ...] = ()
    if info is not None and info.running:
        system_state = host.system_state(config) if form == CONTAINER else vm.system_state(config)
        if system_state == "degraded":
            failed = tuple(host.failed_units(config) if form == CONTAINER else vm.failed_units(config))
        s3_state = s3.state(config)
    return LabStatus(
        name=config.name,
        form=label,
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
        s3=s3_state,
    )
