"""Browser-test fixtures: Debian's chromium driven by Playwright (never a downloaded browser), the
Django live server on a free port, a real Celery worker process and the stand-in Rocket.Chat on the
test database and this run's Redis key prefix (the helpers of tests/e2e/e2e_support.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("RCSYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def e2e_support() -> Any:
    """tests/e2e/e2e_support.py, loaded by path under the name tests/django_hooks/conftest.py uses."""
    name = "rcsync_e2e_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "e2e" / "e2e_support.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def support() -> Any:
    """tests/e2e/e2e_support.py (wait_until, process helpers)."""
    return e2e_support()


@pytest.fixture(scope="session")
def test_db_name(django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


@pytest.fixture(scope="module")
def stand_in() -> Iterator[Any]:
    with e2e_support().serving_stand_in() as rc:
        yield rc


@pytest.fixture(scope="module")
def worker(test_db_name, stand_in, tmp_path_factory) -> Iterator[Any]:
    support = e2e_support()
    # A long read timeout: the progress test holds account creations until the page has seen the bar move.
    env = support.make_env(test_db_name, stand_in, RCSYNC_RC_TIMEOUT="120")
    proc = support.wait_ready(support.celery_worker(env, "browser-w1", tmp_path_factory.mktemp("celery"), concurrency=2))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def browser(tmp_path, monkeypatch) -> Iterator[Any]:
    """A fresh headless chromium profile; one context per test."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's ORM calls are still plain
    # synchronous code (Django's async guard would refuse them).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900}, locale="en-US",
        )
        # Django admin's navigation sidebar collapsed: the pages get the full width (screenshots).
        context.add_init_script("try { localStorage.setItem('django.admin.navSidebarIsOpen', 'false'); } catch (e) {}")
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()
            # ORM calls made while Playwright's loop runs get connections of their own (Django keeps
            # them per async context); close them here or the test database cannot be dropped.
            from django.db import connections

            connections.close_all()

