"""`RealtimeClient`: Rocket.Chat's realtime API (DDP over WebSocket) as a self-healing change feed.

Rocket.Chat marks DDP as legacy, so rcsync writes through REST and uses this for the live feed (and for
method calls where a batch helps). The client keeps one connection alive in a background task:
connect (skipping Meteor's `{"server_id":"0"}` first frame), log in, re-subscribe, then read. It answers
the server's pings and pings an idle server itself; a socket silent for `ping_interval + ping_timeout`
is declared dead and replaced, with capped exponential back-off between attempts. After a reconnect a
`Reconnected` event tells consumers they may have missed changes (wire contract §7).

Login uses the REST client's token as a resume token when one is given (resume logins skip 2FA),
else the SHA-256 password digest, wrapped in `{"totp": {...}}` with a TOTP code when challenged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import websockets
from websockets.asyncio.client import ClientConnection, connect

from .config import BridgeConfig
from .errors import AuthError, OutcomeUnknown, PermissionDenied, RocketChatError, Unavailable
from .events import RealtimeEvent, Reconnected, parse_stream_frame
from .retry import RetryPolicy
from .rest import AsyncRocketChat
from .tokens import StoredToken
from .twofactor import SecondFactor
from ._wire_errors import TWO_FACTOR_CHALLENGES, error_from_ddp
from .ddp_protocol import handshake, password_login, pong_for, ssl_context, wire_log

__all__ = ["RealtimeClient"]

log = logging.getLogger("bridge.ddp")



EventCallback = Callable[[RealtimeEvent], Any]


class _EventStream:
    def __init__(self, queue: "asyncio.Queue[RealtimeEvent]") -> None:
        self._queue = queue

    def __aiter__(self) -> "_EventStream":
        return self

    async def __anext__(self) -> RealtimeEvent:
        return await self._queue.get()


@dataclass
class _Sub:
    id: str
    name: str
    params: list[Any]


class RealtimeClient:
    """One DDP connection for the service account; use as `async with RealtimeClient(config, rest=rc)`."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        rest: AsyncRocketChat | None = None,
        url: str | None = None,
        ping_interval: float = 15.0,
        ping_timeout: float = 15.0,
        reconnect_base: float = 0.5,
        reconnect_cap: float = 30.0,
        call_timeout: float = 30.0,
        queue_size: int = 10_000,
    ) -> None:
        self.config = config
        self._rest = rest
        self._url = url or config.ws_url
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._backoff = RetryPolicy(max_retries=0, base=reconnect_base, cap=reconnect_cap)
        self._call_timeout = call_timeout
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._subs: dict[str, _Sub] = {}
        self._sub_waiters: dict[str, asyncio.Future[None]] = {}
        # Bounded: a consumer that only uses callbacks never drains it; the oldest events go first.
        self._queue: asyncio.Queue[RealtimeEvent] = asyncio.Queue(maxsize=queue_size)
        self._dropped = 0
        self._callbacks: list[EventCallback] = []
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closing = False
        self._first_error: BaseException | None = None
        self._last_received = 0.0
        self.connections = 0  # successful (re)connections, for observability and tests
        self.user_id: str | None = None

    def __repr__(self) -> str:
        return f"<RealtimeClient {self._url} as {self.config.account!r}>"

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> "RealtimeClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def connect(self, timeout: float = 30.0) -> None:
        """Start the connection task and wait for the first login; bad credentials fail here."""
        if self._runner is None:
            self._closing = False
            self._runner = asyncio.create_task(self._run(), name="rcsync-ddp")
        waiter = asyncio.create_task(self._connected.wait())
        done, _ = await asyncio.wait({waiter, self._runner}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if self._first_error is not None:
            error, self._first_error = self._first_error, None
            await self.close()
            raise error
        if not self._connected.is_set():
            await self.close()  # do not leave a reconnect loop running behind a failed connect()
            raise Unavailable(f"realtime: no connection to {self._url} within {timeout:.0f} s")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None
        self._fail_pending(Unavailable("realtime client closed"))

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def drop_connection(self) -> None:
        """Close the current socket as if the network failed (the client reconnects by itself)."""
        if self._ws is not None:
            await self._ws.close()

    # --- public API -----------------------------------------------------------------------------

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """Call a server method; a 2FA-wrapped method gets its code param when challenged. A call cut off
        by a disconnect raises OutcomeUnknown (it may have run): the caller decides whether to repeat."""
        factor: SecondFactor | None = None
        extra: list[Any] = []
        while True:
            await self._wait_connected(timeout)
            assert self._ws is not None
            reply = await self._rpc(self._ws, method, [*params, *extra], timeout)
            error = reply.get("error")
            if not error:
                return reply.get("result")
            code = error.get("error") if isinstance(error, Mapping) else None
            if code in TWO_FACTOR_CHALLENGES:
                factor = factor or SecondFactor(self.config, what=method)
                extra = [factor.next_method_param(code, error.get("details"))]
                continue
            raise error_from_ddp(method, error)

    async def subscribe(self, name: str, *params: Any, timeout: float | None = None) -> str:
        """Subscribe (and re-subscribe after every reconnect); returns the subscription id."""
        sub = _Sub(id=f"s{next(self._ids)}", name=name, params=list(params))
        self._subs[sub.id] = sub
        await self._wait_connected(timeout)
        assert self._ws is not None
        try:
            await self._send_sub(self._ws, sub, wait=True, timeout=timeout)
        except BaseException:
            self._subs.pop(sub.id, None)
            raise
        return sub.id

    async def unsubscribe(self, sub_id: str) -> None:
        if self._subs.pop(sub_id, None) is not None and self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.send(json.dumps({"msg": "unsub", "id": sub_id}))

    async def subscribe_stream(self, stream: str, event_name: str) -> str:
        """`stream-<stream>` / event name, in the current `{"useCollection":false,"args":[]}` form."""
        name = stream if stream.startswith("stream-") else f"stream-{stream}"
        return await self.subscribe(name, event_name, {"useCollection": False, "args": []})

    async def watch_users(self) -> list[str]:
        """roles-change, Users:NameChanged and Users:Deleted (any logged-in user may subscribe)."""
        return [await self.subscribe_stream("stream-notify-logged", e)
                for e in ("roles-change", "Users:NameChanged", "Users:Deleted")]

    async def watch_room(self, room_id: str) -> str:
        """Messages of one room, for the au/ru/uj/ul membership system messages (needs room access)."""
        return await self.subscribe_stream("stream-room-messages", room_id)

    def on_event(self, callback: EventCallback) -> None:
        """Call `callback(event)` for each event (coroutine functions are scheduled as tasks)."""
        self._callbacks.append(callback)

    def events(self) -> AsyncIterator[RealtimeEvent]:
        """Every event in arrival order, forever. A plain iterator, not a generator: cancelling a pending
        `__anext__` (e.g. in `asyncio.wait` with a stop event) loses nothing and does not end it."""
        return _EventStream(self._queue)

    async def next_event(self, timeout: float) -> RealtimeEvent:
        return await asyncio.wait_for(self._queue.get(), timeout)

    # --- connection task ------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        ever_connected = False
        while not self._closing:
            try:
                async with connect(
                    self._url, ssl=ssl_context(self.config, self._url), user_agent_header=self.config.user_agent,
                    open_timeout=self.config.connect_timeout, ping_interval=None, close_timeout=2, logger=wire_log,
                    max_size=2**23,
                ) as ws:
                    self._ws = ws
                    await handshake(ws, self.config.connect_timeout + 5)
                    self._last_received = time.monotonic()
                    reader = asyncio.create_task(self._read(ws))
                    heart = asyncio.create_task(self._heartbeat(ws))
                    try:
                        await self._login(ws)
                        await self._resubscribe(ws)
                        self.connections += 1
                        self._connected.set()
                        if ever_connected:
                            log.info("realtime: reconnected to %s", self._url)
                            self._emit(Reconnected(attempt=attempt))
                        ever_connected = True
                        attempt = 0
                        await asyncio.wait({reader, heart}, return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        self._connected.clear()
                        for task in (reader, heart):
                            task.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await asyncio.gather(reader, heart)
                        self._fail_pending(OutcomeUnknown("realtime connection lost while a call was pending"))
            except asyncio.CancelledError:
                raise
            except (AuthError, PermissionDenied) as exc:
                if not ever_connected:
                    self._first_error = exc
                    return
                log.warning("realtime: login refused after reconnect: %s", exc)
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError, RocketChatError,
                    ValueError) as exc:
                log.info("realtime: connection to %s failed or ended (%s)", self._url, type(exc).__name__)
            finally:
                self._ws = None
            if self._closing:
                return
            delay = self._backoff.delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self._last_received = time.monotonic()
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            msg = frame.get("msg")
            if msg == "ping":
                await ws.send(pong_for(frame))
            elif msg == "result":
                future = self._pending.pop(str(frame.get("id")), None)
                if future is not None and not future.done():
                    future.set_result(frame)
            elif msg == "ready":
                for sid in frame.get("subs") or []:
                    waiter = self._sub_waiters.pop(sid, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)
            elif msg == "nosub":
                sid = str(frame.get("id"))
                waiter = self._sub_waiters.pop(sid, None)
                error = error_from_ddp(self._subs.get(sid, _Sub(sid, sid, [])).name, frame.get("error") or "nosub")
                if waiter is not None and not waiter.done():
                    waiter.set_exception(error)
                elif frame.get("error"):
                    log.warning("realtime: subscription %s refused: %s", sid, error)
            elif msg == "changed":
                for event in parse_stream_frame(frame):
                    self._emit(event)
            elif msg == "error":
                log.warning("realtime: server reported a protocol error: %s", frame.get("reason"))

    async def _heartbeat(self, ws: ClientConnection) -> None:
        """Ping an idle server; give up on a socket that stays silent (the server's own pings count)."""
        while True:
            await asyncio.sleep(min(1.0, self._ping_interval / 2))
            idle = time.monotonic() - self._last_received
            if idle >= self._ping_interval + self._ping_timeout:
                log.info("realtime: no traffic for %.0f s, dropping the connection", idle)
                ws.transport.abort()  # a dead peer would never complete a close handshake
                return
            if idle >= self._ping_interval:
                await ws.send(json.dumps({"msg": "ping", "id": f"p{next(self._ids)}"}))

    # --- login, rpc, subscriptions ----------------------------------------------------------------

    async def _rpc(self, ws: ClientConnection, method: str, params: list[Any], timeout: float | None) -> dict[str, Any]:
        call_id = str(next(self._ids))
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        try:
            await ws.send(json.dumps({"msg": "method", "id": call_id, "method": method, "params": params}))
            return await asyncio.wait_for(future, timeout or self._call_timeout)
        except (asyncio.TimeoutError, websockets.exceptions.ConnectionClosed):
            raise OutcomeUnknown(f"realtime {method}: no result (connection lost or timed out)", route=method) from None
        finally:
            self._pending.pop(call_id, None)

    async def _login(self, ws: ClientConnection) -> None:
        if self._rest is not None or self.config.token is not None:
            await self._resume_login(ws)
        else:
            self.user_id = await password_login(lambda method, params: self._rpc(ws, method, params, None), self.config)

    async def _resume_login(self, ws: ClientConnection) -> None:
        if self._rest is not None:
            creds = await self._rest.session.credentials()
        else:
            assert self.config.user_id and self.config.token
            creds = StoredToken(self.config.user_id, self.config.token, personal=True)
        for attempt in (1, 2):
            reply = await self._rpc(ws, "login", [{"resume": creds.token.reveal()}], None)
            if not reply.get("error"):
                self.user_id = (reply.get("result") or {}).get("id")
                return
            if attempt == 1 and self._rest is not None and not creds.personal:
                creds = await self._rest.session.refused(creds)  # the token expired: REST logs in again
                continue
            raise AuthError(f"realtime login (resume) for {self.config.account!r} refused", route="login")

    async def _resubscribe(self, ws: ClientConnection) -> None:
        """Re-send every subscription and wait for its `ready`, so no event published after a
        `Reconnected` can be missed; a refused one is dropped with a warning."""
        subs = list(self._subs.values())
        results = await asyncio.gather(*(self._send_sub(ws, sub, wait=True) for sub in subs), return_exceptions=True)
        for sub, result in zip(subs, results):
            if isinstance(result, RocketChatError) and not isinstance(result, Unavailable):
                log.warning("realtime: re-subscribing %s failed: %s", sub.name, result)
                self._subs.pop(sub.id, None)
            elif isinstance(result, BaseException):
                raise result

    async def _send_sub(self, ws: ClientConnection, sub: _Sub, *, wait: bool, timeout: float | None = None) -> None:
        waiter: asyncio.Future[None] | None = None
        if wait:
            waiter = asyncio.get_running_loop().create_future()
            self._sub_waiters[sub.id] = waiter
        await ws.send(json.dumps({"msg": "sub", "id": sub.id, "name": sub.name, "params": sub.params}))
        if waiter is not None:
            try:
                await asyncio.wait_for(waiter, timeout or self._call_timeout)
            finally:
                self._sub_waiters.pop(sub.id, None)

    async def _wait_connected(self, timeout: float | None) -> None:
        if self._runner is None:
            raise Unavailable("realtime client not started: call connect() first")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout or self._call_timeout)
        except asyncio.TimeoutError:
            raise Unavailable(f"realtime: not connected to {self._url}") from None

    def _fail_pending(self, error: BaseException) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for waiter in list(self._sub_waiters.values()):
            if not waiter.done():
                waiter.set_exception(error)
        self._sub_waiters.clear()

    def _emit(self, event: RealtimeEvent) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self._dropped += 1
            if self._dropped == 1:
                log.warning("realtime: event queue full, dropping the oldest events (read events() or "
                            "pass a larger queue_size)")
        self._queue.put_nowait(event)
        for callback in self._callbacks:
            try:
                result = callback(event)
                if isinstance(result, Awaitable):
                    asyncio.ensure_future(result)
            except Exception:
                log.exception("realtime: event callback failed")
