#!/bin/sh
# Installs what the Motorcade lab needs on a Debian 12 machine; safe to run again (changes only what is missing).
#
#   sudo lab/setup-host.sh
#
# - Podman with runc, debootstrap (builds the lab's root filesystems), OpenSSH client (Ansible's way in),
#   QEMU (the lab host is a KVM virtual machine where KVM works; without it the lab is a systemd container).
# - /etc/containers/containers.conf: runc as runtime and ulimits within what the machine grants. Without it,
#   on machines whose PID 1 is not systemd (cgroup v1/hybrid, no CAP_SYS_RESOURCE) containers do not start:
#   crun refuses hybrid cgroups and raising RLIMIT_NOFILE is not permitted. An existing file is left alone
#   unless it lacks these settings, in which case it is saved as containers.conf.motorcade-backup first.
set -eu

packages="podman runc netavark aardvark-dns slirp4netns uidmap fuse-overlayfs iptables debootstrap
openssh-client ca-certificates tar e2fsprogs qemu-system-x86 qemu-utils"

if [ "$(id -u)" -ne 0 ]; then
    echo "lab/setup-host.sh must run as root (try: sudo $0)" >&2
    exit 1
fi
if ! grep -q '^VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null; then
    echo "warning: this is not Debian 12 (bookworm); continuing with the same package names" >&2
fi

missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
        missing="$missing $package"
    fi
done
if [ -n "$missing" ]; then
    echo "lab setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086 # one word per package on purpose
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "lab setup: packages present"
fi

conf=/etc/containers/containers.conf
wanted='[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"'
if [ -f "$conf" ] && grep -q '^runtime = "runc"' "$conf" && grep -q '^default_ulimits' "$conf"; then
    echo "lab setup: $conf already configured"
else
    mkdir -p /etc/containers
    if [ -f "$conf" ]; then
        cp -p "$conf" "$conf.motorcade-backup"
        echo "lab setup: saved the previous $conf as $conf.motorcade-backup"
    fi
    printf '# Written by Motorcade lab/setup-host.sh (see LAB-NOTES).\n%s\n' "$wanted" > "$conf"
    echo "lab setup: wrote $conf"
fi

podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null
echo "lab setup: podman $(podman version --format '{{.Client.Version}}') ready"
