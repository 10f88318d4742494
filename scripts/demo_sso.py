"""The demo's sign-in and recovery scenes: a person signs in through the site's OAuth (the stand-in's
simulated Custom OAuth login) into the account rcsync prepared, and a Rocket.Chat that restarts empty is
restored by one reconcile. Both use the stand-in's own control API; when it does not have them (an older
stand-in) the demo says so and skips the scene.
"""

from __future__ import annotations

from typing import Any

import httpx

SERVICE = "besedka"


def standin_supports(rc_url: str) -> dict[str, bool]:
    """Which scenes the running stand-in can play. Probed with GET, which these POST-only routes answer
    with 405 when they exist and 404 when they do not (nothing is triggered)."""
    login = httpx.get(f"{rc_url}/_fake/oauth/{SERVICE}/login", timeout=5).status_code == 405
    restart = httpx.get(f"{rc_url}/_fake/restart", timeout=5).status_code == 405
    return {"login": login, "restart": restart}


def user_id_in(reply: dict[str, Any]) -> str | None:
    """The Rocket.Chat user id a login reply names (`/login`'s `data.userId`, or a user document)."""
    data = reply.get("data") if isinstance(reply.get("data"), dict) else reply
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    return data.get("userId") or user.get("_id") or data.get("_id")


def identity_of(username: str) -> dict[str, str]:
    """What the site's identity endpoint serves for this user (the documented default identity)."""
    from django.contrib.auth import get_user_model

    from sync_tasks.sso import default_identity

    return default_identity(get_user_model().objects.get(username=username))


def sign_in(rc_url: str, identity: dict[str, str]) -> dict[str, Any]:
    """The person's login through the site's OAuth provider, as Rocket.Chat's Custom OAuth performs it."""
    r = httpx.post(f"{rc_url}/_fake/oauth/{SERVICE}/login", json=identity, timeout=10)
    r.raise_for_status()
    return r.json()


def empty_restart(rc_url: str) -> None:
    r = httpx.post(f"{rc_url}/_fake/restart", json={"empty": True}, timeout=30)
    r.raise_for_status()
