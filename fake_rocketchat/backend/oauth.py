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

# `getName`'s fallbacks (when no `-name_field` is configured, or it yields nothing).
_NAME_KEYS = ("name", "username", "nickname", "CharacterName", "userName", "preferred_username")


def _truthy(value: Any) -> bool:
    """JavaScript truthiness for the JSON values an identity holds (`[]` and `{}` are truthy there)."""
    if isinstance(value, (list, dict)):
        return True
    return value not in (None, False, 0, "")


def normalize_identity(identity: dict[str, Any]) -> dict[str, Any]:
    """`normalizers` of `transform_helpers.ts`, in their order: where the provider keeps the id (and for some
    providers the email and name)."""
    data = dict(identity)
    if _truthy(data.get("_id")) and not _truthy(data.get("id")):
        data["id"] = data["_id"]
    if _truthy(data.get("result")) and isinstance(data["result"], dict):  # Reddit
        data = dict(data["result"])
    for key in ("ID", "user_id", "CharacterID"):
        if _truthy(data.get(key)) and not _truthy(data.get("id")):
            data["id"] = data[key]
    user = data.get("user") if isinstance(data.get("user"), dict) else {}
    if _truthy(user.get("userid")) and not _truthy(data.get("id")):  # Dataporten
        sec = user.get("userid_sec")
        data["id"] = sec[0] if isinstance(sec, list) and sec and _truthy(sec[0]) else user["userid"]
        data["email"] = user.get("email")
    if _truthy(user.get("user_id")) and not _truthy(data.get("id")):  # Xenforo
        data["id"] = user["user_id"]
        data["email"] = user.get("user_email")
    for key in ("phid", "sub"):
        if _truthy(data.get(key)) and not _truthy(data.get("id")):
            data["id"] = data[key]
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    if not _truthy(data.get("id")) and _truthy(meta.get("uid")):  # OpenShift
        data["id"] = meta["uid"]
        data["name"] = data.get("fullName")
    if _truthy(data.get("userid")) and not _truthy(data.get("id")):
        data["id"] = data["userid"]
    ocs = (data.get("ocs") or {}).get("data") if isinstance(data.get("ocs"), dict) else None
    if not _truthy(data.get("id")) and isinstance(ocs, dict) and _truthy(ocs.get("id")):  # Nextcloud
        data["id"], data["name"], data["email"] = ocs["id"], ocs.get("displayname"), ocs.get("email")
    emails = data.get("emails")
    if not _truthy(data.get("email")) and isinstance(emails, list) and emails:  # Meteor apps
        first = emails[0] if isinstance(emails[0], dict) else {}
        data["email"] = first.get("address") or None
    return data


def _nested(path: str, data: Any) -> Any:
    """`getNestedValue`: a dot path, undefined as soon as a step is missing."""
    value = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) and _truthy(value) else None
    return value


def _js_string(value: Any) -> str:
    if value is None:
        return "undefined"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def from_template(template: str, data: dict[str, Any]) -> Any:
    """`fromTemplate`: a plain dot path, or a string whose `{{...}}` parts are each a dot path or a
    `/regex/::path` formula (first capture group); a missing part renders as "undefined", as in JavaScript."""
    if not re.search(r"\{\{((?:(?!\}\}).)+)\}\}", template):
        return _nested(template, data)

    def part(match: re.Match[str]) -> str:
        formula = match.group(1)
        regex = re.match(r"^/((?!/::).*)/::(.+)", formula)
        if not regex:
            return _js_string(_nested(formula, data))
        found = re.search(regex.group(1), _js_string(_nested(regex.group(2), data)))
        return _js_string(found.group(1) if found and found.groups() else None)

    return re.sub(r"\{\{((?:(?!\}\}).)+)\}\}", part, template)


def _rename_invalid_properties(value: Any) -> Any:
    """`renameInvalidProperties`: dots in keys become underscores (Mongo field names), recursively."""
    if isinstance(value, list):
        return [_rename_invalid_properties(v) for v in value]
    if isinstance(value, dict):
        return {str(k).replace(".", "_"): _rename_invalid_properties(v) for k, v in value.items()}
    return value


