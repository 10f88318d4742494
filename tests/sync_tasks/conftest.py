"""Fixtures for the sync engine's end-to-end tests: a stand-in Rocket.Chat over real HTTP on loopback
and a bridge client logged in as a TOTP-protected service account (like production)."""
from __future__ import annotations

import pytest

from bridge import BridgeConfig
from bridge.client import RocketChat
from fake_rocketchat.harness.testing import running_server

from engine_service import SERVICE_PASSWORD, SERVICE_USER, TOTP_SECRET


@pytest.fixture
def rc_server():
    with running_server(admin_username=SERVICE_USER, admin_password=SERVICE_PASSWORD,
                        admin_email="rcsync@example.org", admin_totp_secret=TOTP_SECRET, rate_limit=False) as srv:
        yield srv


def _service_client(rc_server):
    client = RocketChat(BridgeConfig(url=rc_server.url, username=SERVICE_USER, password=SERVICE_PASSWORD,
                                     totp_secret=TOTP_SECRET, max_retries=1, backoff_base=0.01))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def rc_client(rc_server):
    yield from _service_client(rc_server)


@pytest.fixture
def other_client(rc_server):
    """A second client of the service account: what another worker does meanwhile."""
    yield from _service_client(rc_server)
