"""The pacing policy against a simulated Meteor fixed-window limiter (pure, no I/O, no sleeping).

Workers share one `Window` (as the Redis pacer shares it across processes); requests take a random
time to reach the server and to come back, so replies arrive late and out of order and calls sent at
the end of a window may land in the next one; the client's clock may be up to 0.1 s off the server's. The limiter is Meteor `rate-limit` as Rocket.Chat uses it
(A/app/api/server/api.ts): counters reset when `interval` has passed since the last reset, checked at
each arrival, and replies carry limit, remaining and reset = lastReset + interval.
"""

from __future__ import annotations

import heapq
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.pacing import RateHeaders, Window, decide, observe, penalize


class Limiter:
    def __init__(self, limit: int, interval: float) -> None:
        self.limit, self.interval = limit, interval
        self.last_reset = None
        self.count = 0

    def hit(self, now: float) -> tuple[bool, RateHeaders]:
        if self.last_reset is None or now - self.last_reset >= self.interval:
            self.last_reset, self.count = now, 0
        self.count += 1
        reset = self.last_reset + self.interval
        return self.count <= self.limit, RateHeaders(self.limit, max(0, self.limit - self.count), reset)


def simulate(*, calls: int, workers: int, limit: int, interval: float, max_latency: float, seed: int,
             skew: float = 0.0):
    """`skew`: how far the client's clock is ahead of the server's (seconds)."""
    rng = random.Random(seed)
    limiter = Limiter(limit, interval)
    window = Window()
    events: list[tuple[float, int, str, int]] = []  # (time, seq, kind, worker)
    seq = 0

    def push(at: float, kind: str, worker: int) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (at, seq, kind, worker))

    for w in range(workers):
        push(0.0, "want", w)
    todo, done, refused, now = calls, 0, 0, 0.0
    pending: dict[int, tuple[bool, RateHeaders]] = {}
    while events:
        now, _, kind, w = heapq.heappop(events)
        if kind == "want":
            if todo == 0:
                continue
            wait, window = decide(window, now + skew)
            if wait > 0:
                push(now + wait, "want", w)
                continue
            todo -= 1
            push(now + rng.uniform(0, max_latency), "arrive", w)
        elif kind == "arrive":
            pending[w] = limiter.hit(now)
            push(now + rng.uniform(0, max_latency), "reply", w)
        else:  # reply
            allowed, headers = pending.pop(w)
            window = observe(window, headers, now + skew, success=allowed)
            if allowed:
                done += 1
            else:
                refused += 1
                todo += 1  # retried
                window = penalize(window, headers.reset_at)
            push(now, "want", w)
    return done, refused, now


@settings(max_examples=60, deadline=None)
@given(
    workers=st.integers(1, 16),
    limit=st.integers(2, 30),
    max_latency=st.floats(0.0, 0.05),
    skew=st.floats(-0.1, 0.1),
    seed=st.integers(0, 2**32 - 1),
)
def test_pacing_keeps_429s_rare_and_uses_the_allowance(workers, limit, max_latency, skew, seed):
    interval = 1.0
    calls = limit * 8
    done, refused, elapsed = simulate(calls=calls, workers=workers, limit=limit, interval=interval,
                                      max_latency=max_latency, seed=seed, skew=skew)
    assert done == calls
    assert refused <= max(1, calls // 100), f"{refused} refusals for {calls} calls"
    # close to the allowance: the 8 windows' worth of calls take less than ~9.5 windows
    assert elapsed <= (calls / limit + 1.5) * interval * 1.2


def test_unlimited_route_is_never_held_back():
    window = observe(Window(), None, 0.0, success=True)
    for i in range(1000):
        wait, window = decide(window, i * 0.001)
        assert wait == 0


@settings(max_examples=40, deadline=None)
@given(workers=st.integers(2, 16), max_latency=st.floats(0.15, 0.5), seed=st.integers(0, 2**32 - 1))
def test_calls_in_flight_at_a_window_end_never_overdraw_the_next(workers, max_latency, seed):
    """Latency up to half the window: calls sent late in a window land in (and open) the next one."""
    done, refused, _ = simulate(calls=80, workers=workers, limit=10, interval=1.0, max_latency=max_latency,
                                seed=seed)
    assert done == 80
    assert refused == 0


def _headers(remaining: int, reset_at: float) -> RateHeaders:
    return RateHeaders(limit=10, remaining=remaining, reset_at=reset_at)


def test_a_new_window_holds_back_the_calls_still_in_flight():
    window = Window(limit=10, remaining=2, reset_at=100.0)
    for _ in range(2):
        _, window = decide(window, 99.9)
    wait, window = decide(window, 101.0)  # the window is over, both calls unanswered
    assert wait == 0 and (window.remaining, window.held, window.in_flight) == (7, 2, 3)


def test_a_held_call_answered_from_the_old_window_gives_its_slot_back():
    window = Window(limit=10, remaining=1, reset_at=100.0)
    _, window = decide(window, 99.9)
    _, window = decide(window, 101.0)
    assert (window.remaining, window.held) == (8, 1)
    window = observe(window, _headers(0, 100.0), 101.01, success=True)  # it landed before the end after all
    assert (window.remaining, window.held, window.in_flight) == (9, 0, 1)
    window = observe(window, _headers(9, 107.0), 101.02, success=True)  # the new window's first reply
    assert (window.remaining, window.reset_at) == (9, 107.0)


def test_a_held_call_that_opened_the_new_window_keeps_its_slot():
    window = Window(limit=10, remaining=1, reset_at=100.0)
    _, window = decide(window, 99.9)
    _, window = decide(window, 101.0)
    window = observe(window, _headers(9, 106.5), 101.01, success=True)  # arrived late: counted in the new one
    assert (window.remaining, window.held) == (8, 1)


def test_calls_lost_long_ago_are_not_held_back():
    window = Window(limit=10, remaining=0, reset_at=100.0, in_flight=3, touched=50.0)
    wait, window = decide(window, 101.0)
    assert wait == 0 and (window.remaining, window.held) == (9, 0)


def test_after_a_429_of_unknown_limit_the_probe_learns_the_budget():
    window = penalize(Window(in_flight=1, touched=99.0), retry_at=100.0)
    wait, window = decide(window, 100.5)
    assert wait == 0 and window.remaining is None  # a probe
    window = observe(window, _headers(9, 106.0), 100.51, success=True)
    assert (window.remaining, window.reset_at) == (9, 106.0)
