"""`AsyncRocketChat`: the async REST client — transport, pacing, retries, auth and 2FA around each call.

One call goes through three layers, each with one job:
1. `_send`: pacing (`pacing.py`), bounded concurrency, transport retries with back-off (`retry.py`),
   429 waits. Knows nothing about tokens.
2. `_call`: credentials from the `Session`, one re-login on 401, the 2FA challenge-and-repeat, and the
   mapping of failures to `errors.py` (the wire tables are in `_wire_errors.py`).
3. The endpoint methods (mixins in `users.py`, `roles.py`, `rooms.py`, `settings.py`): typed arguments and results.

Nothing here logs headers or bodies: log lines carry method, route, status and timing only.
"""

from __future__ import annotations

from contextlib import aclosing
import asyncio
import json as jsonlib
import logging
import threading
import time
from typing import Any, AsyncIterator, Mapping

import httpx

from . import direct
from .auth import Session
from .config import BridgeConfig
from ._wire_errors import TWO_FACTOR_CHALLENGES, error_code, error_from_ddp, error_from_response, wait_seconds_from_text
from .errors import OutcomeUnknown, ServerError, SessionLost, Unavailable
from .models import Listing
from .jsonstream import ArrayItems
from .log_privacy import quiet_queries
from .observe import CallObserved, CallObserver, notify, route_label
from .pacing import LocalPacer, NullPacer, Pacer, RedisPacer, parse_rate_headers
from .retry import RetryPolicy, classify_exception, classify_status, may_retry
from .rooms import RoomsMixin
from .roles import RolesMixin
from .settings import SettingsMixin
from .tokens import RedisTokenStore, TokenStore
from .users import UsersMixin

__all__ = ["AsyncRocketChat"]

log = logging.getLogger("bridge.rest")

_MAX_RATE_LIMIT_ROUNDS = 30


def _client_settings(config: BridgeConfig) -> dict[str, Any]:
    """What the async client and the blocking one for direct calls share: base URL, timeouts, TLS, headers."""
    return {
        "base_url": config.url,
        "timeout": httpx.Timeout(config.timeout, connect=config.connect_timeout),
        "verify": config.tls_verify(),
        "headers": {"User-Agent": config.user_agent, "Accept": "application/json"},
    }


