"""Moto-style set-up helpers and read-only views on the State, for tests and the seed.

They bypass permission checks on purpose (like moto's backend calls): tests arrange a
workspace directly and assert on it without HTTP. Views return deep copies.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable, NamedTuple

from .ids import random_ids
from .locking import locked


class BulkUser(NamedTuple):
    """One account for :meth:`HelpersMixin.bulk_create_users`: `create_user`'s arguments (no password,
    no 2FA) and the rooms it is in, each with its subscription roles."""

    user_id: str | None
    username: str
    name: str | None = None
    email: str | None = None
    roles: Iterable[str] = ("user",)
    active: bool = True
    verified: bool = True
    rooms: Iterable[tuple[str, Iterable[str]]] = ()  # (room id, subscription roles)


class HelpersMixin:
    """Mixed into `State`; `self` is the State."""

    # ------------------------------------------------------------------ public lookups (copies)
    @locked
    def find_user(self, user_id: str) -> dict[str, Any] | None:
        """The stored user document (a copy, `services` included) or None."""
        return copy.deepcopy(self.users.get(user_id))

    @locked
    def find_user_by_username(self, username: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.user_doc_by_username(username))

    @locked
    def find_user_by_email(self, email: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._user_by_email(email))

    @locked
    def find_room(self, rid: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.rooms.get(rid))

    @locked
    def find_room_by_name(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.room_doc_by_name(name))

    @locked
    def subscription(self, rid: str, username: str) -> dict[str, Any] | None:
        user = self.user_doc_by_username(username)
        return copy.deepcopy(self.subscription_doc(rid, user["_id"])) if user else None

    @locked
    def room_members(self, rid: str, include_inactive: bool = False) -> list[str]:
        """Usernames subscribed to the room, sorted; deactivated users only on request."""
        names = []
        for sub in self.room_subscription_docs(rid):
            user = self.users.get(sub["u"]["_id"])
            if user and (include_inactive or user.get("active")):
                names.append(user["username"])
        return sorted(names)

    @locked
    def user_roles(self, username: str) -> list[str]:
        user = self.user_doc_by_username(username)
        return list(user.get("roles", [])) if user else []

    @locked
    def room_roles(self, rid: str, username: str) -> list[str]:
        user = self.user_doc_by_username(username)
        sub = self.subscription_doc(rid, user["_id"]) if user else None
        return list(sub.get("roles", [])) if sub else []

    @locked
    def room_messages(self, rid: str, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Room history (system messages), oldest first, optionally filtered by `t`."""
        wanted = set(types) if types is not None else None
        return [copy.deepcopy(m) for m in self.messages.get(rid, []) if wanted is None or m.get("t") in wanted]

    @locked
    def usernames(self) -> list[str]:
        return sorted(u["username"] for u in self.users.values() if u.get("username"))

    # ------------------------------------------------------------------ set-up helpers (moto style)
    @locked
    def create_user(
        self,
        username: str,
        name: str | None = None,
        email: str | None = None,
        password: str | None = None,
        roles: Iterable[str] = ("user",),
        active: bool = True,
        verified: bool = True,
        totp_secret: str | None = None,
        email2fa: bool = False,
        user_type: str = "user",
        join_default_channels: bool = False,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Insert a user directly (no permission checks, no events except joins).

        `totp_secret` (base32) enables TOTP for the user; `email2fa` turns on
        email 2FA like `Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In`
        does for users created through `users.create`.
        """
        if self.user_doc_by_username_ci(username):
            raise ValueError(f"username {username!r} exists")
        if email and self._user_by_email(email):
            raise ValueError(f"email {email!r} exists")
        user = self._insert_user_doc(
            user_id=user_id,
            username=username,
            name=name if name is not None else username,
            email=email if email is not None else f"{username}@example.invalid",
            password=password,
            roles=list(roles),
            active=active,
            verified=verified,
            user_type=user_type,
        )
        if totp_secret:
            user["services"]["totp"] = {"enabled": True, "secret": totp_secret, "hashedBackup": []}
        if email2fa:
            user["services"]["email2fa"] = {"enabled": True, "changedAt": self.now()}
        if join_default_channels:
            self._join_default_channels(user, silenced=False)
        return copy.deepcopy(user)

    @locked
    def bulk_create_users(self, rows: Iterable[BulkUser]) -> int:
        """Seed many accounts at once: the same documents, indexes and listing order as `create_user`
        then `add_member` per room for each row, in row order, but with one timestamp, ids drawn in
        bulk, the sorted listings sorted once, and no events (nobody listens to a workspace being
        seeded). A million accounts in seconds rather than minutes. Returns the number inserted.

        Raises ValueError, like `create_user`, for a taken username, email or id and an unknown room;
        the rows before the offending one stay inserted."""
        now = self.now()
        users, pairs = [], []
        pool: list[str] = []
        try:
            for row in rows:
                username = row.username
                email = row.email if row.email is not None else f"{username}@example.invalid"
                if username.lower() in self._by_username:
                    raise ValueError(f"username {username!r} exists")
                if email and email.lower() in self._by_email:
                    raise ValueError(f"email {email!r} exists")
                uid = row.user_id or self._new_id(self.users)
                if uid in self.users:
                    raise ValueError(f"user id {uid!r} exists")
                rooms = [(self.rooms[rid], roles) if rid in self.rooms else (None, rid) for rid, roles in row.rooms]
                missing = [rid for room, rid in rooms if room is None]
                if missing:
                    raise ValueError(f"no room {missing[0]!r}")
                user = self._user_document(uid, now, username=username,
                                           name=row.name if row.name is not None else username, email=email,
                                           bcrypt=None, roles=row.roles, active=row.active, verified=row.verified)
                self.users[uid] = user
                self._by_username[username.lower()] = uid
                if email:
                    self._by_email[email.lower()] = uid
                users.append(user)
                for room, roles in rooms:
                    rid = room["_id"]
                    if (rid, uid) in self._sub_index:
                        continue
                    if not pool:
                        pool = random_ids(4096)
                    sid = pool.pop()
                    while sid in self.subscriptions:
                        sid = self._new_id(self.subscriptions)
                    sub = self._subscription_document(sid, room, user, list(roles) or None, now)
                    self.subscriptions[sid] = sub
                    self._sub_index[(rid, uid)] = sid
                    self._subs_by_room.setdefault(rid, {})[sid] = None
                    self._subs_by_user.setdefault(uid, {})[sid] = None
                    pairs.append((sub, user))
                    user["__rooms"].append(rid)
                    room["usersCount"] = room.get("usersCount", 0) + 1
                    room["_updatedAt"] = now
        finally:
            self.listing.users_indexed(users)
            self.listing.members_added(pairs)
            self.users_version += 1
            self.subs_version += 1
        return len(users)

    @locked
    def create_room(
        self,
        name: str,
        room_type: str = "c",
        owner: str | None = None,
        members: Iterable[str] = (),
        default: bool = False,
        read_only: bool = False,
        room_id: str | None = None,
    ) -> dict[str, Any]:
        """Insert a room directly; `owner` (a username) is subscribed with role `owner`."""
        if room_type not in ("c", "p"):
            raise ValueError("room_type must be 'c' or 'p'")
        if self.room_doc_by_name(name):
            raise ValueError(f"room {name!r} exists")
        owner_doc = self.user_doc_by_username(owner) if owner else None
        if owner and not owner_doc:
            raise ValueError(f"no user {owner!r}")
        room = self._insert_room_doc(name, room_type, owner_doc, read_only=read_only, room_id=room_id)
        if default:
            room["default"] = True
        if owner_doc:
            self._subscribe(room, owner_doc, roles=["owner"])
        for username in members:
            if owner and username == owner:
                continue
            user = self.user_doc_by_username(username)
            if not user:
                raise ValueError(f"no user {username!r}")
            self._subscribe(room, user)
        return copy.deepcopy(room)

    @locked
    def add_member(self, rid: str, username: str, roles: Iterable[str] = (), system_message: bool = False) -> None:
        """Subscribe a user to a room directly (optionally posting a `uj` message)."""
        room, user = self.rooms[rid], self.user_doc_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        if self.subscription_doc(rid, user["_id"]):
            return
        self._subscribe(room, user, roles=list(roles))
        if system_message:
            self._system_message(room, "uj", user["username"], user)

    @locked
    def remove_member(self, rid: str, username: str) -> None:
        """Unsubscribe a user directly (no system message)."""
        user = self.user_doc_by_username(username)
        if user:
            self._unsubscribe(self.rooms[rid], user)

    @locked
    def set_room_role(self, rid: str, username: str, role: str, present: bool = True) -> None:
        """Add/remove a Subscriptions-scope role (`owner`, `moderator`, `leader`) on a membership."""
        user = self.user_doc_by_username(username)
        sub = self.subscription_doc(rid, user["_id"]) if user else None
        if not sub:
            raise ValueError(f"{username!r} is not in room {rid!r}")
        roles = sub.setdefault("roles", [])
        if present and role not in roles:
            roles.append(role)
        elif not present and role in roles:
            roles.remove(role)
        sub["_updatedAt"] = self.now()

    @locked
    def set_user_roles(self, username: str, roles: Iterable[str]) -> None:
        """Replace a user's global roles directly."""
        user = self.user_doc_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        user["roles"] = list(roles)
        user["_updatedAt"] = self.now()

    @locked
    def set_active(self, username: str, active: bool) -> None:
        """Flip `active` directly; deactivation removes all login tokens, as Rocket.Chat does."""
        user = self.user_doc_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        self._set_active_flag(user, active)
        if not active:
            user["services"]["resume"]["loginTokens"] = []
        user["_updatedAt"] = self.now()

    @locked
    def set_user_status(self, user_id: str, status: str, status_text: str | None = None) -> None:
        """Change presence and broadcast `user-status` (stream-notify-logged)."""
        user = self.users[user_id]
        user["status"] = status
        if status_text is not None:
            user["statusText"] = status_text
        connection = "offline" if status == "offline" else "online"
        if user.get("statusConnection") != connection:
            # The member listings sort connected people first: the user moves in each of their rooms.
            subs = self.user_subscription_docs(user_id)
            for sub in subs:
                self.listing.member_removed(sub, user)
            user["statusConnection"] = connection
            for sub in subs:
                self.listing.member_added(sub, user)
            self.users_version += 1
        code = {"offline": 0, "online": 1, "away": 2, "busy": 3}.get(status, 0)
        self.publish(
            "stream-notify-logged",
            "user-status",
            [[user["_id"], user["username"], code, user.get("statusText", ""), user.get("name"), list(user["roles"])]],
        )

    @locked
    def sent_email_codes(self, username: str) -> list[str]:
        """Email 2FA codes "sent" to a user, oldest first (the stand-in's outbox)."""
        return [m["code"] for m in self.outbox if m.get("username") == username and "code" in m]

