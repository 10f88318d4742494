"""Custom OAuth services and the login of a person through one (reference §11.1).

Why the stand-in models this: the site's people sign in through its own OAuth2 provider, so Rocket.Chat
accounts appear by login, and whether a login attaches to an account a provisioning client created, takes
it over or fails depends only on the service's settings. The provider round trip (authorize, token,
identity request) is not modelled: a login starts from the identity the provider would return.

Sources (`RocketChat/Rocket.Chat`, `apps/meteor/`, 7.x line, commit 7dd5655 where pinned):
* `server/lib/oauth/addOAuthService.ts`: `addOAuthService` needs `add-oauth-service` (`error-action-not-allowed`
  "Adding OAuth Services is not allowed"); registers `settings_registry.custom_oauth_settings(name)`.
* `server/lib/oauth/updateOAuthServices.ts`: a service exists only while `Accounts_OAuth_Custom-<Name>` is true;
  its key is the id suffix lower-cased.
* `app/custom-oauth/server/custom_oauth_server.js`: identity normalisation, `-username_field` / `-email_field` /
  `-name_field` through `fromTemplate` (`transform_helpers.ts`), and the hook run before Meteor's own lookup
  (`-key_field`, `-merge_users`, `-merge_users_distinct_services`, "User with username X already exists").
* Meteor `accounts-base` `updateOrCreateUserFromExternalService` / `insertUserDoc` ("must include id", the
  unique-index errors "Email already exists." / "Username already exists.").
* `app/authentication/server/startup/index.js`: `onCreateUser` (offline, `active` unless
  `Accounts_ManuallyApproveNewUsers`, emails verified per `Accounts_Verify_Email_For_External_Accounts`),
  `insertUserDoc` (roles from `Accounts_Registration_AuthenticationServices_Default_Roles`, the first user also
  gets `admin`, email 2FA auto opt-in, default channels), `validateNewUser`
  (`Accounts_Registration_AuthenticationServices_Enabled`), `validateLoginAttempt` (inactive users).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .auth import LoginResult
from .errors import MeteorError
from .locking import locked
from .settings_registry import CUSTOM_OAUTH_PREFIX, custom_oauth_base_id, custom_oauth_name, custom_oauth_service_key

if TYPE_CHECKING:
    from .state import State

# Keys `normalizeIdentity` tries, in order, when the identity has no `id`.
_ID_KEYS = ("id", "_id", "ID", "user_id", "sub", "userid")
# `getName`'s fallbacks when no `-name_field` is configured.
_NAME_KEYS = ("name", "username", "nickname", "CharacterName", "userName", "preferred_username")


class LoginFailure(Exception):
    """A plain JavaScript `Error` thrown during login (not a `Meteor.Error`): REST login renders it as
    `{"status":"error","message":<message>}` with no `error` key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceUnavailable(Exception):
    """No enabled Custom OAuth service of that name (Rocket.Chat would show no login button at all)."""


def from_template(template: str, data: dict[str, Any]) -> Any:
    """`fromTemplate`: a `{{path}}` template (each placeholder replaced) or a dot path into the identity."""
    def lookup(path: str) -> Any:
        value: Any = data
        for part in path.strip().split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value

    if "{{" in template:
        return re.sub(r"\{\{\s*([^}]+?)\s*\}\}", lambda m: str(lookup(m.group(1)) or ""), template)
    return lookup(template)