def _proxied(url: str) -> bool:
    """Would httpx (trust_env, its default) send a request to `url` through a proxy from the environment?
    The standard library reads the same variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _as_async_redis(redis: Any) -> Any:
    """Accept a URL, a redis.asyncio client, or a sync redis client (its connection settings are reused)."""
    if redis is None:
        return None
    import redis.asyncio as aioredis

    if isinstance(redis, str):
        return aioredis.Redis.from_url(redis)
    if isinstance(redis, aioredis.Redis):
        return redis
    pool = getattr(redis, "connection_pool", None)
    if pool is not None:
        kwargs = dict(pool.connection_kwargs)
        return aioredis.Redis(**{k: v for k, v in kwargs.items() if k in (
            "host", "port", "db", "username", "password", "socket_timeout", "ssl", "path")})
    raise TypeError(f"redis must be a URL or a redis client, not {type(redis).__name__}")


class _Core:
    """Transport, pacing, retries, auth: everything the endpoint mixins build on."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        redis: Any = None,
        token_store: TokenStore | None = None,
        pacer: Pacer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: CallObserver | None = None,
    ) -> None:
        self.config = config
        self._observer = observer  # told about every HTTP exchange (observe.py); never sees headers or bodies
        redis_client = _as_async_redis(redis if redis is not None else config.redis_url)
        self._owns_redis = redis_client is not None and redis_client is not redis
        self._redis = redis_client
        prefix = config.key_prefix
        if token_store is None and redis_client is not None:
            token_store = RedisTokenStore(redis_client, prefix)
        if pacer is None:
            if not config.pacing:
                pacer = NullPacer()
            elif redis_client is not None:
                pacer = RedisPacer(redis_client, f"{prefix}:{httpx.URL(config.url).netloc.decode()}")
            else:
                pacer = LocalPacer()
        self.pacer = pacer
        self._retry = RetryPolicy(config.max_retries, config.backoff_base, config.backoff_cap)
        self._sem = asyncio.Semaphore(config.max_concurrency)
        quiet_queries(config.url)  # httpx's own line per request: no usernames or emails from query strings
        self._http = httpx.AsyncClient(
            **_client_settings(config), transport=transport,
            limits=httpx.Limits(max_connections=config.max_concurrency * 2,
                                max_keepalive_connections=config.max_concurrency),
        )
        self.session = Session(config, self._send, token_store)
        self.calls = 0  # HTTP requests sent (observability, benchmarks)
        self._calls_lock = threading.Lock()  # direct calls count from the callers' threads
        self._urls: dict[str, httpx.URL] = {}  # route -> absolute URL (see _url)
        self._own_transport = transport is None
        # Direct calls (direct.py): a blocking client beside the async one, and the loop they defer to.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._direct_http: httpx.Client | None = None
        self._direct_transport: httpx.HTTPTransport | None = None
        self._direct_lean = False
        self._direct_slots = threading.BoundedSemaphore(config.max_concurrency)

    def enable_direct(self) -> bool:
        """Let the blocking facade run calls in its callers' threads (`direct.run`); call it on the loop
        the client belongs to. Not with an injected transport: that is async, and a test's to observe."""
        if not self._own_transport:
            return False
        config = self.config
        self._loop = asyncio.get_running_loop()
        if self._direct_http is None:
            # The same settings as the async client; at most max_concurrency exchanges at once
            # (`_direct_slots`), so the pool never makes one wait for a connection.
            settings = _client_settings(config)
            self._direct_transport = httpx.HTTPTransport(
                verify=settings["verify"],
                limits=httpx.Limits(max_connections=config.max_concurrency,
                                    max_keepalive_connections=config.max_concurrency),
            )
            self._direct_http = httpx.Client(**settings, transport=self._direct_transport)
            # httpx routes a request through a proxy named in the environment (HTTPS_PROXY, ...): the
            # client's own routing then, not the lean exchange straight to the transport.
            self._direct_lean = not _proxied(config.url)
        return True

    @property
    def direct_enabled(self) -> bool:
        return self._direct_http is not None

    def _counted(self) -> None:
        with self._calls_lock:
            self.calls += 1

    async def _on_loop(self, step: Any, *args: Any, **kwargs: Any) -> Any:
        """Await a step that needs the event loop (token store, pacer, login): on it, in a direct call."""
        return await direct.on_loop(self._loop, step, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.url} as {self.config.account!r}>"

    async def __aenter__(self) -> "_Core":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Log out (unless the token is shared or personal) and close connections."""
        try:
            await self.session.logout()
        finally:
            await self._http.aclose()
            if self._direct_http is not None:
                self._direct_http.close()
            if self._owns_redis and self._redis is not None:
                await self._redis.aclose()

    async def login(self) -> None:
        """Log in now instead of on the first call (fails fast on bad credentials)."""
        await self._on_loop(self.session.credentials)

    # --- layer 1: one HTTP exchange, paced and retried ------------------------------------------

    async def _send(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        resent: list[bool] | None = None,
        sent: asyncio.Event | None = None,
    ) -> httpx.Response:
        """Send until a non-retryable answer; `resent[0]` is set when an unknown-outcome write was repeated;
        `sent` is set once a request has been written out (httpcore's trace), before its answer."""
        if idempotent is None:
            idempotent = method == "GET"
        key = f"{method} {route.split('/')[0] if route.startswith('method.call') else route}"
        attempt = 0
        rate_rounds = 0
        url = self._url(route)
        extensions = {"trace": _trace_sent(sent)} if sent is not None else None
        while True:
            started = left_at = time.monotonic()
            try:
                if direct.active():
                    response, left_at = await self._exchange_direct(key, method, url, params, json, headers)
                else:
                    response, left_at = await self._exchange(key, method, url, params, json, headers, extensions)
            except httpx.TransportError as exc:
                notify(self._observer, CallObserved(method, route_label(route), None, time.monotonic() - left_at,
                                                    type(exc).__name__))
                failure = classify_exception(exc)
                await self._record(key, {}, success=False)  # release a probe slot: no reply will come
                log.debug("%s %s: %s after %.2f s", method, route, type(exc).__name__, time.monotonic() - started)
                if not may_retry(failure, idempotent):
                    raise OutcomeUnknown(
                        f"{route}: no answer ({type(exc).__name__}); the write may or may not have been applied",
                        route=route,
                    ) from None
                if attempt >= self._retry.max_retries:
                    raise Unavailable(
                        f"{route}: Rocket.Chat unreachable after {attempt + 1} attempts ({type(exc).__name__})",
                        route=route,
                    ) from None
                if failure == "unknown" and resent is not None:
                    resent[0] = True
                await direct.pause(self._retry.delay(attempt))
                attempt += 1
                continue
            status = response.status_code
            notify(self._observer, CallObserved(method, route_label(route), status, time.monotonic() - left_at))
            log.debug("%s %s -> %d in %.3f s", method, route, status, time.monotonic() - started)
            await self._record(key, response.headers, success=status < 400)
            if status == 429:
                rate_rounds += 1
                now = time.time()
                text = _body_text(response)
                wait = wait_seconds_from_text(text)
                rate = parse_rate_headers(response.headers)
                retry_at = _retry_at(now, wait, rate.reset_at if rate else None)
                if retry_at - now > self.config.max_rate_limit_wait or rate_rounds > _MAX_RATE_LIMIT_ROUNDS:
                    raise error_from_response(429, _safe_json(response), route=route, now=now)
                log.info("%s %s: rate limited, retrying in %.1f s", method, route, max(0.0, retry_at - now))
                await self._on_loop(self.pacer.penalize, key, retry_at)
                await direct.pause(max(0.0, retry_at - time.time()))
                continue
            failure5 = classify_status(status)
            if failure5 is not None:
                if not may_retry(failure5, idempotent):
                    raise OutcomeUnknown(
                        f"{route}: HTTP {status}; the write may or may not have been applied",
                        status=status, route=route,
                    )
                if attempt < self._retry.max_retries:
                    if failure5 == "unknown" and resent is not None:
                        resent[0] = True
                    await direct.pause(self._retry.delay(attempt))
                    attempt += 1
                    continue
            return response

    async def _exchange(self, key: str, method: str, url: httpx.URL, params: Any, json: Any, headers: Any,
                        extensions: Any) -> tuple[httpx.Response, float]:
        """One request on the async client: (the response, when it left)."""
        async with self._sem:
            # Spend rate budget only when the request really leaves: a call counted in one window
            # but queued on the semaphore until the next would overdraw that next window.
            await self.pacer.acquire(key, max_wait=self.config.max_rate_limit_wait)
            self._counted()
            left_at = time.monotonic()  # latency is the exchange, not the wait for pacing or a slot
            response = await self._http.request(method, url, params=params, json=json, headers=headers,
                                                extensions=extensions)
        return response, left_at

    async def _exchange_direct(self, key: str, method: str, url: httpx.URL, params: Any, json: Any,
                               headers: Any) -> tuple[httpx.Response, float]:
        """The same on the blocking client, in the calling thread (a direct call, see direct.py)."""
        assert self._direct_http is not None, "direct call on a client without direct calls enabled"
        with self._direct_slots:
            quick = getattr(self.pacer, "acquired_here", None)
            if quick is None or not quick(key):
                await self._on_loop(self.pacer.acquire, key, max_wait=self.config.max_rate_limit_wait)
            self._counted()
            left_at = time.monotonic()
            response = self._direct_exchange(method, url, params, json, headers)
        return response, left_at

    def _direct_exchange(self, method: str, url: httpx.URL, params: Any, json: Any, headers: Any) -> httpx.Response:
        """`Client.request` without what a Rocket.Chat call never needs on the way back: the auth and
        redirect flows (none is configured: a redirect is answered as it comes, as by `request`) and the
        cookie jar's parse of a reply that sets no cookie. A lone sync (two calls) took 4.2 ms of its
        thread's CPU against 4.4 ms through `Client.request` (three rounds of 300 each, in-process). The
        request is still built by the client (base URL, headers, timeouts, any cookie a reply did set),
        and the reply is read whole, which returns its connection to the pool."""
        assert self._direct_http is not None and self._direct_transport is not None
        if not self._direct_lean:
            return self._direct_http.request(method, url, params=params, json=json, headers=headers)
        request = self._direct_http.build_request(method, url, params=params, json=json, headers=headers)
        response = self._direct_transport.handle_request(request)
        response.request = request
        try:
            response.read()
        except BaseException:
            response.close()
            raise
        if "set-cookie" in response.headers:  # a load balancer's sticky session, say
            self._direct_http.cookies.extract_cookies(response)
        return response

    async def _record(self, key: str, headers: Any, *, success: bool) -> None:
        """Tell the pacer about a reply: on the loop in a direct call (the pacer keeps its state there),
        unless it says the reply changes nothing (pacing off, or a route proven unlimited)."""
        if direct.active():
            quick = getattr(self.pacer, "recorded_here", None)
            if quick is not None and quick(key, headers, success=success):
                return
        await self._on_loop(self.pacer.record, key, headers, success=success)

    def _url(self, route: str) -> httpx.URL:
        """The absolute URL of a route, merged with the base URL once per route: httpx parses and merges a
        relative URL on every request (about a tenth of a request's CPU on the loop thread). The routes
        are a fixed set (room routes vary only by their c/p prefix); the cache is bounded all the same."""
        url = self._urls.get(route)
        if url is None:
            url = self._http.build_request("GET", f"/api/v1/{route}").url
            if len(self._urls) < 512:
                self._urls[route] = url
        return url

    # --- layer 2: authenticated call with 2FA ---------------------------------------------------

    async def _call(
        self,
        method: str,
        route: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        already_ok: tuple[str, ...] = (),
        sent: asyncio.Event | None = None,
    ) -> dict[str, Any]:
        """One authenticated call; returns the success body or raises the mapped error.

        `already_ok`: error codes that mean "already done" and count as success when the request had
        to be repeated after an unknown outcome (e.g. the first `addModerator` did arrive).
        """
        relogged = False
        factor = None
        extra: dict[str, str] = {}
        resent = [False]
        while True:
            creds = self.session.current or await self._on_loop(self.session.credentials)
            headers = {**creds.headers(), **extra}
            response = await self._send(method, route, params=params, json=json, headers=headers,
                                        idempotent=idempotent, resent=resent, sent=sent)
            status = response.status_code
            body = _safe_json(response)
            code = error_code(body)
            if status == 401 and code != "unauthorized":
                if relogged:
                    raise SessionLost(f"{route}: Rocket.Chat refused a fresh login token", status=401, route=route)
                log.info("%s: token refused (401), logging in again", route)
                await self._on_loop(self.session.refused, creds)
                relogged = True
                continue
            if status == 400 and code in TWO_FACTOR_CHALLENGES and body.get("errorType"):
                factor = factor or self.session.second_factor(route)
                extra = factor.next_headers(code, body.get("details"))
                log.debug("%s: answering %s", route, code)
                continue
            if 200 <= status < 300 and body.get("success", True) is not False:
                if not body and response.content.strip()[:1] not in (b"{",):
                    raise ServerError(f"{route}: HTTP {status} without a JSON body", status=status, route=route)
                return body
            error = error_from_response(status, body, route=route)
            if resent[0] and error.error_type in already_ok:
                return {}
            raise error

    async def _get(self, route: str, **params: Any) -> dict[str, Any]:
        return await self._call("GET", route, params={k: v for k, v in params.items() if v is not None})

    async def _paged(
        self, route: str, key: str, params: Mapping[str, Any] | None = None, page_size: int = 100,
        *, prefetch: bool = False, start: int = 0, listing: Listing | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list. The server clamps `count` (API_Upper_Count_Limit, default 100), so a
        short page only ends the listing when `total` agrees (wire contract §3.6). `listing`, if given,
        is told each page's `total` (a list that changed while it was paged may have been missed in part).

        `prefetch`: ask for the next page as soon as a page arrives, while the caller works through this
        one, so Rocket.Chat's time per page overlaps the caller's instead of adding to it (a bulk read of a
        million accounts is 10,000 pages in a row). The pages asked for are the same; only a caller that
        stops early has one page read for nothing, so it is for readers that take the whole listing.
        `start`: the offset to begin at (the rest of a listing another read began)."""
        if page_size < 1:
            raise ValueError("page_size must be at least 1 (count=0 would mean 'everything')")

        def fetch(offset: int, sent: asyncio.Event | None = None) -> Any:
            query = {**(params or {}), "count": page_size, "offset": offset}
            return self._call("GET", route, params={k: v for k, v in query.items() if v is not None}, sent=sent)

        offset = start
        ahead: asyncio.Task[dict[str, Any]] | None = None
        try:
            body = await fetch(offset)
            while True:
                items = body.get(key) or []
                offset += len(items)
                total = body.get("total")
                if listing is not None:
                    listing.page(total)
                more = bool(items) and (offset < total if isinstance(total, int) else len(items) >= page_size)
                if more and prefetch:
                    sent = asyncio.Event()
                    ahead = asyncio.ensure_future(fetch(offset, sent))
                    await _until_sent(ahead, sent)
                for item in items:
                    yield item
                if not more:
                    return
                if ahead is None:
                    body = await fetch(offset)
                else:
                    task, ahead = ahead, None
                    body = await task
        finally:
            if ahead is not None:  # the caller stopped early: drop the page asked for ahead
                await _drop(ahead)

    async def _unpaged(
        self, route: str, key: str, params: Mapping[str, Any] | None = None, page_size: int = 100,
        listing: Listing | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged list in one request: `count=0`, which Rocket.Chat answers unlimited while
        `API_Allow_Infinite_Count` is on (its default; apps/meteor/app/api/server/helpers/getPaginationItems.ts),
        decoded as the body arrives (`jsonstream.ArrayItems`), so memory stays one chunk, not the body.

        A server with the setting off answers `API_Default_Count` items (fewer than `total`): the rest is
        then paged from there as `_paged` does. Anything but a 200 (a refused token, 2FA, a 429, a 5xx)
        is left to `_paged`, which knows how to answer it: nothing streamed was handed out by then."""
        creds = await self.session.credentials()
        query = {**(params or {}), "count": 0, "offset": 0}
        key_rate = f"GET {route}"
        parser = ArrayItems(key)
        items_seen: int | None = None  # None: not answered as a listing
        async with self._sem:
            await self.pacer.acquire(key_rate, max_wait=self.config.max_rate_limit_wait)
            self._counted()
            sent = time.monotonic()
            try:
                async with self._http.stream("GET", f"/api/v1/{route}", headers=creds.headers(),
                                             params={k: v for k, v in query.items() if v is not None},
                                             timeout=httpx.Timeout(max(self.config.timeout, _UNPAGED_READ_TIMEOUT),
                                                                   connect=self.config.connect_timeout)) as response:
                    status = response.status_code
                    notify(self._observer, CallObserved("GET", route_label(route), status, time.monotonic() - sent))
                    await self.pacer.record(key_rate, response.headers, success=status < 400)
                    if status == 200:
                        items_seen = 0
                        async for chunk in response.aiter_bytes():
                            for item in parser.feed(chunk):
                                items_seen += 1
                                yield item
                        for item in parser.close():
                            items_seen += 1
                            yield item
                        if items_seen == 0 and parser.rest.get("success", True) is False:
                            items_seen = None
            except httpx.TransportError as exc:
                notify(self._observer, CallObserved("GET", route_label(route), None, time.monotonic() - sent,
                                                    type(exc).__name__))
                await self.pacer.record(key_rate, {}, success=False)
                if items_seen:  # items were handed out: starting again would repeat them
                    raise Unavailable(f"{route}: the unpaged listing broke off ({type(exc).__name__})",
                                      route=route) from None
                items_seen = None
            except ValueError as exc:
                raise ServerError(f"{route}: unreadable listing ({exc})", status=200, route=route) from None
        if items_seen is None:  # not answered as a listing: page it, with _call's handling of failures
            async with aclosing(self._paged(route, key, params, page_size, prefetch=True, listing=listing)) as rest:
                async for item in rest:
                    yield item
            return
        total = parser.rest.get("total")
        if listing is not None:
            listing.page(total)
        if isinstance(total, int) and items_seen < total:  # count=0 not allowed: page the rest
            async with aclosing(self._paged(route, key, params, page_size, prefetch=True, start=items_seen,
                                            listing=listing)) as rest:
                async for item in rest:
                    yield item

    # --- DDP methods over REST ------------------------------------------------------------------

    async def call_method(self, name: str, *params: Any) -> Any:
        """Call a server method through `method.call/<name>`; a 2FA-wrapped method gets its code param.

        The HTTP reply is always 200: the method's own result or error is a DDP message inside the body
        (wire contract §8.4).
        """
        factor = None
        extra: list[Any] = []
        while True:
            message = jsonlib.dumps({"msg": "method", "id": "1", "method": name, "params": [*params, *extra]})
            body = await self._call("POST", f"method.call/{name}", json={"message": message}, idempotent=False)
            try:
                reply = jsonlib.loads(body.get("message") or "{}")
            except ValueError:
                raise ServerError(f"method.call/{name}: unreadable reply", route=name) from None
            error = reply.get("error")
            if not error:
                return reply.get("result")
            code = error.get("error") if isinstance(error, Mapping) else None
            if code in TWO_FACTOR_CHALLENGES:
                factor = factor or self.session.second_factor(name)
                extra = [factor.next_method_param(code, error.get("details"))]
                continue
            raise error_from_ddp(name, error)


#: Seconds an unpaged listing may wait for its next bytes: Rocket.Chat builds the whole answer before the
#: first byte (a million accounts: tens of seconds), far past the per-call timeout meant for one page.
_UNPAGED_READ_TIMEOUT = 600.0

#: Loop turns a read-ahead gets to put its request on the wire before this page is handed out (a
#: request on a kept-alive connection needs a few; a paced one waits for its slot, and the page must
#: not wait for that).
_AHEAD_TURNS = 50


async def _until_sent(task: "asyncio.Task[Any]", sent: asyncio.Event) -> None:
    """Let a read-ahead run until its request is written out. Without this it would only start once
    the caller had worked through the page (nothing in between gives the loop a turn), and Rocket.Chat
    would get the next request after the page was converted instead of while it is."""
    for _ in range(_AHEAD_TURNS):
        if sent.is_set() or task.done():
            return
        await asyncio.sleep(0)


def _trace_sent(sent: asyncio.Event) -> Any:
    """An httpcore ``trace`` extension that sets ``sent`` when the request (headers and body) is written."""

    async def trace(name: str, info: Any) -> None:
        if name.endswith("send_request_body.complete"):
            sent.set()

    return trace


async def _drop(task: "asyncio.Task[Any]") -> None:
    """Cancel a page read ahead that nobody will take, and collect its outcome (no "never retrieved")."""
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, Exception):  # cancelled, or it failed first: nobody wants the page
        pass


def _retry_at(now: float, text_wait: float | None, reset_at: float | None) -> float:
    """When to try again after a 429: the reset header has millisecond precision, the "wait N seconds"
    text only whole seconds; prefer the header unless the two disagree (server clock off)."""
    if reset_at is not None and (text_wait is None or 0 <= reset_at - now <= text_wait + 1):
        return max(now, reset_at)
    if text_wait is not None:
        return now + text_wait
    return now + 1.0


def _safe_json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"result": body}


def _body_text(response: httpx.Response) -> str:
    body = _safe_json(response)
    value = body.get("error") or body.get("message") or ""
    return value if isinstance(value, str) else ""


class AsyncRocketChat(UsersMixin, RolesMixin, RoomsMixin, SettingsMixin, _Core):
    """Async Rocket.Chat REST client for one service account.

    ```
    async with AsyncRocketChat(BridgeConfig.from_env()) as rc:
        user = await rc.create_user("alice", "Alice", "alice@example.org", password)
    ```
    Pass `redis=` (URL or client) to share the login token and the rate-limit pacing with other workers.
    """
