#!/bin/sh
# Runs inside the freshly debootstrapped lab host root filesystem (chroot), once per cache key.
set -eu
if ! getent passwd motorcade >/dev/null; then
    useradd --uid 1000 --create-home --shell /bin/bash --groups sudo motorcade
fi
usermod --password '*' motorcade          # no password; key-only login (a '!' lock would refuse keys)
install -d -m 0700 -o motorcade -g motorcade /home/motorcade/.ssh
install -d -m 0700 /root/.ssh
chmod 0440 /etc/sudoers.d/motorcade
sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen && locale-gen >/dev/null
# Host keys come from the lab's home at `lab up`; none are baked into the cached image.
rm -f /etc/ssh/ssh_host_*
# systemd generates the machine id at first boot.
rm -f /etc/machine-id /var/lib/dbus/machine-id && : > /etc/machine-id
# A container has no consoles or hardware clock to manage.
systemctl mask getty@tty1.service serial-getty@ttyS0.service console-getty.service systemd-timesyncd.service >/dev/null 2>&1 || true
systemctl enable ssh.service >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
