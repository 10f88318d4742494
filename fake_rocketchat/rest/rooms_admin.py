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
from ..backend.views import admin_room, member_by_role
from .base import Ctx, Routes, page, paginate, parse_sort, sort_docs
from .room_lifecycle import unauthorized

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
    rows = state.room_members_by_role(room["_id"], statuses=q.get("status"), text=str(q.get("filter") or ""),
                                      sort=ctx.json_param("sort", {}) or {})
    members = [member_by_role(user, roles) for user, roles in page(rows, offset, count)]
    return {"members": members, "count": len(members), "offset": offset, "total": len(rows)}


def admin_rooms(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-room-administration"):
        raise failure("error-not-authorized")
    types = ctx.query.get("types") or []
    rooms = ctx.state.admin_rooms(types if isinstance(types, list) else [types], str(ctx.query.get("filter") or ""))
    offset, count = paginate(ctx)
    rooms = sort_docs(rooms, parse_sort(ctx, {"default": -1, "name": 1}), ci_fields=())
    items = [admin_room(r) for r in page(rooms, offset, count)]
    return {"rooms": items, "count": len(items), "offset": offset, "total": len(rooms)}


def admin_rooms_get_room(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("view-room-administration"):
        raise failure("error-not-authorized")
    room = ctx.state.rooms.get(str(ctx.query.get("rid") or ""))
    if not room:
        raise failure("not-allowed", "Not Allowed")
    return admin_room(room)


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
