# The two set-up commands: `make run` and `make test` (see README.md).
# Both create .venv with $(PYTHON) (3.11 or newer) and reinstall the project
# into it only when pyproject.toml changed since the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck format unit migrate clean web web-test chromium haproxy

# The web client (web/): TypeScript + React, built by Vite into web/dist, which
# `parley serve` serves at /. Rebuilt when a source file is newer than the build.
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)
NODE_CHECK := command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && node -e 'process.exit(parseInt(process.versions.node) < 20 ? 1 : 0)'

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Parley needs Python 3.11 or newer (make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: Parley needs Python 3.11 or newer, $(PYTHON) is $$($(PYTHON) -V 2>&1) (make PYTHON=/path/to/python3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: $(VENV) uses $$($(BIN)/python -V 2>&1); Parley needs 3.11 or newer: rm -rf $(VENV) and run make again" >&2; exit 1; }
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## run everything (embedded PostgreSQL and NATS unless PARLEY_*_URL are set), web client included
	@if $(NODE_CHECK); then \
		$(MAKE) --no-print-directory web/dist/index.html || echo "warning: the web client did not build (see above); serving the API only" >&2; \
	else \
		echo "warning: Node.js 20+ and npm not found: the web client is not built; serving the API only (install Node.js, then make run again)" >&2; \
	fi
	$(BIN)/parley run

test: $(STAMP)  ## lint, type-check and run the whole test suite (web client and browser tests included)
	@# The checks and the web build are independent: run them side by side.
	@$(MAKE) --no-print-directory -j4 --output-sync=target lint typecheck web-test chromium haproxy
	$(BIN)/pytest

web:  ## build the web client into web/dist (needs Node.js 20+ and npm)
	@$(NODE_CHECK) || { echo "error: Node.js 20+ and npm are needed to build the web client (web/)" >&2; exit 1; }
	@$(MAKE) --no-print-directory web/dist/index.html

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run typecheck && npm run build

web-test: web  ## type-check, build and unit-test the web client (Vitest)
	cd web && npm test

chromium:  ## Debian's Chromium for the browser tests (installed with apt-get when missing)
	@test -x /usr/bin/chromium || { \
		echo "installing Debian's chromium for the browser tests"; \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	}

haproxy:  ## Debian's HAProxy, the load balancer of `parley cluster up` and its test (apt-get when missing)
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || { \
		echo "installing Debian's haproxy for the cluster rehearsal"; \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; \
	}

lint: $(STAMP)  ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict over the packages named in pyproject.toml
	$(BIN)/mypy

unit: $(STAMP)  ## only the unit tests (no services needed)
	$(BIN)/pytest tests/unit

format: $(STAMP)  ## fix what ruff can fix, then format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(STAMP)  ## apply database migrations (embedded PostgreSQL unless PARLEY_DATABASE_URL is set)
	$(BIN)/parley migrate

clean:  ## remove caches and the web build (keeps .venv, web/node_modules and the .parley data folder)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info web/dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
