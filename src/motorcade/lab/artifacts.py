"""Built artifacts: the lab host's and the base image's root filesystems, built by debootstrap and cached.

Each artifact is a tarball named after a key hashed from everything that shapes it, so editing a
package list or a provisioning file rebuilds it, and a build killed half-way leaves only a
`.partial` folder that the next build removes first.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from motorcade.lab.commands import require, run
from motorcade.lab.config import SUITE, LabConfig
from motorcade.lab.events import LabEvent, LabStage, Progress

SECURITY_MIRROR = "http://deb.debian.org/debian-security"
_DEBOOTSTRAP_TIMEOUT = 1800


@dataclass(frozen=True)
class Artifact:
    """One cached root filesystem tarball."""

    kind: str  # "host" or "base"
    key: str
    tarball: Path


def sources_list(mirror: str) -> str:
    """The APT sources of a bookworm system using `mirror`."""
    return (
        f"deb {mirror} {SUITE} main\ndeb {mirror} {SUITE}-updates main\ndeb {SECURITY_MIRROR} {SUITE}-security main\n"
    )


def host_packages(config: LabConfig) -> list[str]:
    """The packages listed in lab/host/packages.txt."""
    text = (config.lab_files / "host" / "packages.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def artifact_key(config: LabConfig, kind: str) -> str:
    """A short hash of every input that shapes the `kind` artifact."""
    digest = hashlib.sha256(f"{kind}\n{SUITE}\n{config.mirror}\n".encode())
    folder = config.lab_files / kind
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def planned(config: LabConfig, kind: str) -> Artifact:
    """Where the `kind` artifact for the current inputs lives in the cache (built or not)."""
    key = artifact_key(config, kind)
    return Artifact(kind, key, config.cache / f"{kind}-{SUITE}-{key}.tar")


def ensure(config: LabConfig, kind: str, progress: Progress) -> Artifact:
    """The `kind` artifact, built now unless the cache already holds it."""
    artifact = planned(config, kind)
    if artifact.tarball.is_file():
        progress(LabEvent(LabStage.ARTIFACTS, f"{kind} root filesystem {artifact.key} from cache", cached=True))
        return artifact
    require("debootstrap")
    config.cache.mkdir(parents=True, exist_ok=True)
    partial = artifact.tarball.with_suffix(".partial")
    remove_tree(partial)
    rootfs = partial / "rootfs"
    rootfs.mkdir(parents=True)
    progress(LabEvent(LabStage.ARTIFACTS, f"building the {kind} root filesystem with debootstrap (a few minutes)"))
    debs = config.cache / "debs"
    debs.mkdir(exist_ok=True)
    argv = ["debootstrap", "--variant=minbase", f"--cache-dir={debs}"]
    if kind == "host":
        argv.append("--include=" + ",".join(host_packages(config)))
    run([*argv, SUITE, str(rootfs), config.mirror], timeout=_DEBOOTSTRAP_TIMEOUT)
    (rootfs / "etc" / "apt" / "sources.list").write_text(sources_list(config.mirror), encoding="utf-8")
    if kind == "host":
        _provision_host(config, rootfs)
    else:
        run(["sh", str(config.lab_files / "base" / "trim.sh"), str(rootfs)])
    progress(LabEvent(LabStage.ARTIFACTS, f"packing the {kind} root filesystem"))
    packed = partial / "rootfs.tar"
    run(["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf", str(packed), "."])
    packed.replace(artifact.tarball)
    remove_tree(partial)
    return artifact


def _provision_host(config: LabConfig, rootfs: Path) -> None:
    files = config.lab_files / "host" / "files"
    shutil.copytree(files, rootfs, dirs_exist_ok=True)
    script = config.lab_files / "host" / "provision.sh"
    with script.open("rb") as stdin:
        run(["chroot", str(rootfs), "/bin/sh", "-s"], stdin=stdin)


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
        if path.name.endswith((".tar", ".partial")):
            if path.is_dir():
                remove_tree(path)
            else:
                path.unlink()
            removed.append(path)
    return removed
