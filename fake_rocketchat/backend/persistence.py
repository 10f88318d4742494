"""Keep a workspace across restarts (`--data FILE`): the whole State as JSON, written atomically.

Why: a real Rocket.Chat keeps everything in MongoDB, so a restart loses nothing; the demo and the soak
restart the stand-in and expect the same users, rooms, tokens and settings back. Only stored documents are
written (indexes are rebuilt on load); login tokens are stored as their hashes, as in the State, so the file
holds no plain token and no password (only the one-way hashes the State keeps).
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import State

FORMAT = 1
_COLLECTIONS = ("users", "rooms", "subscriptions", "roles", "permissions", "messages")
_LISTS = ("deleted_subscriptions", "deleted_roles", "deleted_permissions", "outbox")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$date": value.isoformat()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$date"}:
            return datetime.fromisoformat(value["$date"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def dump_state(state: "State") -> dict[str, Any]:
    """Everything a restart must keep, as JSON-able data."""
    with state.lock:
        data: dict[str, Any] = {"format": FORMAT, "compat": state.compat, "settings": state.settings.snapshot()}
        for name in _COLLECTIONS + _LISTS:
            data[name] = _encode(getattr(state, name))
        data["custom_roles_licensed"] = state.custom_roles_licensed
        return data


def load_state(state: "State", data: dict[str, Any]) -> None:
    """Replace the state's contents with `data` (from `dump_state`) and rebuild its indexes."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported data file format {data.get('format')!r}")
    with state.lock:
        state.wipe()
        state.settings.restore(data.get("settings") or {})
        for name in _COLLECTIONS + _LISTS:
            if name in data:
                setattr(state, name, _decode(data[name]))
        if "custom_roles_licensed" in data:
            state.custom_roles_licensed = bool(data["custom_roles_licensed"])
        state.rebuild_indexes()


def save(state: "State", path: str | Path) -> None:
    """Write atomically: a temporary file in the same directory, fsync, then rename over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(dump_state(state), separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)  # password hashes and token hashes: owner only
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(state: "State", path: str | Path) -> bool:
    """Load `path` into `state` if it exists; returns whether it did."""
    target = Path(path)
    if not target.exists():
        return False
    with open(target, encoding="utf-8") as handle:
        load_state(state, json.load(handle))
    return True
