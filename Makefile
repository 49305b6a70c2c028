# Every routine command is a target here; README, compose.yaml and .ci/run call these targets.
# `make` alone lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help
# Targets such as `demo` list their steps as prerequisites; those steps must run in order.
.NOTPARALLEL:

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
MANAGE := $(PY) manage.py
CELERY := $(BIN)/celery
RUFF := $(BIN)/ruff
# What the project-running targets depend on. The image installs everything at build time
# and sets VENV_STAMP to empty, so nothing tries to reinstall inside a container.
VENV_STAMP ?= $(VENV)/.installed
# The same for the front-end libraries: the image copies static/vendor/ from its node stage.
ASSETS_STAMP ?= $(VENDOR)/.installed
LOG_LEVEL ?= info
PYTEST_ARGS ?=
# The pinned versions CI, `make demo` and `make venv` install (`make lock` updates it).
LOCK := requirements/lock.txt

# chromium: Debian's browser for the Playwright tests (tests/browser/); Playwright downloads none.
SYSTEM_PACKAGES := fonts-wqy-microhei gettext poppler-utils libpango-1.0-0 libpangoft2-1.0-0 \
	libharfbuzz-subset0 chromium
RUNTIME_DIRS := var/celery/queue var/celery/control var/outbox var/media
# Front-end libraries from the npm registry (package.json pins them, package-lock.json locks
# them); only these dist files are served, from the git-ignored static/vendor/, never a CDN.
VENDOR := static/vendor
VENDOR_FILES := node_modules/echarts/dist/echarts.min.js node_modules/axe-core/axe.min.js
# The demo's port (make demo PORT=8123).
PORT ?= 8000

.PHONY: help venv lock system-deps assets dirs migrate catalogue seed verify-audit verify-files messages collectstatic demo \
	test lint format clean worker beat web compose-config bench screenshots security cluster-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

# --- environment -------------------------------------------------------------------------

venv: $(VENV)/.installed ## create .venv and install the locked versions (requirements/lock.txt)

# Installs exactly what requirements/lock.txt pins (the project's dependencies and its dev
# group), then the project itself without resolving anything. Reinstalls only when the lock or
# pyproject.toml changes; a second `make venv` does nothing.
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The lock changes only here, on purpose: new or changed requirements in pyproject.toml are
# resolved while every other pin is kept; UPGRADE=1 moves every pin to the newest allowed.
# tests/test_layout.py fails when pyproject.toml asks for something the lock does not pin.
lock: ## re-resolve requirements/lock.txt from pyproject.toml (UPGRADE=1 to raise every pin)
	test -x $(BIN)/uv || $(PY) -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --group dev --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		$(if $(UPGRADE),--upgrade) -o $(LOCK)
	@# The image's runtime set: the same pins without the dev group (the Dockerfile installs it).
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" \
		--constraint $(LOCK) -o requirements/runtime.txt

system-deps: ## apt-install system packages (CJK font, gettext, pdftotext, Pango, HarfBuzz subsetter, Chromium) if missing
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
		dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then echo "system-deps: all present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then \
		echo "system-deps: skipped (needs root and apt-get); missing:$$missing"; exit 0; \
	fi; \
	echo "system-deps: installing$$missing"; \
	apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing

# npm ci installs exactly package-lock.json; --ignore-scripts: no package runs code at install.
# Without npm, as root on Debian it installs Node.js and npm first; otherwise it says how.
assets: $(ASSETS_STAMP) ## npm ci, then copy ECharts and axe-core into static/vendor/

$(VENDOR)/.installed: package.json package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "assets: installing Node.js and npm"; \
			apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; \
		else \
			echo "assets: npm is missing; install Node.js 20 and npm (apt-get install nodejs npm)"; \
			exit 1; \
		fi; \
	fi
	npm ci --ignore-scripts --no-audit --no-fund
	rm -rf $(VENDOR)
	mkdir -p $(VENDOR)
	cp $(VENDOR_FILES) $(VENDOR)/
	touch $@

