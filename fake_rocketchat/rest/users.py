"""`users.*` routes (`app/api/server/v1/users.ts`, reference §3)."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timezone
from typing import Any

from ..backend.errors import MeteorError, failure
from ..backend.views import user_by_status, user_full, user_info, user_list_entry, user_presence
from .base import Ctx, Routes, forbidden, page, paginate, parse_sort, permission_denied, sort_docs
from .validate import check

_CREATE_OPTIONAL = {
    "active": "boolean", "bio": "string", "nickname": "string", "statusText": "string", "roles": "array",
    "joinDefaultChannels": "boolean", "requirePasswordChange": "boolean", "setRandomPassword": "boolean",
    "sendWelcomeEmail": "boolean", "verified": "boolean", "customFields": "object", "fields": "string",
}
_UPDATE_DATA = {
    "email": "string", "name": "string", "password": "string", "username": "string", "active": "boolean",
    "bio": "string", "nickname": "string", "statusText": "string", "roles": "array", "joinDefaultChannels": "boolean",
    "requirePasswordChange": "boolean", "setRandomPassword": "boolean", "sendWelcomeEmail": "boolean",
    "verified": "boolean", "customFields": "object", "status": "string",
}


def _invalid_name(name: Any) -> bool:
    return isinstance(name, str) and any(c in name for c in "<>\\/")


def get_user_from_params(ctx: Ctx, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """`getUserFromParams`: userId, username or user; the stored doc (live)."""
    params = ctx.params if params is None else params
    state = ctx.state
    if params.get("userId"):
        user = state.users.get(str(params["userId"]).strip())
    elif params.get("username"):
        user = state.user_doc_by_username_ci(str(params["username"]).strip())
    elif params.get("user"):
        user = state.user_doc_by_username_ci(str(params["user"]).strip())
    else:
        raise MeteorError("error-user-param-not-provided", 'The required "userId" or "username" param was not provided')
    if not user:
        raise MeteorError("error-invalid-user", 'The required "userId" or "username" param provided does not match any users')
    return user


def create(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    check(body, {"email": "string", "name": "string", "password": "string", "username": "string"}, _CREATE_OPTIONAL)
    if ctx.compat >= 7 and _invalid_name(body.get("name")):
        raise failure("Name contains invalid characters")
    state = ctx.state
    data = {k: v for k, v in body.items() if k not in ("active", "fields")}
    uid = state.insert_user(ctx.user_id, data)
    if "active" in body:
        state.set_user_active_status(ctx.user_id, uid, bool(body["active"]))
    return {"user": user_full(state.users[uid])}


def validate_update(ctx: Ctx) -> None:
    """`isUsersUpdateParamsPOST` (validateParams: before the 2FA check)."""
    body = ctx.body
    data_schema = dict(_UPDATE_DATA)
    if ctx.compat >= 7:  # 7.0.0 removed joinDefaultChannels, added settings/language
        del data_schema["joinDefaultChannels"]
        data_schema.update({"settings": "object", "language": "string"})
    check(body, {"userId": "string", "data": "object"}, {"confirmRelinquish": "boolean"})
    check(body["data"], {}, data_schema, path="/data")
    if ctx.compat >= 7 and not body["userId"]:
        raise MeteorError("invalid-params", "/userId must NOT have fewer than 1 characters")


def update(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    data = dict(body["data"])
    data.pop("joinDefaultChannels", None)  # accepted but ignored on update (6.x)
    if ctx.compat >= 7 and _invalid_name(data.get("name")):
        raise failure("Name contains invalid characters")
    state = ctx.state
    if body["userId"] not in state.users:
        raise failure("User not found")
    state.update_user(ctx.user_id, body["userId"], data, bool(body.get("confirmRelinquish")))
    return {"user": user_full(state.users[body["userId"]])}


def info(ctx: Ctx) -> dict[str, Any]:
    q = ctx.query
    state = ctx.state
    # isUsersInfoParamsGetProps: oneOf userId | username | importId, plus `fields`
    # (7.x adds includeUserRooms), additionalProperties:false, checked by validateParams.
    keys = [k for k in ("userId", "username", "importId") if k in q]
    allowed = {"userId", "username", "importId", "fields"} | ({"includeUserRooms"} if ctx.compat >= 7 else set())
    if len(keys) != 1:
        raise MeteorError("invalid-params", "must match exactly one schema in oneOf")
    if set(q) - allowed:
        raise MeteorError("invalid-params", "must NOT have additional properties")
    # users.ts: the first non-empty of userId, username, importId; all empty -> "Invalid search query."
    if q.get("userId"):
        user = state.users.get(q["userId"])
    elif q.get("username"):
        user = state.user_doc_by_username(q["username"])
    elif q.get("importId"):
        user = next((u for u in state.users.values() if q["importId"] in u.get("importIds", [])), None)
    else:
        raise failure("Invalid search query.")
    if not user:
        raise failure("User not found.")
    is_self = user["_id"] == ctx.user_id
    full = is_self or ctx.can("view-full-other-user-info")
    out = user_info(user, full=full, is_self=is_self)
    fields = ctx.json_param("fields", {})
    # 7.x users.ts: `includeUserRooms === 'true'` only; 6.x: `fields={"userRooms":1}` only.
    if ctx.compat >= 7:
        wants_rooms = q.get("includeUserRooms") == "true"
    else:
        wants_rooms = isinstance(fields, dict) and fields.get("userRooms") == 1
    if wants_rooms and (is_self or ctx.can("view-other-user-channels")):
        out["rooms"] = _user_rooms(state.user_subscription_docs(user["_id"]))
    return {"user": out}


_ROOM_ENTRY_FIELDS = ("_id", "rid", "name", "t", "roles", "unread", "federated")


def _user_rooms(subs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """users.ts `Subscriptions.findByUserId(uid, {projection: {rid, name, t, roles, unread, federated},
    sort: {t: 1, name: 1}})`: a MongoDB projection, so each entry also carries the subscription's `_id`
    and holds only the fields the subscription has (`roles` and `federated` are often absent)."""
    entries = [{k: copy.deepcopy(s[k]) for k in _ROOM_ENTRY_FIELDS if k in s} for s in subs]
    return sorted(entries, key=lambda e: (e.get("t") or "", e.get("name") or ""))


def _match(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """The `query` subset users.list allows: `$or`, `$and`, `$regex` and equality."""
    for key, cond in query.items():
        if key == "$or":
            if not any(_match(doc, q) for q in cond):
                return False
        elif key == "$and":
            if not all(_match(doc, q) for q in cond):
                return False
        elif key.startswith("$"):
            raise MeteorError("error-invalid-query", "Invalid query")
        else:
            value: Any = doc
            for part in key.split("."):
                if isinstance(value, list):
                    value = [v.get(part) if isinstance(v, dict) else None for v in value]
                else:
                    value = value.get(part) if isinstance(value, dict) else None
            values = value if isinstance(value, list) else [value]
            if isinstance(cond, dict):
                for op, arg in cond.items():
                    if op == "$regex":
                        flags = re.I if "i" in str(cond.get("$options", "")) else 0
                        if not any(isinstance(v, str) and re.search(arg, v, flags) for v in values):
                            return False
                    elif op != "$options":
                        raise MeteorError("error-invalid-query", "Invalid query")
            elif cond not in values:
                return False
    return True


_STABLE_SORT_KEYS = {"username", "name", "_id", "createdAt"}


def _sorted_user_ids(ctx: Ctx, sort: list[tuple[str, int]]) -> list[str]:
    """All listable users in `sort` order; the order is cached while no user is added, removed
    or renamed, so paging through 100k users does not sort 100k documents per page."""
    state = ctx.state
    key = (state.users_version, tuple(sort))
    cached = ctx.cache.get("users-sorted")
    if cached is not None and cached[0] == key:
        ids = cached[1]
    else:
        docs = sort_docs([u for u in state.users.values() if u.get("type") != "visitor"], sort, ci_fields=("name",))
        ids = [u["_id"] for u in docs]
        if {k for k, _ in sort} <= _STABLE_SORT_KEYS:
            ctx.cache["users-sorted"] = (key, ids)
    return ids


def list_users(ctx: Ctx) -> dict[str, Any]:
    state = ctx.state
    if state.settings.get("API_Apply_permission_view-outside-room_on_users-list") and not ctx.can("view-outside-room"):
        raise forbidden()
    offset, count = paginate(ctx)
    sort = parse_sort(ctx, {"username": 1})
    query = ctx.json_param("query", {}) if ctx.compat == 6 else {}
    privileged = ctx.can("view-full-other-user-info")
    if not query and sort == [("username", 1)]:
        # The default order comes from the maintained username index: a page costs O(page), not a
        # sort of every user (no route creates `visitor` users, so the index holds listable users only).
        index = state.listing.users
        items = [user_list_entry(state.users[i], privileged) for i in index.page(offset, count)]
        return {"users": items, "count": len(items), "offset": offset, "total": len(index)}
    if query:
        docs = sort_docs([u for u in state.users.values() if u.get("type") != "visitor" and _match(u, query)], sort, ci_fields=("name",))
        ids = [u["_id"] for u in docs]
    else:
        ids = _sorted_user_ids(ctx, sort)
    items = [user_list_entry(state.users[i], privileged) for i in page(ids, offset, count)]
    return {"users": items, "count": len(items), "offset": offset, "total": len(ids)}


def set_active_status(ctx: Ctx) -> dict[str, Any]:
    check(ctx.body, {"userId": "string", "activeStatus": "boolean"}, {"confirmRelinquish": "boolean"})
    if not ctx.state.has_any_permission(ctx.user_id, ("edit-other-user-active-status", "manage-moderation-actions")):
        raise forbidden() if ctx.compat == 6 else permission_denied()
    state = ctx.state
    uid = ctx.body["userId"]
    if uid not in state.users:
        raise failure("User not found")
    state.set_user_active_status(ctx.user_id, uid, ctx.body["activeStatus"], bool(ctx.body.get("confirmRelinquish")))
    return {"user": {"_id": uid, "active": state.users[uid]["active"]}}


def delete(ctx: Ctx) -> dict[str, Any]:
    if not ctx.can("delete-user"):
        raise forbidden() if ctx.compat == 6 else permission_denied()
    user = get_user_from_params(ctx)
    ctx.state.delete_user(ctx.user_id, user["_id"], bool(ctx.body.get("confirmRelinquish")))
    return {}


def generate_pat(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("tokenName")
    if not name:
        raise failure("The 'tokenName' param is required")
    token = ctx.state.generate_personal_access_token(ctx.user_id, str(name), bool(ctx.body.get("bypassTwoFactor")))
    return {"token": token}


def regenerate_pat(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("tokenName")
    if not name:
        raise failure("The 'tokenName' param is required")
    return {"token": ctx.state.regenerate_personal_access_token(ctx.user_id, str(name))}  # type: ignore[arg-type]


def remove_pat(ctx: Ctx) -> dict[str, Any]:
    name = ctx.body.get("tokenName")
    if not name:
        raise failure("The 'tokenName' param is required")
    ctx.state.remove_personal_access_token(ctx.user_id, str(name))
    return {}


def get_pats(ctx: Ctx) -> dict[str, Any]:
    # 7.x checks `permissionsRequired` on the route (403); 6.x threw inside the handler.
    if not ctx.can("create-personal-access-tokens"):
        raise MeteorError("not-authorized", "Not Authorized")
    return {"tokens": ctx.state.list_personal_access_tokens(ctx.user_id)}


def create_token(ctx: Ctx) -> dict[str, Any]:
    """Deprecated `users.createToken`: only with env CREATE_TOKENS_FOR_USERS=true."""
    state = ctx.state
    user = get_user_from_params(ctx)
    if not state.env.get("CREATE_TOKENS_FOR_USERS") or (user["_id"] != ctx.user_id and not ctx.can("user-generate-access-token")):
        raise MeteorError("error-not-authorized", "Not authorized", {"method": "createToken"})
    return {"data": {"userId": user["_id"], "authToken": state.issue_login_token(user["_id"])}}


def get_presence(ctx: Ctx) -> dict[str, Any]:
    user = get_user_from_params(ctx) if (ctx.query.get("userId") or ctx.query.get("username")) else ctx.user
    out: dict[str, Any] = {"presence": user.get("status", "offline")}
    if user["_id"] == ctx.user_id:
        out["connectionStatus"] = user.get("statusConnection", "offline")
        out["lastLogin"] = user.get("lastLogin")
    return out


def check_username(ctx: Ctx) -> dict[str, Any]:
    username = ctx.query.get("username")
    if not username:
        raise failure('The "username" param is required')
    try:
        return {"result": ctx.state.check_username_availability(username)}
    except MeteorError:
        return {"result": False}


# ------------------------------------------------------------------------------ listByStatus / presence
_LIST_STATUS_TYPES = {"status": "string", "hasLoggedIn": "boolean", "type": "string", "roles": "array",
                      "searchTerm": "string", "sort": "string", "count": "number", "offset": "number"}


def validate_list_by_status(ctx: Ctx) -> None:
    """isUsersListStatusProps (additionalProperties:false; ajv coerceTypes turns query strings into
    numbers/booleans; `status` is `active` | `deactivated`)."""
    q = ctx.query
    if set(q) - set(_LIST_STATUS_TYPES):
        raise MeteorError("invalid-params", "must NOT have additional properties")
    if "status" in q and q["status"] not in ("active", "deactivated"):
        raise MeteorError("invalid-params", "/status must be equal to one of the allowed values")
    if "hasLoggedIn" in q and q["hasLoggedIn"] not in ("true", "false", "1", "0", ""):
        raise MeteorError("invalid-params", "/hasLoggedIn must be boolean")
    for key in ("count", "offset"):
        if key in q and not re.fullmatch(r"-?\d+(\.\d+)?", str(q[key])):
            raise MeteorError("invalid-params", f"/{key} must be number")
    if "roles" in q and not isinstance(q["roles"], list):
        raise MeteorError("invalid-params", "/roles must be array")


def list_by_status(ctx: Ctx) -> dict[str, Any]:
    """users.listByStatus: `findPaginatedUsersByStatus` (the match in `State.users_by_status`)."""
    state = ctx.state
    if state.settings.get("API_Apply_permission_view-outside-room_on_users-list") and not ctx.can("view-outside-room"):
        raise forbidden()
    offset, count = paginate(ctx)
    q = ctx.query
    sort = ctx.json_param("sort", {}) or {"username": 1}
    if not isinstance(sort, dict):
        raise MeteorError("error-invalid-sort", "Invalid sort parameter provided")
    if "status" in sort:  # `actualSort.active = sort.status`
        sort = {**sort, "active": sort["status"]}
    logged_in = {"true": True, "1": True}.get(q["hasLoggedIn"], False) if "hasLoggedIn" in q else None
    users = state.users_by_status(
        status=q.get("status"), has_logged_in=logged_in, user_type=q.get("type"), roles=q.get("roles") or [],
        search_term=str(q.get("searchTerm") or ""), search_emails=ctx.can("view-full-other-user-info"),
    )
    users = sort_docs(users, [(k, -1 if v == -1 else 1) for k, v in sort.items()], ci_fields=("name",))
    items = [user_by_status(user) for user in page(users, offset, count)]
    return {"users": items, "count": len(items), "offset": offset, "total": len(users)}


def presence(ctx: Ctx) -> dict[str, Any]:
    """users.presence: `ids` -> those not offline; `from` under 10 minutes ago -> the others changed
    since; else everybody not offline (`full: true`). `Presence_broadcast_disabled` -> nobody."""
    state = ctx.state
    if "Presence_broadcast_disabled" in state.settings and state.settings.get("Presence_broadcast_disabled"):
        return {"users": [], "full": True}
    ids = ctx.query.get("ids")
    if ids:
        wanted = ids if isinstance(ids, list) else str(ids).split(",")
        return {"users": [user_presence(u) for u in state.users_not_offline(wanted)], "full": False}
    since = _date_or_none(ctx.query.get("from"))
    if since is not None and (state.now() - since).total_seconds() / 60 < 10:
        return {"users": [user_presence(u) for u in state.users_updated_since(since, ctx.user_id)], "full": False}
    return {"users": [user_presence(u) for u in state.users_not_offline()], "full": True}


def _date_or_none(raw: Any) -> datetime | None:
    """`new Date(from)`; an unparsable date makes the 10-minute test false (NaN)."""
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def register_routes(routes: Routes) -> None:
    routes.add("users.create", ["POST"], create)
    routes.add("users.update", ["POST"], update, two_factor=True, validator=validate_update)
    routes.add("users.info", ["GET"], info)
    routes.add("users.list", ["GET"], list_users, permissions_required=("view-d-room",))
    routes.add("users.setActiveStatus", ["POST"], set_active_status)
    routes.add("users.delete", ["POST"], delete)
    routes.add("users.generatePersonalAccessToken", ["POST"], generate_pat, two_factor=True)
    routes.add("users.regeneratePersonalAccessToken", ["POST"], regenerate_pat, two_factor=True)
    routes.add("users.removePersonalAccessToken", ["POST"], remove_pat, two_factor=True)
    routes.add("users.getPersonalAccessTokens", ["GET"], get_pats, permissions_required=("create-personal-access-tokens",),
               permissions_required_compat=7)
    routes.add("users.listByStatus", ["GET"], list_by_status, permissions_required=("view-d-room",), validator=validate_list_by_status)
    routes.add("users.presence", ["GET"], presence)
    routes.add("users.createToken", ["POST"], create_token)
    routes.add("users.getPresence", ["GET"], get_presence)
    routes.add("users.checkUsernameAvailability", ["GET"], check_username)
