"""`rooms.membersOrderedByRole`, `rooms.adminRooms`, `rooms.delete` and `subscriptions.getOne`.

Sources: `app/api/server/v1/rooms.ts` (membersOrderedByRole since 7.3: validator
isRoomsMembersOrderedByRoleProps, `findRoomByIdOrName` without the archive check, no access -> 404,
only c/p rooms, broadcast rooms need `view-broadcast-member-list`), `server/lib/findUsersOfRoomOrderedByRole.ts`
(active members with a username, sorted by room-role priority, then online before offline, then
username, or name with `UI_Use_Real_Name`; `filter` matched against `Accounts_SearchFields`),
`app/api/server/lib/rooms.ts` `findAdminRooms` (`view-room-administration` else a plain
`Error('error-not-authorized')`, which api.ts answers as `failure(message)`), and
`app/api/server/v1/subscriptions.ts` (getOne: the caller's own subscription or `null`, never 404).
"""

from __future__ import annotations

import re
from typing import Any

from ..backend.errors import MeteorError, RestFailure, failure, not_found
from ..backend.views import room as room_view
from .base import Ctx, Routes, page, paginate, parse_sort, sort_docs
from .room_lifecycle import unauthorized

# ROOM_ROLE_PRIORITY_MAP (packages/core-typings/src/IRoom.ts): lower sorts first.
ROOM_ROLE_PRIORITY = {"owner": 0, "leader": 250, "moderator": 500}
DEFAULT_ROLE_PRIORITY = 10000
# findAdminRooms' projection (adminFields, app/api/server/lib/rooms.ts).
ADMIN_ROOM_FIELDS = (
    "_id", "prid", "fname", "name", "t", "cl", "u", "usersCount", "muted", "unmuted", "ro", "default",
    "favorite", "featured", "topic", "msgs", "archived", "teamId", "teamMain", "announcement",
    "description", "broadcast", "uids", "avatarETag",
)
_NO_ROOM = 'The required "roomId" or "roomName" param provided does not match any room'
_ENDPOINT_MISSING = RestFailure(404, {"status": "error", "message": "API endpoint does not exist"})


def _int_param(value: Any, name: str) -> None:
    if value is not None and not re.fullmatch(r"-?\d+", str(value)):
        raise MeteorError("invalid-params", f"/{name} must be integer")


def validate_members_ordered_by_role(ctx: Ctx) -> None:
    """isRoomsMembersOrderedByRoleProps (ajv coerceTypes: query strings become integers)."""
    if ctx.compat < 7:
        return  # no such route before 7.3: the handler answers 404
    q = ctx.query
    allowed = {"roomId", "roomName", "status", "filter", "count", "offset", "sort"}
    if set(q) - allowed:
        raise MeteorError("invalid-params", "must NOT have additional properties")
    if ("roomId" in q) == ("roomName" in q):
        raise MeteorError("invalid-params", "must match exactly one schema in oneOf")
    _int_param(q.get("count"), "count")
    _int_param(q.get("offset"), "offset")
    if "status" in q and not isinstance(q["status"], list):
        raise MeteorError("invalid-params", "/status must be array")


def _status_key(user: dict[str, Any]) -> tuple[int, str]:
    """`statusSortKey: -1` with offline mapped to null: online > busy > away, offline last."""
    status = user.get("status") or "offline"
    if status == "offline":
        return (1, "")
    return (0, "".join(chr(0x10FFFF - ord(c)) for c in status))  # descending string order