dirs:
	@mkdir -p $(RUNTIME_DIRS)

# --- database and data -------------------------------------------------------------------

# A migration creates the database cache table; createcachetable here also covers a site that
# moved from Redis to the database cache after migrating (no-op when the table exists).
migrate: $(VENV_STAMP) dirs ## apply migrations (the database cache table included; no-op with Redis)
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

catalogue: $(VENV_STAMP) ## load the shipped reform-plan catalogue and organisation
	$(MANAGE) load_catalogue

DEMO_PROVINCES ?= 3
SEED_ARGS ?=
seed: $(VENV_STAMP) ## create demo accounts, with DEMO_PROVINCES provincial federations (prints logins)
	$(MANAGE) seed_demo --provinces $(DEMO_PROVINCES) $(SEED_ARGS)

verify-audit: $(VENV_STAMP) ## walk the audit trail's hash chain (exit 1 at the first broken event)
	$(MANAGE) verify_audit

verify-files: $(VENV_STAMP) ## hash every stored evidence and report file against its record (exit 1 on any problem)
	$(MANAGE) verify_files

# compilemessages would otherwise walk into .venv and recompile Django's own catalogues.
messages: $(VENV_STAMP) ## compile translations (nothing to do without a locale folder)
	@if find . -path ./.venv -prune -o -path ./var -prune -o -type d -name locale -print \
		| grep -q .; then \
		$(MANAGE) compilemessages --ignore .venv --ignore var --ignore node_modules; \
	else \
		echo "messages: no locale folder yet, nothing to compile"; \
	fi

# Hashed names and gzip/brotli copies (whitenoise); what it leaves out, node_modules trees
# included, is listed once in project/apps.py.
collectstatic: $(VENV_STAMP) $(ASSETS_STAMP) ## gather, hash and compress static files into STATIC_ROOT
	$(MANAGE) collectstatic --noinput

# --- running -----------------------------------------------------------------------------

