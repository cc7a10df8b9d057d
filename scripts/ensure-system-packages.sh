#!/usr/bin/env bash
# Installs the Debian packages the local stack and its tests need, only when they are missing.
# As root with apt-get it installs them; otherwise it prints exactly what to install and fails.
set -euo pipefail

can_apt=false
[ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && can_apt=true

need=()
# Chromium only where apt can install it; elsewhere ensure-browser.sh falls back to Playwright's own build.
if $can_apt && [ -z "${CHROMIUM_PATH:-}" ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
fi
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# keytar (a dependency of the SWA CLI) builds from source where its install script runs.
dpkg -s libsecret-1-dev >/dev/null 2>&1 || { command -v dpkg >/dev/null 2>&1 && need+=(libsecret-1-dev); } || true

[ ${#need[@]} -eq 0 ] && exit 0

if $can_apt; then
  echo "setup: installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi

cat >&2 <<MSG
setup: these system packages are missing: ${need[*]}
  Debian/Ubuntu:  sudo apt-get install -y ${need[*]}
  macOS:          brew install redis
MSG
exit 1
