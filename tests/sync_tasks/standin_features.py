"""The stand-in's Custom OAuth login and empty restart, as the tests and bench/recovery.py use them."""
from __future__ import annotations

from typing import Any

import httpx


def oauth_login(server: Any, service: str, identity: dict[str, Any]) -> httpx.Response:
    """Sign a person in through the stand-in's simulated Custom OAuth login, as the site's provider would."""
    return httpx.post(f"{server.url}/_fake/oauth/{service}/login", json=identity, timeout=10)


def empty_restart(server: Any) -> None:
    """Make the stand-in come back empty (like a Rocket.Chat restored without its database); the start
    options (the service account, as ADMIN_* creates it) are applied again."""
    server.restart_empty()
