# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up first
# (a virtual environment in .venv with the project and its development tools installed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean schema

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

## run: the main job — show the shipped Wijkkompas workflow (tree and timeline)
run: $(STAMP)
	$(BIN)/wijkkompas workflow show wijkkompas
	$(BIN)/wijkkompas workflow timeline wijkkompas

## test: the whole suite — lint, types, and every test (SQLite and PostgreSQL)
test: $(STAMP) lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## schema: regenerate the JSON Schema shipped for editors
schema: $(STAMP)
	$(BIN)/wijkkompas workflow schema > engine/schema/workflow.schema.json

bench: $(STAMP)
	$(BIN)/python bench/bench_machine.py
	$(BIN)/python bench/bench_cli.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info
