"""The session of the service account: login (with TOTP), token reuse, one re-login on 401, logout.

Kept out of the endpoint methods on purpose (like httpx's auth flows): `rest.py` asks the session for
credentials before a call, tells it when a token was refused, and asks it for a fresh `SecondFactor`
when a route demands one.

Login with password answers 401 `totp-required` for a TOTP account; the login is then repeated with
`code` (wire contract §1.3). A personal access token needs no login at all and is never logged out
(`logout` would delete the PAT itself).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable, Mapping

import httpx

from .config import BridgeConfig, Secret
from ._wire_errors import TWO_FACTOR_CHALLENGES, error_code, error_from_response
from .errors import AuthError
from .tokens import MemoryTokenStore, StoredToken, TokenStore, account_key
from .twofactor import SecondFactor

__all__ = ["Session", "Sender"]

log = logging.getLogger(__name__)

# (method, route, json body, extra headers) -> response; pacing and transport retries included.
Sender = Callable[..., Awaitable[httpx.Response]]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class Session:
    """Owns the login token of one account; safe to share between the coroutines of one client."""

    def __init__(self, config: BridgeConfig, send: Sender, store: TokenStore | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._send = send
        self._store: TokenStore = store or MemoryTokenStore()
        self._clock = clock
        self._key = account_key(config.url, config.account)
        self._current: StoredToken | None = None
        self.logins = 0  # password logins done by this session (observability, tests)
        #: Tokens Rocket.Chat refused (expiry, "log out everywhere", or a server that came back empty):
        #: callers caching what they read (rooms, roles, the account itself) drop it when this changes.
        self.refusals = 0

    @property
    def uses_personal_token(self) -> bool:
        return self._config.token is not None and self._config.user_id is not None

    @property
    def current(self) -> StoredToken | None:
        """The token in hand, if any (a caller that cannot wait on the store reads this first)."""
        return self._current

    @property
    def store(self) -> TokenStore:
        return self._store

    def second_factor(self, what: str = "call") -> SecondFactor:
        return SecondFactor(self._config, clock=self._clock, what=what)

    async def credentials(self) -> StoredToken:
        """A token to call with: ours, else a shared one from the store, else a fresh login (under the lock)."""
        if self._current is not None:
            return self._current
        if self.uses_personal_token:
            assert self._config.user_id and self._config.token
            self._current = StoredToken(self._config.user_id, self._config.token, personal=True)
            return self._current
        stored = await self._store.load(self._key)
        if stored is None:
            async with self._store.lock(self._key):
                stored = await self._store.load(self._key)
                if stored is None:
                    stored = await self._login()
                    await self._store.save(self._key, stored)
        self._current = stored
        return stored

    async def refused(self, stale: StoredToken) -> StoredToken:
        """The server said 401 for `stale`: pick up a token another worker got meanwhile, or log in again."""
        if stale.personal:
            raise AuthError(
                f"the personal access token of Rocket.Chat account {self._config.account!r} was refused", status=401
            )
        self.refusals += 1
        async with self._store.lock(self._key):
            stored = await self._store.load(self._key)
            if stored is None or stored.same_as(stale):
                await self._store.discard(self._key, stale)
                stored = await self._login()
                await self._store.save(self._key, stored)
        self._current = stored
        return stored

    async def _login(self) -> StoredToken:
        config = self._config
        assert config.username and config.password
        body: dict[str, Any] = {"user": config.username, "password": config.password.reveal()}
        factor = self.second_factor("login")
        while True:
            response = await self._send("POST", "login", json=body, idempotent=True)
            doc = _json(response)
            data = doc.get("data") if isinstance(doc.get("data"), Mapping) else None
            if response.status_code == 200 and data and data.get("authToken"):
                self.logins += 1
                log.info("logged in to Rocket.Chat as %s", config.username)
                return StoredToken(user_id=str(data["userId"]), token=Secret(str(data["authToken"])),
                                   obtained_at=self._clock())
            code = error_code(doc)
            if code in TWO_FACTOR_CHALLENGES:
                body["code"] = factor.next_login_code(code, doc.get("details"))
                log.debug("login for %s: answering %s with a TOTP code", config.username, code)
                continue
            error = error_from_response(response.status_code, doc, route="login")
            if isinstance(error, AuthError) or response.status_code == 401:
                raise AuthError(
                    f"login to Rocket.Chat as {config.username!r} failed: {error.message.removeprefix('login: ')}",
                    status=response.status_code, error_type=error.error_type, route="login",
                )
            raise error

    async def logout(self) -> None:
        """End the login, unless it is a personal access token or shared with other workers."""
        current, self._current = self._current, None
        if current is None or current.personal or self._store.shared:
            return
        try:
            await self._send("POST", "logout", headers=current.headers(), idempotent=True)
        except Exception as exc:  # closing must not fail because the server is gone
            log.debug("logout failed: %s", type(exc).__name__)
        await self._store.discard(self._key, current)
