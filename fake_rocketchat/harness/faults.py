"""Fault injection and the request log, in-process and over HTTP at `/_fake/...`.

An ASGI middleware wraps the whole app (REST and `/websocket`):
- `fail_next(route, count, status)`: the next N calls of a REST route answer
  `status` (body `{"success":false,"error":"fake_rocketchat injected fault"}`
  unless given);
- `set_latency(ms, route=None)`: delay every (or one route's) request;
- `outage(seconds, mode)`: mode "503" answers 503 (and refuses websockets);
  mode "refuse" also stops listening (connections refused) when the server
  runs under `fake_rocketchat.harness.testing`/CLI, which registers a listener hook;
  mode "blackhole" holds every request unanswered (a partition dropping packets);
- `fail_writes(ratio, seconds, status)`: a seeded share of writes answers `status`;
- `hold(route, after)` / `release(route)`: calls of a route past the first `after` wait until released;
- `drop_websockets()`: publishes `_fake/drop-websockets` for the DDP side;
- `shift_clock(seconds)`: moves `state.clock` (TOTP edges, rate windows).
The request log records route, method, status and headers with secrets masked.
Control paths under `/_fake` are not logged and never faulted.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..backend.events import CONTROL_STREAM

if TYPE_CHECKING:
    from ..backend.state import State

SECRET_HEADERS = {"x-auth-token", "x-2fa-code", "authorization", "cookie", "set-cookie", "x-user-token"}
API_PREFIX = "/api/v1/"
OUTAGE_MODES = ("503", "refuse", "blackhole")


def mask_headers(headers: dict[str, str]) -> dict[str, str]:
    """Header dict with secret values replaced by `***`."""
    return {k: ("***" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def route_of(path: str) -> str:
    """`/api/v1/users.info` -> `users.info`; other paths are kept as they are."""
    return path[len(API_PREFIX):] if path.startswith(API_PREFIX) else path


@dataclass(frozen=True)
class LoggedRequest:
    """One served request (secrets masked)."""

    at: float
    method: str
    path: str
    route: str
    status: int
    client_ip: str
    headers: dict[str, str]
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at, "method": self.method, "path": self.path, "route": self.route, "status": self.status,
            "client_ip": self.client_ip, "headers": self.headers, "duration_ms": round(self.duration_ms, 3),
        }


class RequestLog:
    """Append-only log of REST/websocket requests; thread-safe."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, route: str | None = None, method: str | None = None, status: int | None = None) -> list[LoggedRequest]:
        with self._lock:
            items = list(self._entries)
        return [
            e for e in items
            if (route is None or e.route == route) and (method is None or e.method == method) and (status is None or e.status == status)
        ]

    def count(self, route: str | None = None, method: str | None = None, status: int | None = None) -> int:
        return len(self.entries(route, method, status))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class _Failure:
    route: str
    remaining: int
    status: int
    method: str | None
    body: Any


