# Genesys Studio. `make start` sets up and starts the app; `make test` runs the test suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export GENESYS_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup start test test-fast lint typecheck bench clean library

$(STAMP): pyproject.toml scripts/setup.sh
	PYTHON=$(PYTHON) bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

start: $(STAMP)
	bash scripts/start.sh

library: $(STAMP)
	$(BIN)/python manage.py import_library $(GENESYS_DATA_DIR)/knowledge/genesys-reference-library

test: $(STAMP)
	$(BIN)/pytest

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy verifier/core designer/core evolution/core knowledge/core

clean:
	rm -rf $(VENV) var artifacts .pytest_cache .mypy_cache .ruff_cache
