#!/usr/bin/env bash
# Build the container image that stands in for a VM (the docker provider and
# the fleet tests): Debian bookworm by debootstrap from the Debian mirror this
# machine's apt sources name, with systemd as PID 1, cloud-init, sshd, tmux,
# sudo, procps, iproute2, curl and git, then `docker import`.
#
# The image is tagged azlin-vm:<hash of this recipe>; when that tag exists
# nothing is built. systemd stops on SIGRTMIN+3: containers are run with
# --stop-signal (docker import cannot set it). Prints the tag on stdout (progress goes to stderr).
#
# Usage: deploy/vm-image/build.sh [--print-tag]
#   --print-tag   only print the tag the current recipe builds
# Needs: root, debootstrap, docker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

suite=bookworm
packages=(
  systemd systemd-sysv dbus cloud-init openssh-server tmux sudo procps
  iproute2 curl ca-certificates iputils-ping less git
  # debootstrap resolves no virtual packages: cloud-init needs these named.
  python3-cffi-backend
)

# The tag depends on everything that shapes the image: this script and the
# files it copies in.
recipe_hash="$(cd "$here" && find build.sh rootfs -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
tag="azlin-vm:$recipe_hash"
if [ "${1:-}" = "--print-tag" ]; then
  echo "$tag"
  exit 0
fi
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

# The Debian mirror apt's sources name (deploy/debian-mirror.sh).
mirror="$(bash "$here/../debian-mirror.sh" "$suite")"
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

work="$(mktemp -d /var/tmp/azlin-vm-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "building $tag from $mirror (debootstrap $suite)" >&2
include="$(IFS=,; echo "${packages[*]}")"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >&2

# What makes a container boot like a VM: no getty on consoles it has not
# got, and cloud-init told its only data source is the NoCloud seed (so it
# never waits on cloud metadata endpoints).
rm -f "$root"/etc/systemd/system/getty.target.wants/* \
      "$root"/etc/systemd/system/multi-user.target.wants/getty.target
ln -sf /dev/null "$root/etc/systemd/system/systemd-udevd.service"
ln -sf /dev/null "$root/etc/systemd/system/systemd-udev-trigger.service"
ln -sf /dev/null "$root/etc/systemd/system/systemd-resolved.service"
cp -a "$here"/rootfs/. "$root"/ 2>/dev/null || true
# Host keys are made per container at first boot (by cloud-init), never
# baked into the image.
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | docker import \
  --change 'ENTRYPOINT ["/sbin/init"]' \
  - "$tag" >&2
echo "$tag"
