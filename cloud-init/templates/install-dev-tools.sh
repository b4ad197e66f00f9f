#!/bin/bash
# azlin: the development tools of a new VM. Usage: install-dev-tools USER
# Each section runs on its own: one that fails is reported and the others
# still run. Results: /var/lib/azlin/dev-tools.status (one "SECTION ok" or
# "SECTION failed" line each), details in /var/log/azlin/dev-tools.log.
set -u -o pipefail
user="$1"
status_file=/var/lib/azlin/dev-tools.status
log=/var/log/azlin/dev-tools.log
mkdir -p /var/lib/azlin /var/log/azlin
: > "$status_file"
export DEBIAN_FRONTEND=noninteractive
failed=0

section() {
  local name="$1"
  shift
  echo "== $name" >> "$log"
  # Not `if ( … )`: bash ignores set -e inside a condition.
  ( set -e; "$@" ) >> "$log" 2>&1
  if [ $? -eq 0 ]; then
    echo "$name ok" >> "$status_file"
  else
    echo "$name failed" >> "$status_file"
    echo "azlin: dev tools section '$name' failed; see $log" >&2
    failed=1
  fi
}

as_user() { sudo -u "$user" -H bash -lc "set -eo pipefail; $1"; }

apt_base() {
  apt-get update -q
  apt-get install -y -q git tmux build-essential pkg-config libssl-dev curl wget \
    jq unzip ripgrep ca-certificates gnupg
}
docker_engine() {
  apt-get install -y -q docker.io
  usermod -aG docker "$user"
}
python() {
  apt-get install -y -q python3 python3-pip python3-venv
  as_user 'curl -LsSf https://astral.sh/uv/install.sh | sh'
}
node() {
  curl -fsSL https://deb.nodesource.com/setup_lts.x | bash -
  apt-get install -y -q nodejs
}
rust() {
  as_user 'curl -fsSL https://sh.rustup.rs | sh -s -- -y --profile default'
}
github_cli() {
  curl -fsSL https://cli.github.com/packages/githubcli-archive-keyring.gpg \
    -o /usr/share/keyrings/githubcli-archive-keyring.gpg
  echo "deb [signed-by=/usr/share/keyrings/githubcli-archive-keyring.gpg] https://cli.github.com/packages stable main" \
    > /etc/apt/sources.list.d/github-cli.list
  apt-get update -q
  apt-get install -y -q gh
}
azure_cli() {
  curl -fsSL https://aka.ms/InstallAzureCLIDeb | bash
}

section apt-base apt_base
section docker docker_engine
section python python
section node node
section rust rust
section github-cli github_cli
section azure-cli azure_cli
exit "$failed"
