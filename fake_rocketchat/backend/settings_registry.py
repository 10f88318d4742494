"""The Rocket.Chat settings the stand-in models: id, group, type, default and flags, as data.

Why a registry and not a dict of defaults: `GET settings/:_id` of an unknown or hidden id answers a bare
`{"success": false}`, `settings.public` lists only settings flagged `public`, enterprise settings carry an
`invalidValue` used without a licence, and `settings.addCustomOAuth` registers a whole block of settings whose ids
follow a naming rule. The REST layer needs those facts per setting; this module holds them and nothing else.

Sources, `RocketChat/Rocket.Chat`, `apps/meteor/` (read as stored copies; the tree closest to the 7.7.1 the site runs
is commit `7dd565531895bdf38d8db88adf6172125f76f444`, `7.8.0-develop`):

* `server/settings/accounts.ts` at 7dd5655 (group `Accounts`: 2FA, login attempts, iframe login, registration,
  avatar, password policy; the ~40 `Accounts_Default_User_Preferences_*` are left out).
* `server/settings/general.ts` (stored copy 06337af; group `General`: REST API section, `Site_Url`, setup wizard,
  iframe restrictions and the `Iframe_Integration` section, UTF8 name patterns).
* `server/settings/rate.ts` (stored copy 85f6fa3; group `Rate Limiter`: DDP and REST limiters).
* `server/settings/layout.ts` (stored copy 013f3b4; group `Layout`: the login, home-page and `User_Interface` settings;
  its `Menu_*` block is newer than 7.x and left out) and `server/settings/message.ts` (`Message_ErasureType`,
  `Hide_System_Messages`).
* `server/lib/oauth/addOAuthService.ts` (stored copy 000a14b) for the Custom OAuth block: see
  `custom_oauth_settings()`. Its settings are in group `OAuth` (not `Accounts`), section `Custom OAuth: <Name>`.
* `server/lib/oauth/updateOAuthServices.ts`: the service key is the part after `Accounts_OAuth_Custom-`,
  lower-cased (`besedka`); that is also the key under `services.` on the user and in `settings.oauth`.

Flags, as in `settingsRegistry.add(id, default, {type, public, secret, readonly, hidden, enterprise, invalidValue})`:
`public` settings are readable without login (`settings.public`); `hidden` ones do not exist for REST (not in
`GET settings`, `settings/:_id` answers `{"success": false}`); `secret` marks values kept out of exports and the
client cache (the 7.x `GET settings/:_id` still returns them raw); `readonly` is a UI hint that REST does not enforce
(§11.3 of the reference); `enterprise` settings answer their `invalid_value` without the licence module.
`Site_Url` defaults to Meteor's `ROOT_URL`; `SITE_URL_DEFAULT` is the value a server started without one reports.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Iterable

SOURCE_COMMIT = "7dd565531895bdf38d8db88adf6172125f76f444"
SITE_URL_DEFAULT = "http://localhost:3000"


@dataclass(frozen=True)
class SettingSpec:
    """One registered setting. `values` holds the keys a `select`/`multiSelect` offers (informative only)."""

    id: str
    group: str
    type: str
    default: Any
    section: str | None = None
    public: bool = False
    secret: bool = False
    readonly: bool = False
    hidden: bool = False
    enterprise: bool = False
    invalid_value: Any = None
    values: tuple[str, ...] = ()

    def initial_value(self) -> Any:
        """A fresh copy of the default (some defaults are lists, which a store must not share)."""
        return copy.deepcopy(self.default)


def _group(group: str, section: str | None, rows: Iterable[tuple]) -> list[SettingSpec]:
    """Rows are `(id, type, default)` or `(id, type, default, {flags})`."""
    out = []
    for row in rows:
        setting_id, kind, default = row[:3]
        flags = row[3] if len(row) > 3 else {}
        out.append(SettingSpec(setting_id, group, kind, default, section=section, **flags))
    return out


_PUB = {"public": True}
_SECRET = {"secret": True}
_HIDDEN = {"hidden": True}

_ACCOUNTS = "Accounts"
_SETTINGS: list[SettingSpec] = [
    *_group(_ACCOUNTS, "Two Factor Authentication", [
        ("Accounts_TwoFactorAuthentication_Enabled", "boolean", True, _PUB),
        ("Accounts_TwoFactorAuthentication_MaxDelta", "int", 1),
        ("Accounts_TwoFactorAuthentication_By_TOTP_Enabled", "boolean", True, _PUB),
        ("Accounts_TwoFactorAuthentication_By_Email_Enabled", "boolean", True, _PUB),
        ("Accounts_twoFactorAuthentication_email_available_for_OAuth_users", "boolean", True, _PUB),
        ("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In", "boolean", True),
        ("Accounts_TwoFactorAuthentication_By_Email_Code_Expiration", "int", 3600),
        ("Accounts_TwoFactorAuthentication_Max_Invalid_Email_Code_Attempts", "int", 5),
        ("Accounts_TwoFactorAuthentication_RememberFor", "int", 1800),
        ("Accounts_TwoFactorAuthentication_Enforce_Password_Fallback", "boolean", True, _PUB),
    ]),
    *_group(_ACCOUNTS, "Login_Attempts", [
        ("Block_Multiple_Failed_Logins_Enabled", "boolean", True),
        ("Block_Multiple_Failed_Logins_By_User", "boolean", True),
        ("Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User", "int", 10),
        ("Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes", "int", 5),
        ("Block_Multiple_Failed_Logins_By_Ip", "boolean", True),
        ("Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip", "int", 50),
        ("Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes", "int", 5),
        ("Block_Multiple_Failed_Logins_Ip_Whitelist", "string", ""),
        ("Block_Multiple_Failed_Logins_Notify_Failed", "boolean", False),
        ("Block_Multiple_Failed_Logins_Notify_Failed_Channel", "string", ""),
    ]),
    *_group(_ACCOUNTS, "Iframe", [
        ("Accounts_iframe_enabled", "boolean", False, _PUB),
        ("Accounts_iframe_url", "string", "", _PUB),
        ("Accounts_Iframe_api_url", "string", "", _PUB),
        ("Accounts_Iframe_api_method", "string", "POST", _PUB),
    ]),
    *_group(_ACCOUNTS, None, [
        ("Accounts_AllowAnonymousRead", "boolean", False, _PUB),
        ("Accounts_AllowAnonymousWrite", "boolean", False, _PUB),
        ("Accounts_AllowDeleteOwnAccount", "boolean", False, _PUB),
        ("Accounts_AllowUserProfileChange", "boolean", True, _PUB),
        ("Accounts_AllowUserAvatarChange", "boolean", True, _PUB),
        ("Accounts_AllowRealNameChange", "boolean", True, _PUB),
        ("Accounts_AllowUserStatusMessageChange", "boolean", True, _PUB),
        ("Accounts_AllowUsernameChange", "boolean", True, _PUB),
        ("Accounts_AllowEmailChange", "boolean", True, _PUB),
        ("Accounts_AllowPasswordChange", "boolean", True, _PUB),
        ("Accounts_AllowPasswordChangeForOAuthUsers", "boolean", True, _PUB),
        ("Accounts_AllowEmailNotifications", "boolean", True, _PUB),
        ("Accounts_AllowFeaturePreview", "boolean", False, _PUB),
        ("Accounts_CustomFieldsToShowInUserInfo", "string", "", _PUB),
        ("Accounts_LoginExpiration", "int", 90, _PUB),
        ("Accounts_EmailOrUsernamePlaceholder", "string", "", _PUB),
        ("Accounts_PasswordPlaceholder", "string", "", _PUB),
        ("Accounts_ConfirmPasswordPlaceholder", "string", "", _PUB),
        ("Accounts_ForgetUserSessionOnWindowClose", "boolean", False, _PUB),
        ("Accounts_SearchFields", "string", "username, name, bio, nickname"),
        ("Accounts_Directory_DefaultView", "select", "channels", {"public": True, "values": ("channels", "users")}),
        ("Accounts_AllowInvisibleStatusOption", "boolean", True, _PUB),
    ]),
    *_group(_ACCOUNTS, "Registration", [
        ("Accounts_Send_Email_When_Activating", "boolean", True),
        ("Accounts_Send_Email_When_Deactivating", "boolean", True),
        ("Accounts_DefaultUsernamePrefixSuggestion", "string", "user"),
        ("Accounts_RequireNameForSignUp", "boolean", True, _PUB),
        ("Accounts_RequirePasswordConfirmation", "boolean", True, _PUB),
        ("Accounts_EmailVerification", "boolean", False, _PUB),
        ("Accounts_Verify_Email_For_External_Accounts", "boolean", True),
        ("Accounts_ManuallyApproveNewUsers", "boolean", False, _PUB),
        ("Accounts_AllowedDomainsList", "string", "", _PUB),
        ("Accounts_BlockedDomainsList", "string", ""),
        ("Accounts_BlockedUsernameList", "string", ""),
        ("Accounts_SystemBlockedUsernameList", "string", "admin,administrator,system,user", _HIDDEN),
        ("Manual_Entry_User_Count", "int", 0, _HIDDEN),
        ("CSV_Importer_Count", "int", 0, _HIDDEN),
        ("Hipchat_Enterprise_Importer_Count", "int", 0, _HIDDEN),
        ("Slack_Importer_Count", "int", 0, _HIDDEN),
        ("Slack_Users_Importer_Count", "int", 0, _HIDDEN),
        ("Accounts_UseDefaultBlockedDomainsList", "boolean", True),
        ("Accounts_UseDNSDomainCheck", "boolean", False),
        ("Accounts_RegistrationForm", "select", "Public",
         {"public": True, "values": ("Public", "Disabled", "Secret URL")}),
        # Rocket.Chat's default is `Random.id()` at first start; a fixed stand-in value keeps tests reproducible.
        ("Accounts_RegistrationForm_SecretURL", "string", "stand-in-secret-url", _SECRET),
        ("Accounts_Registration_InviteUrlType", "select", "proxy", {"values": ("direct", "proxy")}),
        ("Accounts_RegistrationForm_LinkReplacementText", "string",
         "New user registration is currently disabled", _PUB),
        ("Accounts_Registration_AuthenticationServices_Enabled", "boolean", True, _PUB),
        ("Accounts_Registration_AuthenticationServices_Default_Roles", "string", "user"),
        ("Accounts_Registration_Users_Default_Roles", "string", "user", _PUB),
        ("Accounts_PasswordReset", "boolean", True, _PUB),
        ("Accounts_CustomFields", "code", "", _PUB),
    ]),
    *_group(_ACCOUNTS, "Avatar", [
        ("Accounts_AvatarResize", "boolean", True),
        ("Accounts_AvatarSize", "int", 200),
        ("Accounts_AvatarExternalProviderUrl", "string", "", _PUB),
        ("Accounts_RoomAvatarExternalProviderUrl", "string", "", _PUB),
        ("Accounts_AvatarCacheTime", "int", 3600),
        ("Accounts_AvatarBlockUnauthenticatedAccess", "boolean", True, _PUB),
        ("Accounts_SetDefaultAvatar", "boolean", True),
    ]),
    *_group(_ACCOUNTS, "Password_Policy", [
        ("Accounts_Password_Policy_Enabled", "boolean", False, _PUB),
        ("Accounts_Password_Policy_MinLength", "int", 7, _PUB),
        ("Accounts_Password_Policy_MaxLength", "int", -1, _PUB),
        ("Accounts_Password_Policy_ForbidRepeatingCharacters", "boolean", True, _PUB),
        ("Accounts_Password_Policy_ForbidRepeatingCharactersCount", "int", 3, _PUB),
        ("Accounts_Password_Policy_AtLeastOneLowercase", "boolean", True, _PUB),
        ("Accounts_Password_Policy_AtLeastOneUppercase", "boolean", True, _PUB),
        ("Accounts_Password_Policy_AtLeastOneNumber", "boolean", True, _PUB),
        ("Accounts_Password_Policy_AtLeastOneSpecialCharacter", "boolean", True, _PUB),
    ]),
    *_group(_ACCOUNTS, "Password_History", [
        ("Accounts_Password_History_Enabled", "boolean", False),
        ("Accounts_Password_History_Amount", "int", 5),
    ]),
    *_group("General", "REST API", [
        ("API_Upper_Count_Limit", "int", 100, _PUB),
        ("API_Default_Count", "int", 50),
        ("API_Allow_Infinite_Count", "boolean", True),
        ("API_Enable_Direct_Message_History_EndPoint", "boolean", False),
        ("API_Enable_Shields", "boolean", True),
        ("API_Shield_Types", "string", "*"),
        ("API_Shield_user_require_auth", "boolean", False),
        ("API_Enable_CORS", "boolean", False),
        ("API_CORS_Origin", "string", "*"),
        ("API_Apply_permission_view-outside-room_on_users-list", "boolean", False, _PUB),
        ("API_User_Limit", "int", 500, _PUB),
    ]),
    *_group("General", None, [
        ("Show_Setup_Wizard", "select", "pending",
         {"public": True, "readonly": True, "values": ("pending", "in_progress", "completed")}),
        ("Site_Url", "string", SITE_URL_DEFAULT, _PUB),
        ("Site_Name", "string", "Rocket.Chat", _PUB),
        ("Document_Domain", "string", "", _PUB),
        ("Language", "language", "", _PUB),
        ("Allow_Invalid_SelfSigned_Certs", "boolean", False, _SECRET),
        ("Enable_CSP", "boolean", True),
        ("Extra_CSP_Domains", "string", ""),
        ("Iframe_Restrict_Access", "boolean", True, _SECRET),
        ("Iframe_X_Frame_Options", "string", "sameorigin", _SECRET),
        ("Favorite_Rooms", "boolean", True, _PUB),
        ("First_Channel_After_Login", "string", "", _PUB),
        ("DeepLink_Url", "string", "https://go.rocket.chat", _PUB),
        ("CDN_PREFIX", "string", "", _PUB),
        ("CDN_PREFIX_ALL", "boolean", True, _PUB),
        ("CDN_JSCSS_PREFIX", "string", "", _PUB),
        ("Force_SSL", "boolean", False, _PUB),
        ("GoogleTagManager_id", "string", "", {"public": True, "secret": True}),
        ("Bugsnag_api_key", "string", "", _SECRET),
        ("Restart", "action", "restart_server"),
        ("Store_Last_Message", "boolean", True, _PUB),
    ]),
    *_group("General", "UTF8", [
        ("UTF8_User_Names_Validation", "string", "[0-9a-zA-Z-_.]+", _PUB),
        ("UTF8_Channel_Names_Validation", "string", "[0-9a-zA-Z-_.]+", _PUB),
        ("UTF8_Names_Slugify", "boolean", True, _PUB),
    ]),
    *_group("General", "Reporting", [("Statistics_reporting", "boolean", True, _HIDDEN)]),
    *_group("General", "Iframe_Integration", [
        ("Iframe_Integration_send_enable", "boolean", False, _PUB),
        ("Iframe_Integration_send_target_origin", "string", "*", _PUB),
        ("Iframe_Integration_receive_enable", "boolean", False, _PUB),
        ("Iframe_Integration_receive_origin", "string", "*", _PUB),
    ]),
    *_group("General", "Update", [("Update_LatestAvailableVersion", "string", "0.0.0", {"readonly": True})]),
    *_group("Rate Limiter", "DDP_Rate_Limiter", [
        (f"DDP_Rate_Limit_{scope}_{suffix}", kind, value)
        for scope, allowed, interval in (
            ("IP", 120000, 60000),
            ("User", 1200, 60000),
            ("Connection", 600, 60000),
            ("User_By_Method", 20, 10000),
            ("Connection_By_Method", 10, 10000),
        )
        for suffix, kind, value in (
            ("Enabled", "boolean", True),
            ("Requests_Allowed", "int", allowed),
            ("Interval_Time", "int", interval),
        )
    ]),
    *_group("Rate Limiter", "API_Rate_Limiter", [
        ("API_Enable_Rate_Limiter", "boolean", True),
        ("API_Enable_Rate_Limiter_Dev", "boolean", True),
        ("API_Enable_Rate_Limiter_Limit_Calls_Default", "int", 10),
        ("API_Enable_Rate_Limiter_Limit_Time_Default", "int", 60000),
    ]),
    *_group("Rate Limiter", "Feature_Limiting", [("Rate_Limiter_Limit_RegisterUser", "int", 1)]),
    *_group("Layout", "Login", [
        ("Layout_Login_Hide_Logo", "boolean", False, {"public": True, "enterprise": True, "invalid_value": False}),
        ("Layout_Login_Hide_Title", "boolean", False, {"public": True, "enterprise": True, "invalid_value": False}),
        ("Layout_Login_Hide_Powered_By", "boolean", False,
         {"public": True, "enterprise": True, "invalid_value": False}),
        ("Layout_Login_Template", "select", "horizontal-template",
         {"public": True, "enterprise": True, "invalid_value": "horizontal-template",
          "values": ("vertical-template", "horizontal-template")}),
        ("Accounts_ShowFormLogin", "boolean", True, _PUB),
    ]),
    *_group("Layout", "Layout_Home_Page_Content_Title", [
        ("Layout_Home_Title", "string", "Home", _PUB),
        ("Layout_Show_Home_Button", "boolean", True, _PUB),
        ("Layout_Home_Body", "code", "", _PUB),
        ("Layout_Terms_of_Service", "code",
         "Terms of Service <br> Go to APP SETTINGS &rarr; Layout to customize this page.", _PUB),
        ("Layout_Login_Terms", "code", "", _PUB),
        ("Layout_Privacy_Policy", "code",
         "Privacy Policy <br> Go to APP SETTINGS &rarr; Layout to customize this page.", _PUB),
        ("Layout_Legal_Notice", "code", "Legal Notice <br> Go to APP SETTINGS -> Layout to customize this page.", _PUB),
        ("Layout_Sidenav_Footer", "code", '<a href="/home"><img src="assets/logo.png" alt="Home" /></a>', _PUB),
    ]),
    *_group("Layout", "User_Interface", [
        ("UI_DisplayRoles", "boolean", True, _PUB),
        ("UI_Group_Channels_By_Type", "boolean", True),
        ("UI_Use_Name_Avatar", "boolean", False, _PUB),
        ("UI_Use_Real_Name", "boolean", False, _PUB),
        ("UI_Click_Direct_Message", "boolean", False, _PUB),
        ("Number_of_users_autocomplete_suggestions", "int", 5, _PUB),
        ("UI_Unread_Counter_Style", "select", "Different_Style_For_User_Mentions",
         {"public": True, "values": ("Same_Style_For_Mentions", "Different_Style_For_User_Mentions")}),
        ("UI_Allow_room_names_with_special_chars", "boolean", False, _PUB),
        ("UI_Show_top_navbar_embedded_layout", "boolean", False, _PUB),
    ]),
    *_group("Message", None, [
        ("Hide_System_Messages", "multiSelect", [], _PUB),
        ("Message_ErasureType", "select", "Delete", {"public": True, "values": ("Keep", "Delete", "Unlink")}),
    ]),
]

REGISTRY: dict[str, SettingSpec] = {spec.id: spec for spec in _SETTINGS}

CUSTOM_OAUTH_PREFIX = "Accounts_OAuth_Custom-"


def custom_oauth_name(name: str) -> str:
    """The service name as it appears in setting ids: `addOAuthService` lower-cases it, drops every character but
    `[a-z0-9_]` and upper-cases the first letter (`capitalize` of `@rocket.chat/string-helpers` touches nothing else).
    So "besedka", "Besedka" and "BESEDKA" all become "Besedka"; "My SSO-2" becomes "Mysso2"."""
    cleaned = re.sub(r"[^a-z0-9_]", "", name.lower())
    return cleaned[:1].upper() + cleaned[1:]


def custom_oauth_service_key(name: str) -> str:
    """The key under `services.` on a user and in `settings.oauth` (`updateOAuthServices`: id suffix, lower-cased)."""
    return custom_oauth_name(name).lower()


def custom_oauth_base_id(name: str) -> str:
    return f"{CUSTOM_OAUTH_PREFIX}{custom_oauth_name(name)}"


# (suffix, type, default, flags) in `addOAuthService`'s registration order. The base setting (suffix "") enables the
# service. `-secret` is NOT flagged secret. The enterprise ones (`oauth-enterprise` module) answer `invalid_value`
# without a licence.
_CUSTOM_OAUTH_BLOCK: tuple[tuple[str, str, Any, dict[str, Any]], ...] = (
    ("", "boolean", False, {}),
    ("-url", "string", "", {}),
    ("-token_path", "string", "/oauth/token", {}),
    ("-token_sent_via", "select", "payload", {"values": ("header", "payload")}),
    ("-identity_token_sent_via", "select", "default", {"values": ("default", "header", "payload")}),
    ("-identity_path", "string", "/me", {}),
    ("-authorize_path", "string", "/oauth/authorize", {}),
    ("-scope", "string", "openid", {}),
    ("-access_token_param", "string", "access_token", {}),
    ("-id", "string", "", {}),
    ("-secret", "string", "", {}),
    ("-login_style", "select", "popup", {"values": ("redirect", "popup", "")}),
    ("-button_label_text", "string", "", {}),
    ("-button_label_color", "string", "#FFFFFF", {}),
    ("-button_color", "string", "#1d74f5", {}),
    ("-key_field", "select", "username", {"values": ("username", "email")}),
    ("-username_field", "string", "", {}),
    ("-email_field", "string", "", {}),
    ("-name_field", "string", "", {}),
    ("-avatar_field", "string", "", {}),
    ("-roles_claim", "string", "roles", {"enterprise": True, "invalid_value": "roles"}),
    ("-groups_claim", "string", "groups", {"enterprise": True, "invalid_value": "groups"}),
    ("-channels_admin", "string", "rocket.cat", {}),
    ("-map_channels", "boolean", False, {"enterprise": True, "invalid_value": False}),
    ("-merge_roles", "boolean", False, {"enterprise": True, "invalid_value": False}),
    ("-roles_to_sync", "string", "", {"enterprise": True, "invalid_value": ""}),
    ("-merge_users", "boolean", False, {}),
    ("-merge_users_distinct_services", "boolean", False, {}),
    ("-show_button", "boolean", True, {}),
    ("-groups_channel_map", "code", '{\n\t"rocket-admin": "admin",\n\t"tech-support": "support"\n}', {}),
)


def custom_oauth_settings(name: str) -> list[SettingSpec]:
    """The settings `settings.addCustomOAuth {name}` registers, in order, with their defaults."""
    service = custom_oauth_name(name)
    base = f"{CUSTOM_OAUTH_PREFIX}{service}"
    section = f"Custom OAuth: {service}"
    return [
        SettingSpec(f"{base}{suffix}", "OAuth", kind, default, section=section, **flags)
        for suffix, kind, default, flags in _CUSTOM_OAUTH_BLOCK
    ]
