# azlin update: bring the development tools azlin's cloud-init installs up
# to date: their apt packages, rustup's toolchains, uv, and global npm
# packages (the AI coding CLIs among them). Each tool that is not installed
# is skipped; the others are still updated if one fails. With DRY_RUN=1
# the commands are printed instead of run.
status=0
run() {
  echo "  \$ $*"
  if [ "${DRY_RUN:-0}" != 1 ]; then
    "$@" || { echo "  failed: $*" >&2; status=1; }
  fi
}
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  SUDO="none"
fi
PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

echo "==> apt packages"
packages=""
for p in git gh azure-cli docker-ce docker-ce-cli containerd.io nodejs golang-go python3 python3-pip dotnet-sdk-10.0 tmux; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    packages="$packages $p"
  fi
done
if [ -z "$packages" ]; then
  echo "  none of the tools' packages are installed, skipped"
elif [ "$SUDO" = none ]; then
  echo "  skipped: needs root or passwordless sudo" >&2
  status=1
else
  run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update
  # shellcheck disable=SC2086
  run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y install --only-upgrade $packages
fi

echo "==> rust (rustup)"
if command -v rustup >/dev/null 2>&1; then run rustup update; else echo "  rustup not installed, skipped"; fi

echo "==> uv"
if command -v uv >/dev/null 2>&1; then run uv self update; else echo "  uv not installed, skipped"; fi

echo "==> npm global packages"
if command -v npm >/dev/null 2>&1; then
  if [ -w "$(npm prefix -g)" ]; then run npm update -g
  elif [ "$SUDO" != none ]; then run $SUDO npm update -g
  else echo "  skipped: the global npm prefix needs root" >&2; status=1; fi
else
  echo "  npm not installed, skipped"
fi

echo "==> update done"
exit $status
