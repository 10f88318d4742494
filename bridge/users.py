"""User endpoints (`me`, `users.*`) of `AsyncRocketChat`, as a mixin over the call layer in rest.py."""

from __future__ import annotations

from contextlib import aclosing
import json
import logging
from typing import Any, AsyncIterator, Iterable

from . import direct
from .config import Secret
from .errors import InvalidInput, NotFound, OutcomeUnknown
from .models import Listing, RcUser

__all__ = ["UsersMixin"]

log = logging.getLogger("bridge.users")

# Python-style keyword → Rocket.Chat's `data` key for users.update (A/app/api/server/v1/users.ts).
_UPDATE_KEYS = {
    "require_password_change": "requirePasswordChange",
    "set_random_password": "setRandomPassword",
    "send_welcome_email": "sendWelcomeEmail",
    "custom_fields": "customFields",
    "status_text": "statusText",
}
_UPDATE_ALLOWED = {
    "email", "name", "password", "username", "active", "bio", "nickname", "statusText", "roles",
    "requirePasswordChange", "setRandomPassword", "sendWelcomeEmail", "verified", "customFields", "status",
    "settings", "language",
}


def _reveal(value: Any) -> Any:
    return value.reveal() if isinstance(value, Secret) else value


class UsersMixin:
    """Needs `_call`, `_get`, `_paged` from the core."""

    _call: Any
    _get: Any
    _paged: Any
    _unpaged: Any
    _retry: Any
    _user_rooms_style: str = "7"

    async def me(self) -> RcUser:
        """The service account itself (`GET me` returns the user flattened, not under `user`)."""
        return RcUser.from_api(await self._get("me"))

    async def create_user(
        self,
        username: str,
        name: str,
        email: str,
        password: str | Secret,
        *,
        roles: Iterable[str] | None = None,
        active: bool = True,
        verified: bool = False,
        join_default_channels: bool = False,
    ) -> RcUser:
        """Create an account (no 2FA needed). If the request times out, the username is looked up before
        a second attempt, so a slow server never gets the account created twice."""
        body: dict[str, Any] = {
            "username": username,
            "name": name,
            "email": email,
            "password": _reveal(password),
            "active": active,
            "verified": verified,
            "joinDefaultChannels": join_default_channels,
        }
        if roles is not None:
            body["roles"] = list(roles)
        for attempt in (1, 2):
            try:
                doc = await self._call("POST", "users.create", json=body, idempotent=False)
                return RcUser.from_api(doc.get("user") or {})
            except OutcomeUnknown:
                # The request may still be running server-side: give it a moment before looking.
                await direct.pause(self._retry.delay(attempt))
                existing = await self.find_user(username=username)
                if existing is not None:
                    log.warning("users.create for %s had no answer, but the user exists: using it", username)
                    return existing
                if attempt == 2:
                    raise
                log.warning("users.create for %s had no answer and the user does not exist: trying again", username)
        raise AssertionError("unreachable")

    async def update_user(self, user_id: str, **fields: Any) -> RcUser:
        """`users.update` (a 2FA route: the challenge is answered by the session). Keys are Rocket.Chat's
        `data` keys (`name`, `email`, `roles`, `active`, ...) or their snake_case spelling."""
        data: dict[str, Any] = {}
        for key, value in fields.items():
            wire = _UPDATE_KEYS.get(key, key)
            if wire not in _UPDATE_ALLOWED:
                raise InvalidInput(f"users.update: unknown field {key!r} (7.x rejects unknown keys; "
                                   "joinDefaultChannels is no longer accepted)", route="users.update")
            data[wire] = list(value) if wire == "roles" else _reveal(value)
        if not data:
            raise InvalidInput("users.update: nothing to change", route="users.update")
        doc = await self._call("POST", "users.update", json={"userId": user_id, "data": data}, idempotent=True)
        return RcUser.from_api(doc.get("user") or {})

    async def user_info(
        self, *, user_id: str | None = None, username: str | None = None, include_rooms: bool = False
    ) -> RcUser:
        """One user by id or username; with `include_rooms`, `.rooms` lists its subscriptions (7.x sends
        `includeUserRooms=true`, 6.x `fields={"userRooms":1}`; the client falls back and remembers)."""
        if (user_id is None) == (username is None):
            raise InvalidInput("users.info: give exactly one of user_id or username", route="users.info")
        params: dict[str, Any] = {"userId": user_id} if user_id is not None else {"username": username}
        if not include_rooms:
            return RcUser.from_api((await self._get("users.info", **params)).get("user") or {})
        styles = [self._user_rooms_style] + [s for s in ("7", "6") if s != self._user_rooms_style]
        last: RcUser | None = None
        for style in styles:
            extra = {"includeUserRooms": "true"} if style == "7" else {"fields": json.dumps({"userRooms": 1})}
            try:
                doc = (await self._get("users.info", **params, **extra)).get("user") or {}
            except InvalidInput:
                continue
            last = RcUser.from_api(doc)
            if "rooms" in doc:
                self._user_rooms_style = style
                return last
        if last is None:
            raise InvalidInput("users.info: the server accepts neither includeUserRooms nor fields=userRooms",
                               route="users.info")
        return last

    async def find_user(self, username: str | None = None, email: str | None = None) -> RcUser | None:
        """The user with this username (one `users.info`), else with this email (a scan of `users.list`,
        because 7.x ignores the `query` parameter); None when there is none."""
        if username is None and email is None:
            raise InvalidInput("find_user: give a username or an email", route="users.info")
        if username is not None:
            try:
                return await self.user_info(username=username)
            except NotFound:
                if email is None:
                    return None
        wanted = (email or "").strip().lower()
        async for user in self.iter_users():
            if any(address.lower() == wanted for address in user.emails):
                return user
        return None

    async def set_active(self, user_id: str, active: bool, confirm_relinquish: bool = True) -> None:
        """Activate or deactivate (deactivation removes all the user's tokens; memberships stay)."""
        await self._call(
            "POST", "users.setActiveStatus",
            json={"userId": user_id, "activeStatus": bool(active), "confirmRelinquish": bool(confirm_relinquish)},
            idempotent=True,
        )

    async def delete_user(self, user_id: str, confirm_relinquish: bool = True) -> None:
        """Delete the account for good (prefer `set_active(..., False)` for leavers)."""
        await self._call(
            "POST", "users.delete", json={"userId": user_id, "confirmRelinquish": bool(confirm_relinquish)},
            idempotent=True, already_ok=("error-invalid-user",),
        )

    async def iter_users(self, page_size: int = 100, *, prefetch: bool = False, unpaged: bool = False,
                         listing: Listing | None = None) -> AsyncIterator[RcUser]:
        """Every user, page by page through `users.list` (sorted by username). `prefetch`: as for
        `_paged` (for readers that take the whole listing, such as the full reconcile); `unpaged`: one
        `count=0` request decoded as it arrives (`_unpaged`); `listing`: see `Listing` (a list that
        changes while it is paged)."""
        params = {"sort": json.dumps({"username": 1})}
        docs = (self._unpaged("users.list", "users", params, page_size, listing) if unpaged
                else self._paged("users.list", "users", params, page_size, prefetch=prefetch, listing=listing))
        async with aclosing(docs):  # an early stop closes the listing now (its read-ahead), not at GC
            async for doc in docs:
                yield RcUser.from_api(doc)
