# The two commands people need: `make run` and `make test`. Everything else supports them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
VENDOR_STAMP := static_frontend/vendor/.vendored

.PHONY: setup setup-run setup-fast run test test-fast bench bench-runs bench-sweep fuzz soak trust-ca clean prerequisites browser certs \
        run-packages test-packages test-fast-packages

# What running needs (Redis and the rest optional, with a warning); what the tests need on top.
setup-run: prerequisites run-packages $(STAMP) $(NODE_STAMP) $(VENDOR_STAMP) certs
setup-fast: setup-run test-fast-packages
setup: setup-run test-packages browser

prerequisites:
	@./scripts/check-prerequisites.sh $(PYTHON)

run-packages:
	@./scripts/ensure-system-packages.sh run

test-fast-packages:
	@./scripts/ensure-system-packages.sh fast

test-packages:
	@./scripts/ensure-system-packages.sh test

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
run: setup-run
	@$(PY) -m localdev run $(if $(FUNCTIONS),--functions $(FUNCTIONS))

test: setup
	@node --test tests/js/*.test.mjs
	@$(PY) -m pytest

test-fast: setup-fast
	@$(PY) -m pytest -m "not e2e"

bench: setup
	@$(PY) -m benchmarks

# Five consecutive `make bench` runs (benchmarks/results/run-N.json) and the ranges the docs report.
bench-runs: setup
	@$(PY) -m benchmarks.ranges --runs 5

# One worker process at concurrency 1-64 against the Graph floor: benchmarks/results/sweep.{json,png}.
bench-sweep: setup
	@$(PY) -m benchmarks --sweep

fuzz: setup
	@$(PY) -m benchmarks.fuzz

soak: setup
	@$(PY) -m benchmarks.soak

trust-ca: setup-run
	@$(PY) -m localdev trust-ca

clean:
	rm -rf $(VENV) node_modules .localdev static_frontend/vendor .pytest_cache .hypothesis tests/artifacts
