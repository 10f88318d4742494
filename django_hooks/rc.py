"""The Rocket.Chat connection of this process: one bridge client, built from the environment.

Secrets come from `RCSYNC_RC_*` variables (or `*_FILE`), read by
`bridge.config.BridgeConfig.from_env`; only when `RCSYNC_RC_URL` is unset does
this fall back to `RCSYNC["SERVER"]` (documented as the less safe option).
The login token and the rate-limit pacing are shared through Redis under this
site's key prefix, so N worker processes keep one 2FA "remember" window.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from bridge import BridgeConfig
from bridge.client import RocketChat
from django_hooks.conf import engine_config, hook_settings
from django_hooks.metrics import observe_call

_lock = threading.Lock()
_client: tuple[int, RocketChat] | None = None


def bridge_config() -> BridgeConfig:
    """The service account's connection settings (secrets wrapped, never printed)."""
    hooks = hook_settings()
    shared: dict[str, Any] = {}
    if not os.environ.get("RCSYNC_RC_REDIS_URL"):
        shared["redis_url"] = hooks.redis_url
    if not os.environ.get("RCSYNC_RC_KEY_PREFIX"):
        shared["key_prefix"] = hooks.redis_key_prefix + "bridge"
    if os.environ.get("RCSYNC_RC_URL"):
        return BridgeConfig.from_env(**shared)
    server = engine_config().server
    return BridgeConfig(
        url=server.url,
        username=server.username,
        password=server.password or None,
        totp_secret=server.totp_secret or None,
        verify_tls=server.verify_tls,
        timeout=server.timeout,
        **shared,
    )


def client() -> RocketChat:
    """This process's synchronous bridge client (rebuilt after a fork)."""
    global _client
    with _lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), RocketChat(bridge_config(), observer=observe_call))
        return _client[1]


class CachedReads:
    """The bridge client with short-lived caching of what every targeted sync reads first and what
    hardly ever changes: the service account (`me`), the role list, and the managed rooms.

    A targeted sync would otherwise spend five of its seven calls on these. Creating a role or a room
    through this client, or any failed operation (`invalidate`), drops the cache, and so does a login
    token Rocket.Chat refused (a restart that lost the data re-creates rooms under new ids); it also
    expires after `ttl` seconds, so a room deleted by hand is noticed within that time.
    """

    def __init__(self, inner: Any, ttl: float = 30.0) -> None:
        self._inner = inner
        self._ttl = ttl
        self._cache: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._seen_refusals = self._refusals()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __repr__(self) -> str:
        return f"<CachedReads {self._inner!r}>"

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _refusals(self) -> int:
        session = getattr(getattr(self._inner, "aio", None), "session", None)
        return getattr(session, "refusals", 0)

    def _cached(self, key: Any, load: Any) -> Any:
        now = time.monotonic()
        refusals = self._refusals()
        with self._lock:
            if refusals != self._seen_refusals:
                # A token was refused since these were read: the server may have come back empty, with
                # rooms and roles re-created under new ids. Read them afresh.
                self._cache.clear()
                self._seen_refusals = refusals
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def me(self) -> Any:
        return self._cached("me", self._inner.me)

    def list_roles(self) -> Any:
        return list(self._cached("roles", self._inner.list_roles))

    def room_info(self, *, room_id: str | None = None, name: str | None = None) -> Any:
        return self._cached(("room", room_id, name), lambda: self._inner.room_info(room_id=room_id, name=name))

    def create_role(self, *args: Any, **kwargs: Any) -> Any:
        self.invalidate()
        try:
            return self._inner.create_role(*args, **kwargs)
        finally:
            self.invalidate()

    def create_room(self, *args: Any, **kwargs: Any) -> Any:
        self.invalidate()
        try:
            return self._inner.create_room(*args, **kwargs)
        finally:
            self.invalidate()


_cached: tuple[int, CachedReads] | None = None


def cached_client() -> CachedReads:
    """This process's client for targeted syncs (see CachedReads)."""
    global _cached
    inner = client()
    with _lock:
        if _cached is None or _cached[0] != os.getpid() or _cached[1]._inner is not inner:
            _cached = (os.getpid(), CachedReads(inner))
        return _cached[1]


def reset_client() -> None:
    """Forget the client (tests that restart the server, or a config change)."""
    global _client, _cached
    with _lock:
        old, _client, _cached = _client, None, None
    if old is not None and old[0] == os.getpid():
        try:
            old[1].close()
        except Exception:
            pass
