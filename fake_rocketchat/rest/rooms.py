"""`channels.*`, `groups.*`, `rooms.info`, `subscriptions.get` (`app/api/server/v1/{channels,groups,
rooms,subscriptions}.ts`, reference §5). Private groups are found only through a subscription
(`findPrivateGroupByIdOrName` + `canAccessRoom`), so non-member admins get `error-room-not-found`."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..backend.errors import MeteorError, failure
from ..backend.views import member, room as room_view
from .base import Ctx, Routes, forbidden, page, paginate, parse_sort, permission_denied, sort_docs
from .users import get_user_from_params
from .validate import check_one_of, room_one_of

_GROUP_NOT_FOUND = 'The required "roomId" or "roomName" param provided does not match any group'
_CHANNEL_NOT_FOUND = 'The required "roomId" or "roomName" param provided does not match any channel'


def _lookup(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any] | None:
    state = ctx.state
    if ctx.compat >= 7:
        # 7.x `findChannelByIdOrName` / `getRoomFromParams` (channels.ts, groups.ts): a present
        # `roomId` wins even when empty (`findOneById(roomId || '')`), else `roomName`; no trimming.
        if "roomId" in params:
            return state.rooms.get(str(params["roomId"] or ""))
        if "roomName" in params:
            return state.room_doc_by_name(str(params["roomName"] or ""))
        return None
    rid, name = str(params.get("roomId") or "").strip(), str(params.get("roomName") or "").strip()
    return state.rooms.get(rid) if rid else state.room_doc_by_name(name)


def find_channel(ctx: Ctx, params: dict[str, Any] | None = None, checked_archived: bool = True) -> dict[str, Any]:
    """`findChannelByIdOrName`. In 7.x (channels.ts) it has no "param not provided" check: a call
    without roomId/roomName finds no room, so it answers `error-room-not-found` like an unknown one."""
    params = ctx.params if params is None else params
    if ctx.compat < 7 and not str(params.get("roomId") or "").strip() and not str(params.get("roomName") or "").strip():
        raise MeteorError("error-roomid-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    room = _lookup(ctx, params)
    if not room or room["t"] not in ("c", "l"):
        raise MeteorError("error-room-not-found", _CHANNEL_NOT_FOUND)
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The channel, {room['name']}, is archived")
    return room


def _params_missing(ctx: Ctx, params: dict[str, Any]) -> bool:
    """`getRoomFromParams` (groups.ts) and `findRoomByIdOrName` (rooms.ts) in 7.x: neither key present, or
    both present and both empty (a lone empty `roomId` passes and then matches no room)."""
    if ctx.compat < 7:
        return not str(params.get("roomId") or "").strip() and not str(params.get("roomName") or "").strip()
    has_id, has_name = "roomId" in params, "roomName" in params
    return (not has_id and not has_name) or (has_id and not params["roomId"] and has_name and not params["roomName"])


def find_group(ctx: Ctx, params: dict[str, Any] | None = None, checked_archived: bool = True) -> dict[str, Any]:
    """`findPrivateGroupByIdOrName`: only rooms the caller can access (is subscribed to)."""
    params = ctx.params if params is None else params
    if _params_missing(ctx, params):
        raise MeteorError("error-room-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    room = _lookup(ctx, params)
    if not room or room["t"] != "p" or not ctx.state.can_access_room(room, ctx.user_id):
        raise MeteorError("error-room-not-found", _GROUP_NOT_FOUND)
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The private group, {room['name']}, is archived")
    return room


def _user_list(ctx: Ctx) -> list[dict[str, Any]]:
    """`getUserListFromParams`: userId/username plus userIds/usernames, unknown ones dropped."""
    p = ctx.body
    state = ctx.state
    sole = p.get("userId") or p.get("username") or p.get("user")
    items = list(p.get("userIds") or p.get("usernames") or [])
    if sole:
        items.append(sole)
    items = list(dict.fromkeys(i for i in items if isinstance(i, str) and i))
    if p.get("userIds") or p.get("userId"):
        return [state.users[i] for i in items if i in state.users]
    return [u for u in (state.user_doc_by_username_ci(i) for i in items) if u]


def _usernames(users: list[dict[str, Any]]) -> list[str]:
    return [u["username"] for u in users if u.get("username")]


# ------------------------------------------------------------------------------ create / info
def _create(ctx: Ctx, room_type: str) -> dict[str, Any]:
    """channels.create checks `create-c` first (`createChannelValidator` -> 403 `forbidden()`);
    groups.create (groups.ts, 6.x-late and 7.x) checks its body first and leaves `create-p` to
    `createPrivateGroupMethod`, whose `Meteor.Error('error-not-allowed', 'Not allowed')` the route
    re-throws (its catch tests `error.reason === 'error-not-allowed'`, which never holds): a 400
    "Not allowed [error-not-allowed]" with `details.method`, not a 403."""
    body = ctx.body
    key = "channel" if room_type == "c" else "group"
    if room_type == "c" and not ctx.can("create-c"):
        raise forbidden()
    if not body.get("name"):
        raise failure('Param "name" is required' if room_type == "c" else 'Body param "name" is required')
    members = body.get("members", [])
    if members and not isinstance(members, list):
        raise failure('Param "members" must be an array if provided' if room_type == "c" else 'Body param "members" must be an array if provided')
    members = members or []
    if body.get("customFields") and not isinstance(body["customFields"], dict):
        raise failure(f'{"Param" if room_type == "c" else "Body param"} "customFields" must be an object if provided')
    if room_type == "p" and body.get("extraData") and not isinstance(body["extraData"], dict):
        raise failure('Body param "extraData" must be an object if provided')
    room = ctx.state.create_room_by(
        ctx.user_id, str(body["name"]), room_type, members, read_only=bool(body.get("readOnly")),
        exclude_self=bool(body.get("excludeSelf")), extra_data=body.get("extraData") or {},
    )
    return {key: room_view(ctx.state.rooms[room["_id"]])}


def _accessible_channel(ctx: Ctx) -> dict[str, Any]:
    """channels.info / channels.members: `canAccessRoom` after the lookup, else `forbidden()` (a user
    without `view-c-room`, e.g. a guest, sees only the channels they are in)."""
    room = find_channel(ctx, checked_archived=False)
    if not ctx.state.can_access_room(room, ctx.user_id):
        raise forbidden()
    return room


def channels_info(ctx: Ctx) -> dict[str, Any]:
    return {"channel": room_view(_accessible_channel(ctx))}


def groups_info(ctx: Ctx) -> dict[str, Any]:
    return {"group": room_view(find_group(ctx, checked_archived=False))}


def find_room(ctx: Ctx, params: dict[str, Any] | None = None, checked_archived: bool = True) -> dict[str, Any]:
    """`findRoomByIdOrName` (rooms.ts): any room type; the error wording says "channel" for all."""
    params = ctx.params if params is None else params
    if _params_missing(ctx, params):
        raise MeteorError("error-roomid-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    room = _lookup(ctx, params)
    if not room:
        raise MeteorError("error-room-not-found", _CHANNEL_NOT_FOUND)
    if checked_archived and room.get("archived"):
        raise MeteorError("error-room-archived", f"The channel, {room['name']}, is archived")
    return room


def rooms_info(ctx: Ctx) -> dict[str, Any]:
    room = find_room(ctx)
    if not ctx.state.can_access_room(room, ctx.user_id):
        raise failure("not-allowed", "Not Allowed")
    return {"room": room_view(room)}


# ------------------------------------------------------------------------------ members
def _members(ctx: Ctx, room: dict[str, Any]) -> dict[str, Any]:
    if room.get("broadcast") and not ctx.can("view-broadcast-member-list", room["_id"]):
        raise forbidden()
    offset, count = paginate(ctx)
    state = ctx.state
    sort = parse_sort(ctx, {"username": 1})
    status, text = ctx.query.get("status"), ctx.query.get("filter")
    if not status and not text and sort == [("username", 1)]:
        # Rocket.Chat's default order (connected people first, then by username: findUsersOfRoom.ts),
        # from the maintained per-room index of active members: O(log n + page) per request
        # (deactivated users are hidden, reference §5.3).
        index = state.listing.members(room["_id"])
        items = [member(state.users[i]) for i in index.page(offset, count)]
        return {"members": items, "count": len(items), "offset": offset, "total": len(index)}
    if not status and not text and {k for k, _ in sort} <= {"username", "name", "_id"}:
        # Sorted member ids are cached while nobody joins, leaves or is renamed (paging a
        # 20k-member room must not sort it per page); `active` is filtered per call.
        key = (room["_id"], state.users_version, state.subs_version, tuple(sort))
        cache = ctx.cache.setdefault("members-sorted", {})
        ids = cache.get(key)
        if ids is None:
            subscribed = [u for u in (state.users.get(s["u"]["_id"]) for s in state.room_subscription_docs(room["_id"])) if u]
            ids = [u["_id"] for u in sort_docs(subscribed, [("statusConnection", -1), *sort], ci_fields=("name", "username"))]
            cache.clear()
            cache[key] = ids
        active = [state.users[i] for i in ids if i in state.users and state.users[i].get("active")]
        items = [member(u) for u in page(active, offset, count)]
        return {"members": items, "count": len(items), "offset": offset, "total": len(active)}
    users = [u for u in (state.users.get(s["u"]["_id"]) for s in state.room_subscription_docs(room["_id"])) if u and u.get("active")]
    if status:
        wanted = status if isinstance(status, list) else [status]
        users = [u for u in users if u.get("status") in wanted]
    if text:
        pattern = re.compile(re.escape(str(text)), re.I)
        users = [u for u in users if pattern.search(u.get("username") or "") or pattern.search(u.get("name") or "")]
    users = sort_docs(users, [("statusConnection", -1), *sort], ci_fields=("name", "username"))
    items = [member(u) for u in page(users, offset, count)]
    return {"members": items, "count": len(items), "offset": offset, "total": len(users)}


def channels_members(ctx: Ctx) -> dict[str, Any]:
    return _members(ctx, _accessible_channel(ctx))


def groups_members(ctx: Ctx) -> dict[str, Any]:
    return _members(ctx, find_group(ctx, checked_archived=False))


# ------------------------------------------------------------------------------ invite / kick
def channels_invite(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    users = _user_list(ctx)
    if not users:
        raise failure("invalid-user-invite-list", "Cannot invite if no users are provided")
    # channels.ts passes `users.map((u) => u.username).filter(isTruthy)`: an account without a
    # username (e.g. made by an OAuth login) is silently left out, never a 500.
    ctx.state.add_users_to_room(ctx.user_id, room["_id"], _usernames(users))
    return {"channel": room_view(ctx.state.rooms[room["_id"]])}


def groups_invite(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    id_or_name = str(body.get("roomId") or body.get("roomName") or "")
    if not id_or_name.strip():
        raise MeteorError("error-room-param-not-provided", 'The parameter "roomId" or "roomName" is required')
    state = ctx.state
    room = state.rooms.get(id_or_name) or state.room_doc_by_name(id_or_name)
    if not room or room["t"] != "p":
        raise MeteorError("error-room-not-found", _GROUP_NOT_FOUND)
    users = _user_list(ctx)
    if not users:
        raise MeteorError("error-empty-invite-list", "Cannot invite if no valid users are provided")
    state.add_users_to_room(ctx.user_id, room["_id"], _usernames(users))  # groups.ts: `.filter(isTruthy)` too
    return {"group": room_view(state.rooms[room["_id"]])}


def validate_channels_kick(ctx: Ctx) -> None:
    """isChannelsKickProps: oneOf {roomId,userId} | {roomName,userId}, no extra keys, no coercion."""
    check_one_of(ctx.body, [({"roomId": "string", "userId": "string"}, {}), ({"roomName": "string", "userId": "string"}, {})])


def validate_channels_list(ctx: Ctx) -> None:
    """isChannelsListProps: 7.x rest-typings make it additionalProperties:false (6.x's is open)."""
    if ctx.compat >= 7 and set(ctx.query) - {"_id", "query", "count", "offset", "sort", "fields"}:
        raise MeteorError("invalid-params", "must NOT have additional properties")


def _kick_target(ctx: Ctx) -> dict[str, Any]:
    """channels.ts / groups.ts kick: `if (!user?.username) return API.v1.failure('Invalid user')`."""
    user = get_user_from_params(ctx)
    if not user.get("username"):
        raise failure("Invalid user")
    return user


def channels_kick(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    user = _kick_target(ctx)
    ctx.state.remove_user_from_room(ctx.user_id, room["_id"], user["username"])
    return {"channel": room_view(ctx.state.rooms[room["_id"]])}


def groups_kick(ctx: Ctx) -> dict[str, Any]:
    room = find_group(ctx)
    user = _kick_target(ctx)
    ctx.state.remove_user_from_room(ctx.user_id, room["_id"], user["username"])
    return {}


def _leave(ctx: Ctx, room: dict[str, Any]) -> None:
    ctx.state.leave_room(ctx.user_id, room["_id"])


def channels_leave(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    _leave(ctx, room)
    return {"channel": room_view(ctx.state.rooms[room["_id"]])}


def groups_leave(ctx: Ctx) -> dict[str, Any]:
    _leave(ctx, find_group(ctx))
    return {}


# ------------------------------------------------------------------------------ room roles
def _room_role(kind: str, role: str, add: bool):
    def handler(ctx: Ctx) -> dict[str, Any]:
        room = find_channel(ctx) if kind == "c" else find_group(ctx)
        user = get_user_from_params(ctx)
        ctx.state.set_room_role_by(ctx.user_id, room["_id"], user["_id"], role, add)
        return {}

    return handler


def _roles(ctx: Ctx, room: dict[str, Any]) -> dict[str, Any]:
    """Method `getRoomRoles`: subscriptions holding any Subscriptions-scope role."""
    state = ctx.state
    if not state.can_access_room(room, ctx.user_id):
        raise MeteorError("error-not-allowed", "Not allowed", {"method": "getRoomRoles"})
    scoped = {r["_id"] for r in state.roles.values() if r["scope"] == "Subscriptions"}
    subs = [s for s in state.room_subscription_docs(room["_id"]) if scoped & set(s.get("roles", []))]
    subs.sort(key=lambda s: s["u"].get("username") or "")
    out = []
    for s in subs:
        u = {"_id": s["u"]["_id"], "username": s["u"]["username"]}
        if s["u"].get("name"):
            u["name"] = s["u"]["name"]
        out.append({"_id": s["_id"], "rid": s["rid"], "u": u, "roles": list(s["roles"])})
    return {"roles": out}


def channels_roles(ctx: Ctx) -> dict[str, Any]:
    # isChannelsRolesProps (validateParams since 6.0): roomId or roomName, nothing else.
    if not ({"roomId", "roomName"} & set(ctx.query)):
        raise MeteorError("invalid-params", "must match exactly one schema in oneOf")
    if set(ctx.query) - {"roomId", "roomName"}:
        raise MeteorError("invalid-params", "must NOT have additional properties")
    return _roles(ctx, find_channel(ctx, checked_archived=False))


def groups_roles(ctx: Ctx) -> dict[str, Any]:
    return _roles(ctx, find_group(ctx, checked_archived=False))


def channels_set_default(ctx: Ctx) -> dict[str, Any]:
    room = find_channel(ctx)
    value = ctx.body.get("default")
    # channels.ts swaps the two errorTypes; kept as upstream.
    if value is None:
        raise failure('The bodyParam "default" is required', "error-channels-setdefault-is-same")
    if room.get("default") == value:
        raise failure("The channel default setting is the same as what it would be changed to.", "error-channels-setdefault-missing-default-param")
    ctx.state.save_room_setting(ctx.user_id, room["_id"], "default", str(value).lower() in ("true", "1"))
    return {"channel": room_view(ctx.state.rooms[room["_id"]])}


# ------------------------------------------------------------------------------ listings
def _listing(ctx: Ctx, rooms: list[dict[str, Any]], key: str) -> dict[str, Any]:
    offset, count = paginate(ctx)
    rooms = sort_docs(rooms, parse_sort(ctx, {"name": 1}), ci_fields=())
    items = [room_view(r) for r in page(rooms, offset, count)]
    return {key: items, "count": len(items), "offset": offset, "total": len(rooms)}


def channels_list(ctx: Ctx) -> dict[str, Any]:
    state = ctx.state
    rooms = [r for r in state.rooms.values() if r["t"] == "c"]
    if not ctx.can("view-c-room"):
        if not ctx.can("view-joined-room"):
            raise forbidden()
        rooms = [r for r in rooms if state.subscription_doc(r["_id"], ctx.user_id)]
    rooms = [r for r in rooms if not r.get("teamId") or state.subscription_doc(r["_id"], ctx.user_id)]
    return _listing(ctx, rooms, "channels")


def channels_list_joined(ctx: Ctx) -> dict[str, Any]:
    state = ctx.state
    rooms = [state.rooms[s["rid"]] for s in state.user_subscription_docs(ctx.user_id) if s["t"] == "c" and s["rid"] in state.rooms]
    return _listing(ctx, rooms, "channels")


def groups_list(ctx: Ctx) -> dict[str, Any]:
    state = ctx.state
    rooms = [state.rooms[s["rid"]] for s in state.user_subscription_docs(ctx.user_id) if s["t"] == "p" and s["rid"] in state.rooms]
    return _listing(ctx, rooms, "groups")


def groups_list_all(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-room-administration"):
        raise forbidden() if ctx.compat == 6 else permission_denied()
    return _listing(ctx, [r for r in ctx.state.rooms.values() if r["t"] == "p"], "groups")


def subscriptions_get(ctx: Ctx) -> dict[str, Any]:
    if set(ctx.query) - {"updatedSince"}:  # isSubscriptionsGetProps, additionalProperties:false
        raise MeteorError("invalid-params", "must NOT have additional properties")
    state = ctx.state
    subs = state.user_subscription_docs(ctx.user_id)
    since_raw = ctx.query.get("updatedSince")
    if not since_raw:
        return {"update": [dict(s) for s in subs], "remove": []}
    try:
        since = datetime.fromisoformat(str(since_raw).replace("Z", "+00:00"))
        if since.tzinfo is None:
            raise ValueError
    except ValueError:
        raise MeteorError("error-roomId-param-invalid", 'The "lastUpdate" query parameter must be a valid date.')
    update = [dict(s) for s in subs if s["_updatedAt"] > since]
    remove = [{"_id": d["_id"], "_deletedAt": d["_deletedAt"]} for d in state.deleted_subscriptions
              if d["u"]["_id"] == ctx.user_id and d["_deletedAt"] > since]
    return {"update": update, "remove": remove}


def register_routes(routes: Routes) -> None:
    routes.add("channels.create", ["POST"], lambda ctx: _create(ctx, "c"))
    routes.add("groups.create", ["POST"], lambda ctx: _create(ctx, "p"))
    routes.add("channels.info", ["GET"], channels_info)
    routes.add("groups.info", ["GET"], groups_info)
    routes.add("rooms.info", ["GET"], rooms_info)
    routes.add("channels.members", ["GET"], channels_members)
    routes.add("groups.members", ["GET"], groups_members)
    routes.add("channels.invite", ["POST"], channels_invite)
    routes.add("groups.invite", ["POST"], groups_invite)
    routes.add("channels.kick", ["POST"], channels_kick, validator=validate_channels_kick)
    routes.add("groups.kick", ["POST"], groups_kick)
    routes.add("channels.leave", ["POST"], channels_leave, validator=room_one_of())
    routes.add("groups.leave", ["POST"], groups_leave)
    for kind, family in (("c", "channels"), ("p", "groups")):
        for role, label in (("moderator", "Moderator"), ("owner", "Owner"), ("leader", "Leader")):
            routes.add(f"{family}.add{label}", ["POST"], _room_role(kind, role, True))
            routes.add(f"{family}.remove{label}", ["POST"], _room_role(kind, role, False))
    routes.add("channels.roles", ["GET"], channels_roles)
    routes.add("groups.roles", ["GET"], groups_roles)
    routes.add("channels.setDefault", ["POST"], channels_set_default)
    routes.add("channels.list", ["GET"], channels_list, validator=validate_channels_list)
    routes.add("channels.list.joined", ["GET"], channels_list_joined)
    routes.add("groups.list", ["GET"], groups_list)
    routes.add("groups.listAll", ["GET"], groups_list_all)
    routes.add("subscriptions.get", ["GET"], subscriptions_get)
