"""Read-side rules of issue 11's listings: which documents a Rocket.Chat model query matches, and in what order.

The REST handlers parse parameters, page and project; what matches is decided here, next to the data,
like Rocket.Chat's model methods: `findPaginatedUsersByStatus` (`app/api/server/lib/users.ts`),
`Users.findNotOfflineByIds` / `findNotIdUpdatedFrom` / `findUsersNotOffline` (users.presence),
`findUsersOfRoomOrderedByRole` (`server/lib/findUsersOfRoomOrderedByRole.ts`),
`Rooms.findByNameOrFnameContainingAndTypes` (`findAdminRooms`, `app/api/server/lib/rooms.ts`) and the
counters of `channels.counters` / `groups.counters` (`app/api/server/v1/{channels,groups}.ts`).
They return the stored documents (live, called under `State.lock`), never copies: a page of 100k
users must not deep-copy each one.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .state import State

# ROOM_ROLE_PRIORITY_MAP (packages/core-typings/src/IRoom.ts): lower sorts first.
ROOM_ROLE_PRIORITY = {"owner": 0, "leader": 250, "moderator": 500}
DEFAULT_ROLE_PRIORITY = 10000
_DEFAULT_SEARCH_FIELDS = "username, name, bio, nickname"  # Accounts_SearchFields default


def _contains(text: str) -> re.Pattern[str]:
    """`new RegExp(escapeRegExp(text), 'i')`."""
    return re.compile(re.escape(text), re.I)


def _status_key(user: dict[str, Any]) -> tuple[int, str]:
    """`statusSortKey: -1` with offline mapped to null: online > busy > away, offline last."""
    status = user.get("status") or "offline"
    if status == "offline":
        return (1, "")
    return (0, "".join(chr(0x10FFFF - ord(c)) for c in status))  # descending string order


class QueriesMixin:
    """Mixed into `State`; `self` is the State. Call with `self.lock` held (the REST pipeline holds it)."""

    # ---------------------------------------------------------------- users
    def users_by_status(
        self: "State",
        *,
        status: str | None = None,
        has_logged_in: bool | None = None,
        user_type: str | None = None,
        roles: Iterable[str] = (),
        search_term: str = "",
        search_emails: bool = False,
    ) -> list[dict[str, Any]]:
        """`findPaginatedUsersByStatus`'s match: active/deactivated, `lastLogin` exists, `type`, any of
        `roles` (unless `all`), `searchTerm` in username or name (and e-mail for `view-full-other-user-info`)."""
        roles = [r for r in roles]
        pattern = _contains(search_term.strip()) if search_term.strip() else None
        out = []
        for user in self.users.values():
            if status == "active" and not user.get("active"):
                continue
            if status == "deactivated" and user.get("active"):
                continue
            if has_logged_in is not None and ("lastLogin" in user) != has_logged_in:
                continue
            if user_type and user.get("type") != user_type:
                continue
            if roles and "all" not in roles and not set(roles) & set(user.get("roles", [])):
                continue
            if pattern is not None:
                haystack = [user.get("username") or "", user.get("name") or ""]
                if search_emails:
                    haystack += [e["address"] for e in user.get("emails", [])]
                if not any(pattern.search(h) for h in haystack):
                    continue
            out.append(user)
        return out

    def users_not_offline(self: "State", ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """`Users.findNotOfflineByIds(ids)` / `findUsersNotOffline()`."""
        users = [self.users[i] for i in ids if i in self.users] if ids is not None else list(self.users.values())
        return [u for u in users if (u.get("status") or "offline") != "offline"]

    def users_updated_since(self: "State", since: datetime, exclude_uid: str | None) -> list[dict[str, Any]]:
        """`Users.findNotIdUpdatedFrom(uid, from)`: everybody else changed after `since`."""
        return [u for u in self.users.values() if u["_id"] != exclude_uid and u.get("_updatedAt") and u["_updatedAt"] > since]

    # ---------------------------------------------------------------- rooms
    def room_members_by_role(
        self: "State", rid: str, *, statuses: Iterable[str] | None = None, text: str = "", sort: dict[str, int] | None = None,
    ) -> list[tuple[dict[str, Any], list[str]]]:
        """`findUsersOfRoomOrderedByRole`: active members with a username, filtered by status and by
        `text` in the `Accounts_SearchFields`; sorted by room-role priority (`sort.rolePriority`, default 1),
        then online before offline, then `sort.username` or, by default, name with `UI_Use_Real_Name`
        else username. Each entry is (user, the subscription's roles)."""
        sort = sort or {}
        wanted = set(statuses) if statuses else None
        raw_fields = self.settings.get("Accounts_SearchFields") if "Accounts_SearchFields" in self.settings else _DEFAULT_SEARCH_FIELDS
        fields = [f.strip() for f in str(raw_fields).split(",") if f.strip()]
        pattern = _contains(text) if text else None
        rows: list[tuple[int, dict[str, Any], list[str]]] = []
        for sub in self.room_subscription_docs(rid):
            user = self.users.get(sub["u"]["_id"])
            if not user or not user.get("active") or not user.get("username"):
                continue
            if wanted is not None and user.get("status") not in wanted:
                continue
            if pattern is not None and not any(pattern.search(str(user.get(f) or "")) for f in fields):
                continue
            roles = list(sub.get("roles") or [])
            priority = min((ROOM_ROLE_PRIORITY.get(r, DEFAULT_ROLE_PRIORITY) for r in roles), default=DEFAULT_ROLE_PRIORITY)
            rows.append((priority, user, roles))
        if sort.get("username"):
            name_field, name_desc = "username", sort["username"] == -1
        else:
            name_field, name_desc = ("name" if self.settings.get("UI_Use_Real_Name") else "username"), False
        rows.sort(key=lambda r: str(r[1].get(name_field) or ""), reverse=name_desc)
        rows.sort(key=lambda r: _status_key(r[1]))
        rows.sort(key=lambda r: r[0], reverse=sort.get("rolePriority") == -1)
        return [(user, roles) for _, user, roles in rows]

    def admin_rooms(self: "State", types: Iterable[str] = (), text: str = "") -> list[dict[str, Any]]:
        """`Rooms.findByNameOrFnameContainingAndTypes`: `types` may add `discussions` and `teams`; without
        them discussions and team main rooms are left out; `text` in name or fname."""
        types = set(types)
        pattern = _contains(text.strip()) if text.strip() else None
        out = []
        for room in self.rooms.values():
            kinds = {room["t"]} | ({"discussions"} if room.get("prid") else set()) | ({"teams"} if room.get("teamMain") else set())
            if types and not kinds & types:
                continue
            if not types and (room.get("prid") or room.get("teamMain")):
                continue
            if pattern is not None and not (pattern.search(room.get("name") or "") or pattern.search(room.get("fname") or "")):
                continue
            out.append(room)
        return out

    def room_counters(self: "State", rid: str, user_id: str, privileged: bool) -> dict[str, Any]:
        """channels.counters / groups.counters: all null unless the user's subscription is open (then
        unreads since `ls`) or the caller has `view-room-administration` (`privileged`)."""
        room = self.rooms[rid]
        sub = self.subscription_doc(rid, user_id)
        latest = room.get("lm") or room["_updatedAt"]
        out: dict[str, Any] = {"joined": False, "members": None, "unreads": None, "unreadsFrom": None,
                               "msgs": None, "latest": None, "userMentions": None}
        if sub and sub.get("open"):
            since = sub.get("ls") or sub["ts"]
            out["unreads"] = sum(1 for m in self.messages.get(rid, ()) if since <= m["ts"] <= latest and not m.get("_hidden"))
            out["unreadsFrom"] = since
            out["userMentions"] = sub.get("userMentions", 0)
            out["joined"] = True
        if privileged or out["joined"]:
            out.update({"msgs": room.get("msgs", 0), "latest": latest, "members": room.get("usersCount", 0)})
        return out
