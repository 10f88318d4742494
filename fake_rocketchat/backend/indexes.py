"""Sorted indexes behind the paged listings (`users.list`, `*.members`, `roles.getUsersInRole`).

Rocket.Chat answers these from MongoDB indexes; the stand-in used to sort every user per page request,
which made paging 100k users quadratic. These indexes are maintained on every insert, rename,
(de)activation, subscribe, unsubscribe and delete, so a page is a bisect plus a slice.

Ties keep insertion order (a sequence number), which is what the stable sort of the unindexed path
gives, so the wire order is identical either way.
"""

from __future__ import annotations

import bisect
import itertools
from typing import Any, Iterator

__all__ = ["SortedIds", "ListingIndexes", "username_key"]


def username_key(username: Any, fold_case: bool) -> tuple[int, str]:
    """The sort key `sort_docs` uses for a username: missing ones first; `*.members` folds case
    (its `ci_fields` include username), `users.list` does not."""
    if username is None:
        return (0, "")
    return (1, str(username).lower() if fold_case else str(username))


#: ``*.members`` sorts by ``statusConnection`` descending before the username
#: (``apps/meteor/server/lib/findUsersOfRoom.ts``); as strings: online, offline, busy, away, then none.
_CONNECTION_ORDER = {"online": 0, "offline": 1, "busy": 2, "away": 3}


def member_key(user: dict[str, Any]) -> tuple[int, tuple[int, str]]:
    """A member's place in Rocket.Chat's default member order: connected people first."""
    return _CONNECTION_ORDER.get(user.get("statusConnection"), 4), username_key(user.get("username"), True)


class SortedIds:
    """Ids in (key, sequence) order: O(log n) lookup, an insert/remove moves pointers only."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: list[tuple[tuple[int, str], int, str]] = []

    def add(self, key: tuple[int, str], seq: int, item_id: str) -> None:
        bisect.insort(self._entries, (key, seq, item_id))

    def remove(self, key: tuple[int, str], seq: int, item_id: str) -> None:
        entry = (key, seq, item_id)
        i = bisect.bisect_left(self._entries, entry)
        if i < len(self._entries) and self._entries[i] == entry:
            del self._entries[i]

    def add_many(self, entries: list[tuple[tuple[int, str], int, str]]) -> None:
        """File many (key, seq, id) at once: one sort (linear on sorted input) instead of an insort each."""
        self._entries.extend(entries)
        self._entries.sort()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return (e[2] for e in self._entries)

    def page(self, offset: int, count: int) -> list[str]:
        """Ids at [offset, offset+count) (count 0 = to the end), as `rest.base.page` slices."""
        chunk = self._entries[offset:] if count == 0 else self._entries[offset : offset + count]
        return [e[2] for e in chunk]


class ListingIndexes:
    """`users` by username (case-sensitive, users.list's default {username: 1}) and, per room, the
    *active* members by case-folded username (`*.members` hides deactivated users, reference §5.3).

    The State calls the hooks with its lock held; the indexes read the live documents they are given.
    """

    def __init__(self) -> None:
        self._seq = itertools.count()
        self.users = SortedIds()
        self._user_seq: dict[str, int] = {}
        self._indexed_username: dict[str, Any] = {}
        self._members: dict[str, SortedIds] = {}
        self._sub_seq: dict[str, int] = {}
        self._member_key: dict[str, tuple[int, str]] = {}  # sub id -> key it is filed under

    # --- users -----------------------------------------------------------------------------------
    def user_indexed(self, user: dict[str, Any]) -> None:
        """After insert or rename: (re)file the user; the sequence survives renames (dict order)."""
        uid = user["_id"]
        seq = self._user_seq.setdefault(uid, next(self._seq))
        self._indexed_username[uid] = user.get("username")
        self.users.add(username_key(user.get("username"), False), seq, uid)

    def users_indexed(self, users: list[dict[str, Any]]) -> None:
        """`user_indexed` for each of `users` (new ones, in insertion order), with one sort."""
        entries = []
        for user in users:
            uid = user["_id"]
            seq = self._user_seq.setdefault(uid, next(self._seq))
            self._indexed_username[uid] = user.get("username")
            entries.append((username_key(user.get("username"), False), seq, uid))
        self.users.add_many(entries)

    def user_unindexed(self, user: dict[str, Any]) -> None:
        """Before rename or delete (the document still has its old username)."""
        uid = user["_id"]
        if uid in self._indexed_username:
            self.users.remove(username_key(self._indexed_username.pop(uid), False), self._user_seq[uid], uid)

    def user_deleted(self, uid: str) -> None:
        self._user_seq.pop(uid, None)

    # --- room members ----------------------------------------------------------------------------
    def members(self, rid: str) -> SortedIds:
        return self._members.get(rid) or SortedIds()

    def member_added(self, sub: dict[str, Any], user: dict[str, Any]) -> None:
        """A subscription appeared, or its user was renamed or reactivated."""
        entry = self._member_entry(sub, user)
        if entry is not None:
            self._members.setdefault(sub["rid"], SortedIds()).add(*entry)

    def members_added(self, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """`member_added` for each (subscription, user) of `pairs` (in join order), with one sort per room."""
        per_room: dict[str, list[tuple[tuple[int, str], int, str]]] = {}
        for sub, user in pairs:
            entry = self._member_entry(sub, user)
            if entry is not None:
                per_room.setdefault(sub["rid"], []).append(entry)
        for rid, entries in per_room.items():
            self._members.setdefault(rid, SortedIds()).add_many(entries)

    def _member_entry(self, sub: dict[str, Any], user: dict[str, Any]) -> tuple[tuple[int, str], int, str] | None:
        """Record the subscription as listed and return its (sort key, join sequence, user id) entry;
        None when it is not listed (an inactive user) or already is."""
        sid = sub["_id"]
        if not user.get("active") or sid in self._member_key:
            return None
        seq = self._sub_seq.setdefault(sid, next(self._seq))
        key = member_key(user)
        self._member_key[sid] = key
        return key, seq, user["_id"]

    def member_removed(self, sub: dict[str, Any], user: dict[str, Any], *, gone: bool = False) -> None:
        """Before a rename or deactivation, or (`gone`) when the subscription is deleted."""
        sid = sub["_id"]
        key = self._member_key.pop(sid, None)
        if key is not None:
            self._members.get(sub["rid"], SortedIds()).remove(key, self._sub_seq[sid], user["_id"])
        if gone:
            self._sub_seq.pop(sid, None)

    def room_deleted(self, rid: str) -> None:
        self._members.pop(rid, None)
