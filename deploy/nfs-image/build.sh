#!/usr/bin/env bash
# Build the container image of the docker provider's shared storage: an
# NFS 4.1 server (nfs-ganesha with its VFS backend, from Debian bookworm by
# debootstrap, as deploy/vm-image/build.sh builds the VM image), started
# as PID 1 in the foreground, exporting /srv/azlin-nfs (a volume; mode
# 1777 while root owns it, so each user makes a folder of their own there;
# once `azlin new --nfs-storage` has given it to the VM user as their
# home, its owner and mode are left as they are).
# The export itself is written by azlin into the container
# (/etc/ganesha/ganesha.conf) when it makes a storage.
#
# Tagged azlin-nfs:<hash of this recipe>; when that tag exists nothing is
# built. Prints the tag on stdout (progress goes to stderr).
#
# Usage: deploy/nfs-image/build.sh [--print-tag]
# Needs: root, debootstrap, docker.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

suite=bookworm
packages=(nfs-ganesha nfs-ganesha-vfs)

recipe_hash="$(cd "$here" && sha256sum build.sh | cut -c1-12)"
tag="azlin-nfs:$recipe_hash"
if [ "${1:-}" = "--print-tag" ]; then
  echo "$tag"
  exit 0
fi
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

# The same mirror as the VM image: the first one apt's sources name.
mirror="$(bash "$here/../debian-mirror.sh" "$suite")"
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

work="$(mktemp -d /var/tmp/azlin-nfs-image.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
echo "building $tag from $mirror (debootstrap $suite)" >&2
include="$(IFS=,; echo "${packages[*]}")"
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | docker import \
  --change 'ENTRYPOINT ["/bin/sh", "-c", "mkdir -p /run/ganesha /srv/azlin-nfs && if [ $(stat -c %u /srv/azlin-nfs) = 0 ]; then chmod 1777 /srv/azlin-nfs; fi && exec /usr/bin/ganesha.nfsd -F -L /dev/stdout -f /etc/ganesha/ganesha.conf"]' \
  - "$tag" >&2
echo "$tag"
