#!/usr/bin/env bash
# The tools every `make` target needs, with the versions the code needs; says what to install otherwise.
# Python >= 3.10 (the code uses 3.10 syntax; Azure runs 3.11) with venv and pip, Node.js >= 18 with npm.
set -euo pipefail
PYTHON=${1:-python3}
problems=()

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  problems+=("Python 3.10 or newer is required: '$PYTHON' was not found (set PYTHON=/path/to/python3).")
else
  version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo "unknown")
  if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
    problems+=("Python 3.10 or newer is required; '$PYTHON' is $version (set PYTHON=/path/to/python3.11).")
  elif [ ! -x .venv/bin/python ] && ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    problems+=("Python's venv module is missing (Debian/Ubuntu: sudo apt-get install python3-venv).")
  fi
fi

if ! command -v node >/dev/null 2>&1; then
  problems+=("Node.js 18 or newer is required and was not found (https://nodejs.org, or your package manager).")
else
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 18 ]; then
    problems+=("Node.js 18 or newer is required; node is $(node --version).")
  fi
  command -v npm >/dev/null 2>&1 || problems+=("npm is required with Node.js and was not found.")
fi

if [ ${#problems[@]} -gt 0 ]; then
  echo "setup: missing prerequisites:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
