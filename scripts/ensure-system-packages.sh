#!/usr/bin/env bash
# System packages, installed only when they are missing and this machine can (root with apt-get).
#   run   what `make run` can use: redis-server (else the stack keeps its token cache in memory) and
#         libsecret-1-dev (the SWA CLI's keytar builds from source where its prebuilt binary can't be
#         downloaded). Both are optional: a missing one is a warning, never a failure.
#   test  what the tests need on top: redis-server (a real Redis for the cache tests), certutil
#         (libnss3-tools: the `make trust-ca` tests use a real NSS store) and, where apt can install it,
#         Chromium for the browser tests (elsewhere ensure-browser.sh finds another one).
#   fast  like test, without Chromium (`make test-fast` skips the browser tests).
set -euo pipefail
mode=${1:-test}

can_apt=false
[ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && can_apt=true

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s libsecret-1-dev >/dev/null 2>&1; then
  missing+=(libsecret-1-dev)
fi
if [ "$mode" != run ]; then
  command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
fi
if [ "$mode" = test ] && $can_apt && [ -z "${CHROMIUM_PATH:-}" ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

if $can_apt; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; then
    exit 0
  fi
  echo "setup: apt-get could not install ${missing[*]}" >&2
fi

if [ "$mode" = run ]; then
  for package in "${missing[@]}"; do
    case $package in
      redis-server) echo "setup: note: redis-server is not installed; 'make run' keeps the token cache in memory" \
                         "(a report job then does not survive a Functions host restart)." \
                         "Install it with: sudo apt-get install redis-server (macOS: brew install redis)." >&2 ;;
      libsecret-1-dev) echo "setup: note: libsecret-1-dev is not installed. If 'npm ci' fails building keytar" \
                            "(a dependency of the SWA CLI) install it: sudo apt-get install libsecret-1-dev." >&2 ;;
    esac
  done
  exit 0
fi

required=()
for package in "${missing[@]}"; do
  [ "$package" = libsecret-1-dev ] || required+=("$package")
done
[ ${#required[@]} -eq 0 ] && exit 0
cat >&2 <<MSG
setup: the tests need these system packages, which are missing: ${required[*]}
  Debian/Ubuntu:  sudo apt-get install -y ${required[*]}
  macOS:          brew install redis nss (and Chromium, or set CHROMIUM_PATH)
MSG
exit 1
