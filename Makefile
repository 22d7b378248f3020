# critmin: two set-up commands (see README): `make review` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= review
RAW ?= ../shared/data

.PHONY: review test lint bench data clean

$(BIN)/critmin: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

review: $(BIN)/critmin
	$(BIN)/critmin review --out $(OUT)

lint: $(BIN)/critmin
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Every benchmarks/bench_*.py, one after another, each against its own baseline (BENCH_ARGS,
# e.g. "--only ledger --skip web", passes to benchmarks/run_all.py).
bench: $(BIN)/critmin
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# Rebuild the bundled tables from the raw public releases (needs RAW, e.g. ../shared/data).
data: $(BIN)/critmin
	$(BIN)/critmin data build --from $(RAW)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
