"""Where the login token lives: in this process, or in Redis shared by every worker of the account.

Sharing matters twice over: each password login costs a TOTP code and a rate-limited `login` call, and
Rocket.Chat remembers a validated second factor on the *login token* (plus User-Agent and client IP) for
1800 s (wire contract §2.4). Workers that reuse one token reuse that window; workers that each log in
would each be challenged again. The Redis store guards logins with a lock so only one worker logs in
while the others wait and then pick up its token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Protocol

from .config import Secret

__all__ = ["StoredToken", "TokenStore", "MemoryTokenStore", "RedisTokenStore", "account_key"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredToken:
    """A Rocket.Chat login (or personal access) token; `token` is masked in every repr."""

    user_id: str
    token: Secret
    obtained_at: float = field(default_factory=time.time)
    personal: bool = False

    def headers(self) -> dict[str, str]:
        return {"X-User-Id": self.user_id, "X-Auth-Token": self.token.reveal()}

    def same_as(self, other: "StoredToken | None") -> bool:
        return other is not None and other.user_id == self.user_id and other.token == self.token


def account_key(url: str, account: str) -> str:
    """A stable, short key per server + account (hashed so no URL credentials end up in key names)."""
    return hashlib.sha256(f"{url}\n{account}".encode()).hexdigest()[:24]


class TokenStore(Protocol):
    """What the auth flow needs from a token store; implement it to keep tokens elsewhere."""

    async def load(self, key: str) -> StoredToken | None: ...
    async def save(self, key: str, token: StoredToken) -> None: ...
    async def discard(self, key: str, token: StoredToken) -> None: ...
    def lock(self, key: str) -> "contextlib.AbstractAsyncContextManager[None]": ...

    @property
    def shared(self) -> bool: ...


class MemoryTokenStore:
    """The default: one process, one token; a process without Redis still works alone."""

    shared = False

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, key: str) -> StoredToken | None:
        return self._tokens.get(key)

    async def save(self, key: str, token: StoredToken) -> None:
        self._tokens[key] = token

    async def discard(self, key: str, token: StoredToken) -> None:
        if token.same_as(self._tokens.get(key)):
            del self._tokens[key]

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield


class RedisTokenStore:
    """Tokens under `<prefix>:token:<key>` in Redis (a redis.asyncio client), logins under a Redis lock.

    The token is stored as plain text: Redis is trusted infrastructure here, like the Celery broker.
    Keys expire after `ttl` seconds (default 7 days, well inside Rocket.Chat's 90-day login expiry).
    """

    shared = True

    def __init__(self, redis: Any, prefix: str = "rcsync:bridge", *, ttl: int = 7 * 86400,
                 lock_timeout: float = 60.0) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl
        self._lock_timeout = lock_timeout
        self._local = asyncio.Lock()
        self._fallback = MemoryTokenStore()  # used while Redis is unreachable

    def _name(self, key: str) -> str:
        return f"{self._prefix}:token:{key}"

    def _degrade(self, exc: BaseException) -> None:
        log.warning("token store: Redis unreachable (%s), keeping the login token in this process",
                    type(exc).__name__)

    async def load(self, key: str) -> StoredToken | None:
        from redis.exceptions import RedisError

        try:
            return await self._load(key)
        except (RedisError, OSError) as exc:
            self._degrade(exc)
            return await self._fallback.load(key)

    async def save(self, key: str, token: StoredToken) -> None:
        from redis.exceptions import RedisError

        await self._fallback.save(key, token)
        try:
            await self._save(key, token)
        except (RedisError, OSError) as exc:
            self._degrade(exc)

    async def discard(self, key: str, token: StoredToken) -> None:
        from redis.exceptions import RedisError

        await self._fallback.discard(key, token)
        try:
            current = await self._load(key)
            if token.same_as(current):
                await self._redis.delete(self._name(key))
        except (RedisError, OSError) as exc:
            self._degrade(exc)

    async def _load(self, key: str) -> StoredToken | None:
        raw = await self._redis.get(self._name(key))
        if not raw:
            return None
        try:
            doc = json.loads(raw)
            return StoredToken(user_id=doc["user_id"], token=Secret(doc["token"]), obtained_at=doc.get("at", 0.0))
        except (ValueError, KeyError, TypeError):
            return None

    async def _save(self, key: str, token: StoredToken) -> None:
        doc = {"user_id": token.user_id, "token": token.token.reveal(), "at": token.obtained_at}
        await self._redis.set(self._name(key), json.dumps(doc), ex=self._ttl)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        from redis.exceptions import RedisError

        async with self._local:
            lock = self._redis.lock(f"{self._prefix}:login-lock:{key}", timeout=self._lock_timeout,
                                    blocking_timeout=self._lock_timeout + 5)
            try:
                acquired = await lock.acquire()
            except (RedisError, OSError) as exc:
                self._degrade(exc)  # alone: the process-local lock is all we can hold
                yield
                return
            if not acquired:
                raise TimeoutError("could not take the Rocket.Chat login lock in Redis")
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    await lock.release()
