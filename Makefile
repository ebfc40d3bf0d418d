# Every target installs what it needs into .venv first; a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.DEFAULT_GOAL := help
.PHONY: help install test lint demo bench clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

install: $(STAMP)  ## create .venv and install reconciler with its dev tools

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/mypy

TEST_WORKERS ?= auto
test: lint  ## lint, then the whole test suite, on every core (TEST_WORKERS=0: in one process)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

demo: $(STAMP)  ## start the bundled simulator, reconcile sample_inputs/, print the summary
	$(BIN)/python sample_inputs/demo.py

bench: $(BENCH_STAMP)  ## the benchmark suite, about 7 minutes (not part of make test); BENCH_ARGS=--quick
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:  ## remove .venv, caches and out/
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
