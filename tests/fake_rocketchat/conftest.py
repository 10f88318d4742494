"""Fixtures for the stand-in's own tests (the same plugin other suites use)."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from fake_rocketchat.harness.pytest_plugin import fake_rc, fake_rc_factory  # noqa: F401  (fixtures)
from fake_rocketchat.harness.testing import FakeServer


@pytest.fixture
def http(fake_rc: FakeServer) -> Iterator[httpx.Client]:
    """An httpx client on the fake server's base URL, no auth."""
    with httpx.Client(base_url=fake_rc.url, timeout=10) as client:
        yield client


@pytest.fixture
def admin(fake_rc: FakeServer) -> Iterator[httpx.Client]:
    """An httpx client authenticated as the admin (token issued directly)."""
    with httpx.Client(base_url=fake_rc.url, timeout=10, headers=fake_rc.admin_headers()) as client:
        yield client
