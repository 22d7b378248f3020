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

bench: $(BIN)/critmin
	$(BIN)/python benchmarks/bench_exposure.py
	$(BIN)/python benchmarks/bench_rank.py

# Rebuild the bundled tables from the raw public releases (needs RAW, e.g. ../shared/data).
data: $(BIN)/critmin
	$(BIN)/critmin data build --from $(RAW)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