class OAuthMixin:
    """Mixed into `State`; `self` is the State."""

    # ---------------------------------------------------------------- services
    def add_oauth_service_by(self: "State", actor_id: str, name: str) -> list[str]:
        """Method `addOAuthService(name)`: permission check, then register the settings block."""
        with self.lock:
            if not self.has_permission(actor_id, "add-oauth-service"):
                raise MeteorError(
                    "error-action-not-allowed",
                    "Adding OAuth Services is not allowed",
                    {"method": "addOAuthService", "action": "Adding_OAuth_Services"},
                )
            return self.add_custom_oauth_service(name)

    def configure_custom_oauth(self: "State", name: str, **options: Any) -> str:
        """Set-up helper: register the service (as `settings.addCustomOAuth`), enable it and set options by
        suffix, e.g. `configure_custom_oauth("besedka", username_field="username", merge_users=True)`.
        Returns the service key (`services.<key>` on users)."""
        with self.lock:
            self.add_custom_oauth_service(name)
            base = custom_oauth_base_id(name)
            self.set_setting(base, options.pop("enabled", True))
            for suffix, value in options.items():
                setting_id = f"{base}-{suffix}"
                if setting_id not in self.settings:
                    raise KeyError(setting_id)
                self.set_setting(setting_id, value)
            return custom_oauth_service_key(name)

    def _custom_oauth(self: "State", name: str) -> dict[str, Any] | None:
        """The service's settings by suffix while it is enabled, else None (`updateOAuthServices`)."""
        base = custom_oauth_base_id(name)
        if base not in self.settings or not self.settings.get(base):
            return None
        prefix = base + "-"
        return {k[len(prefix):]: self.settings.get(k) for k in self.settings.ids() if k.startswith(prefix)}

    @locked
    def login_service_configurations(self: "State") -> list[dict[str, Any]]:
        """`settings.oauth`: one document per enabled custom service (`updateOAuthServices`), without `secret`."""
        out = []
        for setting_id in self.settings.ids():
            if not setting_id.startswith(CUSTOM_OAUTH_PREFIX) or "-" in setting_id[len(CUSTOM_OAUTH_PREFIX):]:
                continue
            name = setting_id[len(CUSTOM_OAUTH_PREFIX):]
            conf = self._custom_oauth(name)
            if conf is None:
                continue
            out.append({
                "_id": f"oauth-{name.lower()}", "service": name.lower(), "custom": True,
                "clientId": conf["id"], "serverURL": conf["url"], "tokenPath": conf["token_path"],
                "identityPath": conf["identity_path"], "authorizePath": conf["authorize_path"], "scope": conf["scope"],
                "loginStyle": conf["login_style"], "tokenSentVia": conf["token_sent_via"],
                "identityTokenSentVia": conf["identity_token_sent_via"], "keyField": conf["key_field"],
                "usernameField": conf["username_field"], "emailField": conf["email_field"],
                "nameField": conf["name_field"], "avatarField": conf["avatar_field"],
                "accessTokenParam": conf["access_token_param"], "buttonLabelText": conf["button_label_text"],
                "buttonLabelColor": conf["button_label_color"], "buttonColor": conf["button_color"],
                "channelsAdmin": conf["channels_admin"], "mergeUsers": conf["merge_users"],
                "mergeUsersDistinctServices": conf["merge_users_distinct_services"], "showButton": conf["show_button"],
            })
        return out

    # ---------------------------------------------------------------- identity
    def _service_data(self: "State", conf: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
        """`getIdentity` + `normalizeIdentity`: id, then username/email/name/avatar from the configured fields."""
        data = dict(identity)
        ident = next((data[k] for k in _ID_KEYS if data.get(k) not in (None, "")), None)
        if ident is not None:
            data["id"] = str(ident)
        if conf["username_field"]:
            username = from_template(conf["username_field"], identity)
            if not username:
                raise LoginFailure("CustomOAuth: Failed to extract username")
            data["username"] = str(username)
        if conf["email_field"]:
            email = from_template(conf["email_field"], identity)
            if not email:
                raise LoginFailure("CustomOAuth: Failed to extract email")
            data["email"] = str(email)
        if conf["name_field"]:
            data["name"] = from_template(conf["name_field"], identity)
        else:
            data["name"] = next((identity[k] for k in _NAME_KEYS if identity.get(k)), None) or (
                (identity.get("user") or {}).get("name") if isinstance(identity.get("user"), dict) else None)
        if conf["avatar_field"]:
            data["avatarUrl"] = from_template(conf["avatar_field"], identity)
        data["_OAuthCustom"] = True
        return data

    # ---------------------------------------------------------------- the hook before Meteor's lookup
    def _linked(self: "State", user: dict[str, Any] | None, service: str, ident: str) -> bool:
        return bool(user) and (user.get("services", {}).get(service) or {}).get("id") == ident  # type: ignore[union-attr]

    def _oauth_merge_hook(self: "State", service: str, conf: dict[str, Any], data: dict[str, Any]) -> None:
        username, email, ident = data.get("username"), data.get("email"), data.get("id")
        if not username:
            return
        distinct = bool(conf["merge_users_distinct_services"])
        if conf["key_field"] == "email":
            found = self._user_by_email(str(email).strip()) if email else None
            user = found if distinct or self._linked(found, service, ident) else None
        else:
            found = self.user_doc_by_username_ci(username)
            user = found if distinct or self._linked(found, service, ident) else None
        if user is None:
            return
        same_email = conf["key_field"] == "email" or not email or any(
            e.get("address") == email for e in user.get("emails", []))
        if self._linked(user, service, ident) and user.get("name") == data.get("name") and same_email:
            return
        if not conf["merge_users"]:
            raise MeteorError("CustomOAuth", f"User with username {user.get('username')} already exists")
        user["name"] = data.get("name")
        user.setdefault("services", {}).setdefault(service, {})["id"] = ident
        if conf["key_field"] == "username" and email:
            self._unindex_user(user)
            user["emails"] = [{"address": email, "verified": True}]
            self._index_user(user)
        user["_updatedAt"] = self.now()

    # ---------------------------------------------------------------- login
    def oauth_login(self: "State", service_name: str, identity: dict[str, Any]) -> LoginResult:
        """A person logs in through Custom OAuth service `service_name` with the provider's `identity`
        (e.g. `{"id","username","email","name"}`). Finds, merges or creates the account as Rocket.Chat does
        and returns a fresh login token. Raises `MeteorError` / `LoginFailure` as the login would fail,
        `ServiceUnavailable` when no such service is enabled."""
        with self.lock:
            conf = self._custom_oauth(custom_oauth_name(service_name))
            if conf is None:
                raise ServiceUnavailable(service_name)
            service = custom_oauth_service_key(service_name)
            data = self._service_data(conf, identity)
            self._oauth_merge_hook(service, conf, data)
            if not data.get("id"):
                raise LoginFailure(f"Service data for service {service} must include id")
            user = next((u for u in self.users.values()
                         if (u.get("services", {}).get(service) or {}).get("id") == data["id"]), None)
            if user is None:
                user = self._create_external_user(service, data)
            else:
                stored = user["services"].setdefault(service, {})
                stored.update({k: v for k, v in data.items() if k != "id"})
            if not user.get("active"):
                raise MeteorError("error-user-is-not-activated", "User is not activated",
                                  {"function": "Accounts.validateLoginAttempt"})
            token = self.issue_login_token(user["_id"])
            user["lastLogin"] = self.now()
            entry = self._token_entry(user, token)
            return LoginResult(user["_id"], token, self._token_expires(entry) or self.now(), "oauth")

    def _create_external_user(self: "State", service: str, data: dict[str, Any]) -> dict[str, Any]:
        if not self.settings.get("Accounts_Registration_AuthenticationServices_Enabled"):
            raise MeteorError("registration-disabled-authentication-services",
                              "User registration is disabled for authentication services")
        username, email = data.get("username"), data.get("email")
        if not username:
            # Rocket.Chat creates the account without a username and its UI asks for one; not modelled.
            raise LoginFailure("fake_rocketchat: the identity has no username (username-less accounts are not modelled)")
        if email and self._user_by_email(email):
            raise MeteorError(403, "Email already exists.")
        if self.user_doc_by_username_ci(username):
            raise MeteorError(403, "Username already exists.")
        raw_roles = str(self.settings.get("Accounts_Registration_AuthenticationServices_Default_Roles") or "")
        roles = [r.strip() for r in raw_roles.split(",") if r.strip()]
        if "admin" not in roles and not self._has_admin():
            roles.append("admin")
        user = self._insert_user_doc(
            user_id=None, username=username, name=data.get("name") or username, email=email, password=None,
            roles=roles, active=not self.settings.get("Accounts_ManuallyApproveNewUsers"),
            verified=bool(self.settings.get("Accounts_Verify_Email_For_External_Accounts")),
        )
        user["services"][service] = {k: v for k, v in data.items()}
        if self.settings.get("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In"):
            user["services"]["email2fa"] = {"enabled": True, "changedAt": self.now()}
        if "admin" in roles and self.settings.get("Show_Setup_Wizard") == "pending":
            self.set_setting("Show_Setup_Wizard", "in_progress")
        self._join_default_channels(user, silenced=False)
        return user
