"""users.* over HTTP — `apps/meteor/app/api/server/v1/users.ts`, `app/lib/server/functions/saveUser.js`,
`setUserActiveStatus.ts`, `deleteUser.ts`, `app/authentication/server/startup/index.js` (reference §3)."""

from __future__ import annotations

import httpx
import pytest

from fake_rocketchat.harness.testing import FakeServer


def _create(admin: httpx.Client, username: str, **extra):
    body = {"username": username, "email": f"{username}@example.org", "name": username.title(), "password": "pw-" + username}
    body.update(extra)
    return admin.post("/api/v1/users.create", json=body)


def test_users_create_defaults_joins_general_with_uj(fake_rc: FakeServer, admin: httpx.Client) -> None:
    r = _create(admin, "alice", verified=True)
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert user["type"] == "user" and user["roles"] == ["user"] and user["active"] is True
    assert user["emails"] == [{"address": "alice@example.org", "verified": True}]
    assert "services" not in user
    assert "alice" in fake_rc.state.room_members("GENERAL")
    uj = fake_rc.state.room_messages("GENERAL", types=["uj"])
    assert uj[-1]["msg"] == "alice" and uj[-1]["u"]["username"] == "alice"
    # Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In (default true)
    assert fake_rc.state.find_user_by_username("alice")["services"]["email2fa"]["enabled"] is True


def test_users_create_join_default_channels_false_and_roles(fake_rc: FakeServer, admin: httpx.Client) -> None:
    r = _create(admin, "bot1", joinDefaultChannels=False, roles=["bot"])
    assert r.status_code == 200
    assert r.json()["user"]["type"] == "user"  # no `type` field: roles:["bot"] still makes a "user"
    assert r.json()["user"]["roles"] == ["bot"]
    assert "bot1" not in fake_rc.state.room_members("GENERAL", include_inactive=True)


def test_users_create_inactive(fake_rc: FakeServer, admin: httpx.Client) -> None:
    assert _create(admin, "sleepy", active=False).json()["user"]["active"] is False


@pytest.mark.parametrize(
    "body_change, error_type, error",
    [
        ({"type": "bot"}, "invalid-params", "must NOT have additional properties [invalid-params]"),
        ({"email": None}, "invalid-params", None),
        ({"roles": ["nope"]}, "error-action-not-allowed", "The field Roles consist invalid role id [error-action-not-allowed]"),
        ({"username": "admin2 x"}, "error-input-is-not-a-valid-field", "admin2 x is not a valid username [error-input-is-not-a-valid-field]"),
        ({"username": "Administrator"}, "error-blocked-username", "Administrator is blocked and can't be used! [error-blocked-username]"),
        ({"username": "ADMIN"}, "error-blocked-username", None),
    ],
)
def test_users_create_validation(admin: httpx.Client, body_change: dict, error_type: str, error: str | None) -> None:
    body = {"username": "val", "email": "val@example.org", "name": "Val", "password": "x"}
    body.update(body_change)
    body = {k: v for k, v in body.items() if v is not None}
    r = admin.post("/api/v1/users.create", json=body)
    assert r.status_code == 400
    assert r.json()["success"] is False and r.json()["errorType"] == error_type
    if error:
        assert r.json()["error"] == error


def test_users_create_duplicates_are_field_unavailable(admin: httpx.Client) -> None:
    assert _create(admin, "dup").status_code == 200
    again = _create(admin, "DUP", email="other@example.org")
    assert again.status_code == 400
    assert again.json() == {
        "success": False, "error": "DUP is already in use :( [error-field-unavailable]",
        "errorType": "error-field-unavailable", "details": {"method": "insertOrUpdateUser", "field": "DUP"},
    }
    mail = _create(admin, "dup2", email="dup@example.org")
    assert mail.json()["error"] == "dup@example.org is already in use :( [error-field-unavailable]"


