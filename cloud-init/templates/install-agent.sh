#!/bin/sh
# azlin: install and start the agent. Usage: install-agent URL SHA256
# The binary is downloaded, checked against the sha256 azlin rendered into
# this VM's user-data, and only then installed; a mismatch installs nothing.
set -eu
url="$1"
want="$2"
# What logs show: the URL without its query, which may hold a SAS.
shown="${url%%\?*}"
tmp="$(mktemp /usr/local/bin/.azlin-agent.XXXXXX)"
trap 'rm -f "$tmp"' EXIT
attempt=1
until curl -fsS --connect-timeout 10 --max-time 300 -o "$tmp" "$url"; do
  if [ "$attempt" -ge 10 ]; then
    echo "azlin: cannot download the agent from $shown; not installed" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 3
done
got="$(sha256sum "$tmp" | cut -d' ' -f1)"
if [ "$got" != "$want" ]; then
  echo "azlin: the agent from $shown has sha256 $got, expected $want; not installed" >&2
  exit 1
fi
chmod 0755 "$tmp"
mv -f "$tmp" /usr/local/bin/azlin-agent
systemctl daemon-reload
systemctl enable azlin-agent.service
systemctl restart azlin-agent.service
echo "azlin: agent $want installed and started"
