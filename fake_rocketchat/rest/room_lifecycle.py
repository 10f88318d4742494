"""`channels.*` / `groups.*` room lifecycle and settings routes (`app/api/server/v1/{channels,groups}.ts`).

delete, moderators, join, addAll, archive/unarchive, rename, setType, setReadOnly, setDescription/
setTopic/setPurpose/setAnnouncement, setJoinCode, counters. The two families differ in details that a
client sees, kept as upstream: channels look rooms up without an access check (`findChannelByIdOrName`)
and answer `{channel}`, groups only through access (`findPrivateGroupByIdOrName`) and answer `{group}`
or `{}`; channels refuse a setter that changes nothing ("... is the same as what it would be changed
to."), groups only for type and read-only. The rules themselves live in the backend
(`save_room_settings`, `erase_room`, `archive_room`, `join_room`, `add_all_users_to_room`).
`channels.listAll` does not exist in Rocket.Chat (only `groups.listAll`), so it stays a 404 here too.
"""

from __future__ import annotations

from typing import Any, Callable

from ..backend.errors import MeteorError, RestFailure, failure
from ..backend.views import room as room_view
from .base import Ctx, Routes, forbidden
from .rooms import find_channel, find_group
from .validate import room_one_of


def unauthorized(ctx: Ctx) -> RestFailure:
    """A handler's `API.v1.unauthorized()`: 401 in 7.x, 403 in 6.x, `{"success":false,"error":"unauthorized"}`."""
    return RestFailure(401 if ctx.compat >= 7 else 403, {"success": False, "error": "unauthorized"})


def _fresh(ctx: Ctx, rid: str) -> dict[str, Any]:
    return room_view(ctx.state.rooms[rid])


# ------------------------------------------------------------------------------ delete / moderators
def channels_delete(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx, checked_archived=False)
    ctx.state.erase_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


def groups_delete(ctx: Ctx) -> dict[str, Any]:
    room = find_group(ctx, checked_archived=False)
    ctx.state.erase_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


def _moderators(ctx: Ctx, room: dict[str, Any]) -> dict[str, Any]:
    """`Subscriptions.findByRoomIdAndRoles(rid, ['moderator'], {projection: {u: 1}})`, mapped to `sub.u`."""
    out = []
    for sub in ctx.state.room_subscription_docs(room["_id"]):
        if "moderator" in sub.get("roles", []):
            out.append({k: v for k, v in sub["u"].items() if v is not None})
    return {"moderators": out}


