"""Fixtures for the bridge tests: a stand-in Rocket.Chat on loopback with a TOTP-protected admin."""

from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from bridge_support import ADMIN, ADMIN_PASSWORD, TOTP_SECRET, age_account
from fake_rocketchat.harness.testing import FakeServer, running_server


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def totp_server() -> Iterator[FakeServer]:
    """Rocket.Chat 7.x with an admin service account that has TOTP enabled (aged past the remember window)."""
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, admin_totp_secret=TOTP_SECRET,
                        admin_email="svc@example.org", compat=7) as srv:
        age_account(srv, ADMIN)
        yield srv


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis DB 13 with a per-test key prefix (keys removed afterwards)."""
    import redis

    url = "redis://127.0.0.1:6379/13"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"Redis is required for these tests: {exc}")
    yield url
    client.close()


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"test-bridge:{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()