# `updateOAuthServices`: the LoginServiceConfiguration field of each `-<suffix>` setting, in its order.
_LOGIN_SERVICE_FIELDS = (
    ("serverURL", "url"), ("tokenPath", "token_path"), ("identityPath", "identity_path"),
    ("authorizePath", "authorize_path"), ("scope", "scope"), ("accessTokenParam", "access_token_param"),
    ("buttonLabelText", "button_label_text"), ("buttonLabelColor", "button_label_color"),
    ("loginStyle", "login_style"), ("buttonColor", "button_color"), ("tokenSentVia", "token_sent_via"),
    ("identityTokenSentVia", "identity_token_sent_via"), ("keyField", "key_field"),
    ("usernameField", "username_field"), ("emailField", "email_field"), ("nameField", "name_field"),
    ("avatarField", "avatar_field"), ("rolesClaim", "roles_claim"), ("groupsClaim", "groups_claim"),
    ("channelsMap", "groups_channel_map"), ("channelsAdmin", "channels_admin"), ("mergeUsers", "merge_users"),
    ("mergeUsersDistinctServices", "merge_users_distinct_services"), ("mapChannels", "map_channels"),
    ("mergeRoles", "merge_roles"), ("rolesToSync", "roles_to_sync"), ("showButton", "show_button"),
)


