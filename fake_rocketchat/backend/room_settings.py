"""Method `saveRoomSettings`: validate every key first, then save each, with Rocket.Chat's system messages.

Follows `apps/meteor/app/channel-settings/server/methods/saveRoomSettings.ts` (the `fields` list, the
`edit-room` check in room scope, the broadcast read-only refusal, the `validators` and `settingSavers`
tables) and the savers in `app/channel-settings/server/functions/`: `saveRoomName` (`getValidRoomName`,
then `checkUsernameAvailability` -> `error-duplicate-handle`, message `r`), `saveRoomTopic`
(`room_changed_topic`), `saveRoomAnnouncement` (`room_changed_announcement`), `saveRoomDescription`
(`room_changed_description`), `saveRoomType` (`room_changed_privacy`), `saveRoomReadOnly`
(`room-set-read-only` / `room-removed-read-only`). Why one place: channels.* and groups.* setters,
`channels.setDefault` and the DDP method all go through it, as upstream, so a rule holds for all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import MeteorError

if TYPE_CHECKING:
    from .state import State

# `fields` of saveRoomSettings.ts: any other key is "Invalid settings provided".
ROOM_SETTING_FIELDS = (
    "roomAvatar", "featured", "roomName", "roomTopic", "roomAnnouncement", "roomCustomFields",
    "roomDescription", "roomType", "readOnly", "reactWhenReadOnly", "systemMessages", "default",
    "joinCode", "retentionEnabled", "retentionMaxAge", "retentionExcludePinned", "retentionFilesOnly",
    "retentionIgnoreThreads", "retentionOverrideGlobal", "encrypted", "favorite", "sidepanel",
)
_METHOD = {"method": "saveRoomSettings"}
# setting -> (room field, system message type): the text-like savers skip "nothing -> nothing".
_TEXT_SAVERS = {
    "roomTopic": ("topic", "room_changed_topic"),
    "roomAnnouncement": ("announcement", "room_changed_announcement"),
    "roomDescription": ("description", "room_changed_description"),
}
# Plain `$set`s (Rooms.save*ById) without a message.
_PLAIN_SAVERS = {
    "default": "default", "featured": "featured", "reactWhenReadOnly": "reactWhenReadOnly",
    "systemMessages": "sysMes", "roomCustomFields": "customFields", "encrypted": "encrypted",
}


class RoomSettingsMixin:
    """Mixed into `State`; `self` is the State."""

    def save_room_settings(self: "State", actor_id: str | None, rid: str, settings: dict[str, Any]) -> dict[str, Any]:
        """`saveRoomSettings(userId, rid, settings)`; returns `{"result": True, "rid": rid}`."""
        with self.lock:
            if not actor_id:
                raise MeteorError("error-invalid-user", "Invalid user", {"function": "RocketChat.saveRoomName"})
            if not isinstance(rid, str):
                raise MeteorError("error-invalid-room", "Invalid room", _METHOD)
            if not all(key in ROOM_SETTING_FIELDS for key in settings):
                raise MeteorError("error-invalid-settings", "Invalid settings provided", _METHOD)
            room = self.rooms.get(rid)
            if room is None:
                raise MeteorError("error-invalid-room", "Invalid room", _METHOD)
            settings = dict(settings)
            if not self.has_permission(actor_id, "edit-room", rid):
                if not ("encrypted" in settings and room["t"] == "d"):
                    raise MeteorError("error-action-not-allowed", "Editing room is not allowed", {**_METHOD, "action": "Editing_room"})
                settings = {"encrypted": settings.get("encrypted")}
            if room.get("broadcast") and (settings.get("readOnly") or settings.get("reactWhenReadOnly")):
                raise MeteorError(
                    "error-action-not-allowed",
                    "Editing readOnly/reactWhenReadOnly are not allowed for broadcast rooms",
                    {**_METHOD, "action": "Editing_room"},
                )
            actor = self.users.get(actor_id)
            if actor is None:
                raise MeteorError("error-invalid-user", "Invalid user", _METHOD)
            for key, value in settings.items():
                self._validate_room_setting(actor_id, room, key, value)
            for key, value in settings.items():
                self._save_room_setting(actor, room, key, value)
            room["_updatedAt"] = self.now()
            return {"result": True, "rid": rid}

    def save_room_setting(self: "State", actor_id: str, rid: str, setting: str, value: Any) -> dict[str, Any]:
        """`saveRoomSettings(userId, rid, setting, value)`: the one-key form."""
        return self.save_room_settings(actor_id, rid, {setting: value})

    # ---------------------------------------------------------------- validators
    def _validate_room_setting(self: "State", actor_id: str, room: dict[str, Any], key: str, value: Any) -> None:
        if key in ("default", "featured") and not self.has_permission(actor_id, "view-room-administration"):
            raise MeteorError(
                "error-action-not-allowed",
                "Viewing room administration is not allowed",
                {**_METHOD, "action": "Viewing_room_administration"},
            )
        if key == "roomType" and value != room["t"]:
            if value == "c" and not self.has_permission(actor_id, "create-c"):
                raise MeteorError("error-action-not-allowed", "Changing a private group to a public channel is not allowed",
                                  {**_METHOD, "action": "Change_Room_Type"})
            if value == "p" and not self.has_permission(actor_id, "create-p"):
                raise MeteorError("error-action-not-allowed", "Changing a public channel to a private room is not allowed",
                                  {**_METHOD, "action": "Change_Room_Type"})
        if key == "roomAvatar" and not self.has_permission(actor_id, "edit-room-avatar", room["_id"]):
            raise MeteorError("error-action-not-allowed", "Editing a room avatar is not allowed", {**_METHOD, "action": "Editing_room"})

    # ---------------------------------------------------------------- savers
    def _save_room_setting(self: "State", actor: dict[str, Any], room: dict[str, Any], key: str, value: Any) -> None:
        if key == "roomName":
            self._save_room_name(actor, room, value)
        elif key in _TEXT_SAVERS:
            field, msg_type = _TEXT_SAVERS[key]
            if not value and not room.get(field):
                return
            if value != room.get(field):
                room[field] = value
                self._system_message(room, msg_type, str(value or ""), actor)
        elif key == "roomType":
            self._save_room_type(actor, room, value)
        elif key == "readOnly":
            if value != room.get("ro"):
                room["ro"] = bool(value)
                self._system_message(room, "room-set-read-only" if value else "room-removed-read-only", "", actor)
        elif key == "joinCode":
            room["joinCode"] = str(value)
            room["joinCodeRequired"] = bool(value)
        elif key in _PLAIN_SAVERS:
            room[_PLAIN_SAVERS[key]] = value
        # Retention, favourite, avatar, sidepanel: accepted and not modelled further.

    def _save_room_name(self: "State", actor: dict[str, Any], room: dict[str, Any], display_name: Any) -> None:
        """`saveRoomName`: unchanged or blank names are a silent no-op; the name must be valid and free."""
        if room["t"] == "d":
            raise MeteorError("error-not-allowed", "Not allowed", {"function": "RocketChat.saveRoomdisplayName"})
        if display_name == room.get("name") or not str(display_name or "").strip():
            return
        name = str(display_name)
        self._valid_room_name(name, exclude_rid=room["_id"])
        if not self.check_username_availability(name):
            raise MeteorError(
                "error-duplicate-handle",
                f"A room, team or user with name '{name}' already exists",
                {"function": "RocketChat.updateRoomName", "handle": name},
            )
        room["name"] = room["fname"] = name
        for sub in self.room_subscription_docs(room["_id"]):
            sub["name"] = sub["fname"] = name
            sub["_updatedAt"] = self.now()
        self._system_message(room, "r", name, actor)

    def _save_room_type(self: "State", actor: dict[str, Any], room: dict[str, Any], room_type: Any) -> None:
        """`saveRoomType`: only c <-> p; the subscriptions follow; a `room_changed_privacy` message."""
        if room_type == room["t"]:
            return
        if room_type not in ("c", "p"):
            raise MeteorError("error-invalid-room-type", "error-invalid-room-type", {"function": "RocketChat.saveRoomType", "type": room_type})
        if room["t"] == "d":
            raise MeteorError("error-direct-room", "Can't change type of direct rooms", {"function": "RocketChat.saveRoomType"})
        room["t"] = room_type
        for sub in self.room_subscription_docs(room["_id"]):
            sub["t"] = room_type
            sub["_updatedAt"] = self.now()
        self._system_message(room, "room_changed_privacy", "public" if room_type == "c" else "private", actor)
