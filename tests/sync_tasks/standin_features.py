"""Probes for stand-in features another change adds (issue 11: Custom OAuth services and logins, the full
settings registry, an empty restart). Tests that need one skip with a clear reason until it exists; nothing
here imitates the server."""
from __future__ import annotations

from typing import Any

import httpx
import pytest


def oauth_service_supported(server: Any) -> bool:
    """Does the stand-in route `settings.addCustomOAuth`? (An unknown route answers 404.)"""
    r = httpx.post(server.url + "/api/v1/settings.addCustomOAuth", json={}, headers=server.admin_headers())
    return r.status_code != 404


def oauth_login_supported(server: Any, service: str = "besedka") -> bool:
    """Is there a simulated login route? GET on the POST-only route answers 405 when it exists (a POST would
    answer 404 for a service that is not enabled yet, so it cannot tell)."""
    return httpx.get(f"{server.url}/_fake/oauth/{service}/login").status_code == 405


def require_oauth(server: Any) -> None:
    if not (oauth_service_supported(server) and oauth_login_supported(server)):
        pytest.skip("stand-in has no Custom OAuth yet (settings.addCustomOAuth, POST /_fake/oauth/<service>/login)")


def oauth_login(server: Any, service: str, identity: dict[str, Any]) -> httpx.Response:
    """Sign a person in through the stand-in's simulated Custom OAuth login, as the site's provider would."""
    return httpx.post(f"{server.url}/_fake/oauth/{service}/login", json=identity, timeout=10)


def empty_restart(server: Any) -> None:
    """Make the stand-in come back empty (like a Rocket.Chat restored without its database)."""
    for attr in ("empty_restart", "restart_empty"):
        for owner in (server, server.state):
            fn = getattr(owner, attr, None)
            if callable(fn):
                fn()
                return
    r = httpx.post(server.url + "/_fake/restart", json={"empty": True})
    if r.status_code in (404, 405):
        pytest.skip("stand-in has no empty restart yet")
    r.raise_for_status()
