# Clearance: `make run` serves the demo, `make test` runs every check. Both create .venv.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# PostgreSQL used by `make test` when DATABASE_URL is not set and a local server answers.
LOCAL_PG_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
# pytest-xdist: `make test` runs the suite in this many worker processes (0: in one process,
# no xdist). Each test module runs whole in one worker (--dist loadfile), so a module's
# expensive fixtures (a browser, an OpenID provider, a live server) start once.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile,)

.PHONY: venv run test lint format bench clean

# PORT for `make run` (default 8000).
PORT ?= 8000

# Two installs from pyproject.toml: what serving needs (`make run`), and that plus the test and
# lint tools (`make venv`, `make test`: the `dev` extra).
$(VENV)/.installed-serve: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-serve

venv: $(VENV)/.installed

# The single sign-on tests' OpenID provider (panva's oidc-provider on Node.js, tests/oidc).
OIDC_NODE := tests/oidc/node_modules/.package-lock.json
$(OIDC_NODE): tests/oidc/package.json tests/oidc/package-lock.json
	npm ci --prefix tests/oidc --no-audit --no-fund

# axe-core for the accessibility tests (tests/test_ui_pages.py injects its axe.min.js).
AXE_NODE := tests/axe/node_modules/.package-lock.json
$(AXE_NODE): tests/axe/package.json tests/axe/package-lock.json
	npm ci --prefix tests/axe --no-audit --no-fund

# SQLite + an embedded Celery broker (kombu filesystem transport): no service needed. The ASGI
# server (uvicorn) serves every endpoint, the entitlement stream included.
run: $(VENV)/.installed-serve
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py createcachetable
	DEBUG=1 $(PY) manage.py seed_demo --with-demo-users
	@mkdir -p var
	@# R34: a checkpoint signing key under var/ unless AUDIT_SIGNING_KEY is set (made once).
	@test -n "$${AUDIT_SIGNING_KEY:-}" -o -s var/audit-signing.key || \
	  DEBUG=1 $(PY) manage.py audit_keygen clearance.local/audit --output var/audit-signing.key >/dev/null
	@test -n "$${AUDIT_SIGNING_KEY:-}" || echo "Audit log verifier key: $$(sed -n 2p var/audit-signing.key)"
	@echo "Serving on http://127.0.0.1:$(PORT) (Ctrl-C stops the server and the Celery worker)"
	export SITE_URL="$${SITE_URL:-http://127.0.0.1:$(PORT)}"; \
	  DEBUG=1 $(VENV)/bin/celery -A config worker -B --pool=solo --loglevel=INFO & \
	  celery_pid=$$!; trap 'kill $$celery_pid 2>/dev/null' EXIT INT TERM; \
	  DEBUG=1 $(VENV)/bin/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT)

# ruff, and no function in compliance/ above radon complexity C (STYLE: split such functions).
# `make test` runs it first.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@out="$$($(VENV)/bin/radon cc -n D -s compliance --exclude 'compliance/migrations/*')"; \
	if [ -n "$$out" ]; then echo "radon: functions at complexity D or worse:"; echo "$$out"; exit 1; fi

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite on PostgreSQL (DATABASE_URL, else a reachable local server), then the
# service-layer rules again on SQLite so the zero-setup default keeps working.
test: lint $(OIDC_NODE) $(AXE_NODE)
	@db="$${DATABASE_URL:-}"; \
	if [ -z "$$db" ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then db="$(LOCAL_PG_URL)"; fi; \
	if [ -z "$$db" ]; then \
	  if [ "$${CI:-}" = "true" ]; then echo "FATAL: CI needs PostgreSQL (set DATABASE_URL or start it on 127.0.0.1:5432)" >&2; exit 1; fi; \
	  echo "WARNING: no PostgreSQL reachable: running on SQLite only; PostgreSQL tests will be skipped" >&2; \
	  db="sqlite:///$(CURDIR)/var/test.sqlite3"; \
	fi; \
	mkdir -p var; echo "== pytest on $$db"; \
	DATABASE_URL="$$db" $(VENV)/bin/pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
	@echo "== service rules on SQLite"
	DATABASE_URL="sqlite:///$(CURDIR)/var/test.sqlite3" $(VENV)/bin/pytest -q -m "not postgres and not redis and not browser" tests/test_services_*.py

bench: venv
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) benchmarks/run.py
	$(PY) benchmarks/transparency.py
	$(PY) -m benchmarks.gateways
	$(PY) -m benchmarks.webhooks
	$(PY) -m benchmarks.mixed_load

clean:
	rm -rf $(VENV) var db.sqlite3 test-artifacts
