# The project's commands. Each installs what it needs first (uv, the locked Python packages).
SHELL := /bin/bash
UV := scripts/uv
RUN := $(UV) run --frozen

.PHONY: setup web dev test bench cost lint format clean

setup:
	$(UV) sync --frozen

## The dashboard's locked packages (npm ci again only when package-lock.json changed; no
## browser download) and its build, which the local gateway serves.
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

web: web/node_modules/.package-lock.json
	cd web && npm run build

## The whole local system: Redis + PostgreSQL (private ones unless configured), the Kite
## simulator, the feed, the gateway (dashboard, API, WebSocket) and the pusher.
dev: setup web
	$(RUN) strikeboard dev

## Every test (unit, integration, contract, the SPA's Vitest and the browser end-to-end run),
## against real Redis and PostgreSQL; a file per worker, one worker per core (at most 4): the
## integration tests mostly wait on sockets: two workers on two cores took the suite from 13 to
## 9 minutes here.
test: setup web/node_modules/.package-lock.json
	$(RUN) pytest -n auto --maxprocesses 4 --dist loadfile --durations 15

## Benchmarks: each script prints its figures next to its reference.
bench: setup
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(RUN) python $$f; done
	@echo "== web/bench/bench_web.mjs"; cd web && npm run --silent bench

## What the deployment costs a month in ap-south-1 for 10, 100 and 1,000 users (infra/cost.py:
## synthesizes the app, needs Node.js; `$(RUN) python -m infra.cost --help` for the usage knobs).
cost: setup
	$(RUN) python -m infra.cost

lint: setup web/node_modules/.package-lock.json
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy strikeboard lambdas feed_container infra
	cd web && npm run --silent lint

format: setup
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

clean:
	rm -rf .local/test-* .local/pg-* .pytest_cache .mypy_cache .ruff_cache
