"""roles.*, permissions.*, settings/:_id — `apps/meteor/app/api/server/v1/{roles,permissions,settings}.ts`,
`ee/server/api/roles.ts`, `app/authorization/server/methods/{addUserToRole,removeUserFromRole}.ts`,
`app/authorization/server/constant/permissions.ts` (reference §3.1, §4, §8.3)."""

from __future__ import annotations

import hashlib

import httpx
import pyotp
import pytest

from fake_rocketchat.harness.testing import FakeServer

BUILTIN = {"admin", "moderator", "leader", "owner", "user", "bot", "app", "guest", "anonymous", "livechat-agent", "livechat-manager"}


def test_roles_list_builtins_have_id_equal_name(admin: httpx.Client) -> None:
    roles = admin.get("/api/v1/roles.list").json()["roles"]
    assert BUILTIN <= {r["_id"] for r in roles}
    for role in roles:
        assert role["_id"] == role["name"] and role["protected"] is True and "_updatedAt" not in role
    assert {r["_id"]: r["scope"] for r in roles}["moderator"] == "Subscriptions"


def test_roles_create_custom_random_id_and_stream_roles(fake_rc: FakeServer, admin: httpx.Client) -> None:
    seen = []
    unsubscribe = fake_rc.state.events.subscribe(seen.append)
    role = admin.post("/api/v1/roles.create", json={"name": "site-vip", "description": "VIP"}).json()["role"]
    unsubscribe()
    assert role["name"] == "site-vip" and role["scope"] == "Users" and role["protected"] is False
    assert len(role["_id"]) == 17 and role["_id"] != "site-vip"
    assert [(e.stream, e.event_name, e.args[0]["type"], e.args[0]["_id"]) for e in seen] == [("stream-roles", "roles", "changed", role["_id"])]
    dup = admin.post("/api/v1/roles.create", json={"name": "site-vip"})
    assert dup.json()["errorType"] == "error-duplicate-role-names-not-allowed"
    extra = admin.post("/api/v1/roles.create", json={"name": "x", "color": "red"})
    assert extra.json()["errorType"] == "error-invalid-role-properties"


def test_roles_create_is_enterprise_only_without_license(fake_rc: FakeServer, admin: httpx.Client) -> None:
    fake_rc.state.custom_roles_licensed = False
    r = admin.post("/api/v1/roles.create", json={"name": "ce-role"})
    assert r.json()["error"] == "This is an enterprise feature [error-action-not-allowed]"


def test_add_and_remove_user_role_global(fake_rc: FakeServer, admin: httpx.Client) -> None:
    alice = fake_rc.state.create_user("alice")
    seen = []
    unsubscribe = fake_rc.state.events.subscribe(seen.append)
    r = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "alice"})
    assert r.status_code == 200 and r.json()["role"]["_id"] == "bot"
    assert sorted(fake_rc.state.user_roles("alice")) == ["bot", "user"]
    again = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "alice"})
    assert again.json()["error"] == "User already in role [error-user-already-in-role]"
    users = admin.get("/api/v1/roles.getUsersInRole", params={"role": "bot"}).json()
    assert [u["username"] for u in users["users"]] == ["alice", "rocket.cat"] and users["total"] == 2
    assert "count" not in users and "offset" not in users
    removed = admin.post("/api/v1/roles.removeUserFromRole", json={"roleId": "bot", "username": "alice"})
    assert removed.status_code == 200
    unsubscribe()
    changes = [e.args[0] for e in seen if e.event_name == "roles-change"]
    assert changes == [
        {"type": "added", "_id": "bot", "u": {"_id": alice["_id"], "username": "alice", "name": "alice"}},
        {"type": "removed", "_id": "bot", "u": {"_id": alice["_id"], "username": "alice", "name": "alice"}},
    ]
    not_in = admin.post("/api/v1/roles.removeUserFromRole", json={"roleId": "bot", "username": "alice"})
    assert not_in.json()["errorType"] == "error-user-not-in-role"


def test_room_scoped_role_uses_roomid_to_add_and_scope_to_remove(fake_rc: FakeServer, admin: httpx.Client) -> None:
    fake_rc.state.create_user("alice")
    room = fake_rc.state.create_room("mods", "c", owner="admin", members=["alice"])
    r = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "moderator", "username": "alice", "roomId": room["_id"]})
    assert r.status_code == 200
    assert fake_rc.state.room_roles(room["_id"], "alice") == ["moderator"]
    assert "moderator" not in fake_rc.state.user_roles("alice")
    ignored = admin.post("/api/v1/roles.removeUserFromRole", json={"roleId": "moderator", "username": "alice", "roomId": room["_id"]})
    assert ignored.json()["errorType"] == "error-user-not-in-role"  # roomId is ignored: checks the global role
    ok = admin.post("/api/v1/roles.removeUserFromRole", json={"roleId": "moderator", "username": "alice", "scope": room["_id"]})
    assert ok.status_code == 200 and fake_rc.state.room_roles(room["_id"], "alice") == []
    fake_rc.state.create_user("outsider")
    outside = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "moderator", "username": "outsider", "roomId": room["_id"]})
    assert outside.json()["error"] == "User is not part of given room [error-invalid-user]"


