"""REST `method.call/:method` over the shared methods registry — `apps/meteor/app/api/server/v1/misc.ts`,
method files listed in `fake_rocketchat/backend/methods.py` (reference §7.4, §8.4)."""

from __future__ import annotations

import json

import httpx
import pyotp

from fake_rocketchat.harness.testing import FakeServer


def call(client: httpx.Client, method: str, *params, headers: dict | None = None) -> dict:
    message = json.dumps({"msg": "method", "id": "7", "method": method, "params": list(params)})
    r = client.post(f"/api/v1/method.call/{method}", json={"message": message}, headers=headers or {})
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    return json.loads(r.json()["message"])


def test_add_users_to_room_and_remove(fake_rc: FakeServer, admin: httpx.Client) -> None:
    fake_rc.state.create_user("alice")
    result = call(admin, "addUsersToRoom", {"rid": "GENERAL", "users": ["alice"]})
    assert result == {"msg": "result", "id": "7", "result": True}
    assert fake_rc.state.room_messages("GENERAL", types=["au"])[-1]["msg"] == "alice"
    assert call(admin, "removeUserFromRoom", {"rid": "GENERAL", "username": "alice"})["result"] is True
    unknown = call(admin, "addUsersToRoom", {"rid": "GENERAL", "users": ["ghost"]})
    assert unknown["error"] == {
        "isClientSafe": True, "error": "error-invalid-username", "reason": "Invalid username",
        "message": "Invalid username [error-invalid-username]", "errorType": "Meteor.Error", "details": {"method": "addUsersToRoom"},
    }


def test_create_channel_and_room_roles(fake_rc: FakeServer, admin: httpx.Client) -> None:
    bob = fake_rc.state.create_user("bob")
    created = call(admin, "createPrivateGroup", "mods", ["bob"])["result"]
    rid = created["rid"]
    assert created["t"] == "p" and isinstance(created["ts"], dict) and "$date" in created["ts"]  # EJSON dates
    assert call(admin, "addRoomModerator", rid, bob["_id"])["result"] is True
    assert fake_rc.state.room_roles(rid, "bob") == ["moderator"]
    assert call(admin, "addRoomModerator", rid, bob["_id"])["error"]["error"] == "error-user-already-moderator"


def test_set_active_delete_and_roles(fake_rc: FakeServer, admin: httpx.Client) -> None:
    carol = fake_rc.state.create_user("carol")
    assert call(admin, "setUserActiveStatus", carol["_id"], False)["result"] is True
    assert fake_rc.state.find_user(carol["_id"])["active"] is False
    assert call(admin, "authorization:addUserToRole", "bot", "carol")["result"] is True
    assert call(admin, "authorization:removeUserFromRole", "bot", "carol")["result"] is True
    assert call(admin, "deleteUser", carol["_id"])["result"] is True
    assert call(admin, "setUserActiveStatus", "x")["error"]["reason"] == "Match failed"


def test_insert_or_update_user_is_2fa_wrapped(fake_rc_factory) -> None:
    secret = pyotp.random_base32()
    rc = fake_rc_factory(admin_username="svc", admin_password="pw", admin_totp_secret=secret)
    rc.state.clock.shift(3600)
    with httpx.Client(base_url=rc.url, headers=rc.admin_headers()) as c:
        data = {"username": "made", "email": "made@example.org", "name": "Made", "password": "pw"}
        need = call(c, "insertOrUpdateUser", data)
        assert need["error"]["error"] == "totp-required" and need["error"]["details"]["method"] == "totp"
        code = pyotp.TOTP(secret).at(rc.state.clock.time())
        made = call(c, "insertOrUpdateUser", data, {"twoFactorCode": code, "twoFactorMethod": "totp"})
        assert isinstance(made["result"], str) and rc.state.find_user(made["result"])["username"] == "made"
        # remembered on this token now: no code needed for the update form (returns true)
        assert call(c, "insertOrUpdateUser", {"_id": made["result"], "name": "Made 2"})["result"] is True


def test_header_code_works_for_method_call(fake_rc_factory) -> None:
    secret = pyotp.random_base32()
    rc = fake_rc_factory(admin_username="svc", admin_password="pw", admin_totp_secret=secret)
    rc.state.clock.shift(3600)
    with httpx.Client(base_url=rc.url, headers=rc.admin_headers()) as c:
        code = pyotp.TOTP(secret).at(rc.state.clock.time())
        ok = call(c, "saveSetting", "UI_Use_Real_Name", True, headers={"x-2fa-code": code, "x-2fa-method": "totp"})
        assert ok["result"] is True and rc.state.setting("UI_Use_Real_Name") is True


def test_unknown_method_and_bad_message(admin: httpx.Client, http: httpx.Client) -> None:
    assert call(admin, "no.such.method")["error"]["error"] == 404
    bad = admin.post("/api/v1/method.call/x", json={"message": "{not json"})
    assert bad.status_code == 400
    assert http.post("/api/v1/method.call/x", json={"message": "{}"}).status_code == 401


def test_method_call_counts_through_the_ddp_limiter(fake_rc_factory) -> None:
    # misc.ts: DDPRateLimiter._increment/_check; User_By_Method allows 20 per 10 s
    rc = fake_rc_factory(rate_limit=True, admin_username="admin", admin_password="pw")
    with httpx.Client(base_url=rc.url, headers=rc.admin_headers()) as c:
        frames = [call(c, "2fa:checkCodesRemaining") for _ in range(21)]
    assert all(f["error"]["error"] == "invalid-totp" for f in frames[:20])
    limited = frames[20]["error"]
    assert limited["error"] == "too-many-requests" and limited["details"]["timeToReset"] > 0
    assert limited["reason"].startswith("Error, too many requests. Please slow down. You must wait ")


def test_two_factor_method_without_a_login_is_an_invalid_user(fake_rc: FakeServer) -> None:
    """app/2fa/server/twoFactorRequired.ts refuses a call without a user before anything else."""
    message = json.dumps({"msg": "method", "id": "7", "method": "saveSettings", "params": [[]]})
    with httpx.Client(base_url=fake_rc.url) as anon:
        r = anon.post("/api/v1/method.callAnon/saveSettings", json={"message": message})
    assert r.status_code == 200
    assert json.loads(r.json()["message"])["error"] == {
        "isClientSafe": True, "error": "error-invalid-user", "reason": "Invalid user",
        "details": {"method": "twoFactorRequired"}, "message": "Invalid user [error-invalid-user]",
        "errorType": "Meteor.Error",
    }


def test_meteor_error_without_reason_omits_it() -> None:
    from fake_rocketchat.realtime.protocol import error_for_client
    from fake_rocketchat.backend.errors import MeteorError

    for body in (MeteorError("not-allowed").ddp_error(), error_for_client(MeteorError("not-allowed"))):
        assert "reason" not in body and body["message"] == "[not-allowed]" and body["error"] == "not-allowed"
    assert MeteorError("x", "Why").ddp_error()["reason"] == "Why"
