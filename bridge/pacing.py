"""Per-route pacing from Rocket.Chat's `X-RateLimit-*` headers, local or shared through Redis.

Rocket.Chat counts REST calls per route + HTTP method + client IP in fixed windows (default 10 calls per
60 s) and says so on every limited reply: `X-RateLimit-Limit`, `-Remaining`, `-Reset` (epoch
milliseconds). Callers holding `api-bypass-rate-limit` (admin, bot, app) get no headers at all
(wire contract §6.1, A/app/api/server/api.ts). So the pacer learns each route's budget from the headers,
spends it locally (counting calls still in flight), and once it is gone waits for the reset instead of
drawing 429s. A route whose successful replies carry no headers is marked unlimited and never paced.
Calls still unanswered when a window ends may be counted by the server in the next one (a late arrival
even opens it), so the next budget holds them back and gives each slot back if its reply turns out to
come from the old window: no 429 by design, even when latency is a large part of the window.

The window arithmetic is pure (`decide`, `observe`, `penalize` on a `Window`); `LocalPacer` keeps the
windows in a dict, `RedisPacer` keeps them in Redis under an optimistic transaction so several worker
processes behind the same IP share one budget.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping, Protocol

__all__ = ["Window", "RateHeaders", "parse_rate_headers", "decide", "observe", "penalize", "Pacer", "LocalPacer",
           "RedisPacer", "NullPacer"]

log = logging.getLogger(__name__)

# Slack after a reset: the server's window clock and ours differ by rounding and request latency.
RESET_MARGIN = 0.15
# How long one probing call (budget unknown) holds back the others before they may probe again.
PROBE_TTL = 3.0
# Poll step while a probe is in flight.
PROBE_POLL = 0.02
# Every reply of one window carries the same reset (Meteor rate-limit: lastReset + interval).
SAME_WINDOW = 0.05
# Calls in flight for longer than this are forgotten (their worker died).
IN_FLIGHT_STALE = 60.0
# Calls still unanswered when a window ends may land in the next one (the first of them even opens it on the
# server, whose windows start at the first call after the last ended): the new budget holds them back, unless
# the route has been quiet this long (then they are lost, not on the wire; bridge timeouts are ~15 s).
IN_FLIGHT_HOLD = 20.0
# How long a process trusts its own proof that a route is unlimited (a bypass account) before asking Redis
# again. A reply with rate headers ends the trust at once, so this only bounds how stale the shared copy gets.
UNLIMITED_TRUST = 60.0


@dataclass(frozen=True)
class RateHeaders:
    limit: int
    remaining: int
    reset_at: float  # epoch seconds


def parse_rate_headers(headers: Mapping[str, str]) -> RateHeaders | None:
    """The three X-RateLimit-* headers, or None when absent or malformed (bypass accounts get none)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        limit = int(lowered["x-ratelimit-limit"])
        remaining = int(lowered["x-ratelimit-remaining"])
        reset_ms = float(lowered["x-ratelimit-reset"])
    except (KeyError, ValueError, TypeError):
        return None
    return RateHeaders(limit=limit, remaining=max(0, remaining), reset_at=reset_ms / 1000.0)


@dataclass(frozen=True)
class Window:
    """What we know about one route's current window. `remaining=None` means "unknown: probe first";
    `in_flight` counts calls sent and not yet answered (they may still land in a new window)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None
    probe_until: float | None = None
    unlimited: bool = False
    in_flight: int = 0
    touched: float = 0.0
    held: int = 0  # calls in flight at the last window end, charged to the new budget until they answer


def _go(window: Window, now: float) -> tuple[float, Window]:
    return 0.0, replace(window, in_flight=window.in_flight + 1, touched=now)


def decide(window: Window, now: float) -> tuple[float, Window]:
    """Whether a call may go now (wait 0, budget spent) or how long to wait before asking again."""
    if window.unlimited:
        return 0.0, window
    if window.in_flight and now - window.touched > IN_FLIGHT_STALE:
        window = replace(window, in_flight=0)  # a worker died mid-call: forget its calls
    if window.reset_at is not None:
        if now < window.reset_at + RESET_MARGIN:
            if window.remaining is not None and window.remaining <= 0:
                return window.reset_at + RESET_MARGIN - now, window
        else:  # the window is over: a full budget, but its next reset is unknown until a reply says
            if window.limit is None:  # only a 429 told us of this window: probe the next one
                window = replace(window, remaining=None, reset_at=None, held=0)
            else:
                held = min(window.limit, window.in_flight if now - window.touched <= IN_FLIGHT_HOLD else 0)
                window = replace(window, remaining=window.limit - held, reset_at=None, held=held)
    if window.remaining is not None and window.remaining > 0:
        spent = replace(window, remaining=window.remaining - 1)
        if spent.remaining == 0 and spent.reset_at is None:
            # Budget gone in a window whose end we have not heard yet: wait for the replies in flight
            # to say (observe clears this), and only probe if none ever does.
            spent = replace(spent, probe_until=now + PROBE_TTL)
        return _go(spent, now)
    # Budget unknown (never seen, or spent in a window whose reset we do not know yet): one probe at a time.
    if window.probe_until is not None and window.probe_until > now:
        return min(PROBE_POLL, window.probe_until - now), window
    return _go(replace(window, probe_until=now + PROBE_TTL), now)


def observe(window: Window, headers: RateHeaders | None, now: float, *, success: bool) -> Window:
    """Fold one reply (or a failure without reply) into the window. Only successful replies may prove a
    route unlimited."""
    window = replace(window, in_flight=max(0, window.in_flight - 1), touched=now)
    if headers is None:
        if success and window.limit is None:
            return replace(window, unlimited=True, probe_until=None)
        return replace(window, probe_until=None)
    known = replace(window, limit=headers.limit, probe_until=None, unlimited=False)
    if window.reset_at is None:
        if headers.reset_at <= now:  # a straggler counted in a finished window: give back what it held
            return _refund(replace(window, limit=headers.limit))
        remaining = headers.remaining if window.remaining is None else min(window.remaining, headers.remaining)
        return replace(known, remaining=remaining, reset_at=headers.reset_at)
    if headers.reset_at < window.reset_at - SAME_WINDOW:
        return _refund(replace(window, probe_until=None))  # reply from an older window
    if headers.reset_at > window.reset_at + SAME_WINDOW:
        # The server began a new window before ours ended (a late call opened it); calls still in
        # flight may land in it too, so count them as spent.
        return replace(known, remaining=max(0, headers.remaining - window.in_flight), reset_at=headers.reset_at,
                       held=window.in_flight)
    remaining = headers.remaining if window.remaining is None else min(window.remaining, headers.remaining)
    return replace(known, remaining=remaining)


def _refund(window: Window) -> Window:
    """A reply from an older window can only come from a call held back at the last window end (later calls
    were sent after it): that call did not land in the current window, so its slot is free again."""
    if window.held <= 0:
        return window
    remaining = None if window.remaining is None else min(window.limit or 0, window.remaining + 1)
    return replace(window, held=window.held - 1, remaining=remaining)


def penalize(window: Window, retry_at: float) -> Window:
    """A 429: nothing left until `retry_at`."""
    reset = retry_at if window.reset_at is None else max(window.reset_at, retry_at)
    return replace(window, remaining=0, reset_at=reset, probe_until=None, unlimited=False)


class Pacer(Protocol):
    async def acquire(self, key: str, *, max_wait: float) -> None: ...
    async def record(self, key: str, headers: Mapping[str, str], *, success: bool) -> None: ...
    async def penalize(self, key: str, retry_at: float) -> None: ...


class _WindowPacer:
    """Shared waiting loop; subclasses provide an atomic read-modify-write of one window."""

    async def _update(self, key: str, fn: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    async def acquire(self, key: str, *, max_wait: float) -> None:
        deadline = time.time() + max_wait
        while True:
            now = time.time()

            def step(w: Window) -> tuple[Window, float]:
                wait, new = decide(w, now)
                return new, wait

            wait = await self._update(key, step)
            if wait <= 0:
                return
            if now + wait > deadline:
                from .errors import RateLimited

                raise RateLimited(f"{key}: rate limit window ends in {wait:.0f} s", retry_at=now + wait, route=key)
            if wait > 1:
                log.debug("pacing %s: waiting %.1f s for the rate-limit window", key, wait)
            await asyncio.sleep(min(wait, 5.0))

    async def record(self, key: str, headers: Mapping[str, str], *, success: bool) -> None:
        parsed = parse_rate_headers(headers)
        now = time.time()
        await self._update(key, lambda w: (observe(w, parsed, now, success=success), None))

    async def penalize(self, key: str, retry_at: float) -> None:
        await self._update(key, lambda w: (penalize(w, retry_at), None))


class LocalPacer(_WindowPacer):
    """Windows kept in this process (one event loop): enough for a single worker."""

    def __init__(self) -> None:
        self._windows: dict[str, Window] = {}

    def window(self, key: str) -> Window:
        return self._windows.get(key, Window())

    def acquired_here(self, key: str) -> bool:
        """True if `acquire` would let the call go and change nothing (a route proven unlimited), so a
        caller outside the loop may skip it. (`decide` leaves an unlimited window as it is.)"""
        return self.window(key).unlimited

    def recorded_here(self, key: str, headers: Mapping[str, str], *, success: bool) -> bool:
        """True if `record` would change nothing that matters: a reply without rate headers on a route
        proven unlimited (its calls are never counted in flight; a refusal without headers, such as a
        2FA challenge, leaves it unlimited)."""
        return self.window(key).unlimited and parse_rate_headers(headers) is None

    async def _update(self, key: str, fn: Any) -> Any:
        new, result = fn(self._windows.get(key, Window()))
        self._windows[key] = new
        return result


class RedisPacer(_WindowPacer):
    """Windows kept in Redis (`<prefix>:pace:<key>`), updated with WATCH/MULTI so workers share a budget.

    A route this process has seen answered without rate headers (a bypass account, the recommended set-up)
    is not paced, so there is no budget to share: for UNLIMITED_TRUST seconds its calls skip Redis
    altogether (two optimistic transactions per call were a tenth of a single-person sync's CPU).
    """

    def __init__(self, redis: Any, prefix: str, ttl: int = 3600) -> None:
        self._redis = redis  # a redis.asyncio.Redis
        self._prefix = prefix
        self._ttl = ttl
        self._local = LocalPacer()  # used while Redis is unreachable
        self._degraded = False
        self._unlimited: dict[str, float] = {}  # route -> when this process last saw it proven unlimited

    def _trusted_unlimited(self, key: str) -> bool:
        seen = self._unlimited.get(key)
        return seen is not None and time.time() - seen < UNLIMITED_TRUST

    async def acquire(self, key: str, *, max_wait: float) -> None:
        if self._trusted_unlimited(key):
            return
        await super().acquire(key, max_wait=max_wait)

    def acquired_here(self, key: str) -> bool:
        """True if `acquire` would not touch Redis (so a caller outside the loop may skip it)."""
        return self._trusted_unlimited(key)

    def recorded_here(self, key: str, headers: Mapping[str, str], *, success: bool) -> bool:
        """True if `record` would change nothing but the trust's age: a reply without rate headers on a
        trusted route (a refusal such as a 2FA challenge included: only headers end the trust)."""
        return self._trusted_unlimited(key) and parse_rate_headers(headers) is None

    async def record(self, key: str, headers: Mapping[str, str], *, success: bool) -> None:
        if self.recorded_here(key, headers, success=success):
            return  # still unlimited: nothing to fold in
        parsed = parse_rate_headers(headers)
        now = time.time()

        def step(w: Window) -> tuple[Window, bool]:
            new = observe(w, parsed, now, success=success)
            return new, new.unlimited

        if await self._update(key, step):
            self._unlimited[key] = now
        else:
            self._unlimited.pop(key, None)

    async def penalize(self, key: str, retry_at: float) -> None:
        self._unlimited.pop(key, None)
        await super().penalize(key, retry_at)

    async def _update(self, key: str, fn: Any) -> Any:
        from redis.exceptions import RedisError

        try:
            result = await self._shared_update(key, fn)
        except (RedisError, OSError) as exc:
            if not self._degraded:
                log.warning("pacing: Redis unreachable (%s), pacing this process alone", type(exc).__name__)
                self._degraded = True
            return await self._local._update(key, fn)
        if self._degraded:
            log.info("pacing: Redis reachable again, sharing the rate budget")
            self._degraded = False
        return result

    async def _shared_update(self, key: str, fn: Any) -> Any:
        from redis.exceptions import WatchError

        name = f"{self._prefix}:pace:{key}"
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(name)
                    raw = await pipe.get(name)
                    window = Window(**json.loads(raw)) if raw else Window()
                    new, result = fn(window)
                    pipe.multi()
                    pipe.set(name, json.dumps(asdict(new)), ex=self._ttl)
                    await pipe.execute()
                    return result
                except WatchError:
                    continue


class NullPacer:
    """No pacing (config.pacing off): 429s are still honoured by waiting and retrying."""

    def acquired_here(self, key: str) -> bool:
        return True

    def recorded_here(self, key: str, headers: Mapping[str, str], *, success: bool) -> bool:
        return True

    async def acquire(self, key: str, *, max_wait: float) -> None:
        return None

    async def record(self, key: str, headers: Mapping[str, str], *, success: bool) -> None:
        return None

    async def penalize(self, key: str, retry_at: float) -> None:
        return None
