"""How state documents look on the wire (REST JSON projections).

Dates become ISO strings with milliseconds and `Z` (Mongo dates through
`JSON.stringify`). Projections follow `app/api/server/api.ts`
(`defaultFieldsToExclude`, `limitedUserFieldsToExclude...`) and
`app/api/server/helpers/getUserInfo.ts`.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

ROOM_EXCLUDED = ("joinCode", "members", "importIds", "e2e")
USER_LIST_FIELDS = ("_id", "name", "username", "emails", "roles", "status", "active", "avatarETag", "lastLogin", "type")
USER_BASIC_FIELDS = (
    "_id", "name", "username", "nickname", "status", "utcOffset", "type", "active", "bio", "reason",
    "statusText", "avatarETag", "extension", "federated", "statusLivechat",
)
USER_FULL_EXTRA = (
    "emails", "phone", "statusConnection", "createdAt", "lastLogin", "requirePasswordChange",
    "requirePasswordChangeReason", "roles", "importIds", "freeSwitchExtension", "customFields",
)


# `isOAuthUser` of `@rocket.chat/core-typings` (IUser.ts): a built-in OAuth service key, or any key that is
# neither one of those nor an account-internal one, makes the user an OAuth user (so `services.besedka` does).
_DEFAULT_OAUTH_KEYS = frozenset(("google", "dolphin", "facebook", "github", "gitlab", "ldap", "linkedin", "nextcloud",
                                 "saml", "twitter"))
_USER_SERVICE_KEYS = frozenset(("emailCode", "email2fa", "totp", "resume", "password", "passwordHistory", "cloud", "email"))


def is_oauth_user(user: dict[str, Any]) -> bool:
    """Whether the user signs in through an OAuth service (core-typings `isOAuthUser`)."""
    keys = (user.get("services") or {}).keys()
    return any(k in _DEFAULT_OAUTH_KEYS or k not in _USER_SERVICE_KEYS for k in keys)


def iso(value: datetime) -> str:
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


#: Values that are their own JSON form and need no copy; checked by exact type first, because every
#: response goes through :func:`jsonable` and a users.list page is ~2,000 values (a million accounts
#: are 10,000 pages: the per-value cost was most of the stand-in's time per page).
_ATOMS = frozenset((str, int, float, bool, type(None)))


def jsonable(value: Any) -> Any:
    """Deep copy with datetimes as ISO strings."""
    t = type(value)
    if t in _ATOMS:
        return value
    if t is dict:
        return {k: v if type(v) in _ATOMS else jsonable(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [v if type(v) in _ATOMS else jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _plain_copy(value: Any) -> Any:
    """``copy.deepcopy`` for document values (dicts, lists, atoms, datetimes), without its memo:
    documents hold no shared or cyclic parts, and deepcopy's bookkeeping was a third of a page."""
    t = type(value)
    if t in _ATOMS or t is datetime:
        return value
    if t is dict:
        return {k: _plain_copy(v) for k, v in value.items()}
    if t is list:
        return [_plain_copy(v) for v in value]
    return copy.deepcopy(value)


def user_full(user: dict[str, Any]) -> dict[str, Any]:
    """A privileged caller's view of a user document: no services, no invite token."""
    return {k: copy.deepcopy(v) for k, v in user.items() if k not in ("services", "inviteToken", "__rooms")}


_USER_LIST_LIMITED = tuple(f for f in USER_LIST_FIELDS if f not in ("emails", "roles"))


def user_list_entry(user: dict[str, Any], privileged: bool) -> dict[str, Any]:
    fields = USER_LIST_FIELDS if privileged else _USER_LIST_LIMITED
    return {k: _plain_copy(user[k]) for k in fields if k in user}