def test_role_errors(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    fake_rc.state.create_user("alice")
    unknown = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "nope", "username": "alice"})
    assert unknown.json() == {"success": False, "error": "error-role-not-found", "errorType": "Role not found"}
    no_role = admin.post("/api/v1/roles.addUserToRole", json={"username": "alice"})
    assert no_role.json() == {"success": False, "error": "error-invalid-role-properties"}
    by_name = admin.post("/api/v1/roles.addUserToRole", json={"roleName": "bot", "username": "alice"})
    # 7.x: the schema still allows roleName, the handler insists on roleId (bare failure, §9.4)
    assert by_name.json() == {"success": False, "error": "error-invalid-role-properties"}
    extra = admin.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "alice", "rid": "x"})
    assert extra.json()["errorType"] == "error-invalid-role-properties"
    last_admin = admin.post("/api/v1/roles.removeUserFromRole", json={"roleId": "admin", "username": "admin"})
    assert last_admin.json()["errorType"] == "error-admin-required"
    denied = http.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "alice"}, headers=fake_rc.headers_for("alice"))
    assert denied.json()["error"] == "Accessing permissions is not allowed [error-action-not-allowed]"
    in_role = http.get("/api/v1/roles.getUsersInRole", params={"role": "bot"}, headers=fake_rc.headers_for("alice"))
    assert in_role.status_code == 403  # 7.x permissionsRequired access-permissions


def test_role_name_accepted_in_6x(fake_rc_factory) -> None:
    rc = fake_rc_factory(compat=6, admin_username="admin", admin_password="pw")
    rc.state.create_user("alice")
    r = httpx.post(rc.url + "/api/v1/roles.addUserToRole", headers=rc.admin_headers(), json={"roleName": "bot", "username": "alice"})
    assert r.status_code == 200, r.text
    login = httpx.post(rc.url + "/api/v1/login", json={"user": "admin", "password": "pw"}).json()
    assert login["status"] == "success" and "success" not in login  # 6.x login body


def test_default_permission_grants(admin: httpx.Client) -> None:
    perms = {p["_id"]: p["roles"] for p in admin.get("/api/v1/permissions.listAll").json()["update"]}
    assert perms["add-user-to-any-p-room"] == [] and perms["kick-user-from-any-p-room"] == []
    assert sorted(perms["api-bypass-rate-limit"]) == ["admin", "app", "bot"]
    assert "user" in perms["create-c"] and "user" in perms["create-p"]
    assert perms["view-room-administration"] == ["admin"] and perms["access-permissions"] == ["admin"]


def test_permissions_update(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    r = admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "add-user-to-any-p-room", "roles": ["admin"]}]})
    assert r.status_code == 200
    assert {p["_id"]: p["roles"] for p in r.json()["permissions"]}["add-user-to-any-p-room"] == ["admin"]
    assert fake_rc.state.permission_roles("add-user-to-any-p-room") == ["admin"]
    bad_role = admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "create-c", "roles": ["nope"]}]})
    assert bad_role.json() == {"success": False, "error": "Invalid role", "errorType": "error-invalid-role"}
    bad_perm = admin.post("/api/v1/permissions.update", json={"permissions": [{"_id": "nope", "roles": []}]})
    assert bad_perm.json()["errorType"] == "error-invalid-permission"
    fake_rc.state.create_user("alice")
    # 7.x permissions.ts: `permissionsRequired: ['access-permissions']` on the route (the 6.14 handler's own
    # check, `error-edit-permissions-not-allowed`, is kept for --compat 6 below).
    denied = http.post("/api/v1/permissions.update", headers=fake_rc.headers_for("alice"), json={"permissions": []})
    assert denied.status_code == 403
    assert denied.json() == {"success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"}


def test_permissions_update_denied_in_6x(fake_rc_factory) -> None:
    rc = fake_rc_factory(compat=6, admin_username="admin", admin_password="pw")
    rc.state.create_user("alice")
    denied = httpx.post(rc.url + "/api/v1/permissions.update", headers=rc.headers_for("alice"), json={"permissions": []})
    assert denied.json()["errorType"] == "error-edit-permissions-not-allowed"


def test_settings_get_and_post_with_2fa(fake_rc_factory) -> None:
    secret = pyotp.random_base32()
    rc = fake_rc_factory(admin_username="svc", admin_password="pw", admin_totp_secret=secret)
    rc.state.clock.shift(3600)
    with httpx.Client(base_url=rc.url, headers=rc.admin_headers()) as c:
        got = c.get("/api/v1/settings/API_Upper_Count_Limit").json()
        assert got == {"_id": "API_Upper_Count_Limit", "value": 100, "success": True}
        assert c.get("/api/v1/settings/Not_A_Setting").json() == {"success": False}
        need = c.post("/api/v1/settings/UI_DisplayRoles", json={"value": False})
        assert need.json()["errorType"] == "totp-required"
        code = pyotp.TOTP(secret).at(rc.state.clock.time())
        ok = c.post("/api/v1/settings/UI_DisplayRoles", json={"value": False}, headers={"x-2fa-code": code, "x-2fa-method": "totp"})
        assert ok.json() == {"success": True}
        assert rc.state.setting("UI_DisplayRoles") is False
        # settings.ts (7.x): a body with neither `value`, `{value, editor}` nor `{execute}` is the bare failure;
        # a `value` of the wrong type is stored as is (no type check in 7.x, reference §11.3).
        wrong_shape = c.post("/api/v1/settings/API_Upper_Count_Limit", json={"values": 5})
        assert wrong_shape.status_code == 400 and wrong_shape.json() == {"success": False}
    rc.state.create_user("pleb")
    assert httpx.get(rc.url + "/api/v1/settings/UI_DisplayRoles", headers=rc.headers_for("pleb")).status_code == 403


def test_upper_count_limit_setting_applies(fake_rc: FakeServer, admin: httpx.Client) -> None:
    for i in range(12):
        fake_rc.state.create_user(f"p{i}")
    fake_rc.state.set_setting("API_Upper_Count_Limit", 5)
    assert admin.get("/api/v1/users.list", params={"count": 50}).json()["count"] == 5