def test_users_create_needs_create_user(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("plain", password="pw")
    r = http.post("/api/v1/users.create", headers=fake_rc.headers_for("plain"),
                  json={"username": "x1", "email": "x1@example.org", "name": "X", "password": "x"})
    assert r.status_code == 400
    assert r.json()["error"] == "Adding user is not allowed [error-action-not-allowed]"


def test_users_create_name_with_angle_brackets_rejected_in_7x_only(fake_rc_factory) -> None:
    for compat, status in ((7, 400), (6, 200)):
        rc = fake_rc_factory(compat=compat, admin_username="admin", admin_password="pw")
        r = httpx.post(rc.url + "/api/v1/users.create", headers=rc.admin_headers(),
                       json={"username": "ang", "email": "ang@example.org", "name": "<b>x</b>", "password": "x"})
        assert r.status_code == status, (compat, r.text)
        if status == 400:
            assert r.json() == {"success": False, "error": "Name contains invalid characters"}


def test_users_update_duplicate_username_is_could_not_save_identity(fake_rc: FakeServer, admin: httpx.Client) -> None:
    uid = _create(admin, "upd").json()["user"]["_id"]
    _create(admin, "taken")
    r = admin.post("/api/v1/users.update", json={"userId": uid, "data": {"username": "taken"}})
    assert r.status_code == 400
    assert r.json()["errorType"] == "error-could-not-save-identity"
    assert r.json()["error"] == "Could not save user identity [error-could-not-save-identity]"
    mail = admin.post("/api/v1/users.update", json={"userId": uid, "data": {"email": "taken@example.org"}})
    assert mail.json()["errorType"] == "error-field-unavailable"


def test_users_update_roles_replace_and_rename(fake_rc: FakeServer, admin: httpx.Client) -> None:
    uid = _create(admin, "ren").json()["user"]["_id"]
    events = []
    unsubscribe = fake_rc.state.events.subscribe(events.append)
    r = admin.post("/api/v1/users.update", json={"userId": uid, "data": {"roles": ["user", "bot"], "username": "ren2", "name": "Ren"}})
    unsubscribe()
    assert r.status_code == 200, r.text
    assert r.json()["user"]["roles"] == ["user", "bot"] and r.json()["user"]["username"] == "ren2"
    names = [(e.stream, e.event_name) for e in events]
    assert ("stream-notify-logged", "Users:NameChanged") in names
    assert ("stream-notify-logged", "roles-change") not in names  # users.update never broadcasts roles


def test_users_update_join_default_channels_rejected_in_7x_accepted_in_6x(fake_rc_factory) -> None:
    for compat, status in ((7, 400), (6, 200)):
        rc = fake_rc_factory(compat=compat, admin_username="admin", admin_password="pw")
        uid = rc.state.create_user("jd")["_id"]
        r = httpx.post(rc.url + "/api/v1/users.update", headers=rc.admin_headers(),
                       json={"userId": uid, "data": {"joinDefaultChannels": True}})
        assert r.status_code == status, (compat, r.text)


def test_users_update_verified_on_self_refused(fake_rc: FakeServer, admin: httpx.Client) -> None:
    uid = fake_rc.state.find_user_by_username("admin")["_id"]
    r = admin.post("/api/v1/users.update", json={"userId": uid, "data": {"verified": True}})
    assert r.json()["errorType"] == "error-action-not-allowed"


def test_users_info_projection_and_not_found(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    alice = fake_rc.state.create_user("alice", email="alice@example.org", password="pw")
    info = admin.get("/api/v1/users.info", params={"username": "alice"}).json()["user"]
    assert info["canViewAllInfo"] is True and info["emails"][0]["address"] == "alice@example.org"
    assert "services" not in info
    bob = fake_rc.state.create_user("bob", password="pw")
    as_bob = http.get("/api/v1/users.info", params={"userId": alice["_id"]}, headers=fake_rc.headers_for("bob"))
    assert "emails" not in as_bob.json()["user"] and "canViewAllInfo" not in as_bob.json()["user"]
    own = http.get("/api/v1/users.info", params={"userId": bob["_id"]}, headers=fake_rc.headers_for("bob")).json()["user"]
    assert own["services"]["password"] is True
    missing = admin.get("/api/v1/users.info", params={"username": "nobody"})
    assert missing.status_code == 400 and missing.json() == {"success": False, "error": "User not found."}


def test_users_info_include_user_rooms_projection_and_sort_users_ts(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """7.x users.ts `users.info`: with `includeUserRooms=true`, `rooms` is `Subscriptions.findByUserId(uid,
    {projection: {rid, name, t, roles, unread, federated}, sort: {t: 1, name: 1}})`: a MongoDB projection, so
    each entry carries the subscription `_id` and only the fields the subscription has (no `federated`
    on a plain subscription, `roles` only where a room role is held). `fields={"userRooms":1}` is 6.x's."""
    fake_rc.state.create_user("roomy")
    fake_rc.state.add_member("GENERAL", "roomy")
    zeta = fake_rc.state.create_room("zeta", "c", owner="roomy")
    alpha = fake_rc.state.create_room("alpha", "p", members=["roomy"])
    beta = fake_rc.state.create_room("beta", "c", members=["roomy"])
    rooms = admin.get("/api/v1/users.info", params={"username": "roomy", "includeUserRooms": "true"}).json()["user"]["rooms"]
    sub = {rid: fake_rc.state.subscription(rid, "roomy")["_id"] for rid in ("GENERAL", zeta["_id"], alpha["_id"], beta["_id"])}
    assert rooms == [
        {"_id": sub[beta["_id"]], "rid": beta["_id"], "name": "beta", "t": "c", "unread": 0},
        {"_id": sub["GENERAL"], "rid": "GENERAL", "name": "general", "t": "c", "unread": 0},
        {"_id": sub[zeta["_id"]], "rid": zeta["_id"], "name": "zeta", "t": "c", "roles": ["owner"], "unread": 0},
        {"_id": sub[alpha["_id"]], "rid": alpha["_id"], "name": "alpha", "t": "p", "unread": 0},
    ]
    assert "rooms" not in admin.get("/api/v1/users.info", params={"username": "roomy", "includeUserRooms": "1"}).json()["user"]
    legacy = admin.get("/api/v1/users.info", params={"username": "roomy", "fields": '{"userRooms":1}'}).json()["user"]
    assert "rooms" not in legacy


def test_users_info_user_rooms_compat6_fields(fake_rc_factory) -> None:
    rc = fake_rc_factory(compat=6, admin_username="admin", admin_password="pw", admin_email="admin@example.com")
    rc.state.create_user("roomy")
    rc.state.add_member("GENERAL", "roomy")
    with httpx.Client(base_url=rc.url, timeout=10, headers=rc.admin_headers()) as admin:
        user = admin.get("/api/v1/users.info", params={"username": "roomy", "fields": '{"userRooms":1}'}).json()["user"]
    assert [(r["rid"], r["name"]) for r in user["rooms"]] == [("GENERAL", "general")]


def test_users_list_paging_total_and_upper_limit(fake_rc: FakeServer, admin: httpx.Client) -> None:
    for i in range(120):
        fake_rc.state.create_user(f"u{i:03d}")
    total = len(fake_rc.state.usernames())
    first = admin.get("/api/v1/users.list").json()
    assert first["count"] == 50 and first["offset"] == 0 and first["total"] == total  # API_Default_Count
    capped = admin.get("/api/v1/users.list", params={"count": 500, "offset": 10}).json()
    assert capped["count"] == 100 and capped["offset"] == 10  # API_Upper_Count_Limit
    names = [u["username"] for u in capped["users"]]
    assert names == sorted(names)
    everything = admin.get("/api/v1/users.list", params={"count": 0}).json()
    assert everything["count"] == total  # API_Allow_Infinite_Count
    tail = admin.get("/api/v1/users.list", params={"count": 100, "offset": 100}).json()
    assert tail["count"] == total - 100


def test_users_list_hides_emails_from_unprivileged(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("peek")
    users = http.get("/api/v1/users.list", headers=fake_rc.headers_for("peek")).json()["users"]
    assert users and all("emails" not in u and "roles" not in u for u in users)


def test_set_active_status_removes_tokens_keeps_memberships(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    user = fake_rc.state.create_user("leaver", password="pw")
    fake_rc.state.add_member("GENERAL", "leaver")
    headers = fake_rc.headers_for("leaver")
    fake_rc.state.create_personal_access_token("leaver")
    r = admin.post("/api/v1/users.setActiveStatus", json={"userId": user["_id"], "activeStatus": False})
    assert r.json() == {"user": {"_id": user["_id"], "active": False}, "success": True}
    assert fake_rc.state.login_tokens_count("leaver") == 0
    assert http.get("/api/v1/me", headers=headers).status_code == 401
    assert "leaver" in fake_rc.state.room_members("GENERAL", include_inactive=True)
    members = admin.get("/api/v1/channels.members", params={"roomId": "GENERAL"}).json()["members"]
    assert "leaver" not in [m["username"] for m in members]


def test_set_active_status_rules(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    admin_id = fake_rc.state.find_user_by_username("admin")["_id"]
    last = admin.post("/api/v1/users.setActiveStatus", json={"userId": admin_id, "activeStatus": False})
    assert last.json()["error"] == "Leaving the app without an active admin is not allowed [error-action-not-allowed]"
    owner = fake_rc.state.create_user("owner1")
    fake_rc.state.create_user("member1")
    fake_rc.state.create_room("owned", "p", owner="owner1", members=["member1"])
    fake_rc.state.create_room("alone", "c", owner="owner1")
    refused = admin.post("/api/v1/users.setActiveStatus", json={"userId": owner["_id"], "activeStatus": False})
    assert refused.status_code == 400
    assert refused.json() == {
        "success": False, "error": "[user-last-owner]", "errorType": "user-last-owner",
        "details": {"shouldChangeOwner": ["owned"], "shouldBeRemoved": ["alone"]},
    }
    ok = admin.post("/api/v1/users.setActiveStatus", json={"userId": owner["_id"], "activeStatus": False, "confirmRelinquish": True})
    assert ok.status_code == 200
    owned = fake_rc.state.find_room_by_name("owned")
    assert fake_rc.state.room_roles(owned["_id"], "member1") == ["owner"]
    assert fake_rc.state.find_room_by_name("alone") is None
    unknown = admin.post("/api/v1/users.setActiveStatus", json={"userId": "nope", "activeStatus": False})
    assert unknown.json() == {"success": False, "error": "User not found"}
    fake_rc.state.create_user("pleb")
    denied = http.post("/api/v1/users.setActiveStatus", headers=fake_rc.headers_for("pleb"),
                       json={"userId": owner["_id"], "activeStatus": True})
    assert denied.status_code == 403


def test_users_delete(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    doomed = fake_rc.state.create_user("doomed")
    fake_rc.state.add_member("GENERAL", "doomed")
    events = []
    unsubscribe = fake_rc.state.events.subscribe(events.append)
    assert admin.post("/api/v1/users.delete", json={"username": "doomed"}).json() == {"success": True}
    unsubscribe()
    assert fake_rc.state.find_user(doomed["_id"]) is None
    assert "doomed" not in fake_rc.state.room_members("GENERAL", include_inactive=True)
    deleted = [e for e in events if e.event_name == "Users:Deleted"]
    assert deleted[0].args == [{"userId": doomed["_id"], "messageErasureType": "Delete"}]
    missing = admin.post("/api/v1/users.delete", json={"userId": "nope"})
    assert missing.json()["errorType"] == "error-invalid-user"
    cat = admin.post("/api/v1/users.delete", json={"userId": "rocket.cat"})
    assert cat.json()["errorType"] == "error-action-not-allowed"
    admin_id = fake_rc.state.find_user_by_username("admin")["_id"]
    assert admin.post("/api/v1/users.delete", json={"userId": admin_id}).json()["error"] == (
        "Leaving the app without admins is not allowed [error-action-not-allowed]")
    fake_rc.state.create_user("weak")
    assert http.post("/api/v1/users.delete", headers=fake_rc.headers_for("weak"), json={"userId": admin_id}).status_code == 403


def test_users_register_first_user_becomes_admin(fake_rc_factory) -> None:
    rc = fake_rc_factory()  # fresh workspace, no admin
    r = httpx.post(rc.url + "/api/v1/users.register", json={"username": "first", "email": "first@example.org", "pass": "pw", "name": "First"})
    assert r.status_code == 200, r.text
    assert sorted(rc.state.user_roles("first")) == ["admin", "user"]
    assert "first" in rc.state.room_members("GENERAL")
    second = httpx.post(rc.url + "/api/v1/users.register", json={"username": "second", "email": "s@example.org", "pass": "pw", "name": "S"})
    assert rc.state.user_roles("second") == ["user"], second.text
    taken = httpx.post(rc.url + "/api/v1/users.register", json={"username": "first", "email": "t@example.org", "pass": "pw", "name": "T"})
    assert taken.json() == {"success": False, "error": "Username is already in use"}
    missing = httpx.post(rc.url + "/api/v1/users.register", json={"username": "x", "email": "x@example.org", "name": "X"})
    assert missing.json()["error"] == "must have required property 'pass' [invalid-params]"


def test_personal_access_token_flow(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    r = admin.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "sync", "bypassTwoFactor": True})
    assert r.status_code == 200 and set(r.json()) == {"token", "success"}
    admin_id = fake_rc.state.find_user_by_username("admin")["_id"]
    me = http.get("/api/v1/me", headers={"X-User-Id": admin_id, "X-Auth-Token": r.json()["token"]})
    assert me.status_code == 200
    again = admin.post("/api/v1/users.generatePersonalAccessToken", json={"tokenName": "sync"})
    assert again.json()["errorType"] == "error-token-already-exists"
    tokens = admin.get("/api/v1/users.getPersonalAccessTokens").json()["tokens"]
    assert tokens[0]["name"] == "sync" and tokens[0]["bypassTwoFactor"] is True and tokens[0]["lastTokenPart"] == r.json()["token"][-6:]
    stored = fake_rc.state.find_user(admin_id)["services"]["resume"]["loginTokens"]
    assert r.json()["token"] not in repr(stored)  # only the hash is kept


def test_users_list_order_follows_inserts_renames_and_deletes(fake_rc: FakeServer, admin: httpx.Client) -> None:
    # the sorted order is cached between pages; every change must still show up
    for name in ("bb", "dd"):
        fake_rc.state.create_user(name)

    def names() -> list[str]:
        return [u["username"] for u in admin.get("/api/v1/users.list", params={"count": 0}).json()["users"]]

    assert names() == ["admin", "bb", "dd", "rocket.cat"]
    fake_rc.state.create_user("cc")
    assert names() == ["admin", "bb", "cc", "dd", "rocket.cat"]
    dd = fake_rc.state.find_user_by_username("dd")
    admin.post("/api/v1/users.update", json={"userId": dd["_id"], "data": {"username": "aa"}})
    assert names() == ["aa", "admin", "bb", "cc", "rocket.cat"]
    admin.post("/api/v1/users.delete", json={"username": "bb"})
    assert names() == ["aa", "admin", "cc", "rocket.cat"]
    assert admin.get("/api/v1/users.info", params={"username": "aa"}).status_code == 200
    assert admin.get("/api/v1/users.info", params={"username": "dd"}).status_code == 400


@pytest.mark.slow
def test_users_list_pages_through_many_users_quickly(fake_rc: FakeServer, admin: httpx.Client) -> None:
    import time

    for i in range(20_000):
        fake_rc.state.create_user(f"m{i:05d}")
    seen: list[str] = []
    started = time.monotonic()
    offset = 0
    while True:
        page = admin.get("/api/v1/users.list", params={"count": 100, "offset": offset}).json()
        seen += [u["username"] for u in page["users"]]
        offset += page["count"]
        if offset >= page["total"]:
            break
    assert len(seen) == len(set(seen)) == 20_002  # + admin, rocket.cat
    assert time.monotonic() - started < 20
