"""Built artifacts: the lab host's and the base image's root filesystems, built by debootstrap and cached.

Each artifact is a tarball named after a key hashed from everything that shapes it, so editing a
package list or a provisioning file rebuilds it, and a build killed half-way leaves only a
`.partial` folder that the next build removes first.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import require, run
from motorcade.lab.config import SUITE, LabConfig
from motorcade.lab.errors import LabError
from motorcade.lab.events import LabEvent, LabStage, Progress

SECURITY_MIRROR = "http://deb.debian.org/debian-security"
_DEBOOTSTRAP_TIMEOUT = 1800


# What each artifact is made from: the lab/ folders whose files shape it.
SOURCES = {"host": ("host",), "base": ("base",), "vm": ("host", "vm")}
VM_DISK_SIZE = "20G"


@dataclass(frozen=True)
class Artifact:
    """One cached build: a root filesystem tarball (host, base) or a folder with a bootable disk (vm)."""

    kind: str  # "host", "base" or "vm"
    key: str
    path: Path

    @property
    def tarball(self) -> Path:
        return self.path

    @property
    def disk(self) -> Path:
        return self.path / "disk.raw"

    @property
    def kernel(self) -> Path:
        return self.path / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.path / "initrd.img"


def sources_list(mirror: str) -> str:
    """The APT sources of a bookworm system using `mirror`."""
    return (
        f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\ndeb {SECURITY_MIRROR} {SUITE}-security main\n"
    )


def packages(config: LabConfig, kind: str) -> list[str]:
    """The packages debootstrap adds for `kind` (lab/<folder>/packages.txt of each of its sources)."""
    found: list[str] = []
    for folder in SOURCES[kind]:
        listing = config.lab_files / folder / "packages.txt"
        if listing.is_file():
            text = listing.read_text(encoding="utf-8")
            found += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return found


def artifact_key(config: LabConfig, kind: str) -> str:
    """A short hash of every input that shapes the `kind` artifact."""
    digest = hashlib.sha256(f"{kind}\n{SUITE}\n{config.mirror}\n".encode())
    for name in SOURCES[kind]:
        folder = config.lab_files / name
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def planned(config: LabConfig, kind: str) -> Artifact:
    """Where the `kind` artifact for the current inputs lives in the cache (built or not)."""
    key = artifact_key(config, kind)
    suffix = "" if kind == "vm" else ".tar"
    return Artifact(kind, key, config.cache / f"{kind}-{SUITE}-{key}{suffix}")


def ensure(config: LabConfig, kind: str, progress: Progress) -> Artifact:
    """The `kind` artifact, built now unless the cache already holds it.

    Labs share the cache: a build holds the artifact's lock file there, so a second lab coming up meanwhile waits for
    that build and uses it instead of building into the same `.partial` folder.
    """
    artifact = planned(config, kind)
    if artifact.path.exists():
        progress(LabEvent(LabStage.ARTIFACTS, f"{kind} root filesystem {artifact.key} from cache", cached=True))
        return artifact
    config.cache.mkdir(parents=True, exist_ok=True)
    with artifact.path.with_name(f".{artifact.path.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if artifact.path.exists():
            progress(LabEvent(LabStage.ARTIFACTS, f"{kind} root filesystem {artifact.key} from cache", cached=True))
            return artifact
        return _build(config, artifact, progress)


def _build(config: LabConfig, artifact: Artifact, progress: Progress) -> Artifact:
    kind = artifact.kind
    require("debootstrap")
    partial = artifact.path.with_name(artifact.path.name.removesuffix(".tar") + ".partial")
    remove_tree(partial)
    rootfs = partial / "rootfs"
    rootfs.mkdir(parents=True)
    progress(LabEvent(LabStage.ARTIFACTS, f"building the {kind} root filesystem with debootstrap (a few minutes)"))
    debs = config.cache / "debs"
    debs.mkdir(exist_ok=True)
    argv = ["debootstrap", "--variant=minbase", f"--cache-dir={debs}"]
    if kind != "base":
        argv.append("--include=" + ",".join(packages(config, kind)))
    run([*argv, SUITE, str(rootfs), config.mirror], timeout=_DEBOOTSTRAP_TIMEOUT)
    (rootfs / "etc" / "apt" / "sources.list").write_text(sources_list(config.mirror), encoding="utf-8")
    if kind == "base":
        run(["sh", str(config.lab_files / "base" / "trim.sh"), str(rootfs)])
    else:
        for folder in SOURCES[kind]:
            _provision(config, folder, rootfs)
    progress(LabEvent(LabStage.ARTIFACTS, f"packing the {kind} root filesystem"))
    if kind == "vm":
        _pack_disk(rootfs, partial / "out")
        (partial / "out").replace(artifact.path)
    else:
        packed = partial / "rootfs.tar"
        run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(packed), "."])
        packed.replace(artifact.path)
    remove_tree(partial)
    return artifact


def _provision(config: LabConfig, folder: str, rootfs: Path) -> None:
    files = config.lab_files / folder / "files"
    if files.is_dir():
        shutil.copytree(files, rootfs, dirs_exist_ok=True, symlinks=True)
    script = config.lab_files / folder / "provision.sh"
    with script.open("rb") as stdin:
        run(["chroot", str(rootfs), "/bin/sh", "-s"], stdin=stdin)


def _pack_disk(rootfs: Path, out: Path) -> None:
    """Make a bootable set from `rootfs`: kernel, initrd and a sparse ext4 disk image filled from the tree."""
    out.mkdir()
    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError("the virtual machine's root filesystem has no kernel or initrd in /boot")
    shutil.copyfile(kernels[-1], out / "vmlinuz")
    shutil.copyfile(initrds[-1], out / "initrd.img")
    disk = out / "disk.raw"
    run(["truncate", "-s", VM_DISK_SIZE, str(disk)])
    run(["mkfs.ext4", "-q", "-F", "-L", "lab-root", "-d", str(rootfs), str(disk)], timeout=900)


def remove_tree(path: Path) -> None:
    """Remove `path`, first unmounting anything a killed debootstrap left mounted inside it."""
    if not path.exists():
        return
    prefix = str(path.resolve()) + "/"
    mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
    targets = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for target in sorted(targets, key=len, reverse=True):
        run(["umount", "-l", target], check=False)
    shutil.rmtree(path)


def drop_cache(config: LabConfig) -> list[Path]:
    """Remove every cached artifact (the debootstrap package cache is kept); return what was removed."""
    if not config.cache.is_dir():
        return []
    removed = []
    for path in sorted(config.cache.iterdir()):
        if path.name.endswith((".tar", ".partial")) or path.name.startswith("vm-"):
            if path.is_dir():
                remove_tree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed
