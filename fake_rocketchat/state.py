"""In-memory backend of the stand-in (moto's `models.py`): all state and its rules, no HTTP.

One `State` holds users, rooms, subscriptions, roles, permissions, settings
and room message history. The server runs in a uvicorn thread while tests
set up and assert on the same object directly, so every public method takes
the one re-entrant lock. Public methods return deep copies: callers can never
mutate state behind the lock's back.

The rules live in mixins, one concern per module (`users.py`, `auth.py`,
`rooms.py`, `roles.py`); this module is the store, lookups, permission checks,
events and the moto-style set-up helpers tests use.
"""

from __future__ import annotations

import copy
import functools
import threading
from datetime import datetime
from typing import Any, Callable, Iterable, TypeVar

from .auth import AuthMixin
from .clock import Clock
from .errors import MeteorError
from .events import EventBus
from .ids import random_id
from .permissions import BUILTIN_ROLES, DEFAULT_PERMISSIONS
from .roles import RolesMixin
from .rooms import RoomsMixin
from .settings_store import SettingsStore
from .users import UsersMixin

F = TypeVar("F", bound=Callable[..., Any])


def locked(method: F) -> F:
    """Run the method under the state's RLock (re-entrant, so mixins may nest calls)."""

    @functools.wraps(method)
    def wrapper(self: "State", *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class State(UsersMixin, AuthMixin, RoomsMixin, RolesMixin):
    """The whole fake workspace. See docs/fake-rocketchat.md for the helper API."""

    def __init__(self, *, compat: int = 7, clock: Clock | None = None) -> None:
        if compat not in (6, 7):
            raise ValueError("compat must be 6 or 7")
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.events = EventBus()
        self.compat = compat
        self.settings = SettingsStore()
        # Server environment switches Rocket.Chat reads from process env.
        self.env: dict[str, Any] = {"CREATE_TOKENS_FOR_USERS": False, "TEST_MODE": False}
        self.users: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self._sub_index: dict[tuple[str, str], str] = {}
        self.deleted_subscriptions: list[dict[str, Any]] = []
        self.roles: dict[str, dict[str, Any]] = {}
        self.deleted_roles: list[dict[str, Any]] = []
        self.permissions: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.outbox: list[dict[str, Any]] = []
        self._bootstrap()

    # ------------------------------------------------------------------ bootstrap
    def _bootstrap(self) -> None:
        now = self.clock.now()
        for role_id, scope, description in BUILTIN_ROLES:
            self.roles[role_id] = {
                "_id": role_id,
                "name": role_id,
                "scope": scope,
                "description": description,
                "protected": True,
                "mandatory2fa": False,
                "_updatedAt": now,
            }
        for perm_id, roles in DEFAULT_PERMISSIONS.items():
            self.permissions[perm_id] = {"_id": perm_id, "roles": list(roles), "_updatedAt": now}
        # server/startup/initialData.js: GENERAL and rocket.cat exist from the first start.
        self.rooms["GENERAL"] = {
            "_id": "GENERAL",
            "name": "general",
            "fname": "general",
            "t": "c",
            "msgs": 0,
            "usersCount": 0,
            "ts": now,
            "ro": False,
            "default": True,
            "sysMes": True,
            "_updatedAt": now,
        }
        self.messages["GENERAL"] = []
        self._insert_user_doc(
            user_id="rocket.cat",
            username="rocket.cat",
            name="Rocket.Cat",
            email=None,
            password=None,
            roles=["bot"],
            active=True,
            verified=True,
            user_type="bot",
        )

    # ------------------------------------------------------------------ basics
    def now(self) -> datetime:
        return self.clock.now()

    def setting(self, setting_id: str) -> Any:
        """Current value of a modelled setting."""
        with self.lock:
            return self.settings.get(setting_id)

    @locked
    def set_setting(self, setting_id: str, value: Any) -> None:
        """Change a setting (no permission or type checks; REST checks those)."""
        self.settings.set(setting_id, value)

    def publish(self, stream: str, event_name: str, args: list[Any]) -> None:
        """Publish on the event bus (called with the lock held, so events keep state order)."""
        self.events.publish(stream, event_name, copy.deepcopy(args))

    # ------------------------------------------------------------------ lookups (internal docs)
    def _user(self, user_id: str | None) -> dict[str, Any] | None:
        return self.users.get(user_id) if user_id else None

    def _user_by_username(self, username: str | None) -> dict[str, Any] | None:
        if not username:
            return None
        for user in self.users.values():
            if user.get("username") == username:
                return user
        return None

    def _user_by_username_ci(self, username: str) -> dict[str, Any] | None:
        low = username.lower()
        for user in self.users.values():
            if (user.get("username") or "").lower() == low:
                return user
        return None

    def _user_by_email(self, email: str | None) -> dict[str, Any] | None:
        if not email:
            return None
        low = email.lower()
        for user in self.users.values():
            for entry in user.get("emails", []):
                if entry["address"].lower() == low:
                    return user
        return None

    def _room(self, rid: str | None) -> dict[str, Any] | None:
        return self.rooms.get(rid) if rid else None

    def _room_by_name(self, name: str | None) -> dict[str, Any] | None:
        if not name:
            return None
        for room in self.rooms.values():
            if room.get("name") == name:
                return room
        return None

    def _sub(self, rid: str, uid: str) -> dict[str, Any] | None:
        sid = self._sub_index.get((rid, uid))
        return self.subscriptions.get(sid) if sid else None

    def _room_subs(self, rid: str) -> list[dict[str, Any]]:
        return [s for s in self.subscriptions.values() if s["rid"] == rid]

    def _user_subs(self, uid: str) -> list[dict[str, Any]]:
        return [s for s in self.subscriptions.values() if s["u"]["_id"] == uid]

    # ------------------------------------------------------------------ permissions
    def _roles_of(self, uid: str, rid: str | None = None) -> set[str]:
        user = self.users.get(uid)
        if not user:
            return set()
        roles = set(user.get("roles", []))
        if rid:
            sub = self._sub(rid, uid)
            if sub:
                roles |= set(sub.get("roles", []))
        return roles

    def has_permission(self, uid: str | None, permission: str, rid: str | None = None) -> bool:
        """`hasPermission(uid, permission, scope)`: global roles plus the room's subscription roles."""
        with self.lock:
            if not uid:
                return False
            perm = self.permissions.get(permission)
            if not perm:
                return False
            return bool(self._roles_of(uid, rid) & set(perm["roles"]))

    def has_any_permission(self, uid: str | None, permissions: Iterable[str], rid: str | None = None) -> bool:
        return any(self.has_permission(uid, p, rid) for p in permissions)

    @locked
    def grant_permission(self, permission: str, role: str) -> None:
        """Add `role` to a permission's grants (creates unknown permissions)."""
        perm = self.permissions.setdefault(permission, {"_id": permission, "roles": [], "_updatedAt": self.now()})
        if role not in perm["roles"]:
            perm["roles"].append(role)
            perm["_updatedAt"] = self.now()

    @locked
    def revoke_permission(self, permission: str, role: str) -> None:
        perm = self.permissions.get(permission)
        if perm and role in perm["roles"]:
            perm["roles"].remove(role)
            perm["_updatedAt"] = self.now()

    @locked
    def permission_roles(self, permission: str) -> list[str]:
        return list(self.permissions.get(permission, {}).get("roles", []))

    # ------------------------------------------------------------------ public lookups (copies)
    @locked
    def find_user(self, user_id: str) -> dict[str, Any] | None:
        """The stored user document (a copy, `services` included) or None."""
        return copy.deepcopy(self.users.get(user_id))

    @locked
    def find_user_by_username(self, username: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._user_by_username(username))

    @locked
    def find_user_by_email(self, email: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._user_by_email(email))

    @locked
    def find_room(self, rid: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.rooms.get(rid))

    @locked
    def find_room_by_name(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._room_by_name(name))

    @locked
    def subscription(self, rid: str, username: str) -> dict[str, Any] | None:
        user = self._user_by_username(username)
        return copy.deepcopy(self._sub(rid, user["_id"])) if user else None

    @locked
    def room_members(self, rid: str, include_inactive: bool = False) -> list[str]:
        """Usernames subscribed to the room, sorted; deactivated users only on request."""
        names = []
        for sub in self._room_subs(rid):
            user = self.users.get(sub["u"]["_id"])
            if user and (include_inactive or user.get("active")):
                names.append(user["username"])
        return sorted(names)

    @locked
    def user_roles(self, username: str) -> list[str]:
        user = self._user_by_username(username)
        return list(user.get("roles", [])) if user else []

    @locked
    def room_roles(self, rid: str, username: str) -> list[str]:
        user = self._user_by_username(username)
        sub = self._sub(rid, user["_id"]) if user else None
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
        if self._user_by_username_ci(username):
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
        if self._room_by_name(name):
            raise ValueError(f"room {name!r} exists")
        owner_doc = self._user_by_username(owner) if owner else None
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
            user = self._user_by_username(username)
            if not user:
                raise ValueError(f"no user {username!r}")
            self._subscribe(room, user)
        return copy.deepcopy(room)

    @locked
    def add_member(self, rid: str, username: str, roles: Iterable[str] = (), system_message: bool = False) -> None:
        """Subscribe a user to a room directly (optionally posting a `uj` message)."""
        room, user = self.rooms[rid], self._user_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        if self._sub(rid, user["_id"]):
            return
        self._subscribe(room, user, roles=list(roles))
        if system_message:
            self._system_message(room, "uj", user["username"], user)

    @locked
    def remove_member(self, rid: str, username: str) -> None:
        """Unsubscribe a user directly (no system message)."""
        user = self._user_by_username(username)
        if user:
            self._unsubscribe(self.rooms[rid], user)

    @locked
    def set_room_role(self, rid: str, username: str, role: str, present: bool = True) -> None:
        """Add/remove a Subscriptions-scope role (`owner`, `moderator`, `leader`) on a membership."""
        user = self._user_by_username(username)
        sub = self._sub(rid, user["_id"]) if user else None
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
        user = self._user_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        user["roles"] = list(roles)
        user["_updatedAt"] = self.now()

    @locked
    def set_active(self, username: str, active: bool) -> None:
        """Flip `active` directly; deactivation removes all login tokens, as Rocket.Chat does."""
        user = self._user_by_username(username)
        if not user:
            raise ValueError(f"no user {username!r}")
        user["active"] = bool(active)
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
        user["statusConnection"] = "offline" if status == "offline" else "online"
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

    # ------------------------------------------------------------------ documents
    def _new_id(self, taken: dict[str, Any]) -> str:
        while True:
            candidate = random_id()
            if candidate not in taken:
                return candidate

    def _insert_user_doc(
        self,
        *,
        user_id: str | None,
        username: str,
        name: str | None,
        email: str | None,
        password: str | None,
        roles: list[str],
        active: bool,
        verified: bool,
        user_type: str = "user",
    ) -> dict[str, Any]:
        from .ids import hash_password_digest, sha256_hex

        now = self.now()
        uid = user_id or self._new_id(self.users)
        services: dict[str, Any] = {"resume": {"loginTokens": []}}
        if password is not None:
            services["password"] = {"bcrypt": hash_password_digest(sha256_hex(password))}
        user: dict[str, Any] = {
            "_id": uid,
            "createdAt": now,
            "_updatedAt": now,
            "username": username,
            "name": name,
            "type": user_type,
            "status": "offline",
            "statusConnection": "offline",
            "active": bool(active),
            "roles": list(roles),
            "utcOffset": 0,
            "requirePasswordChange": False,
            "settings": {},
            "services": services,
            "__rooms": [],
        }
        if email:
            user["emails"] = [{"address": email, "verified": bool(verified)}]
        self.users[uid] = user
        return user

    def _insert_room_doc(
        self,
        name: str,
        room_type: str,
        owner: dict[str, Any] | None,
        *,
        read_only: bool = False,
        room_id: str | None = None,
    ) -> dict[str, Any]:
        now = self.now()
        rid = room_id or self._new_id(self.rooms)
        room: dict[str, Any] = {
            "_id": rid,
            "name": name,
            "fname": name,
            "t": room_type,
            "msgs": 0,
            "usersCount": 0,
            "ts": now,
            "ro": bool(read_only),
            "default": False,
            "sysMes": True,
            "_updatedAt": now,
        }
        if owner:
            room["u"] = {"_id": owner["_id"], "username": owner["username"]}
        self.rooms[rid] = room
        self.messages[rid] = []
        return room

    def _subscribe(self, room: dict[str, Any], user: dict[str, Any], roles: list[str] | None = None) -> dict[str, Any]:
        """Create the subscription, keep `__rooms`/usersCount, notify the user's own streams."""
        existing = self._sub(room["_id"], user["_id"])
        if existing:
            return existing
        now = self.now()
        sub: dict[str, Any] = {
            "_id": self._new_id(self.subscriptions),
            "rid": room["_id"],
            "u": {"_id": user["_id"], "username": user["username"], "name": user.get("name")},
            "t": room["t"],
            "name": room["name"],
            "fname": room.get("fname", room["name"]),
            "open": True,
            "alert": False,
            "unread": 0,
            "userMentions": 0,
            "groupMentions": 0,
            "ts": now,
            "ls": now,
            "_updatedAt": now,
        }
        if roles:
            sub["roles"] = list(roles)
        self.subscriptions[sub["_id"]] = sub
        self._sub_index[(room["_id"], user["_id"])] = sub["_id"]
        if room["_id"] not in user["__rooms"]:
            user["__rooms"].append(room["_id"])
        room["usersCount"] = room.get("usersCount", 0) + 1
        room["_updatedAt"] = now
        uid = user["_id"]
        self.publish("stream-notify-user", f"{uid}/subscriptions-changed", ["inserted", sub])
        self.publish("stream-notify-user", f"{uid}/rooms-changed", ["inserted", room])
        return sub

    def _unsubscribe(self, room: dict[str, Any], user: dict[str, Any]) -> bool:
        sub = self._sub(room["_id"], user["_id"])
        if not sub:
            return False
        del self.subscriptions[sub["_id"]]
        del self._sub_index[(room["_id"], user["_id"])]
        now = self.now()
        self.deleted_subscriptions.append({"_id": sub["_id"], "u": dict(sub["u"]), "rid": sub["rid"], "_deletedAt": now})
        if room["_id"] in user["__rooms"]:
            user["__rooms"].remove(room["_id"])
        room["usersCount"] = max(0, room.get("usersCount", 0) - 1)
        room["_updatedAt"] = now
        uid = user["_id"]
        removed = {"_id": sub["_id"], "u": {"_id": uid, "username": user["username"]}, "rid": room["_id"], "t": room["t"]}
        self.publish("stream-notify-user", f"{uid}/subscriptions-changed", ["removed", removed])
        self.publish("stream-notify-user", f"{uid}/rooms-changed", ["removed", room])
        return True

    def _system_message(
        self,
        room: dict[str, Any],
        msg_type: str,
        msg: str,
        actor: dict[str, Any] | None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Record a system message (uj/ul/au/ru/subscription-role-*) and stream it to the room."""
        now = self.now()
        actor = actor or self.users["rocket.cat"]
        message: dict[str, Any] = {
            "_id": random_id(),
            "t": msg_type,
            "rid": room["_id"],
            "ts": now,
            "msg": msg,
            "u": {"_id": actor["_id"], "username": actor["username"], "name": actor.get("name")},
            "groupable": False,
            "_updatedAt": now,
            **extra,
        }
        self.messages.setdefault(room["_id"], []).append(message)
        room["msgs"] = room.get("msgs", 0) + 1
        room["lastMessage"] = message
        room["_updatedAt"] = now
        self.publish("stream-room-messages", room["_id"], [message])
        return message

    def _join_default_channels(self, user: dict[str, Any], silenced: bool) -> None:
        """`joinDefaultChannels`: subscribe to every `default:true` room; `uj` unless silenced."""
        for room in list(self.rooms.values()):
            if room.get("default") and room["t"] in ("c", "p") and not self._sub(room["_id"], user["_id"]):
                self._subscribe(room, user)
                if not silenced:
                    self._system_message(room, "uj", user["username"], user)

    def _check_error(self, condition: bool, error: str, reason: str = "", details: dict[str, Any] | None = None) -> None:
        if not condition:
            raise MeteorError(error, reason, details)
