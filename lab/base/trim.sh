#!/bin/sh
# Turns a debootstrap minbase root filesystem into the equivalent of docker.io/library/debian:bookworm-slim
# (runs on the machine with the root filesystem as $1).
set -eu
root="$1"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log
cat > "$root"/etc/dpkg/dpkg.cfg.d/docker <<'CFG'
# As in the official slim image: no documentation is unpacked.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
CFG
rm -f "$root"/etc/machine-id "$root"/etc/hostname
