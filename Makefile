# kneo developer verbs. The README quick start uses `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HARNESS ?= kneo_load.py
# `make test` fails when the line coverage of kneo/ (this process's share: the servers the tests
# start are not measured) falls under this floor. docs/decisions/0008-test-tiers.md says how it was set.
COVERAGE_FLOOR ?= 78

.PHONY: install serve test test-fast test-services lint typecheck check topology bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(VENV)/.installed

# Reinstalled when the project's metadata changes, so quick targets do not pay for pip each time.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,deploy]'
	touch $@

## Install and start the whole platform on the embedded default (SQLite, no servers).
serve: install
	$(BIN)/kneo serve --port $(PORT)

## Install, make sure the services the tests need run (PostgreSQL, Redis, nginx), run every test
## and hold kneo's coverage to the floor.
test: install test-services
	$(BIN)/pytest --cov=kneo --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)

## The fast tier: use cases, task bodies and pure code on PostgreSQL, without a topology, a browser
## or a build (under a minute). `pytest -m e2e` is the other half.
test-fast: install
	$(BIN)/pytest -q -m "not e2e and not slow"

## Install and start what the tests need when it is missing (scripts/ensure_test_services.sh).
test-services:
	bash scripts/ensure_test_services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check kneo tests scripts bench celeryconfig.py wsgi.py
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy kneo celeryconfig.py wsgi.py

check: lint typecheck test

## The production topology from real processes (gunicorn, celery worker and beat) on loopback.
topology: install
	$(BIN)/python scripts/topology.py --port $(PORT)

bench: install
	$(BIN)/python bench/run_benchmarks.py --harness $(HARNESS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
