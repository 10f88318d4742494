"""The settings registry and the Custom OAuth naming rule (pure data; no server).

Sources: `apps/meteor/server/settings/{accounts,general,rate,layout,message}.ts` and
`apps/meteor/server/lib/oauth/{addOAuthService,updateOAuthServices}.ts` of RocketChat/Rocket.Chat.
"""

from __future__ import annotations

import pytest

from fake_rocketchat.backend import settings_registry as reg

KNOWN_TYPES = {"boolean", "int", "string", "select", "multiSelect", "code", "action", "language"}


def test_every_setting_is_well_formed() -> None:
    for spec in reg.REGISTRY.values():
        assert spec.type in KNOWN_TYPES, spec.id
        if spec.type == "boolean":
            assert isinstance(spec.default, bool), spec.id
        if spec.type == "int":
            assert isinstance(spec.default, int) and not isinstance(spec.default, bool), spec.id
        if spec.type == "select" and spec.values:
            assert spec.default in spec.values, spec.id
        if spec.enterprise:
            assert spec.invalid_value is not None, spec.id


def test_ids_are_unique() -> None:
    assert len(reg.REGISTRY) == len(reg._SETTINGS)


@pytest.mark.parametrize(
    ("setting_id", "group", "kind", "default", "flags"),
    [
        ("Site_Url", "General", "string", reg.SITE_URL_DEFAULT, {"public": True}),
        ("Iframe_Restrict_Access", "General", "boolean", True, {"secret": True, "public": False}),
        ("Iframe_X_Frame_Options", "General", "string", "sameorigin", {"secret": True}),
        ("Iframe_Integration_receive_origin", "General", "string", "*", {"public": True}),
        ("Show_Setup_Wizard", "General", "select", "pending", {"readonly": True, "public": True}),
        ("API_Upper_Count_Limit", "General", "int", 100, {"public": True}),
        ("API_Default_Count", "General", "int", 50, {"public": False}),
        ("API_Enable_Rate_Limiter_Limit_Calls_Default", "Rate Limiter", "int", 10, {}),
        ("DDP_Rate_Limit_User_By_Method_Requests_Allowed", "Rate Limiter", "int", 20, {}),
        ("DDP_Rate_Limit_IP_Requests_Allowed", "Rate Limiter", "int", 120000, {}),
        ("DDP_Rate_Limit_Connection_By_Method_Interval_Time", "Rate Limiter", "int", 10000, {}),
        ("Accounts_TwoFactorAuthentication_RememberFor", "Accounts", "int", 1800, {}),
        ("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In", "Accounts", "boolean", True, {"public": False}),
        ("Accounts_Verify_Email_For_External_Accounts", "Accounts", "boolean", True, {}),
        ("Accounts_Registration_AuthenticationServices_Default_Roles", "Accounts", "string", "user", {}),
        ("Accounts_SystemBlockedUsernameList", "Accounts", "string", "admin,administrator,system,user", {"hidden": True}),
        ("Accounts_RegistrationForm_SecretURL", "Accounts", "string", "stand-in-secret-url", {"secret": True}),
        ("Layout_Login_Hide_Logo", "Layout", "boolean", False, {"enterprise": True, "invalid_value": False}),
        ("UI_Use_Real_Name", "Layout", "boolean", False, {"public": True}),
        ("Message_ErasureType", "Message", "select", "Delete", {"public": True}),
    ],
)
def test_spot_values(setting_id: str, group: str, kind: str, default: object, flags: dict) -> None:
    spec = reg.REGISTRY[setting_id]
    assert (spec.group, spec.type, spec.default) == (group, kind, default)
    for flag, value in flags.items():
        assert getattr(spec, flag) == value, flag


def test_ddp_limiter_has_fifteen_settings() -> None:
    ddp = [s for s in reg.REGISTRY if s.startswith("DDP_Rate_Limit_")]
    assert len(ddp) == 15


def test_initial_value_is_a_copy() -> None:
    spec = reg.REGISTRY["Hide_System_Messages"]
    value = spec.initial_value()
    value.append("uj")
    assert spec.default == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [("besedka", "Besedka"), ("Besedka", "Besedka"), ("BESEDKA", "Besedka"), ("My SSO-2", "Mysso2"), ("a_b", "A_b")],
)
def test_custom_oauth_name_capitalisation(given: str, expected: str) -> None:
    assert reg.custom_oauth_name(given) == expected


def test_custom_oauth_settings_for_besedka() -> None:
    block = reg.custom_oauth_settings("besedka")
    ids = [s.id for s in block]
    assert ids[0] == "Accounts_OAuth_Custom-Besedka"
    assert reg.custom_oauth_base_id("BESEDKA") == "Accounts_OAuth_Custom-Besedka"
    assert reg.custom_oauth_service_key("Besedka") == "besedka"
    by_id = {s.id: s for s in block}
    expected_defaults = {
        "Accounts_OAuth_Custom-Besedka": False,
        "Accounts_OAuth_Custom-Besedka-url": "",
        "Accounts_OAuth_Custom-Besedka-token_path": "/oauth/token",
        "Accounts_OAuth_Custom-Besedka-identity_path": "/me",
        "Accounts_OAuth_Custom-Besedka-authorize_path": "/oauth/authorize",
        "Accounts_OAuth_Custom-Besedka-scope": "openid",
        "Accounts_OAuth_Custom-Besedka-access_token_param": "access_token",
        "Accounts_OAuth_Custom-Besedka-token_sent_via": "payload",
        "Accounts_OAuth_Custom-Besedka-identity_token_sent_via": "default",
        "Accounts_OAuth_Custom-Besedka-id": "",
        "Accounts_OAuth_Custom-Besedka-secret": "",
        "Accounts_OAuth_Custom-Besedka-login_style": "popup",
        "Accounts_OAuth_Custom-Besedka-button_label_color": "#FFFFFF",
        "Accounts_OAuth_Custom-Besedka-button_color": "#1d74f5",
        "Accounts_OAuth_Custom-Besedka-key_field": "username",
        "Accounts_OAuth_Custom-Besedka-username_field": "",
        "Accounts_OAuth_Custom-Besedka-email_field": "",
        "Accounts_OAuth_Custom-Besedka-name_field": "",
        "Accounts_OAuth_Custom-Besedka-avatar_field": "",
        "Accounts_OAuth_Custom-Besedka-channels_admin": "rocket.cat",
        "Accounts_OAuth_Custom-Besedka-merge_users": False,
        "Accounts_OAuth_Custom-Besedka-merge_users_distinct_services": False,
        "Accounts_OAuth_Custom-Besedka-show_button": True,
    }
    for setting_id, default in expected_defaults.items():
        assert by_id[setting_id].default == default, setting_id
    assert len(block) == 30
    assert all(s.group == "OAuth" and s.section == "Custom OAuth: Besedka" for s in block)
    assert not by_id["Accounts_OAuth_Custom-Besedka-secret"].secret
    assert {s.id.rsplit("-", 1)[1] for s in block if s.enterprise} == {
        "roles_claim", "groups_claim", "map_channels", "merge_roles", "roles_to_sync",
    }
    assert by_id["Accounts_OAuth_Custom-Besedka-groups_channel_map"].type == "code"
    # The registry of fixed settings knows none of these until addCustomOAuth runs.
    assert not set(by_id) & set(reg.REGISTRY)
