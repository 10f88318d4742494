"""In-memory backend of the stand-in (moto's `models.py`): all state and its rules, no HTTP.

One `State` holds users, rooms, subscriptions, roles, permissions, settings
and room message history. The server runs in a uvicorn thread while tests
set up and assert on the same object directly, so every public method takes
the one re-entrant lock. Public methods return deep copies: callers can never
mutate state behind the lock's back.

The rules live in mixins, one concern per module (`users.py`, `auth.py`,
`rooms.py`, `roles.py`), the moto-style set-up helpers and views in
`helpers.py`; this module is the store, the live lookups (public, for the
transports, which hold the lock), permission checks, document inserts and events.
"""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from typing import Any, Callable, Iterable

from .auth import AuthMixin
from .clock import Clock
from .errors import MeteorError
from .events import EventBus
from .helpers import HelpersMixin
from .indexes import ListingIndexes
from .ids import random_id
from .locking import locked
from .oauth import OAuthMixin
from .permission_rules import PermissionRulesMixin
from .permissions import permission_documents, role_documents, setting_permission_documents
from .queries import QueriesMixin
from .roles import RolesMixin
from .room_lifecycle import RoomLifecycleMixin
from .room_settings import RoomSettingsMixin
from .rooms import RoomsMixin
from .settings_store import SettingsStore
from .users import UsersMixin

