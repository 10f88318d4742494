"""User rules: insert/update (`saveUser`), registration, activation, deletion.

Follows `app/lib/server/functions/{saveUser.js,setUserActiveStatus.ts,deleteUser.ts,
checkUsernameAvailability.ts}` and `app/authentication/server/startup/index.js`
(insertUserDoc: email-2FA auto opt-in, first user becomes admin, default channels).
Methods here run under `State.lock` (the REST/DDP callers take it) and raise
`MeteorError` with Rocket.Chat's codes and reasons.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from .errors import MeteorError
from .ids import hash_password_digest, sha256_hex
from .settings_store import SYSTEM_BLOCKED_NAMES

if TYPE_CHECKING:
    from .state import State

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UsersMixin:
    """Mixed into `State`; `self` is the State."""

    # ---------------------------------------------------------------- validation
    def _name_pattern(self: "State", setting: str) -> re.Pattern[str]:
        try:
            return re.compile(f"^(?:{self.settings.get(setting)})$")
        except re.error:
            return re.compile(r"^[0-9a-zA-Z-_.]+$")

    def _is_blocked_username(self: "State", username: str) -> bool:
        blocked = {n.strip().lower() for n in str(self.settings.get("Accounts_BlockedUsernameList")).split(",") if n.strip()}
        blocked |= set(SYSTEM_BLOCKED_NAMES) | {"all", "here"}
        return username.lower() in blocked

    def is_valid_username(self: "State", username: str) -> bool:
        """`validateUsername`: the `UTF8_User_Names_Validation` pattern (app/lib/server/functions/validateUsername.ts)."""
        return bool(username) and bool(self._name_pattern("UTF8_User_Names_Validation").match(username))

    def check_username_availability(self: "State", username: str, exclude_uid: str | None = None) -> bool:
        """`checkUsernameAvailability`: blocked names throw, taken names return False."""
        if self._is_blocked_username(username):
            raise MeteorError(
                "error-blocked-username",
                f"{username} is blocked and can't be used!",
                {"method": "checkUsernameAvailability", "field": username},
            )
        other = self.user_doc_by_username_ci(username)
        if other and other["_id"] != exclude_uid:
            return False
        # A team name also collides; teams are rooms with `teamMain`.
        return not any(r.get("teamMain") and (r.get("name") or "").lower() == username.lower() for r in self.rooms.values())

    def _check_email(self: "State", email: str) -> None:
        if not _EMAIL_RE.match(email or ""):
            raise MeteorError("error-invalid-email", f"Invalid email {email}", {"function": "RocketChat.validateEmailDomain", "email": email})

    def _validate_user_data(self: "State", actor_id: str | None, data: dict[str, Any]) -> None:
        """`validateUserData` in saveUser.js, same order of checks."""
        target = data.get("_id")
        if target and actor_id != target and not self.has_permission(actor_id, "edit-other-user-info"):
            raise MeteorError("error-action-not-allowed", "Editing user is not allowed", {"method": "insertOrUpdateUser", "action": "Editing_user"})
        if not target and not self.has_permission(actor_id, "create-user"):
            raise MeteorError("error-action-not-allowed", "Adding user is not allowed", {"method": "insertOrUpdateUser", "action": "Adding_user"})
        roles = data.get("roles")
        if roles and any(r not in self.roles for r in roles):
            raise MeteorError("error-action-not-allowed", "The field Roles consist invalid role id", {"method": "insertOrUpdateUser", "action": "Assign_role"})
        if roles and "admin" in roles and not self.has_permission(actor_id, "assign-admin-role"):
            raise MeteorError("error-action-not-allowed", "Assigning admin is not allowed", {"method": "insertOrUpdateUser", "action": "Assign_admin"})
        if self.settings.get("Accounts_RequireNameForSignUp") and not target and not str(data.get("name") or "").strip():
            raise MeteorError("error-the-field-is-required", "The field Name is required", {"method": "insertOrUpdateUser", "field": "Name"})
        if not target and not str(data.get("username") or "").strip():
            raise MeteorError("error-the-field-is-required", "The field Username is required", {"method": "insertOrUpdateUser", "field": "Username"})
        username = data.get("username")
        if username and not self._name_pattern("UTF8_User_Names_Validation").match(username):
            raise MeteorError(
                "error-input-is-not-a-valid-field",
                f"{username} is not a valid username",
                {"method": "insertOrUpdateUser", "input": username, "field": "Username"},
            )
        if not target and not data.get("password") and not data.get("setRandomPassword"):
            raise MeteorError("error-the-field-is-required", "The field Password is required", {"method": "insertOrUpdateUser", "field": "Password"})
        if not target:
            if not self.check_username_availability(username):
                raise MeteorError("error-field-unavailable", f"{username} is already in use :(", {"method": "insertOrUpdateUser", "field": username})
            email = data.get("email")
            if email and self._user_by_email(email):
                raise MeteorError("error-field-unavailable", f"{email} is already in use :(", {"method": "insertOrUpdateUser", "field": email})

    def _has_admin(self: "State") -> bool:
        return any("admin" in u.get("roles", []) and u.get("type") == "user" for u in self.users.values())

    # ---------------------------------------------------------------- insert
    def _create_account(
        self: "State",
        *,
        username: str,
        email: str | None,
        password: str | None,
        roles: list[str],
        name: str | None,
        join_default_channels: bool,
        skip_admin_check: bool = False,
    ) -> dict[str, Any]:
        """`Accounts.createUser` + `insertUserDoc`: email 2FA opt-in, first user is admin, default rooms."""
        if email:
            self._check_email(email)
            if self._user_by_email(email):
                raise MeteorError(403, "Email already exists.")
        roles = list(roles)
        if not skip_admin_check and "admin" not in roles and not self._has_admin():
            roles.append("admin")
        user = self._insert_user_doc(
            user_id=None,
            username=username,
            name=name,
            email=email,
            password=password,
            roles=roles,
            active=True,
            verified=False,
        )
        if self.settings.get("Accounts_TwoFactorAuthentication_By_Email_Enabled") and self.settings.get(
            "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In"
        ):
            user["services"]["email2fa"] = {"enabled": True, "changedAt": self.now()}
        if join_default_channels:
            self._join_default_channels(user, silenced=False)
        return user

    def _default_roles(self: "State") -> list[str]:
        raw = str(self.settings.get("Accounts_Registration_Users_Default_Roles") or "")
        return [r.strip() for r in raw.split(",") if r.strip()]

    def insert_user(self: "State", actor_id: str | None, data: dict[str, Any]) -> str:
        """`saveUser` insert path (users.create, insertOrUpdateUser); returns the new id."""
        with self.lock:
            data = dict(data)
            self._validate_user_data(actor_id, data)
            if data.get("setRandomPassword"):
                data["password"] = sha256_hex(str(self.clock.time()))[:16]
                data["requirePasswordChange"] = True
            roles = data.get("roles") or self._default_roles()
            user = self._create_account(
                username=data["username"],
                email=data.get("email"),
                password=data.get("password"),
                roles=roles,
                name=data.get("name"),
                join_default_channels=data.get("joinDefaultChannels", True) is not False,
                skip_admin_check=True,
            )
            # saveNewUser $sets the roles after creation, overriding the admin bootstrap.
            user["roles"] = list(roles)
            if "requirePasswordChange" in data:
                user["requirePasswordChange"] = bool(data["requirePasswordChange"])
            if isinstance(data.get("verified"), bool) and user.get("emails"):
                user["emails"][0]["verified"] = data["verified"]
            self._apply_bio_nickname(user, data)
            for key in ("statusText", "customFields"):
                if key in data:
                    user[key] = copy.deepcopy(data[key])
            return user["_id"]

    def register_user(self: "State", username: str, email: str, password: str, name: str, secret_url: str | None = None) -> dict[str, Any]:
        """`registerUser` (users.register): public sign-up; the first user becomes admin. With
        `Accounts_RegistrationForm` = "Secret URL" only the right secret registers
        (app/lib/server/methods/registerUser.ts)."""
        with self.lock:
            form = self.settings.get("Accounts_RegistrationForm")
            if form == "Disabled":
                raise MeteorError("error-user-registration-disabled", "User registration is disabled", {"method": "registerUser"})
            if form == "Secret URL":
                expected = self.settings.get("Accounts_RegistrationForm_SecretURL") if "Accounts_RegistrationForm_SecretURL" in self.settings else None
                if not secret_url or secret_url != expected:
                    raise MeteorError("error-user-registration-secret", "User registration is only allowed via Secret URL", {"method": "registerUser"})
            self._check_email(email)
            if not self._name_pattern("UTF8_User_Names_Validation").match(username):
                raise MeteorError("username-invalid", f"{username} is not a valid username, use only letters, numbers, dots, hyphens and underscores")
            if not self.check_username_availability(username):
                raise MeteorError("error-field-unavailable", f"{username} is already in use :(", {"method": "setUsername", "field": username})
            user = self._create_account(
                username=username,
                email=email,
                password=password,
                roles=self._default_roles(),
                name=name,
                join_default_channels=True,
            )
            return copy.deepcopy(user)

    def _apply_bio_nickname(self: "State", user: dict[str, Any], data: dict[str, Any]) -> None:
        for key, limit, code in (("bio", 260, "error-bio-size-exceeded"), ("nickname", 120, "error-nickname-size-exceeded")):
            value = data.get(key)
            if value and str(value).strip():
                if len(value) > limit:
                    label = "Bio" if key == "bio" else "Nickname"
                    raise MeteorError(code, f"{label} size exceeds {limit} characters", {"method": "saveUserProfile"})
                user[key] = value
            else:
                user.pop(key, None)

    # ---------------------------------------------------------------- update
    def update_user(self: "State", actor_id: str | None, user_id: str, data: dict[str, Any], confirm_relinquish: bool = False) -> None:
        """`saveUser` update path plus users.update's `active` handling."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "insertOrUpdateUser"})
            data = dict(data)
            data["_id"] = user_id
            self._validate_user_data(actor_id, data)
            roles = data.get("roles")
            if roles is not None and sorted(roles) != sorted(user.get("roles", [])) and not self.has_permission(actor_id, "assign-roles"):
                raise MeteorError("error-action-not-allowed", "Assign roles is not allowed", {"method": "insertOrUpdateUser", "action": "Assign_role"})
            if "verified" in data and actor_id == user_id:
                raise MeteorError("error-action-not-allowed", "Editing email verification is not allowed", {"method": "insertOrUpdateUser", "action": "Editing_user"})
            if (
                data.get("username") not in (None, user.get("username"))  # an OAuth account may have none
                and not self.settings.get("Accounts_AllowUsernameChange")
                and (not self.has_permission(actor_id, "edit-other-user-info") or actor_id == user_id)
            ):
                raise MeteorError("error-action-not-allowed", "Edit username is not allowed", {"method": "insertOrUpdateUser", "action": "Update_user"})
            if "username" in data or "name" in data:
                self._save_identity(user, data.get("username"), data.get("name"))
            if isinstance(data.get("statusText"), str):
                user["statusText"] = data["statusText"]
            email = data.get("email")
            if email:
                self._set_email(user, email)
            password = str(data.get("password") or "").strip()
            if password and self.has_permission(actor_id, "edit-other-user-password"):
                user["services"]["password"] = {"bcrypt": hash_password_digest(sha256_hex(password))}
            self._apply_bio_nickname(user, data)
            if roles is not None:
                user["roles"] = list(roles)
            if "requirePasswordChange" in data:
                user["requirePasswordChange"] = bool(data["requirePasswordChange"])
            if isinstance(data.get("verified"), bool) and user.get("emails"):
                user["emails"][0]["verified"] = data["verified"]
            if "customFields" in data:
                user["customFields"] = copy.deepcopy(data["customFields"])
            for key in ("language", "settings"):
                if key in data:
                    user[key] = copy.deepcopy(data[key])
            user["_updatedAt"] = self.now()
            if "active" in data:
                self.set_user_active_status(actor_id, user_id, bool(data["active"]), confirm_relinquish)

    def _save_identity(self: "State", user: dict[str, Any], username: str | None, name: str | None) -> None:
        """`saveUserIdentity`: rename everywhere; an unavailable username is a bare failure."""
        old_username, old_name = user.get("username"), user.get("name")
        username_changed = username is not None and username != old_username
        name_changed = name is not None and name != old_name
        if username_changed:
            try:
                available = self.check_username_availability(username, exclude_uid=user["_id"])
            except MeteorError:
                available = False
            if not available:
                raise MeteorError("error-could-not-save-identity", "Could not save user identity", {"method": "saveUser"})
            self._unindex_user(user)
            user["username"] = username
            self._index_user(user)
        if name_changed:
            user["name"] = name
            self.users_version += 1
        if not (username_changed or name_changed):
            return
        for sub in self.user_subscription_docs(user["_id"]):
            sub["u"]["username"], sub["u"]["name"] = user["username"], user.get("name")
        for room in self.rooms.values():
            if room.get("u", {}).get("_id") == user["_id"]:
                room["u"]["username"] = user["username"]
        if username_changed or (name_changed and self.settings.get("UI_Use_Real_Name")):
            self.publish("stream-notify-logged", "Users:NameChanged", [{"_id": user["_id"], "name": user.get("name"), "username": user["username"]}])

    def _set_email(self: "State", user: dict[str, Any], email: str) -> None:
        self._check_email(email)
        if user.get("emails") and user["emails"][0]["address"] == email:
            return
        other = self._user_by_email(email)
        if other and other["_id"] != user["_id"]:
            raise MeteorError("error-field-unavailable", f"{email} is already in use :(", {"function": "_setEmail", "field": email})
        self._unindex_user(user)
        user["emails"] = [{"address": email, "verified": False}]
        self._index_user(user)

    # ---------------------------------------------------------------- activation / deletion
    def _single_owned_rooms(self: "State", uid: str) -> dict[str, list[dict[str, Any]]]:
        """`getUserSingleOwnedRooms`: rooms where the user is the only owner."""
        change, remove = [], []
        for sub in self.user_subscription_docs(uid):
            room = self.rooms.get(sub["rid"])
            if not room or room["t"] == "d" or "owner" not in sub.get("roles", []):
                continue
            subs = self.room_subscription_docs(room["_id"])
            owners = [s for s in subs if "owner" in s.get("roles", [])]
            if len(owners) != 1:
                continue
            if len(subs) == 1:
                remove.append(room)
            else:
                change.append(room)
        return {"shouldChangeOwner": change, "shouldBeRemoved": remove}

    def _check_last_owner(self: "State", uid: str, confirm_relinquish: bool) -> None:
        owned = self._single_owned_rooms(uid)
        if (owned["shouldChangeOwner"] or owned["shouldBeRemoved"]) and not confirm_relinquish:
            raise MeteorError(
                "user-last-owner",
                "",
                {
                    "shouldChangeOwner": [r["name"] for r in owned["shouldChangeOwner"]],
                    "shouldBeRemoved": [r["name"] for r in owned["shouldBeRemoved"]],
                },
            )
        self._relinquish(uid, owned)

    def _relinquish(self: "State", uid: str, owned: dict[str, list[dict[str, Any]]]) -> None:
        """`relinquishRoomOwnerships`: the oldest other member becomes owner; empty rooms go."""
        for room in owned["shouldChangeOwner"]:
            others = sorted((s for s in self.room_subscription_docs(room["_id"]) if s["u"]["_id"] != uid), key=lambda s: s["ts"])
            if others:
                others[0].setdefault("roles", [])
                if "owner" not in others[0]["roles"]:
                    others[0]["roles"].append("owner")
        for room in owned["shouldBeRemoved"]:
            self._delete_room(room["_id"])

    def _delete_room(self: "State", rid: str) -> None:
        room = self.rooms.get(rid)
        if not room:
            return
        for sub in self.room_subscription_docs(rid):
            user = self.users.get(sub["u"]["_id"])
            if user:
                self._unsubscribe(room, user)
        del self.rooms[rid]
        self._subs_by_room.pop(rid, None)
        self.listing.room_deleted(rid)
        self.messages.pop(rid, None)

    def set_user_active_status(self: "State", actor_id: str | None, user_id: str, active: bool, confirm_relinquish: bool = False) -> bool:
        """Method `setUserActiveStatus`: permission, last active admin, last owner, tokens removed."""
        with self.lock:
            if not self.has_permission(actor_id, "edit-other-user-active-status"):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "setUserActiveStatus"})
            user = self.users.get(user_id)
            if user is None:
                return False
            if user.get("username") is not None and not active:
                active_admins = sum(1 for u in self.users.values() if u.get("active") and "admin" in u.get("roles", []))
                if "admin" in user.get("roles", []) and active_admins == 1:
                    raise MeteorError(
                        "error-action-not-allowed",
                        "Leaving the app without an active admin is not allowed",
                        {"method": "removeUserFromRole", "action": "Remove_last_admin"},
                    )
                self._check_last_owner(user_id, confirm_relinquish)
            self._set_active_flag(user, active)
            if not active:
                user["services"]["resume"]["loginTokens"] = []
            user["_updatedAt"] = self.now()
            return True

    def delete_user(self: "State", actor_id: str | None, user_id: str, confirm_relinquish: bool = False) -> bool:
        """Method `deleteUser`: permission, rocket.cat, last admin, last owner; Users:Deleted."""
        with self.lock:
            if not self.has_permission(actor_id, "delete-user"):
                raise MeteorError("error-not-allowed", "Not allowed", {"method": "deleteUser"})
            user = self.users.get(user_id)
            if user is None:
                raise MeteorError("error-invalid-user", "Invalid user", {"method": "deleteUser"})
            if user["_id"] == "rocket.cat":
                raise MeteorError("error-action-not-allowed", "Deleting the rocket.cat user is not allowed", {"method": "deleteUser", "action": "Delete_user"})
            if user.get("type") == "app":
                raise MeteorError("error-cannot-delete-app-user", "Deleting app user is not allowed", {"method": "deleteUser"})
            admins = sum(1 for u in self.users.values() if "admin" in u.get("roles", []))
            if admins == 1 and "admin" in user.get("roles", []):
                raise MeteorError("error-action-not-allowed", "Leaving the app without admins is not allowed", {"method": "deleteUser", "action": "Remove_last_admin"})
            self._check_last_owner(user_id, confirm_relinquish)
            for sub in self.user_subscription_docs(user_id):
                room = self.rooms.get(sub["rid"])
                if room:
                    self._unsubscribe(room, user)
            self._unindex_user(user)
            del self.users[user_id]
            self.listing.user_deleted(user_id)
            self._subs_by_user.pop(user_id, None)
            erasure = self.settings.get("Message_ErasureType")
            if erasure == "Delete":
                self.publish("stream-notify-logged", "Users:Deleted", [{"userId": user_id, "messageErasureType": "Delete"}])
            elif erasure == "Unlink":
                cat = self.users["rocket.cat"]
                self.publish(
                    "stream-notify-logged",
                    "Users:Deleted",
                    [{"userId": user_id, "messageErasureType": "Unlink", "replaceByUser": {"_id": cat["_id"], "username": cat["username"], "alias": user["username"]}}],
                )
            return True
