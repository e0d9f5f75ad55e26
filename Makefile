# kneo developer verbs. The README quick start uses `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HARNESS ?= kneo_load.py

.PHONY: install serve test test-services lint typecheck check topology bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,deploy]'

## Install and start the whole platform on the embedded default (SQLite, no servers).
serve: install
	$(BIN)/kneo serve --port $(PORT)

## Install, make sure the services the tests need run (PostgreSQL, Redis, nginx), run every test.
test: install test-services
	$(BIN)/pytest

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
