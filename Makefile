# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PORT   ?= 8000
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint browser bench soak clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	@touch $(STAMP)

## Start the service on SQLite; without WeCom credentials the simulator feeds demo traffic (make run PORT=8080).
run: $(STAMP)
	$(BIN)/groupbot run --port $(PORT)

## Lint, import contracts, then the whole test suite (SQLite and PostgreSQL) on every core (pytest-xdist,
## at most 4 workers: each holds its own PostgreSQL databases and connections).
test: $(STAMP) lint browser
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist worksteal

## Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser download), a CJK font for its screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei; \
		else echo "chromium missing: run 'sudo apt-get install chromium' (browser tests will skip)"; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

## Three replicas on PostgreSQL, 200 msg/s, kill -9 every 20 s, one PostgreSQL restart, 30 % WeCom faults
## (a few minutes; not in `make test`). Rewrites docs/reliability.md with the exactly-once counts.
soak: $(STAMP)
	$(BIN)/python -m bench.soak --seconds $(or $(SOAK_SECONDS),120) --rate 200 --replicas 3 --report docs/reliability.md

## Every benchmark against its same-run baseline (several minutes); rewrites docs/benchmarks.md and docs/latency.png.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis data
