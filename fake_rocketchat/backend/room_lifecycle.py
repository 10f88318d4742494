"""Room lifecycle rules: erase, archive/unarchive, join, add-all.

Follows `apps/meteor/server/lib/eraseRoom.ts` (federated rooms refused, the room type's `canBeDeleted`
directive = `delete-c`/`delete-p` in the room's scope), `app/lib/server/methods/{archiveRoom,
unarchiveRoom}.ts` with `app/lib/server/functions/{archiveRoom,unarchiveRoom}.ts` (messages
`room-archived`/`room-unarchived`, the subscriptions flagged), `server/methods/addAllUserToRoom.ts`
(`add-all-to-room`, `API_User_Limit`, a `uj` per new member) and `server/services/room/service.ts`
`join` (`canAccessRoom`, the join code unless `join-without-join-code`, then `addUserToRoom`, `uj`).
Teams are not modelled, so eraseRoom's `delete-team-*` check never applies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import MeteorError

if TYPE_CHECKING:
    from .state import State


class RoomLifecycleMixin:
    """Mixed into `State`; `self` is the State."""

    def erase_room(self: "State", actor_id: str, rid: str) -> None:
        """`eraseRoom(rid, uid)`: channels.delete / groups.delete / rooms.delete."""
        with self.lock:
            room = self.rooms.get(rid)
            if room is None:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "eraseRoom"})
            if room.get("federated"):
                raise MeteorError("error-cannot-delete-federated-room", "Cannot delete federated room", {"method": "eraseRoom"})
            permission = {"c": "delete-c", "p": "delete-p", "d": "delete-d"}.get(room["t"])
            if permission is None or not self.has_permission(actor_id, permission, rid):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "eraseRoom"})
            self._delete_room(rid)

    def archive_room(self: "State", actor_id: str, rid: str) -> None:
        """`executeArchiveRoom`: `archive-room` in room scope; a `room-archived` message."""
        with self.lock:
            actor = self.users.get(actor_id)
            if not actor or not actor.get("username"):
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "archiveRoom"})
            room = self.rooms.get(rid)
            if room is None:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "archiveRoom"})
            if room["t"] == "d":
                raise MeteorError("error-direct-message-room", f"rooms type: {room['t']} can not be archived", {"method": "archiveRoom"})
            if not self.has_permission(actor_id, "archive-room", rid):
                raise MeteorError("error-not-authorized", "Not authorized", {"method": "archiveRoom"})
            self._set_archived(room, True)
            self._system_message(room, "room-archived", "", actor)

    def unarchive_room(self: "State", actor_id: str, rid: str) -> None:
        """`executeUnarchiveRoom`: `unarchive-room` (admin only by default); a `room-unarchived` message."""
        with self.lock:
            actor = self.users.get(actor_id)
            if not actor or not actor.get("username"):
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "archiveRoom"})
            room = self.rooms.get(rid)
            if room is None:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "unarchiveRoom"})
            if not self.has_permission(actor_id, "unarchive-room", rid):
                raise MeteorError("error-not-authorized", "Not authorized", {"method": "unarchiveRoom"})
            self._set_archived(room, False)
            self._system_message(room, "room-unarchived", "", actor)

    def _set_archived(self: "State", room: dict[str, Any], archived: bool) -> None:
        """`Rooms.archiveById` / `Subscriptions.archiveByRoomId` (and the un- forms): `archived`, `open`."""
        now = self.now()
        room["archived"] = archived
        room["_updatedAt"] = now
        for sub in self.room_subscription_docs(room["_id"]):
            sub["archived"] = archived
            sub["open"] = not archived
            sub["_updatedAt"] = now
            self.publish("stream-notify-user", f"{sub['u']['_id']}/subscriptions-changed", ["updated", sub])

    def add_all_users_to_room(self: "State", actor_id: str, rid: str, active_users_only: bool = False) -> bool:
        """`addAllUserToRoomFn`: every (active) user not yet in the room joins, each with a `uj`."""
        with self.lock:
            if not self.has_permission(actor_id, "add-all-to-room"):
                raise MeteorError(403, "Access to Method Forbidden", {"method": "addAllToRoom"})
            users = [u for u in self.users.values() if not active_users_only or u.get("active")]
            limit = self.settings.get("API_User_Limit") if "API_User_Limit" in self.settings else 500
            if len(users) > int(limit):
                raise MeteorError("error-user-limit-exceeded", "User Limit Exceeded", {"method": "addAllToRoom"})
            room = self.rooms.get(rid)
            if room is None:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "addAllToRoom"})
            for user in users:
                if self.subscription_doc(rid, user["_id"]) is not None or not user.get("username"):
                    continue
                self._subscribe(room, user)
                self._system_message(room, "uj", user["username"], user)
            return True

    def join_room(self: "State", actor_id: str, rid: str, join_code: str | None = None) -> None:
        """`Room.join` (channels.join): access, join code, then `addUserToRoom` (a `uj`, none if already in)."""
        with self.lock:
            room = self.rooms.get(rid)
            user = self.users.get(actor_id)
            if room is None or user is None:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "joinRoom"})
            if not self.can_access_room(room, actor_id):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "joinRoom"})
            if (
                room.get("joinCodeRequired")
                and join_code != room.get("joinCode")
                and not self.has_permission(actor_id, "join-without-join-code")
            ):
                raise MeteorError("error-code-invalid", "Invalid Room Password", {"method": "joinRoom"})
            if room.get("archived"):
                raise MeteorError("error-room-archived", "You cannot join an archived room", {"method": "addUserToRoom"})
            if self.subscription_doc(rid, actor_id) is not None:
                return
            self._subscribe(room, user)
            self._system_message(room, "uj", user["username"], user)
