"""The permission and settings registries over REST (issue 11, reference §11.3, §11.4).

Sources, `RocketChat/Rocket.Chat` `apps/meteor/`: `app/authorization/server/constant/permissions.ts` (7dd5655),
`app/api/server/v1/permissions.ts` and `v1/settings.ts` (7.x copies), `server/lib/oauth/addOAuthService.ts`,
`app/api/server/api.ts` (`settings.watch` on the limiter settings), `server/settings/*.ts`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fake_rocketchat.backend.permission_table import PERMISSIONS
from fake_rocketchat.backend.settings_registry import REGISTRY, custom_oauth_settings
from fake_rocketchat.harness.testing import FakeServer

DENIED = {"success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"}


# ------------------------------------------------------------------ permissions.ts / constant/permissions.ts
def test_list_all_has_every_7x_permission_and_every_granted_role_exists(admin: httpx.Client) -> None:
    """constant/permissions.ts @7dd5655: the whole table; every role a grant names is in roles.list
    (no 8.x `federated-external`), so writing listAll back through permissions.update succeeds."""
    listed = {p["_id"]: p["roles"] for p in admin.get("/api/v1/permissions.listAll").json()["update"]}
    for pid, roles in PERMISSIONS.items():
        assert sorted(listed[pid]) == sorted(roles), pid
    roles = {r["_id"] for r in admin.get("/api/v1/roles.list").json()["roles"]}
    assert "federated-external" not in roles
    assert {r for grant in listed.values() for r in grant} <= roles
    back = admin.post("/api/v1/permissions.update",
                      json={"permissions": [{"_id": k, "roles": v} for k, v in listed.items()]})
    assert back.status_code == 200, back.text


def test_update_accepts_any_table_id_eg_message_impersonate(admin: httpx.Client, fake_rc: FakeServer) -> None:
    r = admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "message-impersonate", "roles": ["bot", "user"]}]})
    assert r.status_code == 200 and r.json()["success"] is True
    assert fake_rc.state.permission_roles("message-impersonate") == ["bot", "user"]


def test_setting_permissions_exist_for_visible_settings(admin: httpx.Client) -> None:
    """upsertPermissions: `change-setting-<id>` with level 'settings' for every non-hidden setting, no roles."""
    listed = {p["_id"]: p for p in admin.get("/api/v1/permissions.listAll").json()["update"]}
    doc = listed["change-setting-Site_Url"]
    assert doc["roles"] == [] and doc["level"] == "settings" and doc["settingId"] == "Site_Url" and doc["group"] == "General"
    assert "change-setting-Accounts_SystemBlockedUsernameList" not in listed  # hidden


def test_update_is_all_or_nothing_and_a_repeated_id_is_invalid(admin: httpx.Client, fake_rc: FakeServer) -> None:
    """permissions.ts: found count must equal entry count (a duplicate fails), then distinct roles; nothing written."""
    before = fake_rc.state.permission_roles("create-c")
    dup = admin.post("/api/v1/permissions.update", json={"permissions": [
        {"_id": "create-c", "roles": ["admin"]}, {"_id": "create-c", "roles": ["admin"]}]})
    assert dup.json() == {"success": False, "error": "Invalid permission", "errorType": "error-invalid-permission"}
    mixed = admin.post("/api/v1/permissions.update", json={"permissions": [
        {"_id": "create-c", "roles": ["admin"]}, {"_id": "create-p", "roles": ["no-such-role"]}]})
    assert mixed.json() == {"success": False, "error": "Invalid role", "errorType": "error-invalid-role"}
    bad_body = admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "create-c"}]})
    assert bad_body.json() == {"success": False, "error": "Invalid body params", "errorType": "error-invalid-body-params"}
    assert fake_rc.state.permission_roles("create-c") == before


def test_list_all_updated_since(admin: httpx.Client, fake_rc: FakeServer) -> None:
    """permissions.ts listAll: `updatedSince` gives `{update, remove}` of changes since; a bad date is
    `error-roomId-param-invalid` (sic)."""
    since = (fake_rc.state.now() + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    fake_rc.state.clock.shift(2)
    admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "create-d", "roles": ["admin"]}]})
    delta = admin.get("/api/v1/permissions.listAll", params={"updatedSince": since}).json()
    assert [p["_id"] for p in delta["update"]] == ["create-d"] and delta["remove"] == []
    bad = admin.get("/api/v1/permissions.listAll", params={"updatedSince": "yesterday"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "error-roomId-param-invalid"
    assert bad.json()["error"] == 'The "updatedSince" query parameter must be a valid date. [error-roomId-param-invalid]'


# ------------------------------------------------------------------ settings.ts (7.x)
def test_setting_get_hidden_or_unknown_is_bare_failure(admin: httpx.Client) -> None:
    """settings.ts: `findOneNotHiddenById` misses → `API.v1.failure()` → `{"success": false}`."""
    for setting_id in ("Accounts_SystemBlockedUsernameList", "No_Such_Setting"):
        r = admin.get(f"/api/v1/settings/{setting_id}")
        assert r.status_code == 400 and r.json() == {"success": False}
        w = admin.post(f"/api/v1/settings/{setting_id}", json={"value": "x"})
        assert w.status_code == 400 and w.json() == {"success": False}


def test_setting_routes_use_permissions_required_in_7x(fake_rc: FakeServer) -> None:
    """settings.ts: `permissionsRequired` GET view-privileged-setting / POST edit-privileged-setting (403)."""
    fake_rc.state.create_user("pleb")
    headers = fake_rc.headers_for("pleb")
    got = httpx.get(fake_rc.url + "/api/v1/settings/Site_Url", headers=headers)
    posted = httpx.post(fake_rc.url + "/api/v1/settings/Site_Url", headers=headers, json={"value": "x"})
    assert (got.status_code, got.json()) == (403, DENIED) and (posted.status_code, posted.json()) == (403, DENIED)


def test_setting_post_shapes_and_no_type_check(admin: httpx.Client, fake_rc: FakeServer) -> None:
    """settings.ts: `{value}` stored as is (no type check in 7.x), action `{execute:true}` runs, other bodies fail."""
    assert admin.post("/api/v1/settings/Site_Url", json={"value": "https://chat.example.org"}).json() == {"success": True}
    assert admin.get("/api/v1/settings/Site_Url").json() == {"_id": "Site_Url", "value": "https://chat.example.org", "success": True}
    assert admin.post("/api/v1/settings/API_Default_Count", json={"value": "lots"}).json() == {"success": True}
    assert fake_rc.state.setting("API_Default_Count") == "lots"
    assert admin.post("/api/v1/settings/Restart", json={"execute": True}).json() == {"success": True}
    assert admin.post("/api/v1/settings/Restart", json={"execute": False}).json() == {"success": False}
    # Show_Setup_Wizard is readonly in the registry; REST does not enforce it (reference §11.3).
    assert admin.post("/api/v1/settings/Show_Setup_Wizard", json={"value": "completed"}).json() == {"success": True}


def test_settings_listing_public_only_without_privilege_and_include_defaults(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """settings.ts `GET settings`: non-hidden, public only without view-privileged-setting, `packageValue`."""
    full = admin.get("/api/v1/settings", params={"count": 0, "includeDefaults": "true"}).json()
    ids = [s["_id"] for s in full["settings"]]
    assert ids == sorted(ids) and full["total"] == len(ids) and full["offset"] == 0
    assert "Iframe_Restrict_Access" in ids and "Accounts_SystemBlockedUsernameList" not in ids
    by_id = {s["_id"]: s for s in full["settings"]}
    assert by_id["Site_Url"]["packageValue"] == REGISTRY["Site_Url"].default
    assert by_id["Layout_Login_Hide_Logo"]["enterprise"] is True and "invalidValue" in by_id["Layout_Login_Hide_Logo"]
    fake_rc.state.create_user("pleb")
    pleb = httpx.get(fake_rc.url + "/api/v1/settings", params={"count": 0}, headers=fake_rc.headers_for("pleb")).json()
    assert {s["_id"] for s in pleb["settings"]} == {k for k, s in REGISTRY.items() if s.public and not s.hidden}
    paged = admin.get("/api/v1/settings", params={"count": 5, "offset": 5}).json()
    assert [s["_id"] for s in paged["settings"]] == ids[5:10] and paged["count"] == 5
    assert admin.get("/api/v1/settings", params={"bogus": "1"}).json()["errorType"] == "invalid-params"


def test_settings_public_no_auth_with_id_filter(http: httpx.Client) -> None:
    """settings.ts `settings.public`: no auth, `_id=a,b`, only public non-hidden settings."""
    r = http.get("/api/v1/settings.public", params={"_id": "Site_Url,Iframe_Restrict_Access,UI_Use_Real_Name"}).json()
    assert [s["_id"] for s in r["settings"]] == ["Site_Url", "UI_Use_Real_Name"]  # Iframe_Restrict_Access is not public
    assert r["total"] == 2 and r["count"] == 2


def test_add_custom_oauth_registers_block_needs_permission_and_name(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """settings.ts `settings.addCustomOAuth` + addOAuthService.ts: name required, `add-oauth-service`,
    the block registered with defaults; an existing service keeps its values."""
    missing = admin.post("/api/v1/settings.addCustomOAuth", json={"name": "  "})
    assert missing.json()["errorType"] == "error-name-param-not-provided"
    assert missing.json()["error"] == 'The parameter "name" is required [error-name-param-not-provided]'
    fake_rc.state.create_user("pleb")
    denied = httpx.post(fake_rc.url + "/api/v1/settings.addCustomOAuth", json={"name": "x"}, headers=fake_rc.headers_for("pleb"))
    assert denied.json() == {
        "success": False, "error": "Adding OAuth Services is not allowed [error-action-not-allowed]",
        "errorType": "error-action-not-allowed", "details": {"method": "addOAuthService", "action": "Adding_OAuth_Services"}}
    assert admin.post("/api/v1/settings.addCustomOAuth", json={"name": "besedka"}).json() == {"success": True}
    for spec in custom_oauth_settings("besedka"):
        assert admin.get(f"/api/v1/settings/{spec.id}").json()["value"] == spec.default
    assert admin.post("/api/v1/settings/Accounts_OAuth_Custom-Besedka-url", json={"value": "https://id.example"}).json()["success"]
    assert admin.post("/api/v1/settings.addCustomOAuth", json={"name": "Besedka"}).json() == {"success": True}
    assert fake_rc.state.setting("Accounts_OAuth_Custom-Besedka-url") == "https://id.example"


def test_settings_oauth_lists_enabled_custom_service_without_secret(fake_rc: FakeServer, http: httpx.Client) -> None:
    """settings.ts `settings.oauth` + updateOAuthServices.ts: only while the base setting is on; no secret."""
    fake_rc.state.add_custom_oauth_service("besedka")
    fake_rc.state.set_setting("Accounts_OAuth_Custom-Besedka-secret", "s3cret-value")
    assert http.get("/api/v1/settings.oauth").json() == {"services": [], "success": True}
    fake_rc.state.set_setting("Accounts_OAuth_Custom-Besedka", True)
    services = http.get("/api/v1/settings.oauth").json()["services"]
    assert [s["service"] for s in services] == ["besedka"] and services[0]["custom"] is True
    assert "s3cret-value" not in str(services) and "secret" not in services[0]
    assert services[0]["tokenPath"] == "/oauth/token" and services[0]["keyField"] == "username"
    assert services[0]["mergeUsers"] is False and services[0]["channelsAdmin"] == "rocket.cat"


def test_rest_limiter_follows_its_settings_live(fake_rc_factory) -> None:
    """api.ts: `settings.watch('API_Enable_Rate_Limiter_Limit_Calls_Default', ...)` reconfigures every route."""
    rc = fake_rc_factory(admin_username="admin", admin_password="pw", rate_limit=True)
    rc.state.create_user("alice")
    headers = rc.headers_for("alice")  # not admin: no api-bypass-rate-limit
    with httpx.Client(base_url=rc.url, headers=headers) as c:
        assert c.get("/api/v1/me").headers["X-RateLimit-Limit"] == "10"
        admin = rc.admin_headers()
        assert c.post("/api/v1/settings/API_Enable_Rate_Limiter_Limit_Calls_Default", json={"value": 2}, headers=admin).json()["success"]
        first = c.get("/api/v1/me")
        assert first.headers["X-RateLimit-Limit"] == "2" and first.headers["X-RateLimit-Remaining"] == "1"
        c.get("/api/v1/me")
        assert c.get("/api/v1/me").status_code == 429
        c.post("/api/v1/settings/API_Enable_Rate_Limiter", json={"value": False}, headers=admin)
        assert c.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("compat", [6])
def test_settings_6x_handler_checks_answer_unauthorized(fake_rc_factory, compat: int) -> None:
    """6.14 settings.ts checked the permission in the handler: `API.v1.unauthorized()` (403 "unauthorized")."""
    rc = fake_rc_factory(compat=compat, admin_username="admin", admin_password="pw")
    rc.state.create_user("pleb")
    r = httpx.get(rc.url + "/api/v1/settings/Site_Url", headers=rc.headers_for("pleb"))
    assert (r.status_code, r.json()) == (403, {"success": False, "error": "unauthorized"})


# ------------------------------------------------------------------ ee/server/api/roles.ts, ee/server/lib/roles/updateRole.ts
def test_roles_update(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """roles.update: schema → error-invalid-role-properties; protected roles keep name and scope but take a
    description; unknown id → error-invalid-roleId; duplicate names refused; stream-roles `changed`."""
    seen: list = []
    unsubscribe = fake_rc.state.events.subscribe(seen.append)
    role = fake_rc.state.create_role("site-vip", description="VIP")
    r = admin.post("/api/v1/roles.update", json={"roleId": role["_id"], "name": "site-gold", "description": None})
    assert r.status_code == 200, r.text
    body = r.json()["role"]
    assert body["name"] == "site-gold" and body["description"] == "" and body["mandatory2fa"] is False
    assert any(e.stream == "stream-roles" and e.args[0]["type"] == "changed" for e in seen)
    unsubscribe()
    assert admin.post("/api/v1/roles.update", json={"roleId": role["_id"]}).json()["errorType"] == "error-invalid-role-properties"
    assert admin.post("/api/v1/roles.update", json={"roleId": "admin", "name": "boss"}).json()["errorType"] == "error-role-protected"
    ok = admin.post("/api/v1/roles.update", json={"roleId": "admin", "name": "admin", "description": "Admins"})
    assert ok.json()["role"]["description"] == "Admins" and ok.json()["role"]["protected"] is True
    assert admin.post("/api/v1/roles.update", json={"roleId": "nope", "name": "x"}).json()["errorType"] == "error-invalid-roleId"
    dup = admin.post("/api/v1/roles.update", json={"roleId": role["_id"], "name": "user"})
    assert dup.json()["errorType"] == "error-duplicate-role-names-not-allowed"
    fake_rc.state.custom_roles_licensed = False
    assert admin.post("/api/v1/roles.update", json={"roleId": role["_id"], "name": "x"}).json()["error"] == \
        "This is an enterprise feature [error-action-not-allowed]"


def test_ddp_limiter_follows_settings_written_over_rest(fake_rc_factory) -> None:
    """app/lib/server/startup/rateLimiter.js `reconfigureLimit` watches `DDP_Rate_Limit_*`; REST `method.call`
    counts on the same limiter (reference §8.4), one connection per call, so User_By_Method applies."""
    import json as _json

    rc = fake_rc_factory(admin_username="admin", admin_password="pw", rate_limit=True)
    rc.state.create_user("alice")
    admin = rc.admin_headers()
    assert httpx.post(rc.url + "/api/v1/settings/DDP_Rate_Limit_User_By_Method_Requests_Allowed", headers=admin,
                      json={"value": 3}).json() == {"success": True}
    headers = rc.headers_for("alice")
    message = _json.dumps({"msg": "method", "id": "1", "method": "2fa:checkCodesRemaining", "params": []})
    answers = [httpx.post(rc.url + "/api/v1/method.call/2fa:checkCodesRemaining", headers=headers,
                          json={"message": message}).json()["message"] for _ in range(4)]
    assert all("too-many-requests" not in a for a in answers[:3]) and "too-many-requests" in answers[3]


def test_add_custom_oauth_needs_2fa(fake_rc_factory) -> None:
    """settings.ts: settings.addCustomOAuth has `twoFactorRequired: true`."""
    import pyotp

    secret = pyotp.random_base32()
    rc = fake_rc_factory(admin_username="svc", admin_password="pw", admin_totp_secret=secret)
    rc.state.clock.shift(3600)
    r = httpx.post(rc.url + "/api/v1/settings.addCustomOAuth", headers=rc.admin_headers(), json={"name": "besedka"})
    assert r.json()["errorType"] == "totp-required" and "Accounts_OAuth_Custom-Besedka" not in rc.state.settings
    code = pyotp.TOTP(secret).at(rc.state.clock.time())
    ok = httpx.post(rc.url + "/api/v1/settings.addCustomOAuth", json={"name": "besedka"},
                    headers={**rc.admin_headers(), "x-2fa-code": code, "x-2fa-method": "totp"})
    assert ok.json() == {"success": True} and "Accounts_OAuth_Custom-Besedka" in rc.state.settings