class LoginFailure(Exception):
    """A plain JavaScript `Error` thrown during login (not a `Meteor.Error`): REST login renders it as
    `{"status":"error","message":<message>}` with no `error` key."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServiceUnavailable(Exception):
    """No enabled Custom OAuth service of that name (Rocket.Chat would show no login button at all)."""


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
            # `LoginServiceConfiguration.createOrUpdateService(key, data)` minus `secret` (the `_id` is derived
            # here; Rocket.Chat's is a random id).
            out.append({
                "_id": f"oauth-{name.lower()}", "service": name.lower(), "custom": True, "clientId": conf["id"],
                **{camel: conf[suffix] for camel, suffix in _LOGIN_SERVICE_FIELDS},
            })
        return out

    # ---------------------------------------------------------------- identity
    def _service_data(self: "State", conf: dict[str, Any], identity: dict[str, Any]) -> dict[str, Any]:
        """`normalizeIdentity` and the `serviceData` `registerService` builds: the normalised identity, then
        username/email/avatar from the configured fields (a missing one fails), the name from `-name_field`
        or `getName`'s fallbacks, dots in keys renamed."""
        data = normalize_identity(identity)
        if conf["username_field"].strip():
            username = from_template(conf["username_field"].strip(), data)
            if not _truthy(username):
                raise LoginFailure("CustomOAuth: Failed to extract username")
            data["username"] = username
        if conf["email_field"].strip():
            email = from_template(conf["email_field"].strip(), data)
            if not _truthy(email):
                raise LoginFailure("CustomOAuth: Failed to extract email")
            data["email"] = email
        if conf["avatar_field"].strip():
            data["avatarUrl"] = from_template(conf["avatar_field"].strip(), data)
        custom = from_template(conf["name_field"].strip(), data) if conf["name_field"].strip() else None
        if _truthy(custom):
            data["name"] = custom
        else:
            user = data.get("user") if isinstance(data.get("user"), dict) else {}
            data["name"] = next((data[k] for k in _NAME_KEYS if _truthy(data.get(k))), None) or user.get("name") or None
        return {"_OAuthCustom": True, **_rename_invalid_properties(data)}

    # ---------------------------------------------------------------- the hook before Meteor's lookup
    def _linked(self: "State", user: dict[str, Any] | None, service: str, ident: Any) -> bool:
        return user is not None and (user.get("services", {}).get(service) or {}).get("id") == ident

    def _oauth_merge_hook(self: "State", service: str, conf: dict[str, Any], data: dict[str, Any]) -> None:
        """The `BeforeUpdateOrCreateUserFromExternalService` hook of `addHookToProcessUser`."""
        username, email, ident = data.get("username"), data.get("email"), data.get("id")
        if not _truthy(username):
            return
        distinct = bool(conf["merge_users_distinct_services"])
        found = None
        if conf["key_field"] == "username":
            # findOneByUsernameIgnoringCase / findOneByUsernameAndServiceNameIgnoringCase
            found = self.user_doc_by_username_ci(str(username))
        elif conf["key_field"] == "email" and _truthy(email):
            # findOneByEmailAddress (trimmed, case-insensitive) / ...AndServiceNameIgnoringCase
            found = self._user_by_email(str(email).strip())
        user = found if distinct or self._linked(found, service, ident) else None
        if user is None:
            return
        same_email = conf["key_field"] == "email" or not _truthy(email) or any(
            e.get("address") == email for e in user.get("emails", []))
        if self._linked(user, service, ident) and user.get("name") == data.get("name") and same_email:
            return  # already created or merged, same name as before
        if conf["merge_users"] is not True:
            raise MeteorError("CustomOAuth", f"User with username {user.get('username')} already exists")
        user["name"] = data.get("name")
        user.setdefault("services", {}).setdefault(service, {})["id"] = ident
        if conf["key_field"] == "username" and _truthy(email):
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
            if not _truthy(data.get("id")):
                raise LoginFailure(f"Service data for service {service} must include id")
            user = next((u for u in self.users.values()
                         if (u.get("services", {}).get(service) or {}).get("id") == data["id"]), None)
            if user is None:
                user = self._create_external_user(service, conf, data)
            else:
                stored = user["services"].setdefault(service, {})
                stored.update({k: v for k, v in data.items() if k != "id"})
            # validateLoginAttempt
            if user.get("type") == "app":
                raise MeteorError("error-app-user-is-not-allowed-to-login", "App user is not allowed to login",
                                  {"function": "Accounts.validateLoginAttempt"})
            if not user.get("active"):
                raise MeteorError("error-user-is-not-activated", "User is not activated",
                                  {"function": "Accounts.validateLoginAttempt"})
            token = self.issue_login_token(user["_id"])
            user["lastLogin"] = self.now()
            entry = self._token_entry(user, token)
            return LoginResult(user["_id"], token, self._token_expires(entry) or self.now(), "oauth")

    def _create_external_user(self: "State", service: str, conf: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """Meteor `insertUserDoc` for `{services: {<key>: serviceData}}`: Rocket.Chat's `onCreateUser`, the
        `validateNewUser` hooks, the insert (unique indexes), then Rocket.Chat's `insertUserDoc` additions."""
        verified = bool(self.settings.get("Accounts_Verify_Email_For_External_Accounts"))
        # onCreateUser: name from options.profile.name (the identity's name), else the service's name/username.
        name = data.get("name") or data.get("username") or None
        email = data.get("email") if _truthy(data.get("email")) else None
        emails = [{"address": email, "verified": verified}] if email else []
        allowed = [d.strip() for d in str(self.settings.get("Accounts_AllowedDomainsList") or "").split(",") if d.strip()]
        if allowed and emails and not any(re.search(f"@{re.escape(d)}$", emails[0]["address"]) for d in allowed):
            raise MeteorError("error-invalid-domain")
        # validateNewUser: registration through services (LDAP is not modelled, so `LDAP_Enable` is false).
        if self.settings.get("Accounts_Registration_AuthenticationServices_Enabled") is False:
            raise MeteorError("registration-disabled-authentication-services",
                              "User registration is disabled for authentication services")
        # CustomOAuth's validateNewUser: the username only comes from a configured `-username_field`.
        username = data.get("username") if conf["username_field"].strip() else None
        if conf["name_field"].strip():
            name = data.get("name")
        # The insert: Meteor maps the unique-index violations to these (the stand-in's indexes ignore case).
        if email and self._user_by_email(email):
            raise MeteorError(403, "Email already exists.")
        if username and self.user_doc_by_username_ci(str(username)):
            raise MeteorError(403, "Username already exists.")
        # insertUserDoc: AuthenticationServices default roles, then getNewUserRoles adds the users' defaults.
        roles: list[str] = []
        for setting_id in ("Accounts_Registration_AuthenticationServices_Default_Roles",
                           "Accounts_Registration_Users_Default_Roles"):
            for role in str(self.settings.get(setting_id) or "").split(","):
                if role.strip() and role.strip() not in roles:
                    roles.append(role.strip())
        if "admin" not in roles and not self._has_admin():
            roles.append("admin")
            if self.settings.get("Show_Setup_Wizard") == "pending":
                self.set_setting("Show_Setup_Wizard", "in_progress")
        user = self._insert_user_doc(
            user_id=None, username=str(username) if username else None, name=name, email=None, password=None,  # type: ignore[arg-type]
            roles=roles, active=not self.settings.get("Accounts_ManuallyApproveNewUsers"), verified=verified,
        )
        if not username:
            self._unindex_user(user)
            user.pop("username", None)  # Rocket.Chat's UI then asks the person to choose one
            self._index_user(user)
        if emails:
            self._unindex_user(user)
            user["emails"] = emails
            self._index_user(user)
        user["services"][service] = dict(data)
        if self.settings.get("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In"):
            user["services"]["email2fa"] = {"enabled": True, "changedAt": self.now()}
        if username:
            self._join_default_channels(user, silenced=False)
        return user