def channels_moderators(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    if not ctx.state.can_access_room(room, ctx.user_id):
        raise forbidden()
    return _moderators(ctx, room)


def groups_moderators(ctx: Ctx) -> dict[str, Any]:
    return _moderators(ctx, find_group(ctx))


# ------------------------------------------------------------------------------ join / addAll
def channels_join(ctx: Ctx) -> dict[str, Any]:
    params = {k: v for k, v in ctx.body.items() if k != "joinCode"}
    room = find_channel(ctx, params)
    ctx.state.join_room(ctx.user_id, room["_id"], ctx.body.get("joinCode"))  # type: ignore[arg-type]
    return {"channel": _fresh(ctx, room["_id"])}


def channels_add_all(ctx: Ctx) -> dict[str, Any]:
    # channels.ts tests `activeUsersOnly === 'true' || activeUsersOnly === 1`, but isChannelsAddAllProps
    # (a plain `new Ajv()`, no coercion) only lets a boolean through, so neither holds: every user is added.
    raw = ctx.body.get("activeUsersOnly")
    active_only = raw == "true" or (raw == 1 and not isinstance(raw, bool))
    room = find_channel(ctx)
    ctx.state.add_all_users_to_room(ctx.user_id, room["_id"], active_only)  # type: ignore[arg-type]
    return {"channel": _fresh(ctx, room["_id"])}


def groups_add_all(ctx: Ctx) -> dict[str, Any]:
    room = find_group(ctx)
    active_only = ctx.body.get("activeUsersOnly", False)
    if not isinstance(active_only, bool):  # the method's check(activeUsersOnly, Boolean)
        raise MeteorError(400, "Match failed")
    ctx.state.add_all_users_to_room(ctx.user_id, room["_id"], active_only)  # type: ignore[arg-type]
    return {"group": _fresh(ctx, room["_id"])}


# ------------------------------------------------------------------------------ archive
def channels_archive(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    ctx.state.archive_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


def channels_unarchive(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx, checked_archived=False)
    if not room.get("archived"):
        raise failure(f"The channel, {room['name']}, is not archived")
    ctx.state.unarchive_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


def groups_archive(ctx: Ctx) -> dict[str, Any]:
    room = find_group(ctx)
    ctx.state.archive_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


def groups_unarchive(ctx: Ctx) -> dict[str, Any]:
    room = find_group(ctx, checked_archived=False)
    ctx.state.unarchive_room(ctx.user_id, room["_id"])  # type: ignore[arg-type]
    return {}


# ------------------------------------------------------------------------------ settings
def _save(ctx: Ctx, room: dict[str, Any], setting: str, value: Any) -> None:
    ctx.state.save_room_settings(ctx.user_id, room["_id"], {setting: value})


def channels_rename(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise failure('The bodyParam "name" is required')
    room = find_channel(ctx)
    if room.get("name") == name:
        raise failure("The channel name is the same as what it would be renamed to.")
    _save(ctx, room, "roomName", name)
    return {"channel": _fresh(ctx, room["_id"])}


def groups_rename(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise failure('The bodyParam "name" is required')
    room = find_group(ctx)
    _save(ctx, room, "roomName", name)
    return {"group": _fresh(ctx, room["_id"])}


def _set_type(kind: str) -> Callable[[Ctx], dict[str, Any]]:
    def handler(ctx: Ctx) -> dict[str, Any]:
        value = ctx.body.get("type")
        if not isinstance(value, str) or not value.strip():
            raise failure('The bodyParam "type" is required')
        room = find_channel(ctx) if kind == "c" else find_group(ctx)
        if room["t"] == value:
            label = "channel" if kind == "c" else "private group"
            raise failure(f"The {label} type is the same as what it would be changed to.")
        _save(ctx, room, "roomType", value)
        return {"channel" if kind == "c" else "group": _fresh(ctx, room["_id"])}

    return handler


def channels_set_read_only(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    if room.get("ro") == ctx.body["readOnly"]:
        raise failure("The channel read only setting is the same as what it would be changed to.")
    _save(ctx, room, "readOnly", ctx.body["readOnly"])
    return {"channel": _fresh(ctx, room["_id"])}


def groups_set_read_only(ctx: Ctx) -> dict[str, Any]:
    if "readOnly" not in ctx.body:
        raise failure('The bodyParam "readOnly" is required')
    room = find_group(ctx)
    if bool(room.get("ro")) == ctx.body["readOnly"]:
        raise failure("The private group read only setting is the same as what it would be changed to.")
    _save(ctx, room, "readOnly", ctx.body["readOnly"])
    return {"group": _fresh(ctx, room["_id"])}


# (body key, room field compared by channels, saveRoomSettings key, channels' "same" wording or None)
_TEXT_ROUTES = {
    "setDescription": ("description", "description", "roomDescription", "The channel description is the same as what it would be changed to."),
    "setPurpose": ("purpose", "description", "roomDescription", "The channel purpose (description) is the same as what it would be changed to."),
    "setTopic": ("topic", "topic", "roomTopic", "The channel topic is the same as what it would be changed to."),
    "setAnnouncement": ("announcement", "announcement", "roomAnnouncement", None),
}


def _set_text(kind: str, route: str) -> Callable[[Ctx], dict[str, Any]]:
    key, field, setting, same = _TEXT_ROUTES[route]

    def handler(ctx: Ctx) -> dict[str, Any]:
        body = ctx.body
        if key not in body:
            raise failure(f'The bodyParam "{key}" is required')
        if kind == "c":
            room = find_channel(ctx)
            # JavaScript's `===`: a room without the field (undefined) never equals a sent value, not even null.
            if same is not None and field in room and room[field] == body[key]:
                raise failure(same)
        else:
            room = find_group(ctx)
        # channels.setAnnouncement saves and echoes the value as sent; the others `value || ''`.
        value = body[key] if (kind == "c" and route == "setAnnouncement") else (body[key] or "")
        _save(ctx, room, setting, value)
        return {key: value}

    return handler


def channels_set_join_code(ctx: Ctx) -> dict[str, Any]:
    code = ctx.body.get("joinCode")
    if not isinstance(code, str) or not code.strip():
        raise failure('The bodyParam "joinCode" is required')
    room = find_channel(ctx)
    _save(ctx, room, "joinCode", code)
    return {"channel": _fresh(ctx, room["_id"])}


# ------------------------------------------------------------------------------ counters
def channels_counters(ctx: Ctx) -> dict[str, Any]:
    access = ctx.can("view-room-administration")
    user_id = ctx.user_id
    if ctx.query.get("userId"):
        if not access:
            raise forbidden()
        user_id = ctx.query["userId"]
    room = find_channel(ctx)
    return ctx.state.room_counters(room["_id"], user_id, access)  # type: ignore[arg-type]


def groups_counters(ctx: Ctx) -> dict[str, Any]:
    access = ctx.can("view-room-administration")
    q = ctx.query
    if ("roomId" in q and not q["roomId"]) or ("roomName" in q and not q["roomName"]):
        raise MeteorError("error-room-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    state = ctx.state
    room = state.rooms.get(q["roomId"]) if "roomId" in q else state.room_doc_by_name(q.get("roomName"))
    if not room or room["t"] != "p":
        raise MeteorError("error-room-not-found", 'The required "roomId" or "roomName" param provided does not match any group')
    if room.get("archived"):
        raise MeteorError("error-room-archived", f"The private group, {room['name']}, is archived")
    user_id = ctx.user_id
    if q.get("userId"):
        if not access:
            raise unauthorized(ctx)
        user_id = q["userId"]
    return ctx.state.room_counters(room["_id"], user_id, access)  # type: ignore[arg-type]


def register_routes(routes: Routes) -> None:
    routes.add("channels.delete", ["POST"], channels_delete, validator=room_one_of())
    routes.add("groups.delete", ["POST"], groups_delete)
    routes.add("channels.moderators", ["GET"], channels_moderators, validator=room_one_of(**{"userId?": "string", "username?": "string", "user?": "string"}))
    routes.add("groups.moderators", ["GET"], groups_moderators)
    routes.add("channels.join", ["POST"], channels_join, validator=room_one_of(**{"joinCode?": "string"}))
    routes.add("channels.addAll", ["POST"], channels_add_all, validator=room_one_of(**{"activeUsersOnly?": "boolean"}))
    routes.add("groups.addAll", ["POST"], groups_add_all)
    routes.add("channels.archive", ["POST"], channels_archive, validator=room_one_of())
    routes.add("channels.unarchive", ["POST"], channels_unarchive, validator=room_one_of())
    routes.add("groups.archive", ["POST"], groups_archive)
    routes.add("groups.unarchive", ["POST"], groups_unarchive)
    routes.add("channels.rename", ["POST"], channels_rename)
    routes.add("groups.rename", ["POST"], groups_rename)
    routes.add("channels.setType", ["POST"], _set_type("c"))
    routes.add("groups.setType", ["POST"], _set_type("p"))
    routes.add("channels.setReadOnly", ["POST"], channels_set_read_only, validator=room_one_of(readOnly="boolean"))
    routes.add("groups.setReadOnly", ["POST"], groups_set_read_only)
    for route in _TEXT_ROUTES:
        validator = room_one_of(announcement="string") if route == "setAnnouncement" else None
        routes.add(f"channels.{route}", ["POST"], _set_text("c", route), validator=validator)
        routes.add(f"groups.{route}", ["POST"], _set_text("p", route))
    routes.add("channels.setJoinCode", ["POST"], channels_set_join_code)
    routes.add("channels.counters", ["GET"], channels_counters)
    routes.add("groups.counters", ["GET"], groups_counters)
