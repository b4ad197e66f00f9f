# azlin os-update: apt update and upgrade, non-interactively, as root or
# through passwordless sudo. With DRY_RUN=1 the upgrade is only simulated.
set -e
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "os-update needs root or passwordless sudo on this VM" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "os-update supports apt-based systems (Debian, Ubuntu); this VM has no apt-get" >&2
  exit 1
fi
echo "==> apt-get update"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update
if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "==> apt-get upgrade (simulated)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -s upgrade
else
  echo "==> apt-get upgrade"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold upgrade
fi
echo "==> os-update done"
