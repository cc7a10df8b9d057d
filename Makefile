# The two commands people need: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR_STAMP := static_frontend/vendor/.vendored

.PHONY: setup run test test-fast bench fuzz soak trust-ca clean system-packages browser certs

setup: system-packages $(STAMP) browser $(NODE_STAMP) $(VENDOR_STAMP) certs

system-packages:
	@./scripts/ensure-system-packages.sh

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The SPA loads MSAL.js as plain UMD scripts copied out of node_modules (never committed).
$(VENDOR_STAMP): $(NODE_STAMP) static_frontend/scripts/vendor.mjs
	@npm run --silent vendor
	@touch $@

browser: $(STAMP)
	@./scripts/ensure-browser.sh $(PY)

certs: $(STAMP)
	@$(PY) -m localdev certs

# FUNCTIONS=core-tools runs `func start` (with Azurite) instead of the local host; never chosen silently.
run: setup
	@$(PY) -m localdev run $(if $(FUNCTIONS),--functions $(FUNCTIONS))

test: setup
	@$(PY) -m pytest

test-fast: setup
	@$(PY) -m pytest -m "not e2e"

bench: setup
	@$(PY) -m benchmarks

fuzz: setup
	@$(PY) -m benchmarks.fuzz

soak: setup
	@$(PY) -m benchmarks.soak

trust-ca: setup
	@$(PY) -m localdev trust-ca

clean:
	rm -rf $(VENV) node_modules .localdev static_frontend/vendor .pytest_cache .hypothesis tests/artifacts