class State(HelpersMixin, UsersMixin, AuthMixin, RoomsMixin, RoomSettingsMixin, RoomLifecycleMixin, QueriesMixin,
            RolesMixin, PermissionRulesMixin, OAuthMixin):
    """The whole fake workspace. See docs/fake-rocketchat.md for the helper API."""

    def __init__(self, *, compat: int = 7, clock: Clock | None = None) -> None:
        if compat not in (6, 7):
            raise ValueError("compat must be 6 or 7")
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.events = EventBus()
        self.compat = compat
        # Server environment switches Rocket.Chat reads from process env.
        self.env: dict[str, Any] = {"CREATE_TOKENS_FOR_USERS": False, "TEST_MODE": False}
        # Bumped whenever a user is inserted, deleted or renamed / a subscription is inserted or
        # removed (cache keys for sorted listings). Never reset, not even by an empty restart, so a
        # transport's cache keyed by them can never match a previous workspace's listing.
        self.users_version = 0
        self.subs_version = 0
        # Transports that keep per-workspace memory (REST limiter and caches, DDP sessions) and
        # settings watchers (`settings.watch`, e.g. the limiters) register here; both outlive a
        # `wipe()`.
        self._wipe_hooks: list[Callable[[], None]] = []
        self._setting_watchers: list[Callable[[str, Any], None]] = []
        self._init_storage()

    def _init_storage(self) -> None:
        """Empty collections, then what Rocket.Chat writes on a first start (`_bootstrap`)."""
        self.settings = SettingsStore()
        self.users: dict[str, dict[str, Any]] = {}
        self.rooms: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        # Indexes (Mongo's unique indexes, in effect): keep lookups O(1) at 100k users.
        # Maintained by _index_user/_unindex_user and _subscribe/_unsubscribe only.
        self._sub_index: dict[tuple[str, str], str] = {}
        self._subs_by_room: dict[str, dict[str, None]] = {}
        self._subs_by_user: dict[str, dict[str, None]] = {}
        self._by_username: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        self.listing = ListingIndexes()  # sorted users / active members, for O(log n + page) listings
        self.users_version += 1
        self.subs_version += 1
        self.deleted_subscriptions: list[dict[str, Any]] = []
        self.roles: dict[str, dict[str, Any]] = {}
        self.deleted_roles: list[dict[str, Any]] = []
        self.permissions: dict[str, dict[str, Any]] = {}
        self.deleted_permissions: list[dict[str, Any]] = []
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.outbox: list[dict[str, Any]] = []
        self._bootstrap()

    # ------------------------------------------------------------------ bootstrap
    def _bootstrap(self) -> None:
        now = self.clock.now()
        self.roles = role_documents(now)
        self.permissions = permission_documents(now, self.settings.specs())
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

    def rebuild_indexes(self) -> None:
        """Rebuild every index from the stored documents (after loading a data file)."""
        with self.lock:
            self._sub_index, self._subs_by_room, self._subs_by_user = {}, {}, {}
            self._by_username, self._by_email = {}, {}
            self.listing = ListingIndexes()
            for user in self.users.values():
                self._index_user(user)
            for sub in self.subscriptions.values():
                rid, uid = sub["rid"], sub["u"]["_id"]
                self._sub_index[(rid, uid)] = sub["_id"]
                self._subs_by_room.setdefault(rid, {})[sub["_id"]] = None
                self._subs_by_user.setdefault(uid, {})[sub["_id"]] = None
                if uid in self.users:
                    self.listing.member_added(sub, self.users[uid])
            self.users_version += 1
            self.subs_version += 1

    # ------------------------------------------------------------------ basics
    def now(self) -> datetime:
        return self.clock.now()

    def setting(self, setting_id: str) -> Any:
        """Current value of a modelled setting."""
        with self.lock:
            return self.settings.get(setting_id)

    @locked
    def set_setting(self, setting_id: str, value: Any) -> None:
        """Change a setting (no permission or type checks, as the 7.x REST route), then tell the
        watchers (`settings.watch`: the REST and DDP limiters follow their settings live)."""
        self.settings.set(setting_id, value)
        for watcher in list(self._setting_watchers):
            watcher(setting_id, self.settings.get(setting_id))

    def watch_settings(self, watcher: Callable[[str, Any], None]) -> None:
        """Call `watcher(id, value)` after every setting change (survives `wipe()`)."""
        with self.lock:
            self._setting_watchers.append(watcher)

    @locked
    def add_custom_oauth_service(self, name: str) -> list[str]:
        """`addOAuthService(name)` without the permission check: register the service's settings block
        (existing ids keep their values) and their `change-setting-*` permissions; returns the new ids."""
        added = self.settings.register_custom_oauth(name)
        now = self.now()
        for setting_id in added:
            spec = self.settings.spec(setting_id)
            if spec is not None:
                self.permissions.update(setting_permission_documents(now, spec))
        return added

    # ------------------------------------------------------------------ empty restart
    def on_wipe(self, hook: Callable[[], None]) -> None:
        """Run `hook()` after every `wipe()` (transports drop sessions, limiter counters, caches)."""
        with self.lock:
            self._wipe_hooks.append(hook)

    def wipe(self) -> None:
        """Come back EMPTY, as a Rocket.Chat whose MongoDB volume was lost: only what a first start
        writes (GENERAL, rocket.cat, default settings, roles and permissions). Every token dies with its
        user; the hooks drop live DDP sessions. The caller re-creates start-option accounts."""
        with self.lock:
            self._init_storage()
            hooks = list(self._wipe_hooks)
        for hook in hooks:
            hook()

    def publish(self, stream: str, event_name: str, args: list[Any]) -> None:
        """Publish on the event bus (called with the lock held, so events keep state order)."""
        self.events.publish(stream, event_name, copy.deepcopy(args))

    # ------------------------------------------------------------------ live lookups (queries)
    # Index lookups returning the STORED documents, not copies: REST handlers and the DDP side
    # call them while holding `self.lock` (the REST pipeline does), read them and pass them back
    # to the rules; paging 100k users must not deep-copy each one. Tests use `find_*` (copies).
    def _user(self, user_id: str | None) -> dict[str, Any] | None:
        return self.users.get(user_id) if user_id else None

    def user_doc_by_username(self, username: str | None) -> dict[str, Any] | None:
        """The user whose username is exactly `username` (Mongo's `findOneByUsername`), or None."""
        user = self.user_doc_by_username_ci(username) if username else None
        return user if user is not None and user.get("username") == username else None

    def user_doc_by_username_ci(self, username: str) -> dict[str, Any] | None:
        """The user whose username matches ignoring case (`findOneByUsernameIgnoringCase`), or None."""
        uid = self._by_username.get(username.lower())
        return self.users.get(uid) if uid else None

    def _user_by_email(self, email: str | None) -> dict[str, Any] | None:
        uid = self._by_email.get(email.lower()) if email else None
        return self.users.get(uid) if uid else None

    def _index_user(self, user: dict[str, Any]) -> None:
        self.users_version += 1
        if user.get("username"):
            self._by_username[user["username"].lower()] = user["_id"]
        for entry in user.get("emails", []):
            self._by_email[entry["address"].lower()] = user["_id"]
        self.listing.user_indexed(user)
        for sub in self.user_subscription_docs(user["_id"]):
            self.listing.member_added(sub, user)

    def _unindex_user(self, user: dict[str, Any]) -> None:
        self.users_version += 1
        if user.get("username") and self._by_username.get(user["username"].lower()) == user["_id"]:
            del self._by_username[user["username"].lower()]
        for entry in user.get("emails", []):
            if self._by_email.get(entry["address"].lower()) == user["_id"]:
                del self._by_email[entry["address"].lower()]
        self.listing.user_unindexed(user)
        for sub in self.user_subscription_docs(user["_id"]):
            self.listing.member_removed(sub, user)

    def _set_active_flag(self, user: dict[str, Any], active: bool) -> None:
        """The one place `active` changes, so the active-members indexes follow."""
        subs = self.user_subscription_docs(user["_id"])
        for sub in subs:
            self.listing.member_removed(sub, user)
        user["active"] = bool(active)
        for sub in subs:
            self.listing.member_added(sub, user)

    def _room(self, rid: str | None) -> dict[str, Any] | None:
        return self.rooms.get(rid) if rid else None

    def room_doc_by_name(self, name: str | None) -> dict[str, Any] | None:
        """The room named exactly `name` (`Rooms.findOneByName`), or None."""
        if not name:
            return None
        for room in self.rooms.values():
            if room.get("name") == name:
                return room
        return None

    def subscription_doc(self, rid: str, uid: str) -> dict[str, Any] | None:
        """The user's subscription to the room (`findOneByRoomIdAndUserId`), or None: membership."""
        sid = self._sub_index.get((rid, uid))
        return self.subscriptions.get(sid) if sid else None

    def room_subscription_docs(self, rid: str) -> list[dict[str, Any]]:
        """Every subscription to the room (its members, deactivated ones included), join order."""
        return [self.subscriptions[sid] for sid in self._subs_by_room.get(rid, ())]

    def user_subscription_docs(self, uid: str) -> list[dict[str, Any]]:
        """Every subscription of the user (the rooms they are in), join order."""
        return [self.subscriptions[sid] for sid in self._subs_by_user.get(uid, ())]

    # ------------------------------------------------------------------ permissions
    def _roles_of(self, uid: str, rid: str | None = None) -> set[str]:
        user = self.users.get(uid)
        if not user:
            return set()
        roles = set(user.get("roles", []))
        if rid:
            sub = self.subscription_doc(rid, uid)
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

        uid = user_id or self._new_id(self.users)
        bcrypt = hash_password_digest(sha256_hex(password)) if password is not None else None
        user = self._user_document(uid, self.now(), username=username, name=name, email=email, bcrypt=bcrypt,
                                   roles=roles, active=active, verified=verified, user_type=user_type)
        self.users[uid] = user
        self._index_user(user)
        return user

    @staticmethod
    def _user_document(uid: str, now: datetime, *, username: str, name: str | None, email: str | None,
                       bcrypt: str | None, roles: Iterable[str], active: bool, verified: bool,
                       user_type: str = "user") -> dict[str, Any]:
        """A new user document (the one shape `_insert_user_doc` and `bulk_create_users` store)."""
        services: dict[str, Any] = {"resume": {"loginTokens": []}}
        if bcrypt is not None:
            services["password"] = {"bcrypt": bcrypt}
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
        existing = self.subscription_doc(room["_id"], user["_id"])
        if existing:
            return existing
        now = self.now()
        sub = self._subscription_document(self._new_id(self.subscriptions), room, user, roles, now)
        self.subscriptions[sub["_id"]] = sub
        self._sub_index[(room["_id"], user["_id"])] = sub["_id"]
        self._subs_by_room.setdefault(room["_id"], {})[sub["_id"]] = None
        self.subs_version += 1
        self._subs_by_user.setdefault(user["_id"], {})[sub["_id"]] = None
        self.listing.member_added(sub, user)
        if room["_id"] not in user["__rooms"]:
            user["__rooms"].append(room["_id"])
        room["usersCount"] = room.get("usersCount", 0) + 1
        room["_updatedAt"] = now
        uid = user["_id"]
        self.publish("stream-notify-user", f"{uid}/subscriptions-changed", ["inserted", sub])
        self.publish("stream-notify-user", f"{uid}/rooms-changed", ["inserted", room])
        return sub

    @staticmethod
    def _subscription_document(sid: str, room: dict[str, Any], user: dict[str, Any], roles: list[str] | None,
                               now: datetime) -> dict[str, Any]:
        """A new subscription document (the one shape `_subscribe` and `bulk_create_users` store)."""
        sub: dict[str, Any] = {
            "_id": sid,
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
        return sub

    def _unsubscribe(self, room: dict[str, Any], user: dict[str, Any]) -> bool:
        sub = self.subscription_doc(room["_id"], user["_id"])
        if not sub:
            return False
        del self.subscriptions[sub["_id"]]
        self.listing.member_removed(sub, user, gone=True)
        del self._sub_index[(room["_id"], user["_id"])]
        self._subs_by_room.get(room["_id"], {}).pop(sub["_id"], None)
        self.subs_version += 1
        self._subs_by_user.get(user["_id"], {}).pop(sub["_id"], None)
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
            if room.get("default") and room["t"] in ("c", "p") and not self.subscription_doc(room["_id"], user["_id"]):
                self._subscribe(room, user)
                if not silenced:
                    self._system_message(room, "uj", user["username"], user)

    def _check_error(self, condition: bool, error: str, reason: str = "", details: dict[str, Any] | None = None) -> None:
        if not condition:
            raise MeteorError(error, reason, details)
