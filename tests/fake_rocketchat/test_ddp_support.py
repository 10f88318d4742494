"""A small DDP test client over the `websockets` package, shared by the test_ddp_* modules.

Deliberately independent of `bridge/` (the code under test elsewhere): it speaks raw
frames so the tests pin down the wire format of meteor `packages/ddp/DDP.md`.
Every wait is `asyncio.wait_for` with a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from typing import Any, Callable

import pytest
import websockets

from fake_rocketchat.harness.testing import build_state, running_server
from fake_rocketchat.realtime.server import configure

DEADLINE = 5.0
ADMIN = "admin"
ADMIN_PASSWORD = "admin-pass"


class DDPTestClient:
    """One raw DDP connection; frames not yet consumed are kept in `pending`."""

    def __init__(self, ws: Any, auto_pong: bool = True) -> None:
        self.ws = ws
        self.auto_pong = auto_pong
        self.pending: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, ws_url: str, *, connect: bool = True, auto_pong: bool = True, **kwargs: Any) -> "DDPTestClient":
        ws = await websockets.connect(ws_url, **kwargs)
        client = cls(ws, auto_pong=auto_pong)
        first = await client.recv_raw()
        assert first == {"server_id": "0"}, first
        if connect:
            await client.send({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
            connected = await client.expect(lambda m: m.get("msg") in ("connected", "failed"))
            assert connected["msg"] == "connected", connected
            client.session = connected["session"]
        return client

    async def close(self) -> None:
        await self.ws.close()

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(msg))

    async def recv_raw(self, timeout: float = DEADLINE) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def expect(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = DEADLINE) -> dict[str, Any]:
        """The first frame (pending or new) matching `predicate`; others stay pending."""
        for i, msg in enumerate(self.pending):
            if predicate(msg):
                return self.pending.pop(i)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(f"no matching frame; pending={self.pending!r}")
            msg = await self.recv_raw(remaining)
            if self.auto_pong and msg.get("msg") == "ping":
                pong = {"msg": "pong", **({"id": msg["id"]} if "id" in msg else {})}
                await self.send(pong)
                continue
            if predicate(msg):
                return msg
            self.pending.append(msg)

    async def expect_none(self, predicate: Callable[[dict[str, Any]], bool], within: float) -> None:
        """Assert that no matching frame arrives within `within` seconds (a negative check)."""
        try:
            got = await self.expect(predicate, timeout=within)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected frame {got!r}")

    def next_id(self) -> str:
        return str(next(self._ids))

    async def call_frames(self, method: str, *params: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(result, updated) frames of one method call."""
        mid = self.next_id()
        await self.send({"msg": "method", "id": mid, "method": method, "params": list(params)})
        result = await self.expect(lambda m: m.get("msg") == "result" and m.get("id") == mid)
        updated = await self.expect(lambda m: m.get("msg") == "updated" and mid in m.get("methods", []))
        return result, updated

    async def call(self, method: str, *params: Any) -> dict[str, Any]:
        result, _ = await self.call_frames(method, *params)
        return result

    async def sub(self, name: str, *params: Any, sub_id: str | None = None) -> dict[str, Any]:
        """The `ready` or `nosub` answer to one subscription."""
        sid = sub_id or f"s{self.next_id()}"
        await self.send({"msg": "sub", "id": sid, "name": name, "params": list(params)})
        return await self.expect(
            lambda m: (m.get("msg") == "ready" and sid in m.get("subs", [])) or (m.get("msg") == "nosub" and m.get("id") == sid)
        )

    async def event(self, collection: str, event_name: str, timeout: float = DEADLINE) -> dict[str, Any]:
        return await self.expect(
            lambda m: m.get("msg") == "changed" and m.get("collection") == collection and m["fields"].get("eventName") == event_name,
            timeout,
        )

    async def login_password(self, username: str, password: str) -> dict[str, Any]:
        digest = hashlib.sha256(password.encode()).hexdigest()
        return await self.call("login", {"user": {"username": username}, "password": {"digest": digest, "algorithm": "sha-256"}})

    async def login_token(self, token: str) -> dict[str, Any]:
        return await self.call("login", {"resume": token})


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ddp_server():
    """A running stand-in (REST + `/websocket`) with Meteor's default 15 s heartbeat, limiter off."""
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, admin_email="admin@example.com") as server:
        yield server


@pytest.fixture
def limited_server():
    """The same with the rate limiters on (`--rate-limit on`)."""
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, rate_limit=True) as server:
        yield server


@pytest.fixture
def fast_heartbeat_server():
    """A server whose sessions ping after 0.2 s idle and give up 0.3 s later."""
    state = build_state()
    configure(state, heartbeat_interval=0.2, heartbeat_timeout=0.3)
    with running_server(state=state) as server:
        yield server


def test_support_module_is_importable() -> None:
    # Collected with the DDP tests; keeps this helper module from being an empty test file.
    assert DDPTestClient.open is not None