# One password for the whole `make demo` run (unless DEMO_PASSWORD is set), so the guide that
# run-demo.sh prints at the end can repeat the password seed_demo set.
ifndef DEMO_PASSWORD
demo: export DEMO_PASSWORD := $(shell python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
endif
# The demo also launches the measure its guide follows (the catalogue's first), so the staff
# account the guide names finds the plan in its queue.
demo: SEED_ARGS += --launch-first
demo: venv system-deps assets migrate catalogue seed messages collectstatic ## embedded demo on PORT (8000): SQLite, filesystem broker, outbox
	VENV=$(VENV) PORT=$(PORT) scripts/run-demo.sh

# Sync workers, a 60 s hard timeout and 30 s to finish in-flight requests on reload/stop: the
# heavy work (cascades to a level, renders, scoring) runs in Celery, so a request that needs
# more than 60 s is a bug to fix, not a timeout to raise (docs/operations.md, *gunicorn*).
WEB_WORKERS ?= 4
WEB_TIMEOUT ?= 60
WEB_GRACEFUL_TIMEOUT ?= 30
web: ## gunicorn on 0.0.0.0:8000 (production settings unless DJANGO_SETTINGS_MODULE says otherwise)
	$(BIN)/gunicorn project.wsgi -b 0.0.0.0:8000 --access-logfile - \
		--worker-class sync --workers $(WEB_WORKERS) \
		--timeout $(WEB_TIMEOUT) --graceful-timeout $(WEB_GRACEFUL_TIMEOUT)

# WORKER_QUEUES: the queues this worker takes, comma-separated, from sweep, notify, reports and
# celery (anything unrouted); empty takes them all, as the embedded demo does. Production runs a
# worker per queue (docs/operations.md), each named after its queues.
WORKER_QUEUES ?=
comma := ,
worker: dirs ## Celery worker: every queue, or WORKER_QUEUES=reports (sweep, notify, reports, celery)
	$(CELERY) -A project worker -l $(LOG_LEVEL) $(if $(WORKER_QUEUES),-Q $(WORKER_QUEUES) \
		-n $(subst $(comma),-,$(WORKER_QUEUES))@%h)

# A second beat, started by mistake or as a standby, sends nothing while this one holds the
# lease (workflows/common/beat_lock.py), and takes over within BEAT_LEASE_SECONDS if it dies.
beat: dirs ## Celery beat (sends the periodic tasks while it holds the beat lease)
	$(CELERY) -A project beat -l $(LOG_LEVEL)

# --- quality -----------------------------------------------------------------------------

# system-deps is best effort here: without pdftotext or the CJK font the PDF tests say so, and
# without /usr/bin/chromium the browser tests fail with the fix (PYTEST_ARGS='-m "not browser"'
# leaves them out locally).
test: $(VENV_STAMP) $(ASSETS_STAMP) ## make lint, migration check, security and pytest (browser tests included); CI runs this
	@$(MAKE) --no-print-directory system-deps || echo "test: system-deps failed, continuing"
	@$(MAKE) --no-print-directory lint
	DJANGO_SETTINGS_MODULE=project.settings.test $(MANAGE) makemigrations --check --dry-run
	@$(MAKE) --no-print-directory security
	@# Exit code 5 means pytest collected nothing: CI must never pass without tests.
	DJANGO_SETTINGS_MODULE=project.settings.test $(BIN)/pytest $(PYTEST_ARGS) || { \
		rc=$$?; [ $$rc -ne 5 ] || echo "test: pytest collected no tests, failing"; exit $$rc; }

# Root and iproute2: nine test hosts in network namespaces on a private bridge (10.231.0.0/24),
# each with its own PostgreSQL, Redis, gunicorn, Celery or SMTP processes; skips without root.
# About 2.5 minutes; removes its namespaces, processes and temp files even when it fails, and
# keeps the run's logs in var/cluster-test/.
cluster-test: $(VENV_STAMP) ## multi-host test: load on two web hosts while a worker, a link and Redis fail
	$(PY) -m tests.cluster

# BENCH_ORGS (default 3000 = 90,000 cases), BENCH_REUSE=1 to keep the data set, BENCH_DURATION.
bench: $(VENV_STAMP) ## national-scale benchmarks on PostgreSQL (see bench/RESULTS.md)
	bash bench/run.sh

# The browser tests always write docs/screenshots/NAME.tmp.png; this also replaces the
# committed NAME.png files shown in README.md.
screenshots: $(VENV_STAMP) $(ASSETS_STAMP) ## refresh docs/screenshots/*.png from the browser tests
	UPDATE_SCREENSHOTS=1 DJANGO_SETTINGS_MODULE=project.settings.test $(BIN)/pytest -m browser -q

# bandit over our code (accepted findings carry `# nosec Bxxx` with the reason beside them);
# pip-audit over the installed dependencies (accepted IDs in .pip-audit-ignore).
security: $(VENV_STAMP) ## bandit and pip-audit; make test runs it
	$(BIN)/bandit -q -c pyproject.toml -r project workflows tasks
	$(PY) scripts/pip_audit_check.py

# The layer contracts (pyproject.toml [tool.importlinter]) fail on an import that points up a
# layer, function-level imports included; mypy checks the services and selectors it lists.
lint: $(VENV_STAMP) ## ruff check and format check, the import layers (lint-imports), mypy
	$(RUFF) check .
	$(RUFF) format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: $(VENV_STAMP) ## apply ruff fixes and formatting
	$(RUFF) check --fix .
	$(RUFF) format .

clean: ## remove var/ (SQLite, queue, outbox, media, collected static), node_modules and caches; keeps .venv
	rm -rf var node_modules $(VENDOR) .pytest_cache .ruff_cache .mypy_cache build *.egg-info
	find . -path ./.venv -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

compose-config: ## validate compose.yaml (needs a docker engine with the compose plugin)
	@if docker info >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then \
		docker compose config -q && echo "compose-config: compose.yaml is valid"; \
	else \
		echo "compose-config: skipped (no docker engine or compose plugin here)"; \
	fi
