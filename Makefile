# Footage. A fresh machine needs only `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck schema check serve migrate seed clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP) ## install, migrate, load the demo, serve GraphiQL on $${HOST:-127.0.0.1}:$${PORT:-8000}
	$(BIN)/python -m app migrate
	$(BIN)/python -m app seed-demo
	$(BIN)/python -m app serve

test: $(STAMP) ## the whole suite: SQLite, and PostgreSQL when its binaries are present
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

schema: $(STAMP) ## re-export schema.graphql from the code
	$(BIN)/python -m app export-schema --output schema.graphql

.PHONY: bench
bench: $(STAMP) ## benchmark a real server (BENCH_ARGS="--duration 5 --results 1000 ..."); see BENCHMARKS.md
	$(BIN)/python -m bench.run $(BENCH_ARGS)

check: lint typecheck test

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