# findPaginatedUsersByStatus's projection (users.listByStatus).
USER_BY_STATUS_FIELDS = ("_id", "name", "username", "emails", "roles", "status", "active", "avatarETag", "lastLogin", "type", "reason", "federated")
# users.presence's projection (`_id` always comes with a Mongo projection).
USER_PRESENCE_FIELDS = ("_id", "username", "name", "status", "utcOffset", "statusText", "avatarETag")
# findUsersOfRoomOrderedByRole's projection (rooms.membersOrderedByRole), `roles` added from the subscription.
MEMBER_BY_ROLE_FIELDS = ("_id", "name", "username", "nickname", "status", "avatarETag", "_updatedAt", "federated")
# adminFields (apps/meteor/lib/rooms/adminFields.ts): rooms.adminRooms and rooms.adminRooms.getRoom.
ADMIN_ROOM_FIELDS = (
    "_id", "prid", "fname", "name", "t", "cl", "u", "usersCount", "muted", "unmuted", "ro", "default",
    "favorite", "featured", "topic", "msgs", "archived", "teamId", "teamMain", "announcement",
    "description", "broadcast", "uids", "avatarETag",
)


def _pick(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: copy.deepcopy(doc[k]) for k in fields if k in doc}


def user_by_status(user: dict[str, Any]) -> dict[str, Any]:
    return _pick(user, USER_BY_STATUS_FIELDS)


def user_presence(user: dict[str, Any]) -> dict[str, Any]:
    return _pick(user, USER_PRESENCE_FIELDS)


def member_by_role(user: dict[str, Any], roles: list[str]) -> dict[str, Any]:
    out = _pick(user, MEMBER_BY_ROLE_FIELDS)
    if roles:  # `$arrayElemAt: ['$subscription.roles', 0]`: absent when the subscription has none
        out["roles"] = list(roles)
    return out


def admin_room(doc: dict[str, Any]) -> dict[str, Any]:
    return _pick(doc, ADMIN_ROOM_FIELDS)


def user_info(user: dict[str, Any], full: bool, is_self: bool) -> dict[str, Any]:
    fields = USER_BASIC_FIELDS + (USER_FULL_EXTRA if full else ())
    out = {k: copy.deepcopy(user[k]) for k in fields if k in user}
    if full:
        out["canViewAllInfo"] = True
    if is_self:
        services = {k: copy.deepcopy(v) for k, v in user.get("services", {}).items() if k not in ("resume", "emailCode")}
        if "password" in services:
            services["password"] = True
        if "totp" in services:
            services["totp"] = {"enabled": bool(services["totp"].get("enabled"))}
        out["services"] = services
    return out


def me(user: dict[str, Any], site_url: str) -> dict[str, Any]:
    """`GET me` body fields (`app/api/server/helpers/getUserInfo.ts`)."""
    fields = ("_id", "username", "name", "emails", "status", "statusConnection", "statusDefault", "statusText",
              "active", "roles", "utcOffset", "language", "requirePasswordChange", "customFields", "nickname", "bio",
              "_updatedAt", "avatarETag", "defaultRoom", "type", "lastLogin", "createdAt")
    out = {k: copy.deepcopy(user[k]) for k in fields if k in user}
    verified = next((e["address"] for e in user.get("emails", []) if e.get("verified")), None)
    if verified:
        out["email"] = verified
    out["settings"] = {"profile": {}, "preferences": copy.deepcopy(user.get("settings", {}).get("preferences", {}))}
    out["avatarUrl"] = f"{site_url.rstrip('/')}/avatar/{user.get('username')}"
    services: dict[str, Any] = {"password": {"exists": bool(user.get("services", {}).get("password"))}}
    if (user.get("services", {}).get("totp") or {}).get("enabled"):
        services["totp"] = {"enabled": True}
    if (user.get("services", {}).get("email2fa") or {}).get("enabled"):
        services["email2fa"] = {"enabled": True}
    out["services"] = services
    out["isOAuthUser"] = is_oauth_user(user)
    return out


def room(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in doc.items() if k not in ROOM_EXCLUDED}


def member(user: dict[str, Any]) -> dict[str, Any]:
    fields = ("_id", "username", "name", "nickname", "status", "avatarETag", "_updatedAt", "federated")
    return {k: copy.deepcopy(user[k]) for k in fields if k in user}


def role(doc: dict[str, Any], with_updated: bool = True) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in doc.items() if with_updated or k != "_updatedAt"}
