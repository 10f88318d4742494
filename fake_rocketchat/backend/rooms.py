"""Room rules: creation, invite/kick, room roles, room settings.

Follows `app/lib/server/methods/{createChannel,createPrivateGroup,addUsersToRoom}.ts`,
`app/lib/server/functions/{createRoom,addUserToRoom,removeUserFromRoom}.ts`,
`server/methods/{removeUserFromRoom,addRoomModerator,addRoomOwner,addRoomLeader,
removeRoomModerator,removeRoomOwner,removeRoomLeader}.ts` and
`app/utils/server/lib/getValidRoomName.ts`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Iterable

from .errors import MeteorError
from .settings_store import SYSTEM_BLOCKED_NAMES

if TYPE_CHECKING:
    from .state import State

# role -> (permission, method name, already-error, not-error, reasons)
ROOM_ROLES: dict[str, tuple[str, str, str]] = {
    "moderator": ("set-moderator", "Moderator", "a moderator"),
    "owner": ("set-owner", "Owner", "an owner"),
    "leader": ("set-leader", "Leader", "a leader"),
}


class RoomsMixin:
    """Mixed into `State`; `self` is the State."""

    def _valid_room_name(self: "State", name: str, exclude_rid: str | None = None) -> None:
        """`getValidRoomName(name, rid)`: pattern + system-blocked names, then uniqueness (the room
        being renamed does not collide with itself)."""
        details = {"function": "RocketChat.getValidRoomName", "channel_name": name}
        pattern = self._name_pattern("UTF8_Channel_Names_Validation")
        if not name or name.lower() in SYSTEM_BLOCKED_NAMES or not pattern.match(name):
            raise MeteorError("error-invalid-room-name", f"{name} is not a valid room name.", details)
        existing = self.room_doc_by_name(name)
        if existing and existing["_id"] != exclude_rid:
            if existing.get("archived"):
                raise MeteorError("error-archived-duplicate-name", f"There's an archived channel with name '{name}'", details)
            raise MeteorError("error-duplicate-channel-name", f"A channel with name '{name}' exists", details)

    def can_access_room(self: "State", room: dict[str, Any] | None, user_id: str | None) -> bool:
        """`canAccessRoom`: public needs view-c-room; private needs a subscription."""
        with self.lock:
            if not room or not user_id:
                return False
            if room["t"] == "c":
                return self.has_permission(user_id, "view-c-room") or self.subscription_doc(room["_id"], user_id) is not None
            return self.subscription_doc(room["_id"], user_id) is not None

    def create_room_by(
        self: "State",
        actor_id: str,
        name: str,
        room_type: str,
        members: Iterable[str] = (),
        *,
        read_only: bool = False,
        exclude_self: bool = False,
        extra_data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Methods `createChannel` / `createPrivateGroup`: creator owns the room; returns a copy."""
        with self.lock:
            method = "createChannel" if room_type == "c" else "createPrivateGroup"
            if not self.has_permission(actor_id, "create-c" if room_type == "c" else "create-p"):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": method})
            actor = self.users[actor_id]
            self._valid_room_name(name)
            room = self._insert_room_doc(name, room_type, actor, read_only=read_only)
            for key in ("default", "topic", "description", "announcement", "broadcast", "encrypted"):
                if extra_data and key in extra_data:
                    room[key] = extra_data[key]
            if not exclude_self:
                self._subscribe(room, actor, roles=["owner"])
            for username in members:
                user = self.user_doc_by_username(username)
                if user and user["_id"] != actor_id:
                    self._subscribe(room, user)
            return copy.deepcopy(room)

    def add_users_to_room(self: "State", actor_id: str, rid: str, usernames: Iterable[str]) -> bool:
        """Method `addUsersToRoom`: re-inviting a member is a silent success (no message)."""
        with self.lock:
            room = self.rooms.get(rid)
            if not room:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "addUsersToRoom"})
            if room["t"] == "d":
                raise MeteorError("error-cant-invite-for-direct-room", "Can't invite user to direct rooms", {"method": "addUsersToRoom"})
            in_room = self.subscription_doc(rid, actor_id) is not None
            if in_room:
                allowed = self.has_permission(actor_id, "add-user-to-joined-room", rid)
            else:
                allowed = self.has_permission(actor_id, f"add-user-to-any-{room['t']}-room")
            if not allowed:
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "addUsersToRoom"})
            if room.get("archived"):
                raise MeteorError("error-room-archived", "You cannot add users to an archived room", {"method": "addUsersToRoom"})
            actor = self.users[actor_id]
            targets = []
            for username in usernames:
                user = self.user_doc_by_username_ci(username)
                if not user:
                    raise MeteorError("error-invalid-username", "Invalid username", {"method": "addUsersToRoom"})
                targets.append(user)
            for user in targets:
                if self.subscription_doc(rid, user["_id"]):
                    continue  # ephemeral "Username_is_already_in_here" to the inviter only
                self._subscribe(room, user)
                if user["_id"] == actor_id:
                    self._system_message(room, "uj", user["username"], user)
                else:
                    self._system_message(room, "au", user["username"], actor)
            return True

    def remove_user_from_room(self: "State", actor_id: str, rid: str, username: str) -> bool:
        """Method `removeUserFromRoom` (kick): posts `ru`; the last owner cannot be kicked."""
        with self.lock:
            room = self.rooms.get(rid)
            if not self.has_permission(actor_id, "remove-user", rid):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "removeUserFromRoom"})
            if not room or not self.can_access_room(room, actor_id):
                raise MeteorError("error-room-not-found", 'The required "roomId" or "roomName" param provided does not match any group')
            user = self.user_doc_by_username_ci(username)
            if not user:
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "removeUserFromRoom"})
            sub = self.subscription_doc(rid, user["_id"])
            if not sub and not (room["t"] == "c" and self.has_permission(actor_id, "kick-user-from-any-c-room")):
                raise MeteorError("error-user-not-in-room", "User is not in this room", {"method": "removeUserFromRoom"})
            if sub and "owner" in sub.get("roles", []):
                owners = [s for s in self.room_subscription_docs(rid) if "owner" in s.get("roles", [])]
                if len(owners) == 1:
                    raise MeteorError(
                        "error-you-are-last-owner",
                        "You are the last owner. Please set new owner before leaving the room.",
                        {"method": "removeUserFromRoom"},
                    )
            self._unsubscribe(room, user)
            self._system_message(room, "ru", user["username"], self.users[actor_id])
            return True

    def leave_room(self: "State", actor_id: str, rid: str) -> bool:
        """`leaveRoomMethod` (app/lib/server/methods/leaveRoom.ts): `leave-c`/`leave-p`, membership,
        the last owner cannot leave; posts `ul`."""
        with self.lock:
            room = self.rooms.get(rid)
            if not room:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": "leaveRoom"})
            user = self.users[actor_id]
            if room["t"] in ("c", "p") and not self.has_permission(actor_id, f"leave-{room['t']}"):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "leaveRoom"})
            sub = self.subscription_doc(rid, actor_id)
            if not sub:
                raise MeteorError("error-user-not-in-room", "You are not in this room", {"method": "leaveRoom"})
            if "owner" in sub.get("roles", []) and len([s for s in self.room_subscription_docs(rid) if "owner" in s.get("roles", [])]) == 1:
                raise MeteorError("error-you-are-last-owner", "You are the last owner. Please set new owner before leaving the room.", {"method": "leaveRoom"})
            self._unsubscribe(room, user)
            self._system_message(room, "ul", user["username"], user)
            return True

    def _broadcast_role_change(self: "State", change: str, role_id: str, user: dict[str, Any], scope: str | None) -> None:
        """`user.roleUpdate` -> stream-notify-logged `roles-change`, only while UI_DisplayRoles."""
        if not self.settings.get("UI_DisplayRoles"):
            return
        payload: dict[str, Any] = {"type": change, "_id": role_id, "u": {"_id": user["_id"], "username": user["username"], "name": user.get("name")}}
        if scope:
            payload["scope"] = scope
        self.publish("stream-notify-logged", "roles-change", [payload])

    def set_room_role_by(self: "State", actor_id: str, rid: str, user_id: str, role: str, add: bool) -> bool:
        """Methods `addRoomModerator/Owner/Leader` and `removeRoom*`."""
        with self.lock:
            permission, label, article = ROOM_ROLES[role]
            method = f"{'add' if add else 'remove'}Room{label}"
            room = self.rooms.get(rid)
            if not room:
                raise MeteorError("error-invalid-room", "Invalid room", {"method": method})
            if not self.has_permission(actor_id, permission, rid):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": method})
            user = self.users.get(user_id)
            if not user or not user.get("username"):
                raise MeteorError("error-invalid-user", "Invalid user", {"method": method})
            sub = self.subscription_doc(rid, user_id)
            if not sub:
                raise MeteorError("error-user-not-in-room", "User is not in this room", {"method": method})
            roles = sub.setdefault("roles", [])
            if add and role in roles:
                raise MeteorError(f"error-user-already-{role}", f"User is already {article}", {"method": method})
            if not add and role not in roles:
                raise MeteorError(f"error-user-not-{role}", f"User is not {article}", {"method": method})
            if not add and role == "owner":
                owners = [s for s in self.room_subscription_docs(rid) if "owner" in s.get("roles", [])]
                if len(owners) == 1:
                    raise MeteorError("error-remove-last-owner", "This is the last owner. Please set a new owner before removing this one.", {"method": method})
            if add:
                roles.append(role)
            else:
                roles.remove(role)
            sub["_updatedAt"] = self.now()
            actor = self.users[actor_id]
            self._system_message(room, "subscription-role-added" if add else "subscription-role-removed", user["username"], actor, role=role)
            self.publish("stream-notify-user", f"{user_id}/subscriptions-changed", ["updated", sub])
            self._broadcast_role_change("added" if add else "removed", role, user, rid)
            return True
