"""users.listByStatus, users.presence, users.info by importId, personal access tokens and users.register's
Secret URL form. Sources (apps/meteor/...): `app/api/server/v1/users.ts`, `app/api/server/lib/users.ts`
(findPaginatedUsersByStatus), `imports/personal-access-tokens/server/api/methods/{regenerateToken,
removeToken}.ts`, `app/lib/server/methods/registerUser.ts`."""

from __future__ import annotations

from datetime import timedelta

import httpx

from fake_rocketchat.backend.views import iso
from fake_rocketchat.harness.testing import FakeServer


def _as(fake_rc: FakeServer, username: str) -> httpx.Client:
    return httpx.Client(base_url=fake_rc.url, headers=fake_rc.headers_for(username), timeout=10)


def test_list_by_status_filters_users_lib(fake_rc: FakeServer, admin: httpx.Client) -> None:
    fake_rc.state.create_user("lb.ann", name="Ann Lee", email="ann@corp.example")
    fake_rc.state.create_user("lb.bob", name="Bob", active=False, roles=("user", "bot"))
    active = admin.get("/api/v1/users.listByStatus", params={"status": "active", "searchTerm": "lb."}).json()
    assert [u["username"] for u in active["users"]] == ["lb.ann"] and active["total"] == 1
    gone = admin.get("/api/v1/users.listByStatus", params={"status": "deactivated"}).json()
    assert [u["username"] for u in gone["users"]] == ["lb.bob"]
    assert set(gone["users"][0]) <= {"_id", "name", "username", "emails", "roles", "status", "active", "avatarETag", "lastLogin", "type", "reason", "federated"}
    bots = admin.get("/api/v1/users.listByStatus", params={"roles[]": "bot", "searchTerm": "lb"}).json()
    assert [u["username"] for u in bots["users"]] == ["lb.bob"]
    # e-mail addresses are searched only for view-full-other-user-info
    assert [u["username"] for u in admin.get("/api/v1/users.listByStatus", params={"searchTerm": "corp.example"}).json()["users"]] == ["lb.ann"]
    with _as(fake_rc, "lb.ann") as ann:
        assert ann.get("/api/v1/users.listByStatus", params={"searchTerm": "corp.example"}).json()["users"] == []
    bad = admin.get("/api/v1/users.listByStatus", params={"status": "gone"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "invalid-params"
    assert admin.get("/api/v1/users.listByStatus", params={"foo": "1"}).json()["errorType"] == "invalid-params"


def test_list_by_status_needs_view_d_room(fake_rc: FakeServer) -> None:
    fake_rc.state.create_user("lb.guest", roles=("guest",))
    fake_rc.state.revoke_permission("view-d-room", "guest")
    with _as(fake_rc, "lb.guest") as guest:
        r = guest.get("/api/v1/users.listByStatus")
    assert r.status_code == 403 and r.json()["error"] == "User does not have the permissions required for this action [error-unauthorized]"


def test_presence_ids_and_full_users_ts(fake_rc: FakeServer, admin: httpx.Client) -> None:
    on = fake_rc.state.create_user("pr.on")
    off = fake_rc.state.create_user("pr.off")
    fake_rc.state.set_user_status(on["_id"], "busy", "in a call")
    full = admin.get("/api/v1/users.presence").json()
    assert full["full"] is True and "pr.on" in [u["username"] for u in full["users"]]
    assert "pr.off" not in [u["username"] for u in full["users"]]
    entry = next(u for u in full["users"] if u["username"] == "pr.on")
    assert entry["status"] == "busy" and entry["statusText"] == "in a call" and "emails" not in entry
    some = admin.get("/api/v1/users.presence", params={"ids": f"{on['_id']},{off['_id']}"}).json()
    assert some == {"users": [entry], "full": False, "success": True}
    old = iso(fake_rc.state.now() - timedelta(hours=1))
    assert admin.get("/api/v1/users.presence", params={"from": old}).json()["full"] is True


def test_users_info_by_import_id(fake_rc: FakeServer, admin: httpx.Client) -> None:
    user = fake_rc.state.create_user("imp.user")
    with fake_rc.state.lock:
        fake_rc.state.users[user["_id"]]["importIds"] = ["legacy-42"]
    body = admin.get("/api/v1/users.info", params={"importId": "legacy-42"}).json()
    assert body["user"]["username"] == "imp.user"
    assert admin.get("/api/v1/users.info", params={"importId": "nope"}).json() == {"success": False, "error": "User not found."}


def test_pat_regenerate_and_remove_of_a_missing_token_regenerateToken_ts(fake_rc: FakeServer, admin: httpx.Client) -> None:
    assert admin.post("/api/v1/users.regeneratePersonalAccessToken", json={}).json() == {
        "success": False, "error": "The 'tokenName' param is required"}
    missing = admin.post("/api/v1/users.regeneratePersonalAccessToken", json={"tokenName": "none"}).json()
    assert missing["error"] == "Token does not exist [error-token-does-not-exists]"
    first = admin.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "ci", "bypassTwoFactor": True}).json()["token"]
    second = admin.post("/api/v1/users.regeneratePersonalAccessToken", json={"tokenName": "ci"}).json()["token"]
    assert first != second
    tokens = admin.get("/api/v1/users.getPersonalAccessTokens").json()["tokens"]
    assert [(t["name"], t["bypassTwoFactor"], t["lastTokenPart"]) for t in tokens] == [("ci", True, second[-6:])]
    assert admin.post("/api/v1/users.removePersonalAccessToken", json={"tokenName": "ci"}).json() == {"success": True}
    assert admin.post("/api/v1/users.removePersonalAccessToken", json={"tokenName": "ci"}).json()["errorType"] == "error-token-does-not-exists"