def members_ordered_by_role(ctx: Ctx) -> dict[str, Any]:
    if ctx.compat < 7:  # the route arrived in 7.3
        raise _ENDPOINT_MISSING
    state = ctx.state
    q = ctx.query
    room = state.rooms.get(q["roomId"]) if "roomId" in q else state.room_doc_by_name(q.get("roomName"))
    if not room or not state.can_access_room(room, ctx.user_id):
        raise not_found(_NO_ROOM)
    if room["t"] not in ("c", "p"):
        raise failure("error-room-type-not-supported")
    if room.get("broadcast") and not ctx.can("view-broadcast-member-list", room["_id"]):
        raise unauthorized(ctx)
    offset, count = paginate(ctx)
    sort = ctx.json_param("sort", {}) or {}
    statuses = q.get("status")
    text = str(q.get("filter") or "")
    fields = [f.strip() for f in str(state.settings.get("Accounts_SearchFields") if "Accounts_SearchFields" in state.settings
                                      else "username, name, bio, nickname").split(",") if f.strip()]
    rows = []
    for sub in state.room_subscription_docs(room["_id"]):
        user = state.users.get(sub["u"]["_id"])
        if not user or not user.get("active") or not user.get("username"):
            continue
        if statuses and user.get("status") not in statuses:
            continue
        if text and not any(re.search(re.escape(text), str(user.get(f) or ""), re.I) for f in fields):
            continue
        roles = sub.get("roles") or []
        priority = min((ROOM_ROLE_PRIORITY.get(r, DEFAULT_ROLE_PRIORITY) for r in roles), default=DEFAULT_ROLE_PRIORITY)
        rows.append((priority, user, roles))
    by_name = "username" if sort.get("username") or not state.settings.get("UI_Use_Real_Name") else "name"
    name_dir = -1 if sort.get("username") == -1 else 1
    rows.sort(key=lambda r: str(r[1].get(by_name) or ""), reverse=name_dir == -1)
    rows.sort(key=lambda r: _status_key(r[1]))
    rows.sort(key=lambda r: r[0], reverse=sort.get("rolePriority") == -1)
    members = []
    for _priority, user, roles in page(rows, offset, count):
        entry = {k: user[k] for k in ("_id", "name", "username", "nickname", "status", "avatarETag", "_updatedAt", "federated") if k in user}
        if roles:
            entry["roles"] = list(roles)
        members.append(entry)
    return {"members": members, "count": len(members), "offset": offset, "total": len(rows)}


_ADMIN_TYPES = {"c", "p", "d", "l", "discussions", "teams"}


def admin_rooms(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-room-administration"):
        raise failure("error-not-authorized")
    state = ctx.state
    types = ctx.query.get("types") or []
    types = types if isinstance(types, list) else [types]
    text = str(ctx.query.get("filter") or "")
    rooms = []
    for room in state.rooms.values():
        if types:
            kinds = {room["t"]} | ({"discussions"} if room.get("prid") else set()) | ({"teams"} if room.get("teamMain") else set())
            if not (kinds & set(types)):
                continue
        elif room.get("prid") or room.get("teamMain"):
            continue  # findAdminRooms: without the discussions/teams types they are left out
        if text and not re.search(re.escape(text), f"{room.get('name') or ''} {room.get('fname') or ''}", re.I):
            continue
        rooms.append(room)
    offset, count = paginate(ctx)
    rooms = sort_docs(rooms, parse_sort(ctx, {"default": -1, "name": 1}), ci_fields=())
    items = [{k: v for k, v in room_view(r).items() if k in ADMIN_ROOM_FIELDS} for r in page(rooms, offset, count)]
    return {"rooms": items, "count": len(items), "offset": offset, "total": len(rooms)}


def admin_rooms_get_room(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-room-administration"):
        raise failure("error-not-authorized")
    room = ctx.state.rooms.get(str(ctx.query.get("rid") or ""))
    if not room:
        raise failure("not-allowed", "Not Allowed")
    return {k: v for k, v in room_view(room).items() if k in ADMIN_ROOM_FIELDS}


def rooms_delete(ctx: Ctx) -> dict[str, Any]:
    rid = ctx.body.get("roomId")
    if not rid:
        raise failure("The 'roomId' param is required")
    ctx.state.erase_room(ctx.user_id, str(rid))  # type: ignore[arg-type]
    return {}


def validate_get_one(ctx: Ctx) -> None:
    """isSubscriptionsGetOneProps: `roomId` required, nothing else."""
    if "roomId" not in ctx.query:
        raise MeteorError("invalid-params", "must have required property 'roomId'")
    if set(ctx.query) - {"roomId"}:
        raise MeteorError("invalid-params", "must NOT have additional properties")


def subscriptions_get_one(ctx: Ctx) -> dict[str, Any]:
    sub = ctx.state.subscription_doc(ctx.query["roomId"], ctx.user_id)  # type: ignore[arg-type]
    return {"subscription": dict(sub) if sub else None}


def register_routes(routes: Routes) -> None:
    routes.add("rooms.membersOrderedByRole", ["GET"], members_ordered_by_role, validator=validate_members_ordered_by_role)
    routes.add("rooms.adminRooms", ["GET"], admin_rooms)
    routes.add("rooms.adminRooms.getRoom", ["GET"], admin_rooms_get_room)
    routes.add("rooms.delete", ["POST"], rooms_delete)
    routes.add("subscriptions.getOne", ["GET"], subscriptions_get_one, validator=validate_get_one)
