"""The few workspace questions the stream rules ask, answered from the stand-in's `State`.

`canAccessRoom` (`apps/meteor/server/services/authorization/canAccessRoom.ts`) is the
state's own rule, shared with REST: a public room needs `view-c-room`, any room is
accessible to its subscribers, admins get no implicit access to private groups (§5.2).
"""

from __future__ import annotations

from typing import Any


class StateAccess:
    """`streams.Access` over a `State` (reads under the state's lock, no copies)."""

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
            return self.state.subscription_doc(rid, uid) is not None

    def has_permission(self, uid: str | None, permission: str) -> bool:
        return bool(self.state.has_permission(uid, permission))

    def can_access_room(self, rid: str, uid: str | None) -> bool:
        with self.state.lock:
            return bool(self.state.can_access_room(self.state.rooms.get(rid), uid))
