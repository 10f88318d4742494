"""Initial data for a stand-in: an admin account and an optional seed document.

Seed format (JSON file or dict), every section optional:
{
  "custom_oauth": {"<service name>": {"enabled"?: true, "<suffix>": value, ...}},   # e.g. "username_field"
  "settings":    {"<setting id>": value, ...},
  "permissions": {"<permission id>": ["role", ...], ...},     # replaces the grant list
  "roles":       [{"name": "vip-role", "scope": "Users", "description": ""}],
  "users":       [{"username", "name"?, "email"?, "password"?, "roles"?: [...], "active"?: true,
                   "verified"?: true, "totp_secret"?: "BASE32", "email2fa"?: false}],
  "rooms":       [{"name", "type": "c"|"p", "owner"?: username, "members"?: [usernames],
                   "moderators"?: [usernames], "default"?: false, "id"?: "<room id>"}]
}
Custom role names in a user's "roles" are resolved to their ids. "custom_oauth" registers each service's
settings block first (as `settings.addCustomOAuth`), so "settings" may also name its ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .state import State


def load_seed(seed: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    if seed is None:
        return {}
    if isinstance(seed, dict):
        return seed
    with open(seed, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError("seed must be a JSON object")
    return data


def create_admin(state: State, username: str, password: str, email: str | None = None, totp_secret: str | None = None) -> dict[str, Any]:
    """Like ADMIN_USERNAME/ADMIN_PASS on a first start (`server/startup/initialData.js`):
    role `admin`, silently joined to the default channels."""
    with state.lock:
        user = state.create_user(
            username,
            name=username,
            email=email or f"{username}@example.invalid",
            password=password,
            roles=["admin"],
            verified=True,
            totp_secret=totp_secret,
        )
        state._join_default_channels(state.users[user["_id"]], silenced=True)
        return state.find_user(user["_id"])  # type: ignore[return-value]


def apply_seed(state: State, seed: dict[str, Any] | str | Path | None) -> None:
    data = load_seed(seed)
    with state.lock:
        for name, options in (data.get("custom_oauth") or {}).items():
            state.configure_custom_oauth(name, **dict(options or {}))
        for key, value in (data.get("settings") or {}).items():
            state.set_setting(key, value)
        for perm, roles in (data.get("permissions") or {}).items():
            state.permissions.setdefault(perm, {"_id": perm, "roles": [], "_updatedAt": state.now()})["roles"] = list(roles)
        names: dict[str, str] = {}
        for role in data.get("roles") or []:
            created = state.create_role(role["name"], role.get("scope", "Users"), role.get("description", ""))
            names[role["name"]] = created["_id"]
        for user in data.get("users") or []:
            state.create_user(
                user["username"],
                name=user.get("name"),
                email=user.get("email"),
                password=user.get("password"),
                roles=[names.get(r, r) for r in user.get("roles", ["user"])],
                active=user.get("active", True),
                verified=user.get("verified", True),
                totp_secret=user.get("totp_secret"),
                email2fa=user.get("email2fa", False),
            )
        for room in data.get("rooms") or []:
            created = state.create_room(
                room["name"], room.get("type", "c"), owner=room.get("owner"), members=room.get("members", []),
                default=room.get("default", False), room_id=room.get("id"),
            )
            for moderator in room.get("moderators", []):
                state.set_room_role(created["_id"], moderator, "moderator")
