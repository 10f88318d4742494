"""Realtime API of the stand-in: one DDP session per WebSocket at `/websocket`.

Mirrors Meteor's `ddp-server` session (`packages/ddp-server/livedata_server.js`):
`{"server_id":"0"}` first, `connect` → `connected`/`failed`, `ping`/`pong` answered at
once and any inbound frame counting as a pong, server heartbeat pings that close an
unresponsive client, and `sub`/`unsub`/`method` processed one at a time in arrival order.
Protocol rules live in `protocol`, stream rules in `streams`, the limiter in
`ratelimit`, method dispatch and login in `methods`.

State changes reach sessions through `state.events` (events.py): the bus calls our
listener on whatever thread changed the state, so the listener only hands the event to
this session's event loop (`call_soon_threadsafe`), where it is filtered and queued on
the single outbound queue that the writer task drains.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from starlette.websockets import WebSocket

from ..backend.events import CONTROL_STREAM, Event
from .access import StateAccess
from .methods import MethodContext
from .protocol import (
    SERVER_ID_FRAME,
    ProtocolError,
    ejson_dumps,
    error_frame,
    meteor_error,
    method_not_found,
    negotiate_version,
    nosub_frame,
    parse_client_frame,
    ready_frame,
    result_frame,
    subscription_not_found,
    updated_frame,
    validate_method,
    validate_sub,
)
from .ratelimit import LimitInput, too_many_requests
from .server import DDPServer, server_for
from .streams import READ_RULES, StreamSub, SubscribeRefused, added_frame, deliveries, dropped_by, subscribe

__all__ = ["Session", "endpoint"]

log = logging.getLogger("fake_rocketchat.realtime")

DROP_WEBSOCKETS = "drop-websockets"

# Non-stream publications a Meteor client may ask for; they publish nothing here.
# accounts-base/accounts_server.js `_initServerPublications`.
EMPTY_PUBLICATIONS = frozenset({"meteor.loginServiceConfiguration", "meteor_autoupdate_clientVersions"})


async def endpoint(websocket: WebSocket) -> None:
    """Starlette WebSocket endpoint mounted at `/websocket`; `websocket.app.state.rc` is the state."""
    server = server_for(websocket.app)
    await Session(websocket, server).run()


_CLOSE = object()
_ID_CHARS = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"  # Meteor Random.id alphabet


def _session_id() -> str:
    return "".join(secrets.choice(_ID_CHARS) for _ in range(17))


class Session:
    """One DDP connection (Meteor's `Session`)."""

    def __init__(self, websocket: WebSocket, server: DDPServer) -> None:
        self.ws = websocket
        self.server = server
        self.state = server.state
        self.config = server.config
        self.id = _session_id()
        self.version: str | None = None
        self.user_id: str | None = None
        self.login_token: str | None = None  # plain token of this connection's login
        self.subs: dict[str, StreamSub] = {}
        self.other_subs: set[str] = set()
        client = websocket.client
        self.client_address = client.host if client else None
        self.user_agent = websocket.headers.get("user-agent")
        self.headers = {k.lower(): v for k, v in websocket.headers.items()}
        self._out: asyncio.Queue[Any] = asyncio.Queue()
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._closing = False
        self._seen_packet = False
        self._pong_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._token_watch: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        await self.ws.accept()
        self._loop = asyncio.get_running_loop()
        unsubscribe = self.state.events.subscribe(self._on_event)
        self.server.add(self)
        self.send(SERVER_ID_FRAME)
        writer = asyncio.create_task(self._writer())
        self._tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._worker())]
        try:
            await writer
        finally:
            unsubscribe()
            self.server.discard(self)
            self._cancel_pong_timer()
            if self._token_watch is not None:
                self._tasks.append(self._token_watch)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def send(self, frame: dict[str, Any]) -> None:
        """Queue one frame, serialized now so a bad value can never kill the writer."""
        if self._closing:
            return
        try:
            text = ejson_dumps(frame)
        except (TypeError, ValueError) as exc:
            log.error("DDP frame %r not serializable (%s); %s", frame.get("msg"), type(exc).__name__,
                      "answering 500" if frame.get("msg") == "result" else "dropped")
            if frame.get("msg") != "result":
                return
            text = ejson_dumps(result_frame(frame.get("id"), error=meteor_error(500, "Internal server error")))
        self._out.put_nowait(text)

    def close(self, code: int = 1000) -> None:
        """Finish sending what is queued, then close the socket (Meteor `session.close()`)."""
        if not self._closing:
            self._closing = True
            self._out.put_nowait((_CLOSE, code))

    def drop(self) -> None:
        """Fault injection: close from any thread, as a server going away would."""
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self.close, 1001)
            except RuntimeError:  # loop already closed
                pass

    async def _writer(self) -> None:
        while True:
            item = await self._out.get()
            if isinstance(item, tuple) and item and item[0] is _CLOSE:
                try:
                    await self.ws.close(code=item[1])
                except Exception:  # already gone
                    pass
                return
            try:
                await self.ws.send_text(item)
            except Exception:
                self._closing = True
                return

    async def _reader(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                raw = message.get("text")
                if raw is None and message.get("bytes") is not None:
                    raw = message["bytes"].decode("utf-8", "replace")
                if raw is not None:
                    self._on_frame(raw)
        except Exception:  # connection reset mid-frame
            log.debug("reader ended", exc_info=True)
        finally:
            self._closing = True
            self._out.put_nowait((_CLOSE, 1000))

    # ------------------------------------------------------------------ inbound
    def _on_frame(self, raw: str) -> None:
        """Stream-server level handling (livedata_server.js `socket.on('data')`)."""
        try:
            msg = parse_client_frame(raw)
        except ProtocolError as exc:
            self.send(exc.frame())
            return
        if msg["msg"] == "connect":
            if self.version is not None:
                self.send(error_frame("Already connected", msg))
                return
            self._connect(msg)
            return
        if self.version is None:
            self.send(error_frame("Must connect first", msg))
            return
        # Session.processMessage: any message counts as a pong; ping/pong skip the queue.
        self._seen_packet = True
        self._cancel_pong_timer()
        if self.version != "pre1" and msg["msg"] == "ping":
            if self.config.respond_to_pings:
                pong: dict[str, Any] = {"msg": "pong"}
                if "id" in msg:
                    pong["id"] = msg["id"]
                self.send(pong)
            return
        if self.version != "pre1" and msg["msg"] == "pong":
            return
        self._inbox.put_nowait(msg)

    def _connect(self, msg: dict[str, Any]) -> None:
        version, failed = negotiate_version(msg)
        if failed is not None:
            self.send(failed)
            self.close()
            return
        self.version = version
        self.send({"msg": "connected", "session": self.id})
        if version != "pre1" and self.config.heartbeat_interval > 0:
            self._tasks.append(asyncio.create_task(self._heartbeat()))

    async def _heartbeat(self) -> None:
        """ddp-common/heartbeat.js: ping when nothing arrived for an interval; close if no answer."""
        while not self._closing:
            await asyncio.sleep(self.config.heartbeat_interval)
            if not self._seen_packet and self._pong_timer is None:
                self.send({"msg": "ping"})
                assert self._loop is not None
                self._pong_timer = self._loop.call_later(self.config.heartbeat_timeout, self._heartbeat_timed_out)
            self._seen_packet = False

    def _heartbeat_timed_out(self) -> None:
        self._pong_timer = None
        log.info("DDP session %s missed its pong; closing", self.id)
        self.close()

    def _cancel_pong_timer(self) -> None:
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None

    async def _worker(self) -> None:
        """Messages other than ping/pong run one at a time, in order (`processMessage` queue)."""
        while True:
            msg = await self._inbox.get()
            try:
                kind = msg["msg"]
                if kind == "method":
                    await self._method(msg)
                elif kind == "sub":
                    self._sub(msg)
                elif kind == "unsub":
                    self._unsub(msg.get("id"))
                else:
                    self.send(error_frame("Bad request", msg))
            except ProtocolError as exc:
                self.send(exc.frame())
            except Exception:  # never let one message kill the session
                log.exception("DDP internal error while processing %s", msg.get("msg"))

    # ------------------------------------------------------------------ methods
    def _limit(self, kind: str, name: str) -> dict[str, Any] | None:
        result = self.server.limiter.hit(LimitInput(kind, name, self.id, self.user_id, self.client_address))
        return None if result.allowed else too_many_requests(result)

    def context(self) -> MethodContext:
        return MethodContext(
            session=self,
            connection_id=self.id,
            user_id=self.user_id,
            token=self.login_token,
            client_address=self.client_address,
            user_agent=self.user_agent,
            headers=self.headers,
        )

    async def _method(self, msg: dict[str, Any]) -> None:
        validate_method(msg)
        method_id, name = msg["id"], msg["method"]
        params = list(msg.get("params") or [])
        handler = self.server.methods.lookup(name)
        if handler is None:
            # livedata_server.js: result first, then the write fence fires `updated`.
            self.send(result_frame(method_id, error=method_not_found(name)))
            self.send(updated_frame(method_id))
            return
        limited = self._limit("method", name)
        if limited is not None:
            self.send(updated_frame(method_id))
            self.send(result_frame(method_id, error=limited))
            return
        outcome = await self.server.methods.call(handler, name, self.context(), params)
        # The fence is armed before the result is sent, so `updated` precedes `result`.
        self.send(updated_frame(method_id))
        self.send(result_frame(method_id, outcome.result, outcome.error))

    # Called by realtime.methods when login/logout change who this connection is.
    def set_user(self, user_id: str | None, token: str | None, user_doc: dict[str, Any] | None = None) -> None:
        previous = self.user_id
        self.user_id, self.login_token = user_id, token
        self.stop_token_watch()
        if user_id is not None and token is not None and self.config.token_check_interval > 0:
            self._token_watch = asyncio.create_task(self._watch_token(user_id, token))
        if previous == user_id:
            return
        if previous is not None:
            self.send({"msg": "removed", "collection": "users", "id": previous})
        if user_id is not None and user_doc is not None:
            # accounts-base publishes the logged-in user's own `username`, `emails`, `profile`.
            fields = {k: user_doc[k] for k in ("emails", "profile", "username") if k in user_doc}
            self.send({"msg": "added", "collection": "users", "id": user_id, "fields": fields})
        self._rerun_subscriptions()

    def stop_token_watch(self) -> None:
        """accounts-base `_setLoginToken(..., null)`: stop observing before the token is destroyed."""
        if self._token_watch is not None:
            self._token_watch.cancel()
            self._token_watch = None

    async def _watch_token(self, user_id: str, token: str) -> None:
        """Close the connection once its login token is gone (logout elsewhere, deactivation, ...)."""
        while not self._closing:
            await asyncio.sleep(self.config.token_check_interval)
            if self.user_id != user_id or self.login_token != token:
                return
            still_valid = await asyncio.to_thread(self.state.authenticate, user_id, token)
            if still_valid is None and self.user_id == user_id and self.login_token == token:
                log.info("DDP session %s: login token removed; closing", self.id)
                self.close()
                return

    def _rerun_subscriptions(self) -> None:
        """Meteor reruns every subscription when the user changes; refused ones end with nosub."""
        access = StateAccess(self.state)
        for sub_id, sub in list(self.subs.items()):
            if READ_RULES[sub.stream](access, self.user_id, sub.event_name, sub.args) is not True:
                del self.subs[sub_id]
                self.send(nosub_frame(sub_id, meteor_error("not-allowed")))

    # ------------------------------------------------------------------ subscriptions
    def _sub(self, msg: dict[str, Any]) -> None:
        validate_sub(msg)
        sub_id, name = msg["id"], msg["name"]
        params = list(msg.get("params") or [])
        if name not in READ_RULES and name not in EMPTY_PUBLICATIONS:
            self.send(nosub_frame(sub_id, subscription_not_found(name)))
            return
        if sub_id in self.subs or sub_id in self.other_subs:
            return  # subs are idempotent by id (reconnect replays them)
        limited = self._limit("subscription", name)
        if limited is not None:
            self.send(nosub_frame(sub_id, limited))
            return
        if name in EMPTY_PUBLICATIONS:
            self.other_subs.add(sub_id)
            self.send(ready_frame([sub_id]))
            return
        try:
            sub = subscribe(StateAccess(self.state), self.user_id, sub_id, name, params)
        except SubscribeRefused as refused:
            self.send(nosub_frame(sub_id, refused.error))
            return
        self.subs[sub_id] = sub
        if sub.use_collection:
            self.send(added_frame(sub))
        self.send(ready_frame([sub_id]))

    def _unsub(self, sub_id: Any) -> None:
        """`_stopSubscription`: always answers nosub, known id or not."""
        if isinstance(sub_id, str):
            self.subs.pop(sub_id, None)
            self.other_subs.discard(sub_id)
        self.send(nosub_frame(sub_id))

    # ------------------------------------------------------------------ events
    def _on_event(self, event: Event) -> None:
        """EventBus listener: runs on the publishing thread; never blocks."""
        loop = self._loop
        if loop is None or self._closing:
            return
        try:
            loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # loop closed while the session was ending
            pass

    def _deliver(self, event: Event) -> None:
        if self._closing:
            return
        if event.stream == CONTROL_STREAM:
            if event.event_name == DROP_WEBSOCKETS:
                self.close(1001)
            return
        if self.version is None or not self.subs:
            return
        for sub_id in dropped_by(self.user_id, list(self.subs.values()), event.stream, event.event_name, event.args):
            self.subs.pop(sub_id, None)
        subs = list(self.subs.values())
        for frame in deliveries(StateAccess(self.state), self.user_id, subs, event.stream, event.event_name, event.args):
            self.send(frame)
