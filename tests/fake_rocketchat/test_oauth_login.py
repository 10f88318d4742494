"""Custom OAuth logins (reference §11.1, §11.2), simulated at `POST /_fake/oauth/<service>/login`.

Sources, `RocketChat/Rocket.Chat` `apps/meteor/` (7.x, 7dd5655 where pinned): `app/custom-oauth/server/
custom_oauth_server.js` (normalisation, fields, the merge hook), Meteor `accounts-base`
(`updateOrCreateUserFromExternalService`, `insertUserDoc` unique-index errors), `app/authentication/server/
startup/index.js` (`onCreateUser`, `insertUserDoc`, `validateNewUser`, `validateLoginAttempt`),
`app/api/server/v1/users.ts` (`users.info` shows `services` only for yourself).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fake_rocketchat.harness.testing import FakeServer

IDENTITY = {"id": "42", "username": "alice", "email": "alice@example.org", "name": "Alice A"}


def _setup(rc: FakeServer, **options: Any) -> str:
    options.setdefault("username_field", "username")
    options.setdefault("email_field", "email")
    return rc.state.configure_custom_oauth("besedka", **options)


def _login(rc: FakeServer, identity: dict[str, Any], service: str = "besedka") -> httpx.Response:
    return httpx.post(f"{rc.url}/_fake/oauth/{service}/login", json=identity)


def test_first_login_creates_account_with_service_link_and_login_token(fake_rc: FakeServer) -> None:
    """onCreateUser/insertUserDoc: roles from AuthenticationServices_Default_Roles, verified email per
    Accounts_Verify_Email_For_External_Accounts, email 2FA auto opt-in, services.besedka.id; body as login."""
    _setup(fake_rc)
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success" and body["success"] is True
    data = body["data"]
    assert data["me"]["username"] == "alice" and data["me"]["name"] == "Alice A"
    me = httpx.get(fake_rc.url + "/api/v1/me", headers={"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    user = fake_rc.state.find_user_by_username("alice")
    assert user["services"]["besedka"]["id"] == "42"
    assert user["emails"] == [{"address": "alice@example.org", "verified": True}]
    assert user["roles"] == ["user"] and user["active"] is True and user["type"] == "user"
    assert user["services"]["email2fa"]["enabled"] is True
    assert "GENERAL" in user["__rooms"]  # joins the default channels
    again = _login(fake_rc, IDENTITY).json()["data"]
    assert again["userId"] == data["userId"] and again["authToken"] != data["authToken"]


def test_registration_settings_apply(fake_rc: FakeServer) -> None:
    """Accounts_Registration_AuthenticationServices_Default_Roles, Accounts_Verify_Email_For_External_Accounts,
    Accounts_ManuallyApproveNewUsers (then login refused: error-user-is-not-activated)."""
    _setup(fake_rc)
    st = fake_rc.state
    st.set_setting("Accounts_Registration_AuthenticationServices_Default_Roles", "user,bot")
    st.set_setting("Accounts_Verify_Email_For_External_Accounts", False)
    st.set_setting("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In", False)
    st.set_setting("Accounts_ManuallyApproveNewUsers", True)
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 401
    assert r.json() == {"success": False, "status": "error", "error": "error-user-is-not-activated",
                        "details": {"function": "Accounts.validateLoginAttempt"}, "message": "User is not activated"}
    user = st.find_user_by_username("alice")
    assert user["roles"] == ["user", "bot"] and user["active"] is False
    assert user["emails"][0]["verified"] is False and "email2fa" not in user["services"]


def test_registration_through_services_disabled(fake_rc: FakeServer) -> None:
    """validateNewUser: Accounts_Registration_AuthenticationServices_Enabled false."""
    _setup(fake_rc)
    fake_rc.state.set_setting("Accounts_Registration_AuthenticationServices_Enabled", False)
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 401 and r.json()["error"] == "registration-disabled-authentication-services"
    assert r.json()["message"] == "User registration is disabled for authentication services"


def test_first_user_of_empty_workspace_becomes_admin(fake_rc_factory) -> None:
    """insertUserDoc: no admin yet → the new user also gets `admin` (Show_Setup_Wizard pending → in_progress)."""
    rc = fake_rc_factory()
    _setup(rc)
    assert _login(rc, IDENTITY).status_code == 200
    assert rc.state.find_user_by_username("alice")["roles"] == ["user", "admin"]
    assert rc.state.setting("Show_Setup_Wizard") == "in_progress"
    _login(rc, {**IDENTITY, "id": "43", "username": "bob", "email": "bob@example.org"})
    assert rc.state.find_user_by_username("bob")["roles"] == ["user"]


def test_existing_account_without_merge_is_refused(fake_rc: FakeServer) -> None:
    """custom_oauth_server.js hook with merge_users_distinct_services on, merge_users off:
    'User with username X already exists' (errorType CustomOAuth)."""
    _setup(fake_rc, merge_users_distinct_services=True)
    fake_rc.state.create_user("alice", name="Alice A", email="alice@example.org")
    r = _login(fake_rc, {**IDENTITY, "username": "ALICE"})
    assert r.status_code == 401
    assert r.json() == {"success": False, "status": "error", "error": "CustomOAuth",
                        "message": "User with username alice already exists"}


def test_without_distinct_services_an_unlinked_clash_hits_the_unique_index(fake_rc: FakeServer) -> None:
    """Hook matches only linked accounts; Meteor's insert then fails: 403 'Username already exists.' /
    'Email already exists.' (RC issues #21155, #21800); no duplicate is created."""
    _setup(fake_rc, merge_users=True)
    fake_rc.state.create_user("alice", email="other@example.org")
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 401 and r.json()["error"] == 403 and r.json()["message"] == "Username already exists."
    fake_rc.state.create_user("carol", email="dup@example.org")
    r2 = _login(fake_rc, {"id": "7", "username": "dave", "email": "dup@example.org", "name": "D"})
    assert r2.json()["message"] == "Email already exists."
    assert fake_rc.state.find_user_by_username("dave") is None


def test_merge_takes_over_a_provisioned_account(fake_rc: FakeServer) -> None:
    """Both merge settings on: the identity attaches to the account users.create made; name set from the
    provider, services.besedka.id stored, emails replaced (key field username) with a verified address."""
    _setup(fake_rc, merge_users=True, merge_users_distinct_services=True)
    created = fake_rc.state.create_user("alice", name="Bridge Name", email="old@example.org", verified=False)
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 200 and r.json()["data"]["userId"] == created["_id"]
    user = fake_rc.state.find_user(created["_id"])
    assert user["name"] == "Alice A" and user["services"]["besedka"]["id"] == "42"
    assert user["emails"] == [{"address": "alice@example.org", "verified": True}]
    assert fake_rc.state.find_user_by_email("alice@example.org")["_id"] == created["_id"]


def test_linked_user_whose_name_changed_is_refused_without_merge(fake_rc: FakeServer) -> None:
    """RC issue #19357: linked account, provider name differs, merge_users off → 'already exists'."""
    _setup(fake_rc)
    assert _login(fake_rc, IDENTITY).status_code == 200
    r = _login(fake_rc, {**IDENTITY, "name": "Alice Renamed"})
    assert r.json()["error"] == "CustomOAuth" and r.json()["message"] == "User with username alice already exists"


def test_key_field_email_matches_by_email(fake_rc: FakeServer) -> None:
    _setup(fake_rc, key_field="email", merge_users=True, merge_users_distinct_services=True)
    created = fake_rc.state.create_user("alice-old", name="X", email="Alice@Example.org")
    r = _login(fake_rc, IDENTITY)
    assert r.json()["data"]["userId"] == created["_id"]
    user = fake_rc.state.find_user(created["_id"])
    assert user["username"] == "alice-old" and user["emails"][0]["address"] == "Alice@Example.org"


def test_fields_templates_and_missing_values(fake_rc: FakeServer) -> None:
    """custom_oauth_server.js: dot paths and {{ }} templates; a configured field missing → Error text."""
    _setup(fake_rc, username_field="profile.login", email_field="{{profile.login}}@example.org", name_field="profile.full")
    ok = _login(fake_rc, {"sub": "s-1", "profile": {"login": "zed", "full": "Zed Z"}})
    assert ok.status_code == 200, ok.text
    user = fake_rc.state.find_user_by_username("zed")
    assert user["emails"][0]["address"] == "zed@example.org" and user["name"] == "Zed Z"
    assert user["services"]["besedka"]["id"] == "s-1"  # `sub` normalised to id
    bad = _login(fake_rc, {"sub": "s-2", "profile": {}})
    assert bad.status_code == 401 and bad.json() == {"success": False, "status": "error",
                                                     "message": "CustomOAuth: Failed to extract username"}


def test_identity_without_id(fake_rc: FakeServer) -> None:
    """accounts-base updateOrCreateUserFromExternalService: 'Service data for service X must include id'."""
    _setup(fake_rc)
    r = _login(fake_rc, {"username": "noid", "email": "n@example.org"})
    assert r.status_code == 401 and r.json()["message"] == "Service data for service besedka must include id"


def test_unknown_or_disabled_service_is_404(fake_rc: FakeServer) -> None:
    assert _login(fake_rc, IDENTITY, "nope").status_code == 404
    _setup(fake_rc, enabled=False)
    assert _login(fake_rc, IDENTITY).status_code == 404


def test_users_info_never_shows_another_users_services(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """users.ts users.info: `services` only in your own record (getFullUserData), never another user's."""
    _setup(fake_rc)
    data = _login(fake_rc, IDENTITY).json()["data"]
    other = admin.get("/api/v1/users.info", params={"username": "alice"}).json()["user"]
    assert "services" not in other and other["username"] == "alice"
    own = httpx.get(fake_rc.url + "/api/v1/users.info", params={"userId": data["userId"]},
                    headers={"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}).json()["user"]
    assert own["services"]["besedka"]["id"] == "42"


def test_in_process_helper_matches_http(fake_rc: FakeServer) -> None:
    _setup(fake_rc)
    reply = fake_rc.oauth_login("besedka", IDENTITY)
    assert reply.status == 200 and reply.body["data"]["me"]["username"] == "alice"
    result = fake_rc.state.oauth_login("besedka", IDENTITY)
    assert result.user_id == reply.body["data"]["userId"] and fake_rc.state.authenticate(result.user_id, result.token)
    assert "***" in repr(result)


@pytest.mark.parametrize("compat", [6])
def test_6x_failure_body_has_no_success_key(fake_rc_factory, compat: int) -> None:
    rc = fake_rc_factory(compat=compat, admin_username="admin", admin_password="pw")
    _setup(rc)
    body = _login(rc, {"username": "x"}).json()
    assert "success" not in body and body["status"] == "error"


def test_email_2fa_of_oauth_users_follows_the_oauth_setting(fake_rc: FakeServer) -> None:
    """app/2fa/server/code/EmailCheck.ts `isEnabled`: an OAuth user (core-typings `isOAuthUser`: any
    non-internal `services` key) is email-challenged only while
    Accounts_twoFactorAuthentication_email_available_for_OAuth_users; OAuth users have no password fallback."""
    _setup(fake_rc)
    data = _login(fake_rc, IDENTITY).json()["data"]
    assert data["me"]["isOAuthUser"] is True
    headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
    fake_rc.state.clock.shift(3600)  # past "remember right after registration"
    r = httpx.post(fake_rc.url + "/api/v1/users.generatePersonalAccessToken", headers=headers, json={"tokenName": "t"})
    assert r.json()["errorType"] == "totp-required" and r.json()["details"]["method"] == "email"
    fake_rc.state.set_setting("Accounts_twoFactorAuthentication_email_available_for_OAuth_users", False)
    ok = httpx.post(fake_rc.url + "/api/v1/users.generatePersonalAccessToken", headers=headers, json={"tokenName": "t"})
    assert ok.status_code == 200 and ok.json()["token"]


def test_seed_registers_custom_oauth_services(fake_rc_factory) -> None:
    rc = fake_rc_factory(seed={"custom_oauth": {"besedka": {"username_field": "username", "merge_users": True}},
                               "settings": {"Accounts_OAuth_Custom-Besedka-url": "https://id.example"}})
    assert rc.state.setting("Accounts_OAuth_Custom-Besedka") is True
    assert rc.state.setting("Accounts_OAuth_Custom-Besedka-merge_users") is True
    assert rc.state.setting("Accounts_OAuth_Custom-Besedka-url") == "https://id.example"
    assert _login(rc, IDENTITY).status_code == 200


def test_without_username_field_the_account_has_no_username(fake_rc: FakeServer) -> None:
    """custom_oauth_server.js `validateNewUser`: `user.username` is set only with a `-username_field`; without
    one the account is created username-less (Rocket.Chat's UI asks for one) and joins no default channel,
    while the merge hook still matches on the identity's own `username`."""
    fake_rc.state.configure_custom_oauth("besedka")
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 200, r.text
    user = fake_rc.state.find_user(r.json()["data"]["userId"])
    assert "username" not in user and user["name"] == "Alice A" and user["__rooms"] == []
    assert user["services"]["besedka"]["username"] == "alice"  # serviceData keeps the identity's fields
    assert fake_rc.state.find_user_by_username("alice") is None


def test_allowed_domains_list(fake_rc: FakeServer) -> None:
    """startup/index.js `validateEmailDomain`: Meteor.Error('error-invalid-domain') has no reason, so the login
    failure has no `message`."""
    _setup(fake_rc)
    fake_rc.state.set_setting("Accounts_AllowedDomainsList", "example.com, example.net")
    r = _login(fake_rc, IDENTITY)
    assert r.status_code == 401 and r.json() == {"success": False, "status": "error", "error": "error-invalid-domain"}
    assert _login(fake_rc, {**IDENTITY, "email": "alice@example.net"}).status_code == 200


def test_new_user_roles_add_the_users_default_roles(fake_rc: FakeServer) -> None:
    """insertUserDoc + getNewUserRoles: AuthenticationServices_Default_Roles ∪ Users_Default_Roles."""
    _setup(fake_rc)
    fake_rc.state.create_role("site-member")
    role_id = fake_rc.state.role_doc("site-member")["_id"]
    fake_rc.state.set_setting("Accounts_Registration_AuthenticationServices_Default_Roles", "guest")
    fake_rc.state.set_setting("Accounts_Registration_Users_Default_Roles", f"user,{role_id}")
    _login(fake_rc, IDENTITY)
    assert fake_rc.state.find_user_by_username("alice")["roles"] == ["guest", "user", role_id]


@pytest.mark.parametrize("identity, expected_id", [
    ({"_id": "a1"}, "a1"),
    ({"ID": 7}, 7),  # kept as the provider sends it (a number stays a number)
    ({"user_id": "auth0|x"}, "auth0|x"),
    ({"userid": "u9"}, "u9"),
    ({"ocs": {"data": {"id": "nc1", "displayname": "Nc", "email": "nc@example.org"}}}, "nc1"),
])
def test_identity_normalizers(fake_rc: FakeServer, identity: dict[str, Any], expected_id: Any) -> None:
    """transform_helpers.ts `normalizers`: where providers keep the id."""
    _setup(fake_rc, username_field="login", email_field="")
    r = _login(fake_rc, {"login": "person", **identity})
    assert r.status_code == 200, r.text
    assert fake_rc.state.find_user_by_username("person")["services"]["besedka"]["id"] == expected_id


def test_templates_regex_formulas_and_dotted_keys(fake_rc: FakeServer) -> None:
    """transform_helpers.ts: `{{/regex/::path}}` takes the first capture group, a missing part renders as
    "undefined"; `renameInvalidProperties` turns dots in keys into underscores."""
    _setup(fake_rc, username_field="{{/^(.+)@/::mail}}", email_field="mail", name_field="{{given}} {{family}}")
    r = _login(fake_rc, {"id": "1", "mail": "zoe@example.org", "given": "Zoe", "a.b": {"c.d": 1}})
    assert r.status_code == 200, r.text
    user = fake_rc.state.find_user_by_username("zoe")
    assert user["name"] == "Zoe undefined"
    assert user["services"]["besedka"]["a_b"] == {"c_d": 1}


def test_a_username_less_account_can_be_given_a_username(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """saveUser/saveUserIdentity: users.update sets a username on an account that has none."""
    fake_rc.state.configure_custom_oauth("besedka")
    uid = _login(fake_rc, IDENTITY).json()["data"]["userId"]
    r = admin.post("/api/v1/users.update", json={"userId": uid, "data": {"username": "alice", "name": "Alice A"}})
    assert r.status_code == 200, r.text
    assert fake_rc.state.find_user_by_username("alice")["_id"] == uid


MATRIX = [(k, d, m) for k in ("username", "email") for d in (False, True) for m in (False, True)]


@pytest.mark.parametrize("key_field,distinct,merge", MATRIX)
def test_every_clash_and_merge_combination_for_a_precreated_account_reference_11_1(
        fake_rc: FakeServer, key_field: str, distinct: bool, merge: bool) -> None:
    """§11.1's table for an account `users.create` made (no `services.besedka`) with the identity's username
    and email: only the distinct-services lookup finds it (by `-key_field` alone); found + merge off is the
    hook's refusal, found + merge on takes it over; not found, Meteor's insert hits the unique index
    (custom_oauth_server.js `addHookToProcessUser`; accounts-base `insertUserDoc`'s catch tests
    `emails.address` before `username`). Never a duplicate account."""
    _setup(fake_rc, key_field=key_field, merge_users=merge, merge_users_distinct_services=distinct)
    created = fake_rc.state.create_user("alice", name="Bridge Name", email="alice@example.org")
    before = len(fake_rc.state.usernames())
    r = _login(fake_rc, IDENTITY)
    if distinct and merge:
        assert r.status_code == 200 and r.json()["data"]["userId"] == created["_id"], r.text
        assert fake_rc.state.find_user(created["_id"])["services"]["besedka"]["id"] == "42"
    elif distinct:
        assert r.status_code == 401 and r.json() == {"success": False, "status": "error", "error": "CustomOAuth",
                                                     "message": "User with username alice already exists"}
    else:
        assert r.status_code == 401 and r.json()["error"] == 403 and r.json()["message"] == "Email already exists."
    assert len(fake_rc.state.usernames()) == before
    if not (distinct and merge):
        assert "services" not in fake_rc.state.find_user(created["_id"]) or \
            "besedka" not in fake_rc.state.find_user(created["_id"])["services"]


@pytest.mark.parametrize("key_field,distinct,merge", MATRIX)
def test_every_combination_for_an_account_the_login_made_reference_11_1(
        fake_rc: FakeServer, key_field: str, distinct: bool, merge: bool) -> None:
    """An account already linked to the identity (its first login made it): the next login with the same
    profile goes in under every setting; a name changed at the provider is refused without merge (RC issue
    #19357) and taken over with it."""
    _setup(fake_rc, key_field=key_field, merge_users=merge, merge_users_distinct_services=distinct)
    first = _login(fake_rc, IDENTITY)
    assert first.status_code == 200, first.text
    uid = first.json()["data"]["userId"]
    assert _login(fake_rc, IDENTITY).json()["data"]["userId"] == uid
    renamed = _login(fake_rc, {**IDENTITY, "name": "Alice Renamed"})
    if merge:
        assert renamed.status_code == 200 and renamed.json()["data"]["userId"] == uid
        assert fake_rc.state.find_user(uid)["name"] == "Alice Renamed"
    else:
        assert renamed.status_code == 401 and renamed.json()["message"] == "User with username alice already exists"
        assert fake_rc.state.find_user(uid)["name"] == "Alice A"
    assert len([u for u in fake_rc.state.usernames() if u.lower() == "alice"]) == 1
