"""The few workspace questions the stream rules ask, answered from the stand-in's `State`.

`canAccessRoom` follows `apps/meteor/server/services/authorization/canAccessRoom.ts`:
a public room (`t:"c"`) needs `view-c-room`; any room is accessible to its subscribers.
Admins get no implicit access to private groups (reference §5.2).
"""

from __future__ import annotations

from typing import Any


class StateAccess:
    """`ddp_streams.Access` over a `State` (reads under the state's lock, no copies)."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def room_type(self, rid: str) -> str | None:
        with self.state.lock:
            room = self.state.rooms.get(rid)
            return room.get("t") if room else None

    def is_subscribed(self, rid: str, uid: str | None) -> bool:
        if not uid:
            return False
        with self.state.lock:
            return self.state._sub(rid, uid) is not None

    def has_permission(self, uid: str | None, permission: str) -> bool:
        return bool(self.state.has_permission(uid, permission))

    def can_access_room(self, rid: str, uid: str | None) -> bool:
        room_type = self.room_type(rid)
        if room_type is None:
            return False
        if room_type == "c" and self.has_permission(uid, "view-c-room"):
            return True
        return self.is_subscribed(rid, uid)
