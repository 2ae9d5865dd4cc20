#!/bin/sh
# Runs inside the lab virtual machine's root file system (chroot) after lab/host/provision.sh.
set -eu
# A booted machine with its own kernel uses Podman's defaults (crun, systemd cgroups); the container
# form's runc/cgroupfs settings exist only because it shares this machine's cgroup tree.
rm -f /etc/containers/containers.conf
printf 'nameserver 10.0.2.3\n' > /etc/resolv.conf
systemctl enable systemd-networkd.service motorcade-lab-keys.service >/dev/null
