"""Shared constants and helpers of the bridge tests (a unique module name: conftest.py is not importable safely)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp

from bridge.config import BridgeConfig
from fake_rocketchat.harness.testing import FakeServer

ADMIN = "svc-admin"
ADMIN_PASSWORD = "Adm1n-Pa55-S3cret-!x"
TOTP_SECRET = pyotp.random_base32()


def age_account(srv: FakeServer, username: str, days: int = 2) -> None:
    """Rocket.Chat skips 2FA for accounts younger than RememberFor (§2.3 step 4); age ours."""
    with srv.state.lock:
        user = srv.state.user_doc_by_username(username)
        user["createdAt"] = srv.state.now() - timedelta(days=days)


def revoke_tokens(srv: FakeServer, username: str) -> None:
    """Remove every login token server-side, like an expiry or an admin "log out everywhere"."""
    with srv.state.lock:
        srv.state.user_doc_by_username(username)["services"]["resume"]["loginTokens"] = []


def make_config(srv: FakeServer | None, **overrides: Any) -> BridgeConfig:
    values: dict[str, Any] = dict(
        url=srv.url if srv is not None else "", username=ADMIN, password=ADMIN_PASSWORD, totp_secret=TOTP_SECRET,
        timeout=5.0, connect_timeout=2.0, backoff_base=0.05, backoff_cap=0.5, max_retries=4,
    )
    values.update(overrides)
    return BridgeConfig(**values)


