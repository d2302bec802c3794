# One-command run and test. Needs only Python 3.11 and make: PostgreSQL and Redis are embedded
# (under var/) unless DATABASE_URL / REDIS_URL point at running ones.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install run test migrate lint clean bench-webhooks bench-processing bench-send bench-scale bench-feed

help:
	@echo "make run    start web, a worker per queue, beat and the sandbox provider (http://127.0.0.1:8000)"
	@echo "make test   run the whole test suite"
	@echo "make lint   ruff check, ruff format --check and mypy (what CI runs before the tests)"
	@echo "make bench-webhooks   webhook ingest benchmark (under a minute, 127.0.0.1 only)"
	@echo "make bench-processing stored-event processing per worker, old vs batched, and inbound latency (a few minutes)"
	@echo "make bench-send       send pipeline benchmark with real workers (about a minute, 127.0.0.1 only)"
	@echo "make bench-scale      10k numbers, 1M messages: list endpoints and periodic task ticks (a few minutes)"
	@echo "make bench-feed       live page feed: 200 viewers against gunicorn (under a minute, 127.0.0.1 only)"

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run 'make PYTHON=python3 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python scripts/run_local.py

test: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

migrate: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python manage.py migrate

bench-webhooks: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python bench/webhook_ingest.py $(BENCH_ARGS)

bench-processing: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python bench/webhook_processing.py $(BENCH_ARGS)

bench-send: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python bench/send_throughput.py $(BENCH_ARGS)

bench-scale: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python bench/scale.py $(BENCH_ARGS)
bench-feed: $(STAMP)
	$(BIN)/python scripts/devservices.py -- $(BIN)/python bench/live_feed.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
