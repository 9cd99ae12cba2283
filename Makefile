# The project's commands. Each installs what it needs first (uv, the locked Python packages).
SHELL := /bin/bash
UV := scripts/uv
RUN := $(UV) run --frozen

.PHONY: setup dev test bench lint format clean

setup:
	$(UV) sync --frozen

## The whole local system: Redis + PostgreSQL (private ones unless configured), simulator, ...
dev: setup
	$(RUN) strikeboard dev

## Every test (unit, integration, contract), against real Redis and PostgreSQL.
test: setup
	$(RUN) pytest

## Benchmarks: each script prints its figures next to its reference.
bench: setup
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(RUN) python $$f; done

lint: setup
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy strikeboard

format: setup
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean:
	rm -rf .local/test-* .local/pg-* .pytest_cache .mypy_cache .ruff_cache
