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
from typing import Any

from bridge import BridgeConfig
from bridge.client import RocketChat
from django_hooks.conf import engine_config, hook_settings

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
            _client = (os.getpid(), RocketChat(bridge_config()))
        return _client[1]


def reset_client() -> None:
    """Forget the client (tests that restart the server, or a config change)."""
    global _client
    with _lock:
        old, _client = _client, None
    if old is not None and old[0] == os.getpid():
        try:
            old[1].close()
        except Exception:
            pass
