# Two entry points (README): `make run` for the demo, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core poppler-utils chromium
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/seatbill
REDIS_URL ?= redis://127.0.0.1:6379/0
PORT ?= 8000
# Node tools the checks run (Redocly's OpenAPI linter), pinned by tools/package-lock.json.
TOOLS_STAMP := tools/node_modules/.installed
OPENAPI_FILE := $(or $(TMPDIR),/tmp)/seatbill-openapi.yaml

.PHONY: install system-deps services run demo test test-at lint api-lint fmt scenarios bench bench-usage bench-compare clean

$(STAMP): pyproject.toml constraints.txt
	@echo "==> Python environment in $(VENV) (pinned by constraints.txt)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "==> Installing Debian's nodejs and npm"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else \
	    echo "Node.js is missing. Install it with: sudo apt-get install nodejs npm"; exit 1; \
	  fi; }
	@echo "==> Node tools in tools/node_modules (pinned by tools/package-lock.json)"
	@cd tools && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	@touch $(TOOLS_STAMP)

# The OpenAPI document as /api/schema/ serves it, through Redocly's recommended rules
# (tools/redocly.yaml): errors fail; warnings are printed.
api-lint: $(STAMP) $(TOOLS_STAMP)
	@DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py spectacular --validate --fail-on-warn --file $(OPENAPI_FILE)
	@out=$$(cd tools && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true ./node_modules/.bin/redocly lint --config redocly.yaml --format stylish $(OPENAPI_FILE) 2>&1) \
	  || { echo "$$out"; exit 1; }; echo "$$out" | grep -E '(warning|error)s?\b|valid' | grep -v '║' || true

# Debian packages that WeasyPrint (PDFs), pdftotext (PDF checks) and the browser tests need.
system-deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "==> Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing"; echo "Install them with: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

# PostgreSQL and Redis must answer; start the local ones where we can.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  echo "==> Starting the local PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start 2>/dev/null || true; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL does not answer on 127.0.0.1:5432: start it, or set TEST_DATABASE_URL."; exit 1; }
	@(command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1) || { \
	  echo "==> Starting the local Redis"; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null 2>&1 || true; \
	  sleep 1; }
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || { echo "Redis does not answer on 127.0.0.1:6379: start it."; exit 1; }

run: $(STAMP)
	@echo "==> Database (SQLite, db.sqlite3) and demo data"
	@$(BIN)/python manage.py migrate --no-input -v 0
	@$(BIN)/python manage.py seed_demo
	@echo "==> Serving http://127.0.0.1:$(PORT) (Ctrl-C stops; Celery tasks and the beat schedule run in-process)"
	@$(BIN)/python manage.py demo_serve 127.0.0.1:$(PORT)

test: $(STAMP) system-deps services
	@echo "==> Lint"
	@$(BIN)/ruff check --quiet .
	@echo "==> The OpenAPI document (Redocly's recommended rules, tools/redocly.yaml)"
	@$(MAKE) --no-print-directory api-lint
	@echo "==> Layers (docs/architecture.md; contracts in pyproject.toml)"
	@out=$$($(BIN)/lint-imports --no-cache 2>&1) || { echo "$$out"; exit 1; }; echo "$$out" | grep -E '^(Contracts|.* (KEPT|BROKEN))'
	@echo "==> Migrations match the models"
	@DATABASE_URL=sqlite://:memory: $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null
	@echo "==> Test suite against PostgreSQL"
	@DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

# The suite with the machine's clock moved to AT (libfaketime, in every process the tests start), to
# show that no test follows the real date: make test-at AT="2027-01-31 23:59:30" [AT_TZ=Europe/Copenhagen]
AT_TZ ?= UTC
test-at: $(STAMP) services
	@test -n "$(AT)" || { echo 'Say when: make test-at AT="2027-01-31 23:59:30" [AT_TZ=Europe/Copenhagen]'; exit 1; }
	@$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="$(DEBIAN_PACKAGES) faketime"
	@lib=$$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -n 1); \
	offset=$$(( $$(TZ=$(AT_TZ) date -d "$(AT)" +%s) - $$(date +%s) )); [ $$offset -lt 0 ] || offset="+$$offset"; \
	echo "==> Test suite with the clock at $(AT) $(AT_TZ) ($$offset s)"; \
	LD_PRELOAD=$$lib FAKETIME="$$offset" DONT_FAKE_MONOTONIC=1 PYTHONPATH=tests/clock_shift TZ=$(AT_TZ) \
	  DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

# The billing scenarios (vendored public ones and ours) through `manage.py simulate`.
scenarios: $(STAMP)
	@$(BIN)/python manage.py migrate --verbosity 0 && $(BIN)/python manage.py exchange_rates_import tests/invoices/data/eurofxref-hist.csv
	@for folder in tests/scenarios/public tests/scenarios/public/member-intervals tests/scenarios/public/units tests/scenarios/ours; do \
	  echo "==> $$folder"; $(BIN)/python tests/scenarios/check_scenarios.py $$folder --cmd "$(BIN)/python manage.py simulate"; \
	done

bench: $(STAMP) services
	@DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python bench/renewals.py

# The usage benchmarks (issue 6): ingestion vs COPY, entitlements under load, 10 M raw events.
bench-usage: $(STAMP) services
	@$(BIN)/python bench/usage_ingest.py --events 300000
	@$(BIN)/python bench/usage_replay.py
	@$(BIN)/python bench/usage_entitlements_load.py --rate 500 --seconds 20
	@$(BIN)/python bench/usage_overview_scale.py --events 10000000

# Before and after (issue 20): each benchmark above on a base commit's code (a git worktree in
# /tmp) and on this checkout, runs alternating, one table; e.g. COMPARE_ARGS="--runs 5 --only entitlements".
bench-compare: $(STAMP) services
	@$(BIN)/python bench/compare.py $(COMPARE_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/lint-imports --no-cache

fmt: $(STAMP)
	@$(BIN)/ruff format . && $(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3 media staticfiles
