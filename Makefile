# The two set-up commands: `make run` and `make test` (see README.md).
# Both create .venv with $(PYTHON) (3.11 or newer) and reinstall the project
# into it only when pyproject.toml changed since the last install.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck format unit migrate clean

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

run: $(STAMP)  ## run everything (embedded PostgreSQL and NATS unless PARLEY_*_URL are set)
	$(BIN)/parley run

test: lint typecheck  ## lint, type-check and run the whole test suite
	$(BIN)/pytest

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

clean:  ## remove caches (keeps .venv and the .parley data folder)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
