#!/usr/bin/env bash
# Print the Debian mirror that serves SUITE: the first deb source (deb822 or
# one-line format, security mirrors left out) that apt's configuration on
# this machine names. Read, never written. The image builds
# (vm-image/build.sh, nfs-image/build.sh) debootstrap from it.
#
# Usage: deploy/debian-mirror.sh SUITE
set -euo pipefail
suite="${1:?usage: debian-mirror.sh SUITE}"

mirror_from_apt() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      /^[[:space:]]*$/ { if (uri != "" && has) { print uri; exit } uri=""; has=0; next }
      /^URIs:/ { uri=$2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) has=1 }
      END { if (uri != "" && has) print uri }
    ' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '$1 == "deb" && $0 ~ (" " suite " ") { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
}
mirror="$(mirror_from_apt | grep -v security | head -n1)"
if [ -z "$mirror" ]; then
  echo "no Debian mirror for $suite in /etc/apt sources; add one or run on Debian" >&2
  exit 1
fi
echo "$mirror"
