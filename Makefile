# The two commands a newcomer needs: `make run` and `make test`. Each sets itself up first
# (a virtual environment in .venv with the project and its development tools installed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench clean schema openapi api-lint-tools bench-tools \
	browser screenshots

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# The main job runs on the embedded default: wijkkompas.db here, reminders as .eml files in
# ./maildir. Override any of these in the environment (see README).
export WIJKKOMPAS_NOTIFIER ?= maildir
export WIJKKOMPAS_MAILDIR ?= maildir
export WIJKKOMPAS_PROGRAMME_EMAIL ?= programmabureau@zwolle.example
export WIJKKOMPAS_MAIL_FROM ?= wijkkompas@zwolle.example

# The password `make run` gives the demo's accounts for the dashboard (a demo on your own machine only).
DEMO_PASSWORD ?= wijkkompas-demo

export WIJKKOMPAS_HOST ?= 127.0.0.1
export WIJKKOMPAS_PORT ?= 8080

## run: the main job — seed the demo programme (once), show it, serve the dashboard (demo accounts
## with DEMO_PASSWORD) and the API (with a token for the demo programme office) and run the
## reminder scheduler beside it; Ctrl-C stops both
run: $(STAMP)
	$(BIN)/wijkkompas demo --if-empty
	$(BIN)/wijkkompas status
	@for account in gemeente-zwolle/programmabureau deltawonen/projecten gemeente-zwolle/college; do \
		echo "$(DEMO_PASSWORD)" | $(BIN)/wijkkompas principal password $${account%%/*} $${account#*/} \
			>/dev/null || exit 1; \
	done
	@echo "The dashboard: http://$$WIJKKOMPAS_HOST:$$WIJKKOMPAS_PORT/ — sign in as organisation"
	@echo "  gemeente-zwolle, account programmabureau (the programme office), password $(DEMO_PASSWORD)"
	@echo "  (also deltawonen/projecten, a housing corporation, and gemeente-zwolle/college, with the same password)"
	@token=$$($(BIN)/wijkkompas token create gemeente-zwolle programmabureau \
	    --purpose "make run" --expires-in-days 1) || exit 1; \
	echo "API token of the demo programme office (valid one day): $$token"; \
	echo "try: curl -H 'Authorization: Bearer $$token' http://$$WIJKKOMPAS_HOST:$$WIJKKOMPAS_PORT/api/v1/status"; \
	$(BIN)/wijkkompas scheduler --interval 1m & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/wijkkompas serve --host $$WIJKKOMPAS_HOST --port $$WIJKKOMPAS_PORT

## test: the whole suite — lint, types, and every test (SQLite and PostgreSQL)
test: $(STAMP) api-lint-tools browser lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The OpenAPI lint (tests/api/test_openapi_lint.py) runs the Spectral CLI pinned in
# tools/api-lint. It is installed when npm is there and the lock changed; without npm the test
# skips with the reason (and fails under CI=true).
API_LINT := tools/api-lint
API_LINT_STAMP := $(API_LINT)/node_modules/.installed

api-lint-tools:
	@if command -v npm >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(API_LINT_STAMP); \
	else \
		echo "npm not found: the OpenAPI lint test will be skipped (install Node.js >= 20.17 and npm)"; \
	fi

$(API_LINT_STAMP): $(API_LINT)/package.json $(API_LINT)/package-lock.json
	npm ci --prefix $(API_LINT) --no-audit --no-fund --ignore-scripts
	@touch $@

# The browser tests (tests/browser) drive Debian's Chromium with Playwright (which cannot fetch
# its own browser here), and the council report prints as PDF with it. It is installed with apt-get when missing and we are root (as in CI);
# otherwise the tests skip with the reason, and fail under CI=true.
CHROMIUM ?= /usr/bin/chromium

browser:
	@if [ -x "$(CHROMIUM)" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
			|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; \
	elif [ "$$CI" = true ]; then \
		echo "Chromium is missing at $(CHROMIUM) and cannot be installed (not root)"; exit 1; \
	else \
		echo "Chromium not found at $(CHROMIUM): the browser tests will be skipped (apt-get install chromium)"; \
	fi

## screenshots: the pages at desktop and phone width, into docs/img/ (see docs/dashboard.md)
screenshots: $(STAMP) browser
	$(BIN)/python tools/screenshots.py

## openapi: regenerate the committed OpenAPI document of the HTTP API and the tables of docs/api.md
openapi: $(STAMP)
	$(BIN)/python -m adapters.http.apidocs

## schema: regenerate the JSON Schema shipped for editors
schema: $(STAMP)
	$(BIN)/wijkkompas workflow schema > engine/workflow/schema/workflow.schema.json

bench: $(STAMP)
	$(BIN)/python bench/bench_machine.py
	$(BIN)/python bench/bench_cli.py

## bench-tools: the HTTP load generator for the API benchmark (wrk; see bench/loadgen.md)
bench-tools:
	@if command -v wrk >/dev/null 2>&1; then \
		echo "wrk is installed: $$(command -v wrk)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -q wrk || { apt-get update -q && apt-get install -y -q wrk; }; \
	else \
		echo "wrk is missing: install it (sudo apt-get install wrk, dnf install wrk, brew install wrk)"; \
		echo "or use oha (cargo install oha); see bench/loadgen.md"; \
		exit 1; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist *.egg-info \
		$(API_LINT)/node_modules