@dataclass
class Faults:
    """Active faults; methods are safe to call from any thread."""

    state: "State"
    _failures: list[_Failure] = field(default_factory=list)
    _latency: dict[str | None, float] = field(default_factory=dict)
    _outage_until: float = 0.0
    _outage_mode: str = "503"
    _holds: dict[str, list[int]] = field(default_factory=dict)  # route -> [calls still let through]
    _waiting: dict[str, int] = field(default_factory=dict)  # route -> calls held right now
    _stops: dict[str, int] = field(default_factory=dict)  # route -> calls held so far
    _write_failures: tuple[float, float, int] | None = None  # (until, ratio, status)
    _write_rng: random.Random = field(default_factory=lambda: random.Random(0))
    refuse_hook: Callable[[float], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, route: str, count: int = 1, status: int = 500, method: str | None = None, body: Any = None) -> None:
        """Make the next `count` calls of `route` (e.g. "users.info") answer `status`."""
        with self._lock:
            self._failures.append(_Failure(route, int(count), int(status), method.upper() if method else None, body))

    def set_latency(self, ms: float, route: str | None = None) -> None:
        """Add `ms` of delay to every request (or only to `route`); 0 removes it."""
        with self._lock:
            if ms:
                self._latency[route] = float(ms) / 1000.0
            else:
                self._latency.pop(route, None)

    def outage(self, seconds: float, mode: str = "503") -> None:
        """For `seconds`: answer 503 ("503"), refuse connections ("refuse"), or black-hole them
        ("blackhole": connections open but no byte comes back, as behind a partition that drops
        packets; the client's own read timeout ends each call, and a call still waiting when the
        outage ends is answered 503 without having reached Rocket.Chat's handlers)."""
        if mode not in OUTAGE_MODES:
            raise ValueError("mode must be one of " + ", ".join(repr(m) for m in OUTAGE_MODES))
        with self._lock:
            self._outage_until = time.monotonic() + float(seconds)
            self._outage_mode = mode
        if mode == "refuse" and self.refuse_hook is not None:
            self.refuse_hook(float(seconds))

    def fail_writes(self, ratio: float, seconds: float, status: int = 500, seed: int = 0) -> None:
        """For `seconds`, answer `status` to a `ratio` share of writes (POST to /api/v1, logins excepted),
        drawn from a generator seeded by `seed` so a run can be replayed. The failed writes do nothing."""
        if not 0.0 <= float(ratio) <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        with self._lock:
            self._write_failures = (time.monotonic() + float(seconds), float(ratio), int(status))
            self._write_rng = random.Random(seed)

    def hold(self, route: str, after: int = 0) -> None:
        """Let the next `after` calls of `route` through, then keep further calls waiting (unanswered)
        until `release(route)`: a test can catch a run half-way however fast or loaded the machine is."""
        with self._lock:
            self._holds[route] = [int(after)]

    def let_through(self, route: str, count: int = 1) -> None:
        """Let `count` more calls of a held `route` go (a waiting one first), then hold again: a test
        can step a client through a paged read one stop at a time."""
        with self._lock:
            left = self._holds.get(route)
            if left is not None:
                left[0] += int(count)

    def _held_now(self, route: str) -> bool:
        """True if this call of `route` must wait; a call let through takes one ticket (hold's `after`,
        `let_through`'s `count`). Called holding the lock."""
        left = self._holds.get(route)
        if left is None:
            return False
        if left[0] > 0:
            left[0] -= 1
            return False
        return True

    def keep_waiting(self, route: str) -> bool:
        """For the middleware: True while this held call must still wait."""
        with self._lock:
            return self._held_now(route)

    def release(self, route: str) -> None:
        with self._lock:
            self._holds.pop(route, None)

    def must_wait(self, route: str) -> bool:
        """For the middleware: True when this call of `route` is to be held (counted as a stop)."""
        with self._lock:
            if not self._held_now(route):
                return False
            self._waiting[route] = self._waiting.get(route, 0) + 1
            self._stops[route] = self._stops.get(route, 0) + 1
            return True

    def done_waiting(self, route: str) -> None:
        with self._lock:
            self._waiting[route] -= 1

    def waiting(self, route: str) -> int:
        """How many calls of `route` are held right now (a test polls this to act while a client waits)."""
        with self._lock:
            return self._waiting.get(route, 0)

    def stops(self, route: str) -> int:
        """How many calls of `route` have been held so far (to wait for the next stop of a stepped client)."""
        with self._lock:
            return self._stops.get(route, 0)

    def held(self, route: str) -> bool:
        with self._lock:
            return route in self._holds

    def drop_websockets(self) -> None:
        self.state.events.publish(CONTROL_STREAM, "drop-websockets", [])

    def shift_clock(self, seconds: float) -> float:
        return self.state.clock.shift(seconds)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._latency.clear()
            self._outage_until = 0.0
            self._write_failures = None
            self._holds.clear()

    # ----------------------------------------------------------- used by the middleware
    def outage_active(self) -> bool:
        return time.monotonic() < self._outage_until

    def outage_mode(self) -> str:
        return self._outage_mode

    def outage_remaining(self) -> float:
        return max(0.0, self._outage_until - time.monotonic())

    def take_write_failure(self, route: str, method: str) -> int | None:
        """The status to answer instead of performing this write, or None."""
        if method != "POST" or route in ("login", "") or self._write_failures is None:
            return None
        with self._lock:
            if self._write_failures is None:
                return None
            until, ratio, status = self._write_failures
            if time.monotonic() >= until:
                self._write_failures = None
                return None
            return status if self._write_rng.random() < ratio else None

    def latency_for(self, route: str) -> float:
        with self._lock:
            return self._latency.get(route, 0.0) + self._latency.get(None, 0.0)

    def take_failure(self, route: str, method: str) -> _Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.route == route and (failure.method is None or failure.method == method) and failure.remaining > 0:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure
        return None


async def _send_json(send: Callable[..., Any], status: int, body: Any, content_type: bytes = b"application/json") -> None:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class FaultMiddleware:
    """ASGI middleware: `/_fake` control API, faults, and the request log."""

    def __init__(self, app: Any, faults: Faults, log: RequestLog) -> None:
        self.app = app
        self.faults = faults
        self.log = log

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path.startswith("/_fake"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        method = scope.get("method", "WS")
        route = route_of(path)
        started = time.perf_counter()
        client = headers.get("x-real-ip") or (scope.get("client") or ("", 0))[0]
        status_holder = {"status": 0}

        def record() -> None:
            self.log.append(LoggedRequest(time.time(), method, path, route, status_holder["status"], client,
                                          mask_headers(headers), (time.perf_counter() - started) * 1000))

        delay = self.faults.latency_for(route)
        if delay:
            await asyncio.sleep(delay)
        if scope["type"] == "http" and self.faults.must_wait(route):
            try:
                while self.faults.keep_waiting(route):
                    await asyncio.sleep(0.02)
            finally:
                self.faults.done_waiting(route)
        if self.faults.outage_active() and self.faults.outage_mode() == "blackhole":
            # Nothing reaches Rocket.Chat and nothing comes back until the partition heals.
            while self.faults.outage_active():
                await asyncio.sleep(min(0.2, self.faults.outage_remaining() or 0.2))
            status_holder["status"] = 503
            record()
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1013})
            else:
                await _send_json(send, 503, b"Service Unavailable", b"text/plain; charset=utf-8")
            return
        if scope["type"] == "websocket":
            if self.faults.outage_active():
                await send({"type": "websocket.close", "code": 1013})
                status_holder["status"] = 503
                record()
                return
            status_holder["status"] = 101
            record()
            await self.app(scope, receive, send)
            return
        if self.faults.outage_active():
            status_holder["status"] = 503
            record()
            await _send_json(send, 503, b"Service Unavailable", b"text/plain; charset=utf-8")
            return
        write_status = self.faults.take_write_failure(route, method) if path.startswith(API_PREFIX) else None
        if write_status is not None:
            status_holder["status"] = write_status
            record()
            await _send_json(send, write_status, {"success": False, "error": "fake_rocketchat injected fault"})
            return
        failure = self.faults.take_failure(route, method)
        if failure is not None:
            status_holder["status"] = failure.status
            body = failure.body if failure.body is not None else {"success": False, "error": "fake_rocketchat injected fault"}
            record()
            await _send_json(send, failure.status, body)
            return

        recorded = {"done": False}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body") and not recorded["done"]:
                # Record before the last byte leaves, so a client that got the reply sees it logged.
                recorded["done"] = True
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if not recorded["done"]:
                record()
