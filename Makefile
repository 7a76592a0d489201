# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install node-sdk bench bench-campaigns lint clean

# Reinstall when the dependencies change; `make install` forces nothing else.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# Migrate, create the admin and a source on first start, then serve until Ctrl-C.
run: install
	$(PY) manage.py bootstrap
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

# Segment's Node SDK for tests/test_sdk_segment_node.py; without npm those tests
# skip (and fail in CI, which has npm).
NODE_SDK := tests/node/node_modules/.installed
$(NODE_SDK): tests/node/package.json tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $@

node-sdk:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_SDK); \
	else echo "npm not found: skipping the Node SDK install"; fi

test: install node-sdk
	REGAL_INSTANCE=$${REGAL_INSTANCE:-regal-test} $(PY) -m pytest $(PYTEST_ARGS)

# The benchmarks: PostgreSQL and Redis on 127.0.0.1; each makes its own
# database and writes its own sections of docs/benchmarks.md.
# - bench/ingest.py (regal_bench): Ingestion. BENCH_ARGS passes options, e.g.
#   BENCH_ARGS="--processes 2".
# - bench/campaigns.py (regal_bench_campaigns): Campaigns, event to SMS and
#   evaluation cost; `make bench-campaigns` runs it alone. BENCH_CAMPAIGNS_ARGS
#   passes options, e.g. BENCH_CAMPAIGNS_ARGS="--only cost".
$(VENV)/.bench-installed: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	BENCH_VIA_MAKE=1 $(PY) -m bench.ingest $(BENCH_ARGS)
	BENCH_VIA_MAKE=1 $(PY) -m bench.campaigns $(BENCH_CAMPAIGNS_ARGS)

bench-campaigns: $(VENV)/.bench-installed
	BENCH_VIA_MAKE=bench-campaigns $(PY) -m bench.campaigns $(BENCH_CAMPAIGNS_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) var
