"""The DDP side of one workspace: timing config, live sessions, the shared rate limiter.

Kept per `State` in weak maps, so tests can tune a workspace before its server starts
(`configure(state, heartbeat_interval=0.2)`) and REST `method.call` can count calls on
the same limiter as DDP (`rate_limiter_for(state)`, reference §8.4), without storing
anything on objects this module does not own.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

from .methods import DDPMethods
from .ratelimit import DDPRateLimiter


@dataclass(frozen=True)
class DDPConfig:
    """Session timing. Meteor's server default is 15 s + 15 s (livedata_server.js `Server` options)."""

    heartbeat_interval: float = 15.0
    heartbeat_timeout: float = 15.0
    respond_to_pings: bool = True
    # How often a logged-in session checks that its login token still exists; accounts-base
    # observes the token and closes the connection once it is removed (`_setLoginToken`).
    token_check_interval: float = 0.5


class DDPServer:
    """The DDP side of one workspace: config, the live sessions and the shared rate limiter."""

    def __init__(self, state: Any, config: DDPConfig | None = None) -> None:
        self.state = state
        self.config = config or DDPConfig()
        self.sessions: set[Any] = set()  # ddp.Session objects; mutate only under `lock`
        self.lock = threading.Lock()
        self.limiter = rate_limiter_for(state)
        self.methods = DDPMethods(state)

    def add(self, session: Any) -> None:
        with self.lock:
            self.sessions.add(session)

    def discard(self, session: Any) -> None:
        with self.lock:
            self.sessions.discard(session)

    def live_sessions(self) -> list[Any]:
        """A snapshot, safe to take from any thread."""
        with self.lock:
            return list(self.sessions)


# Keyed by the State object (weakly), so nothing is stored on objects this module does not own.
_servers: "weakref.WeakKeyDictionary[Any, DDPServer]" = weakref.WeakKeyDictionary()
_configs: "weakref.WeakKeyDictionary[Any, DDPConfig]" = weakref.WeakKeyDictionary()
_limiters: "weakref.WeakKeyDictionary[Any, DDPRateLimiter]" = weakref.WeakKeyDictionary()
_registry_lock = threading.RLock()


def _state_of(target: Any) -> Any:
    """A State, or an app / FakeServer-like object that carries one."""
    app_state = getattr(target, "state", None)
    if app_state is not None and hasattr(app_state, "rc"):
        return app_state.rc  # Starlette app
    if app_state is not None and hasattr(app_state, "events"):
        return app_state  # e.g. fake_rocketchat.harness.testing.FakeServer
    return target


def rate_limiter_for(target: Any) -> DDPRateLimiter:
    """The workspace's one DDP limiter; REST `method.call` should count through it too (§8.4)."""
    state = _state_of(target)
    with _registry_lock:
        limiter = _limiters.get(state)
        if limiter is None:
            limiter = _limiters[state] = new_rate_limiter(state)
        return limiter


def new_rate_limiter(state: Any) -> DDPRateLimiter:
    """A limiter on the state's clock, its `DDP_Rate_Limit_*` settings and the rate-limit switch."""
    clock = state.clock

    def setting(setting_id: str) -> Any:
        return state.setting(setting_id)

    def enabled() -> bool:
        # rateLimiter.js configures no rule at all under TEST_MODE.
        if getattr(state, "env", {}).get("TEST_MODE"):
            return False
        # The stand-in's one `--rate-limit on|off` switch covers REST and DDP alike: an explicit
        # `state.rate_limit_enabled` wins, else the REST switch `API_Enable_Rate_Limiter`.
        flag = getattr(state, "rate_limit_enabled", None)
        if flag is not None:
            return bool(flag() if callable(flag) else flag)
        try:
            return bool(state.setting("API_Enable_Rate_Limiter"))
        except KeyError:
            return True

    return DDPRateLimiter(clock.ms, setting, enabled)


def configure(target: Any, config: DDPConfig | None = None, **overrides: Any) -> DDPConfig:
    """Set the DDP timing for a workspace (a State, its app, or a FakeServer); new sessions use it.

    `configure(rc.state, heartbeat_interval=0.2, heartbeat_timeout=0.3)` makes heartbeat tests fast.
    """
    state = _state_of(target)
    base = config or DDPConfig()
    if overrides:
        base = DDPConfig(**{**base.__dict__, **overrides})
    with _registry_lock:
        _configs[state] = base
        server = _servers.get(state)
        if server is not None:
            server.config = base
    return base


def server_for(target: Any) -> DDPServer:
    state = _state_of(target)
    with _registry_lock:
        server = _servers.get(state)
        if server is None:
            server = _servers[state] = DDPServer(state, _configs.get(state))
        return server


def drop_all(target: Any) -> int:
    """Close every open DDP socket of a workspace (also the event `_fake`/`drop-websockets`)."""
    server = server_for(target)
    sessions = server.live_sessions()
    for session in sessions:
        session.drop()
    return len(sessions)
