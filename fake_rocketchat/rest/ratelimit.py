"""REST rate limiter: Meteor `rate-limit` fixed windows as Rocket.Chat's api.ts uses them.

One rule per route (`/api/v1/<route><METHOD>`), counters keyed by client IP.
All counters of a rule reset together once `interval` has passed since the
rule's last reset (the window is shared by every IP on that route). Call
N+1 inside the window is refused; `X-RateLimit-Reset` is epoch milliseconds.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from ..backend.clock import Clock


@dataclass
class _Rule:
    last_reset_ms: int
    counters: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_at_ms: int
    time_to_reset_ms: int

    @property
    def seconds(self) -> int:
        return math.ceil(self.time_to_reset_ms / 1000)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at_ms),
        }


class RateLimiter:
    """Counts calls per (rule, key) in fixed windows read from a shiftable clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._rules: dict[str, _Rule] = {}
        self._lock = threading.Lock()

    def hit(self, rule_key: str, key: str, limit: int, interval_ms: int) -> Decision:
        """Record one call and say whether it is allowed (increment, then check)."""
        now = self._clock.ms()
        with self._lock:
            rule = self._rules.get(rule_key)
            if rule is None or now - rule.last_reset_ms >= interval_ms:
                rule = self._rules[rule_key] = _Rule(last_reset_ms=now)
            rule.counters[key] = rule.counters.get(key, 0) + 1
            count = rule.counters[key]
            time_to_reset = max(0, interval_ms - (now - rule.last_reset_ms))
        allowed = count <= limit
        return Decision(allowed, limit, max(0, limit - count), now + time_to_reset, time_to_reset)

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
