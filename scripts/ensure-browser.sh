#!/usr/bin/env bash
# The browser tests drive Chromium with Playwright. Prefer the system Chromium (installed by
# ensure-system-packages.sh where apt is available); otherwise let Playwright download its own build,
# which works on ordinary machines with internet access. If neither works, say exactly what to do.
set -euo pipefail
PY=${1:-.venv/bin/python}

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "${CHROMIUM_PATH}" ]; then exit 0; fi
if [ -x /usr/bin/chromium ]; then exit 0; fi
if compgen -G "${HOME}/.cache/ms-playwright/chromium-*/chrome-linux*/chrome" >/dev/null \
   || compgen -G "${HOME}/Library/Caches/ms-playwright/chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium" >/dev/null; then
  exit 0
fi

echo "setup: no Chromium found; trying 'playwright install chromium'"
if "$PY" -m playwright install chromium; then exit 0; fi

cat >&2 <<MSG
setup: the browser tests need Chromium and none could be installed.
  Debian/Ubuntu:  sudo apt-get install -y chromium
  elsewhere:      install Chromium or Chrome and set CHROMIUM_PATH to its binary
MSG
exit 1
