"""DDP wire details for `RealtimeClient`: the handshake, pong frames, password login, TLS, quiet logging.

Split from ddp.py so the client module is about keeping a connection alive, and this one about what
goes over it (wire contract §7.1–§7.3).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from typing import Any, Awaitable, Callable, Mapping

from websockets.asyncio.client import ClientConnection

from .config import BridgeConfig
from ._wire_errors import TWO_FACTOR_CHALLENGES
from .errors import AuthError, Unavailable
from .twofactor import SecondFactor, password_digest

__all__ = ["wire_log", "pong_for", "handshake", "password_login", "ssl_context"]

Rpc = Callable[[str, list[Any]], Awaitable[dict[str, Any]]]


class _NoFrames(logging.Filter):
    """websockets logs every frame at DEBUG, login frames included (resume token, password digest):
    its logger for our connections drops everything below INFO, whatever the root level is."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


wire_log = logging.getLogger("bridge.ddp.wire")
wire_log.addFilter(_NoFrames())


def pong_for(frame: Mapping[str, Any]) -> str:
    """The answer to a server `ping` (echoing its id when it has one)."""
    return json.dumps({"msg": "pong", **({"id": frame["id"]} if "id" in frame else {})})


async def handshake(ws: ClientConnection, timeout: float) -> None:
    """`connect` → `connected`; Meteor first sends `{"server_id":"0"}`, which has no `msg` and is skipped."""
    await ws.send(json.dumps({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]}))
    deadline = time.monotonic() + timeout
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
        msg = frame.get("msg")
        if msg == "connected":
            return
        if msg == "failed":
            raise Unavailable(f"realtime: server refused DDP version 1 ({frame.get('version')})")
        if msg == "ping":
            await ws.send(pong_for(frame))


async def password_login(rpc: Rpc, config: BridgeConfig) -> str | None:
    """Method `login` with the SHA-256 password digest, wrapped in `{"totp": {...}}` when challenged;
    returns the user id."""
    assert config.username and config.password
    login: dict[str, Any] = {
        "user": {"username": config.username},
        "password": {"digest": password_digest(config.password.reveal()), "algorithm": "sha-256"},
    }
    params: dict[str, Any] = login
    factor = SecondFactor(config, what="realtime login")
    while True:
        reply = await rpc("login", [params])
        error = reply.get("error")
        if not error:
            return (reply.get("result") or {}).get("id")
        code = error.get("error") if isinstance(error, Mapping) else None
        if code in TWO_FACTOR_CHALLENGES:
            params = {"totp": {"login": login, "code": factor.next_login_code(code, error.get("details"))}}
            continue
        reason = error.get("reason") if isinstance(error, Mapping) else error
        raise AuthError(f"realtime login as {config.username!r} failed: {reason}", route="login")


def ssl_context(config: BridgeConfig, url: str) -> ssl.SSLContext | None:
    """TLS for wss:// URLs, verified by default, with the configured CA bundle."""
    if not url.startswith("wss:"):
        return None
    verify = config.tls_verify()
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
