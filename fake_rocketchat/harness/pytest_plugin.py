"""pytest fixtures for the stand-in; enable with `pytest_plugins = ["fake_rocketchat.harness.pytest_plugin"]`.

- `fake_rc`: a fresh server per test with admin `admin` / `admin-pass`
  (no TOTP, rate limiter off). Tests set up more through `fake_rc.state`.
- `fake_rc_factory(**options)`: start servers with any `running_server`
  options; all are stopped at the end of the test.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import pytest

from .testing import FakeServer, running_server

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-pass"


@pytest.fixture
def fake_rc_factory() -> Iterator[Callable[..., FakeServer]]:
    with contextlib.ExitStack() as stack:

        def start(**options: Any) -> FakeServer:
            return stack.enter_context(running_server(**options))

        yield start


@pytest.fixture
def fake_rc(fake_rc_factory: Callable[..., FakeServer]) -> FakeServer:
    return fake_rc_factory(admin_username=ADMIN_USERNAME, admin_password=ADMIN_PASSWORD, admin_email="admin@example.com")
