# The two commands of the README: `make demo` and `make test`.
# Both build .venv/ first (`make install`) and start the services they need.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NPM_DIR := tests/conformance
NPM_STAMP := $(NPM_DIR)/node_modules/.installed

.PHONY: install test test-newest demo services clean bench chromium gettext fuzz messages messages-check

install: $(STAMP) $(if $(wildcard $(NPM_DIR)/package.json),$(NPM_STAMP)) chromium gettext

# GNU gettext (msgfmt, xgettext, ...) for `make messages` and the translation tests; installs Debian's
# package as root, else says what is missing (scripts/messages.py runs on the system python).
gettext:
	@$(PYTHON) scripts/messages.py ensure

# Debian's chromium for the browser tests (tests/browser/, driven by Playwright; never downloaded).
chromium:
	@scripts/ensure-chromium.sh

$(STAMP): requirements.txt setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# npm packages used only by the conformance tests (official Rocket.Chat clients).
$(NPM_STAMP): $(NPM_DIR)/package.json $(wildcard $(NPM_DIR)/package-lock.json)
	@command -v npm >/dev/null || { echo "MISSING: node + npm (Debian: apt-get install nodejs npm)"; exit 1; }
	cd $(NPM_DIR) && { if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi; }
	@touch $@

# The translations (django_hooks/locale): `messages` re-extracts the strings of templates, Python and
# the task UI's JavaScript into the .po files and compiles the .mo files the wheel ships;
# `messages-check` re-extracts into a copy and fails when a string has no translation or a fuzzy
# one, or when a .mo is stale (tests/django_hooks/test_translations.py runs it too). Both need GNU
# gettext and say what is missing without it (scripts/messages.py).
messages: $(STAMP)
	$(PY) scripts/messages.py update

messages-check: $(STAMP)
	$(PY) scripts/messages.py check

services:
	@scripts/ensure-services.sh redis postgres rabbitmq

# The suite waits on processes, sockets and browsers more than it computes, so pytest-xdist runs it in
# more workers than these 2 cores (TEST_WORKERS=0: one process). A worker has its own database and Redis
# prefix (settings/test.py); `--dist loadfile` keeps a module's stand-in and Celery workers on one worker.
TEST_WORKERS ?= 4
XDIST = -n $(TEST_WORKERS) --dist loadfile
test: install services
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The property tests with many more examples (FUZZ_EXAMPLES, default 5000) and a fresh random seed
# each run (tests/conftest.py, profile "fuzz"); `make test` under CI=true replays fixed draws. Turn a
# failure into an @example in the test file.
FUZZ_TESTS ?= tests/sync_tasks/test_plan_properties.py tests/sync_tasks/test_config_identity.py
fuzz: install
	HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest $(FUZZ_TESTS) -q -p no:randomly --timeout=0 --hypothesis-show-statistics $(PYTEST_ARGS)

# The Django-side and end-to-end tests against the NEWEST versions setup.cfg's ranges allow
# (not the lock), in a venv of their own: what a site installing rcsync today gets. CI runs it after
# `make test`. The test tools are unpinned too.
NEWEST_VENV := .venv-newest
# tests/packaging is not repeated here: it already installs the wheel with the ranges (the newest
# versions) in its own venv during `make test`.
# The end-to-end tests (Celery, kombu, redis, Django, beat) and every Django-side module (admin pages,
# checks, translations, signals, queue, runs: what the framework's version can break). The burst and guard
# e2e modules test rcsync's own batching and window logic and run once, in `make test`.
NEWEST_TESTS ?= tests/e2e tests/django_hooks \
	--ignore=tests/e2e/test_e2e_burst.py --ignore=tests/e2e/test_e2e_guard.py
test-newest: services
	@test -x $(NEWEST_VENV)/bin/python || $(PYTHON) -m venv $(NEWEST_VENV)
	$(NEWEST_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager \
		-e '.[fake,postgres,allauth]' setuptools wheel pytest pytest-django pytest-timeout pytest-xdist hypothesis fakeredis
	@$(NEWEST_VENV)/bin/python -m pip list --disable-pip-version-check 2>/dev/null \
		| grep -iE '^(celery|kombu|django|django-allauth|django-celery-beat|redis|httpx|websockets|pyotp|starlette|uvicorn|psycopg) ' | tr -s ' ' | paste -sd, -
	$(NEWEST_VENV)/bin/python -m pytest -p no:randomly $(XDIST) $(NEWEST_TESTS) $(PYTEST_ARGS)

demo: install
	@scripts/demo.sh

bench: install services
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(NEWEST_VENV) $(NPM_DIR)/node_modules
