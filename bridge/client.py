"""`RocketChat`: the synchronous facade for Celery task code, with the same method names as the async client.

It keeps one `AsyncRocketChat` on a private event loop in a daemon thread, so task code never meets
asyncio, and pacing and the login token stay shared by every call of the process. A single call
(`user_info`, `invite`, ...) runs in the caller's thread on a blocking httpx client (`direct.py`: half
the CPU of the async stack and no hand-over between threads), deferring to the loop only for what lives
there (the token store, the pacer, a login). Listings are read on the loop, their pages ahead of the
caller. A facade created before a fork (Celery prefork) notices the new pid and builds a fresh loop and
client in the child.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any, AsyncIterator, Coroutine, Iterable, Iterator, Literal, TypeVar

from . import direct
from .config import BridgeConfig, Secret
from .models import Listing, RcRole, RcRoom, RcUser, RoomMember, RoomRoles, Subscription
from .rest import AsyncRocketChat

__all__ = ["RocketChat"]

T = TypeVar("T")


async def _take(agen: AsyncIterator[T], n: int) -> tuple[list[T], BaseException | None, bool]:
    """Up to `n` items on the loop thread: (items, the error that stopped early, exhausted?)."""
    items: list[T] = []
    try:
        for _ in range(n):
            items.append(await agen.__anext__())
    except StopAsyncIteration:
        return items, None, True
    except Exception as exc:  # handed to the caller's thread after the items before it
        return items, exc, True
    return items, None, False


class _LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="rcsync-bridge-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class RocketChat:
    """Blocking client: `RocketChat(BridgeConfig.from_env(), redis=...)`; close it (or use `with`).

    `direct=False` hands every call to the loop thread, as before direct calls (a comparison, or a
    caller that wants one path only); a client given its own `transport=` always does."""

    def __init__(self, config: BridgeConfig, *, direct: bool = True, **kwargs: Any) -> None:
        self.config = config
        self._direct = direct
        self._kwargs = kwargs
        self._lock = threading.Lock()
        self._pid = -1
        self._thread: _LoopThread | None = None
        self._client: AsyncRocketChat | None = None
        self._start()

    def _start(self) -> None:
        self._thread = _LoopThread()
        self._pid = os.getpid()

        async def build() -> AsyncRocketChat:
            client = AsyncRocketChat(self.config, **self._kwargs)
            if self._direct:
                client.enable_direct()
            return client

        self._client = self._thread.run(build())

    def __repr__(self) -> str:
        return f"<RocketChat {self.config.url} as {self.config.account!r}>"

    @property
    def aio(self) -> AsyncRocketChat:
        """The async client underneath (for counters such as `.calls`, or the session). Every facade
        method goes through here, so a forked child gets its own loop and client before the first call."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's loop thread does not exist here
                self._start()
        assert self._client is not None
        return self._client

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._thread is not None and self._pid == os.getpid()
        return self._thread.run(coro)

    def _one(self, endpoint: str, /, *args: Any, **kwargs: Any) -> Any:
        """One endpoint call: in this thread where the client allows it (`direct.run`), else on the loop."""
        client = self.aio
        call = getattr(client, endpoint)(*args, **kwargs)
        if client.direct_enabled:
            return direct.run(call)
        return self._run(call)

    def _iterate(self, agen: AsyncIterator[T], chunk: int = 100) -> Iterator[T]:
        """Items of `agen`, fetched `chunk` at a time (callers pass their page size): one hop to the
        loop thread per page instead of per item, which at 100k users was most of a full read.
        Items fetched before an error are still yielded, then the error is raised, as item by item."""
        try:
            while True:
                items, error, done = self._run(_take(agen, max(1, chunk)))
                yield from items
                if error is not None:
                    raise error
                if done:
                    return
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                self._run(aclose())

    def close(self) -> None:
        """Log out (unless the token is shared or personal), close connections, stop the loop thread."""
        if self._thread is None or self._client is None or self._pid != os.getpid():
            return
        try:
            self._thread.run(self._client.aclose(), timeout=30)
        finally:
            self._thread.stop()
            self._thread = None

    def __enter__(self) -> "RocketChat":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- the same endpoint methods as AsyncRocketChat ---------------------------------------------

    def login(self) -> None:
        self._one("login")

    def me(self) -> RcUser:
        return self._one("me")

    def create_user(self, username: str, name: str, email: str, password: str | Secret, *,
                    roles: Iterable[str] | None = None, active: bool = True, verified: bool = False,
                    join_default_channels: bool = False) -> RcUser:
        return self._one("create_user", username, name, email, password, roles=roles, active=active,
                         verified=verified, join_default_channels=join_default_channels)

    def update_user(self, user_id: str, **fields: Any) -> RcUser:
        return self._one("update_user", user_id, **fields)

    def user_info(self, *, user_id: str | None = None, username: str | None = None,
                  include_rooms: bool = False) -> RcUser:
        return self._one("user_info", user_id=user_id, username=username, include_rooms=include_rooms)

    def find_user(self, username: str | None = None, email: str | None = None) -> RcUser | None:
        return self._one("find_user", username=username, email=email)

    def set_active(self, user_id: str, active: bool, confirm_relinquish: bool = True) -> None:
        self._one("set_active", user_id, active, confirm_relinquish)

    def delete_user(self, user_id: str, confirm_relinquish: bool = True) -> None:
        self._one("delete_user", user_id, confirm_relinquish)

    def iter_users(self, page_size: int = 100, *, prefetch: bool = False, unpaged: bool = False,
                   listing: Listing | None = None) -> Iterator[RcUser]:
        return self._iterate(self.aio.iter_users(page_size, prefetch=prefetch, unpaged=unpaged, listing=listing),
                             page_size)

    def list_roles(self) -> list[RcRole]:
        return self._one("list_roles")

    def permissions(self) -> dict[str, frozenset[str]]:
        return self._one("permissions")

    def create_role(self, name: str, scope: str = "Users", description: str = "") -> RcRole:
        return self._one("create_role", name, scope, description)

    def add_user_to_role(self, role_id: str, username: str, room_id: str | None = None) -> None:
        self._one("add_user_to_role", role_id, username, room_id)

    def remove_user_from_role(self, role_id: str, username: str, room_id: str | None = None) -> None:
        self._one("remove_user_from_role", role_id, username, room_id)

    def iter_users_in_role(self, role_id: str, room_id: str | None = None, page_size: int = 100) -> Iterator[RcUser]:
        return self._iterate(self.aio.iter_users_in_role(role_id, room_id, page_size), page_size)

    def room_info(self, *, room_id: str | None = None, name: str | None = None) -> RcRoom:
        return self._one("room_info", room_id=room_id, name=name)

    def create_room(self, name: str, type: Literal["c", "p"], members: Iterable[str] = ()) -> RcRoom:
        return self._one("create_room", name, type, members)

    def iter_members(self, room: RcRoom, page_size: int = 100, *, prefetch: bool = False,
                     unpaged: bool = False, listing: Listing | None = None) -> Iterator[RoomMember]:
        return self._iterate(self.aio.iter_members(room, page_size, prefetch=prefetch, unpaged=unpaged,
                                                   listing=listing), page_size)

    def invite(self, room: RcRoom, user_ids: Iterable[str], *, batch_size: int = 100) -> int:
        return self._one("invite", room, list(user_ids), batch_size=batch_size)

    def kick(self, room: RcRoom, user_id: str) -> None:
        self._one("kick", room, user_id)

    def add_moderator(self, room: RcRoom, user_id: str) -> None:
        self._one("add_moderator", room, user_id)

    def remove_moderator(self, room: RcRoom, user_id: str) -> None:
        self._one("remove_moderator", room, user_id)

    def add_owner(self, room: RcRoom, user_id: str) -> None:
        self._one("add_owner", room, user_id)

    def remove_owner(self, room: RcRoom, user_id: str) -> None:
        self._one("remove_owner", room, user_id)

    def room_roles(self, room: RcRoom) -> list[RoomRoles]:
        return self._one("room_roles", room)

    def iter_all_groups(self, page_size: int = 100) -> Iterator[RcRoom]:
        return self._iterate(self.aio.iter_all_groups(page_size), page_size)

    def iter_channels(self, page_size: int = 100) -> Iterator[RcRoom]:
        return self._iterate(self.aio.iter_channels(page_size), page_size)

    def subscriptions(self) -> list[Subscription]:
        return self._one("subscriptions")

    def settings_get(self, setting_id: str) -> Any:
        return self._one("settings_get", setting_id)

    def settings_set(self, setting_id: str, value: Any) -> None:
        self._one("settings_set", setting_id, value)

    def add_custom_oauth(self, name: str) -> None:
        self._one("add_custom_oauth", name)

    def call_method(self, name: str, *params: Any) -> Any:
        return self._one("call_method", name, *params)
