"""Rocket.Chat's DDP rate limiter (reference §6.2), counting like Meteor's `rate-limit` package.

Meteor's limiter uses *fixed windows per rule*: each rule has one `_lastResetTime`
shared by every key it counts, and all of that rule's counters reset together once
`intervalTime` has passed (`packages/rate-limit/rate-limit.js`, `increment` / `check`).
A call is counted first and then refused when the count is *greater than* the
allowance, so the (N+1)-th call inside a window is the first one refused.

Rules (`apps/meteor/app/lib/server/startup/rateLimiter.js`, settings `server/settings/rate.ts`):
IP, User, Connection, User_By_Method and Connection_By_Method, the two By_Method rules
doubled into a ×4 variant for `stream-*` names; plus accounts-base's `addDefaultRateLimit`
(`login`, `createUser`, `resetPassword`, `forgotPassword`: 5 per 10 s per connection).
Both methods and subscriptions are counted (`livedata_server.js` `protocol_handlers`).

Quirk kept on purpose: `check` walks the matching rules in order, and an *allowing* rule
met before the refusing one sets `timeToReset` to its own window; the refusing rule only
raises it. So with the Connection rule (600 per 60 s) enabled, a refused method usually
reports the time left in that 60 s window, not in the 10 s By_Method window.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .protocol import meteor_error

# accounts-base/accounts_server.js `addDefaultRateLimit`
ACCOUNTS_LIMITED_METHODS = ("login", "createUser", "resetPassword", "forgotPassword")

# rateLimiter.js `reconfigureLimit` names -> DDP_Rate_Limit_<name>_{Enabled,Requests_Allowed,Interval_Time}
RULE_NAMES = ("IP", "User", "Connection", "User_By_Method", "Connection_By_Method")

_DEFAULTS = {
    "IP": (120000, 60000),
    "User": (1200, 60000),
    "Connection": (600, 60000),
    "User_By_Method": (20, 10000),
    "Connection_By_Method": (10, 10000),
}


@dataclass(frozen=True)
class LimitInput:
    """What Meteor passes to `DDPRateLimiter._increment/_check`."""

    type: str  # "method" | "subscription"
    name: str
    connection_id: str
    user_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True)
class LimitResult:
    allowed: bool
    time_to_reset: int  # ms
    invocations_left: float


@dataclass
class _Rule:
    name: str
    matches: Callable[[LimitInput], bool]
    key: Callable[[LimitInput], str]
    allowed: int
    interval_ms: int
    last_reset_ms: float
    counters: dict[str, int] = field(default_factory=dict)


def _is_stream(name: str) -> bool:
    return name.startswith("stream-")


def build_rules(settings: Callable[[str], Any], now_ms: float) -> list[_Rule]:
    """The enabled rules, read from `DDP_Rate_Limit_*` settings like `reconfigureLimit`."""

    def setting(rule: str, suffix: str, default: Any) -> Any:
        try:
            value = settings(f"DDP_Rate_Limit_{rule}_{suffix}")
        except KeyError:
            return default
        return default if value is None else value

    # accounts-base adds its rule at startup, before Rocket.Chat's settings-driven rules; the
    # order matters because `check` reports the window of the first allowing rule it meets.
    rules: list[_Rule] = [
        _Rule(
            "accounts-default",
            lambda i: i.type == "method" and i.name in ACCOUNTS_LIMITED_METHODS,
            lambda i: f"name{i.name}connectionId{i.connection_id}",
            5,
            10000,
            now_ms,
        )
    ]

    def add(rule: str, matches, key, factor: int = 1) -> None:
        if not setting(rule, "Enabled", True):
            return
        allowed, interval = _DEFAULTS[rule]
        allowed = int(setting(rule, "Requests_Allowed", allowed)) * factor
        interval = int(setting(rule, "Interval_Time", interval)) * factor
        suffix = "" if factor == 1 else f"x{factor}"
        rules.append(_Rule(rule + suffix, matches, key, allowed, interval, now_ms))

    add("IP", lambda i: i.client_address != "127.0.0.1", lambda i: f"clientAddress{i.client_address}")
    add("User", lambda i: i.user_id is not None, lambda i: f"userId{i.user_id}")
    add("Connection", lambda i: True, lambda i: f"connectionId{i.connection_id}")
    for stream, factor in ((False, 1), (True, 4)):
        add(
            "User_By_Method",
            lambda i, s=stream: bool(i.name) and _is_stream(i.name) == s and i.user_id is not None,
            lambda i: f"type{i.type}name{i.name}userId{i.user_id}",
            factor,
        )
        add(
            "Connection_By_Method",
            lambda i, s=stream: bool(i.name) and _is_stream(i.name) == s,
            lambda i: f"type{i.type}name{i.name}connectionId{i.connection_id}",
            factor,
        )
    return rules


class DDPRateLimiter:
    """One limiter per server; thread-safe (REST `method.call` may count from worker threads).

    `clock_ms` is the state's clock, so shifting the server clock also moves the windows.
    `enabled` is re-read on every call (the `--rate-limit on|off` switch).
    """

    def __init__(
        self,
        clock_ms: Callable[[], float],
        settings: Callable[[str], Any] = lambda _id: None,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self._clock_ms = clock_ms
        self._settings = settings
        self._enabled = enabled
        self._lock = threading.Lock()
        self._config = self._read_config()
        self._rules = build_rules(settings, clock_ms())

    def _read_config(self) -> tuple[Any, ...]:
        values = []
        for rule in RULE_NAMES:
            for suffix in ("Enabled", "Requests_Allowed", "Interval_Time"):
                try:
                    values.append(self._settings(f"DDP_Rate_Limit_{rule}_{suffix}"))
                except KeyError:
                    values.append(None)
        return tuple(values)

    def reset(self) -> None:
        """Forget every counter (a restarted server starts with fresh rules)."""
        with self._lock:
            self._config = self._read_config()
            self._rules = build_rules(self._settings, self._clock_ms())

    def hit(self, inp: LimitInput) -> LimitResult:
        """Count one call (`_increment`) and decide on it (`_check`)."""
        if not self._enabled():
            return LimitResult(True, 0, math.inf)
        config = self._read_config()
        with self._lock:
            if config != self._config:
                # rateLimiter.js `reconfigureLimit`: a settings change replaces the rules (fresh counters).
                self._config = config
                self._rules = build_rules(self._settings, self._clock_ms())
            matched = [r for r in self._rules if r.matches(inp)]
            now = self._clock_ms()
            for rule in matched:
                if now - rule.last_reset_ms > rule.interval_ms:
                    rule.counters = {}
                    rule.last_reset_ms = now
                key = rule.key(inp)
                rule.counters[key] = rule.counters.get(key, 0) + 1
            allowed, time_to_reset, left = True, 0.0, math.inf
            now = self._clock_ms()
            for rule in matched:
                key = rule.key(inp)
                count = rule.counters.get(key, 0)
                to_next = rule.interval_ms - (now - rule.last_reset_ms)
                if to_next < 0:
                    rule.counters = {}
                    rule.last_reset_ms = now
                    to_next, count = rule.interval_ms, 0
                if count > rule.allowed:
                    time_to_reset = max(time_to_reset, to_next)
                    allowed, left = False, 0
                elif allowed and rule.allowed - count < left:
                    time_to_reset, left = to_next, rule.allowed - count
            return LimitResult(allowed, int(time_to_reset), left)


def too_many_requests(result: LimitResult) -> dict[str, Any]:
    """The `Meteor.Error('too-many-requests', ...)` of livedata_server.js, message from ddp-rate-limiter."""
    seconds = math.ceil(result.time_to_reset / 1000)
    reason = f"Error, too many requests. Please slow down. You must wait {seconds} seconds before trying again."
    return meteor_error("too-many-requests", reason, {"timeToReset": result.time_to_reset})
