"""Shared constants and helpers of the bridge tests (a unique module name: conftest.py is not importable safely)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Iterator

import pyotp

from bridge.config import BridgeConfig
from fake_rocketchat.harness.testing import FakeServer, running_server

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




@contextmanager
def server_with_users(prefix: str, n: int) -> Iterator[FakeServer]:
    """A stand-in with the service account (aged past the 2FA grace) and `n` users `{prefix}000`...:
    enough accounts for a listing of several pages."""
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, admin_email="svc@example.org") as srv:
        age_account(srv, ADMIN)
        for i in range(n):
            srv.state.create_user(f"{prefix}{i:03d}")
        yield srv
