# Liandong: the two commands a new user needs are `make demo` and `make test`.
# Variables the caller sets (DATABASE_URL, REDIS_URL, HOST, PORT, PYTHON ...) win over these defaults.

PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
TEST_WORKERS ?= auto
E2E_WORKERS ?= 2
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test venv lint check serve migrate seed clean messages vendor

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Liandong needs Python 3.11 or newer (set PYTHON=python3.12 ...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make demo: install, migrate, seed the demo city, serve http://$(HOST):$(PORT)
demo: venv migrate seed serve

# The demo's users sign in with their password alone (no phone needed): the demo server runs with MFA_REQUIRED=false
# unless the caller sets it (MFA_REQUIRED=true make demo asks dispatchers, supervisors and admins to set up an
# authenticator app at their first sign-in, as production does by default).
demo serve: export MFA_REQUIRED ?= false

migrate: venv
	$(PY) manage.py migrate --noinput

seed: venv
	$(PY) manage.py seed_demo

serve: venv
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

## make test: the whole suite (embedded profile unless DATABASE_URL / REDIS_URL are set), in two passes: the
## in-process tests spread over the cores (pytest-xdist, TEST_WORKERS), then the end-to-end tests (real server,
## worker and beat processes, browsers) in E2E_WORKERS lanes: the tests of one server stay in one lane
## (--dist loadgroup; the groups are made in tests/conftest.py), and each lane waits on its servers and browsers
## much of the time. Measured figures are printed at the end, under "figures".
test: venv
	$(PY) -m pytest -m "not e2e" -n $(TEST_WORKERS) --maxprocesses 4
	$(PY) -m pytest -m e2e -n $(E2E_WORKERS) --dist loadgroup

## make lint: ruff, import contracts (lint-imports), types (mypy), Django's system checks, migrations up to date
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

## make messages: refresh the zh-Hans catalogues from the code, then compile them (needs GNU gettext)
messages: venv
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=var --ignore=dispatch/static/vendor
	$(PY) manage.py makemessages -d djangojs -l zh_Hans --ignore=.venv --ignore=tests --ignore=var --ignore=dispatch/static/vendor
	$(PY) manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=var

## make vendor: refresh the vendored front-end libraries (dispatch/static/vendor/) from the npm registry, integrity-checked
vendor:
	$(PYTHON) scripts/vendor_static.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
