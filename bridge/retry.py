"""When to try a call again, and how long to wait first (pure policy; the sending lives in rest.py).

The rule that matters: a write whose request may have reached Rocket.Chat (read timeout, dropped
connection after sending, 500/504) has an unknown outcome. Repeating it blindly could create a second
user or room, so such failures are only retried for calls declared idempotent; everything else surfaces
as `OutcomeUnknown` and the endpoint method checks the server's state before trying again
(e.g. `create_user` looks the username up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Literal

import httpx

__all__ = ["RetryPolicy", "Failure", "classify_exception", "classify_status", "may_retry"]

Failure = Literal["not_sent", "unknown"]


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential back-off with jitter ("equal jitter": half fixed, half random)."""

    max_retries: int = 4
    base: float = 0.25
    cap: float = 8.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        ceiling = min(self.cap, self.base * (2 ** max(0, attempt)))
        return ceiling / 2 + rand() * ceiling / 2


def classify_exception(exc: BaseException) -> Failure:
    """Did the request possibly reach the server? Connect-phase failures cannot have been applied."""
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)):
        return "not_sent"
    return "unknown"


def classify_status(status: int) -> Failure | None:
    """5xx answers: 502/503 mean a proxy or an overloaded server refused it; 500/504 may have run."""
    if status in (502, 503):
        return "not_sent"
    if status >= 500:
        return "unknown"
    return None


def may_retry(failure: Failure, idempotent: bool) -> bool:
    return failure == "not_sent" or idempotent