def test_get_personal_access_tokens_permission_7x_route_6x_handler(fake_rc_factory) -> None:
    """7.x: `permissionsRequired: ['create-personal-access-tokens']` (403); 6.x threw not-authorized (400)."""
    for compat, status in ((7, 403), (6, 400)):
        srv = fake_rc_factory(admin_username=f"pat{compat}", admin_password="pw", compat=compat)
        srv.state.create_user("pat.guest", roles=("guest",))
        with httpx.Client(base_url=srv.url, headers=srv.headers_for("pat.guest"), timeout=10) as guest:
            assert guest.get("/api/v1/users.getPersonalAccessTokens").status_code == status, compat


def test_register_with_secret_url_form_registerUser_ts(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.set_setting("Accounts_RegistrationForm", "Secret URL")
    body = {"username": "sec.x", "email": "secx@example.org", "pass": "pw", "name": "X", "secret": "wrong"}
    r = http.post("/api/v1/users.register", json=body)
    assert r.status_code == 400 and r.json()["error"] == "User registration is only allowed via Secret URL [error-user-registration-secret]"
    fake_rc.state.set_setting("Accounts_RegistrationForm", "Disabled")
    assert http.post("/api/v1/users.register", json=body).json()["errorType"] == "error-user-registration-disabled"


def test_users_info_empty_lookup_value_is_invalid_search_query_users_ts(admin: httpx.Client) -> None:
    r = admin.get("/api/v1/users.info", params={"userId": ""})
    assert r.status_code == 400 and r.json() == {"success": False, "error": "Invalid search query."}


def test_register_checks_the_username_pattern_before_availability_users_ts(http: httpx.Client) -> None:
    body = {"username": "bad name!", "email": "bn@example.org", "pass": "pw", "name": "B"}
    assert http.post("/api/v1/users.register", json=body).json() == {"success": False, "error": "The username provided is not valid"}


def test_pat_routes_require_2fa_reference_2_1(fake_rc: FakeServer) -> None:
    """generate/regenerate/remove are `twoFactorRequired: true` (users.ts); getPersonalAccessTokens is not."""
    import pyotp

    secret = pyotp.random_base32()
    fake_rc.state.create_user("pat.totp", password="pw", totp_secret=secret)
    with fake_rc.state.lock:  # older than "remember right after registration"
        fake_rc.state.user_doc_by_username("pat.totp")["createdAt"] = fake_rc.state.now() - timedelta(days=2)
    with _as(fake_rc, "pat.totp") as client:
        for path in ("users.generatePersonalAccessToken", "users.regeneratePersonalAccessToken", "users.removePersonalAccessToken"):
            r = client.post(f"/api/v1/{path}", json={"tokenName": "t"})
            assert r.status_code == 400 and r.json()["errorType"] == "totp-required", path
        code = pyotp.TOTP(secret).at(fake_rc.state.clock.time())
        ok = client.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "t"}, headers={"x-2fa-code": code, "x-2fa-method": "totp"})
        assert ok.status_code == 200, ok.text
        assert client.get("/api/v1/users.getPersonalAccessTokens").status_code == 200
