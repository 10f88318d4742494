"""Room endpoints (`rooms.info`, `channels.*`, `groups.*`, `subscriptions.get`) of `AsyncRocketChat`.

A room's type picks the route family: `c` → `channels.*`, `p` → `groups.*`. Admins have no implicit
access to private groups: every `groups.*` call on a group the service account is not subscribed to
answers "room not found" (wire contract §5.2), so the account should create the managed groups itself.
"""

from __future__ import annotations

from contextlib import aclosing
import asyncio
import json
import logging
from typing import Any, AsyncIterator, Iterable, Literal

from . import direct
from .errors import InvalidInput, NotFound, OutcomeUnknown, PermissionDenied
from .models import Listing, RcRoom, RoomMember, RoomRoles, Subscription

__all__ = ["RoomsMixin", "INVITE_BATCH"]

log = logging.getLogger("bridge.rooms")

# channels.invite / groups.invite take `userIds: [...]`; 100 keeps one call well inside request limits
# and matches the server's page size.
INVITE_BATCH = 100


class RoomsMixin:
    _call: Any
    _get: Any
    _paged: Any
    _unpaged: Any
    _retry: Any

    async def room_info(self, *, room_id: str | None = None, name: str | None = None) -> RcRoom:
        """A channel or group by id or name. Rocket.Chat answers `not-allowed` both for a missing room and
        for a private group the caller is not in; both become NotFound here."""
        if (room_id is None) == (name is None):
            raise InvalidInput("rooms.info: give exactly one of room_id or name", route="rooms.info")
        try:
            body = await self._get("rooms.info", roomId=room_id, roomName=name)
        except PermissionDenied as exc:
            if (exc.error_type or "").lower() in ("not-allowed", "not allowed"):
                raise NotFound(
                    f"rooms.info: room {room_id or name!r} does not exist or is a private group the service "
                    "account is not a member of", status=exc.status, error_type=exc.error_type, route="rooms.info",
                ) from None
            raise
        return RcRoom.from_api(body.get("room") or {})

    async def create_room(self, name: str, type: Literal["c", "p"], members: Iterable[str] = ()) -> RcRoom:
        """Create a channel (`c`) or private group (`p`); `members` are usernames. The service account
        becomes its owner. After a timeout the name is looked up before trying again."""
        if type not in ("c", "p"):
            raise InvalidInput(f"create_room: type must be 'c' or 'p', not {type!r}", route="rooms.create")
        route = "channels.create" if type == "c" else "groups.create"
        body = {"name": name, "members": list(members)}
        try:
            doc = await self._call("POST", route, json=body, idempotent=False)
        except OutcomeUnknown:
            await direct.pause(self._retry.delay(1))
            try:
                return await self.room_info(name=name)
            except NotFound:
                doc = await self._call("POST", route, json=body, idempotent=False)
        return RcRoom.from_api(doc.get("channel") or doc.get("group") or {})

    async def iter_members(self, room: RcRoom, page_size: int = 100, *, prefetch: bool = False,
                           unpaged: bool = False, listing: Listing | None = None) -> AsyncIterator[RoomMember]:
        """Active members only: Rocket.Chat hides deactivated users from *.members although they keep
        their subscription (wire contract §8.2). `prefetch`: as for `_paged` (whole-listing readers);
        `unpaged`: one `count=0` request decoded as it arrives (`_unpaged`). The order is not stable
        while paging (see `Listing`)."""
        route, params = f"{room.api_prefix}.members", {"roomId": room.id}
        docs = (self._unpaged(route, "members", params, page_size, listing) if unpaged
                else self._paged(route, "members", params, page_size, prefetch=prefetch, listing=listing))
        async with aclosing(docs):  # an early stop closes the listing now (its read-ahead), not at GC
            async for doc in docs:
                yield RoomMember.from_api(doc)

    async def invite(self, room: RcRoom, user_ids: Iterable[str], *, batch_size: int = INVITE_BATCH) -> int:
        """Add users to the room, `batch_size` (≤ 100) ids per call; inviting a member again is a silent
        no-op in Rocket.Chat, so this is safe to repeat. Returns the number of calls made."""
        if not 1 <= batch_size <= INVITE_BATCH:
            raise InvalidInput(f"invite: batch_size must be 1..{INVITE_BATCH}", route=f"{room.api_prefix}.invite")
        ids = list(dict.fromkeys(user_ids))
        batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]
        route = f"{room.api_prefix}.invite"
        calls = [self._call("POST", route, json={"roomId": room.id, "userIds": batch}, idempotent=True)
                 for batch in batches]
        if len(calls) == 1:
            await calls[0]
        elif direct.active():  # a call in the caller's thread has no loop to run them side by side
            for call in calls:
                await call
        else:
            await asyncio.gather(*calls)
        return len(batches)

    async def kick(self, room: RcRoom, user_id: str) -> None:
        await self._call("POST", f"{room.api_prefix}.kick", json={"roomId": room.id, "userId": user_id},
                         idempotent=True, already_ok=("error-user-not-in-room",))

    async def _room_role(self, room: RcRoom, action: str, user_id: str, already: str) -> None:
        await self._call("POST", f"{room.api_prefix}.{action}", json={"roomId": room.id, "userId": user_id},
                         idempotent=True, already_ok=(already,))

    async def add_moderator(self, room: RcRoom, user_id: str) -> None:
        await self._room_role(room, "addModerator", user_id, "error-user-already-moderator")

    async def remove_moderator(self, room: RcRoom, user_id: str) -> None:
        await self._room_role(room, "removeModerator", user_id, "error-user-not-moderator")

    async def add_owner(self, room: RcRoom, user_id: str) -> None:
        await self._room_role(room, "addOwner", user_id, "error-user-already-owner")

    async def remove_owner(self, room: RcRoom, user_id: str) -> None:
        await self._room_role(room, "removeOwner", user_id, "error-user-not-owner")

    async def room_roles(self, room: RcRoom) -> list[RoomRoles]:
        """Members holding a room role (owner, moderator, leader), from channels.roles / groups.roles."""
        body = await self._get(f"{room.api_prefix}.roles", roomId=room.id)
        return [RoomRoles.from_api(doc) for doc in body.get("roles") or []]

    async def iter_all_groups(self, page_size: int = 100) -> AsyncIterator[RcRoom]:
        """Every private group on the server (`groups.listAll`, needs view-room-administration)."""
        async for doc in self._paged("groups.listAll", "groups", None, page_size):
            yield RcRoom.from_api(doc)

    async def iter_channels(self, page_size: int = 100) -> AsyncIterator[RcRoom]:
        """Every public channel (`channels.list`)."""
        async for doc in self._paged("channels.list", "channels", {"sort": json.dumps({"name": 1})}, page_size):
            yield RcRoom.from_api(doc)

    async def subscriptions(self) -> list[Subscription]:
        """The service account's own subscriptions (there is no API for other users' ones)."""
        body = await self._get("subscriptions.get")
        return [Subscription.from_api(doc) for doc in body.get("update") or []]
