"""Server methods called over DDP (reference §7.4): results, Meteor.Error shapes, the
`twoFactorRequired` trailing param (`apps/meteor/app/2fa/server/twoFactorRequired.ts`),
and the stream events those methods cause.
"""

from __future__ import annotations

import pyotp
import pytest

from test_ddp_support import ADMIN, ADMIN_PASSWORD, DDPTestClient, anyio_backend, ddp_server, sha256_hex  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "methods-pw"


async def _login(server, username: str, password: str) -> DDPTestClient:
    client = await DDPTestClient.open(server.ws_url)
    result = await client.login_password(username, password)
    assert "result" in result, result
    return client


async def test_methods_need_a_login_where_rocket_chat_says_so(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    answer = await client.call("addUsersToRoom", {"rid": "GENERAL", "users": ["admin"]})
    assert answer["error"] == {
        "isClientSafe": True,
        "error": "error-invalid-user",
        "reason": "Invalid user",
        "details": {"method": "addUsersToRoom"},
        "message": "Invalid user [error-invalid-user]",
        "errorType": "Meteor.Error",
    }
    await client.close()


async def test_add_users_to_room_returns_true_and_streams_au(ddp_server) -> None:
    ddp_server.state.create_user("newbie", email="newbie@example.org", password=PASSWORD)
    admin = await _login(ddp_server, ADMIN, ADMIN_PASSWORD)
    assert (await admin.sub("stream-room-messages", "GENERAL", {"useCollection": False, "args": []}))["msg"] == "ready"
    result, updated = await admin.call_frames("addUsersToRoom", {"rid": "GENERAL", "users": ["newbie"]})
    assert result["result"] is True
    assert updated == {"msg": "updated", "methods": [result["id"]]}
    event = await admin.event("stream-room-messages", "GENERAL")
    message = event["fields"]["args"][0]
    assert (message["t"], message["msg"], message["rid"], message["u"]["username"]) == ("au", "newbie", "GENERAL", ADMIN)
    await admin.close()


async def test_role_methods_stream_roles_change(ddp_server) -> None:
    alice = ddp_server.state.create_user("alice", email="alice@example.org", password=PASSWORD)
    admin = await _login(ddp_server, ADMIN, ADMIN_PASSWORD)
    assert (await admin.sub("stream-notify-logged", "roles-change", False))["msg"] == "ready"
    assert (await admin.call("authorization:addUserToRole", "bot", "alice"))["result"] is True
    added = (await admin.event("stream-notify-logged", "roles-change"))["fields"]["args"][0]
    assert (added["type"], added["_id"], added["u"]["_id"]) == ("added", "bot", alice["_id"])
    assert (await admin.call("authorization:removeUserFromRole", "bot", "alice"))["result"] is True
    removed = (await admin.event("stream-notify-logged", "roles-change"))["fields"]["args"][0]
    assert (removed["type"], removed["_id"]) == ("removed", "bot")
    await admin.close()


async def test_room_moderator_method_streams_scoped_roles_change(ddp_server) -> None:
    bob = ddp_server.state.create_user("bob", email="bob@example.org", password=PASSWORD)
    rid = ddp_server.state.create_room("mods", "p", owner=ADMIN, members=["bob"])["_id"]
    admin = await _login(ddp_server, ADMIN, ADMIN_PASSWORD)
    assert (await admin.sub("stream-notify-logged", "roles-change", False))["msg"] == "ready"
    assert (await admin.call("addRoomModerator", rid, bob["_id"]))["result"] is True
    change = (await admin.event("stream-notify-logged", "roles-change"))["fields"]["args"][0]
    assert (change["type"], change["_id"], change["scope"], change["u"]["_id"]) == ("added", "moderator", rid, bob["_id"])
    await admin.close()


async def test_delete_user_streams_users_deleted(ddp_server) -> None:
    gone = ddp_server.state.create_user("gone", email="gone@example.org", password=PASSWORD)
    admin = await _login(ddp_server, ADMIN, ADMIN_PASSWORD)
    assert (await admin.sub("stream-notify-logged", "Users:Deleted", False))["msg"] == "ready"
    assert (await admin.call("deleteUser", gone["_id"]))["result"] is True
    event = await admin.event("stream-notify-logged", "Users:Deleted")
    assert event["fields"]["args"] == [{"userId": gone["_id"], "messageErasureType": "Delete"}]
    await admin.close()


async def test_method_errors_keep_details_and_non_permitted_calls_fail(ddp_server) -> None:
    ddp_server.state.create_user("plain", email="plain@example.org", password=PASSWORD)
    client = await _login(ddp_server, "plain", PASSWORD)
    answer = await client.call("authorization:addUserToRole", "admin", "plain")
    assert answer["error"]["error"] == "error-action-not-allowed"
    assert answer["error"]["reason"] == "Accessing permissions is not allowed"
    assert answer["error"]["message"] == "Accessing permissions is not allowed [error-action-not-allowed]"
    assert answer["error"]["details"]["method"] == "authorization:addUserToRole"
    bad_params = await client.call("setUserActiveStatus", 42)
    assert (bad_params["error"]["error"], bad_params["error"]["reason"]) == (400, "Match failed")
    await client.close()


async def test_create_private_group_returns_the_rid(ddp_server) -> None:
    admin = await _login(ddp_server, ADMIN, ADMIN_PASSWORD)
    result = (await admin.call("createPrivateGroup", "crew", []))["result"]
    assert isinstance(result["rid"], str)
    assert ddp_server.state.find_room(result["rid"])["t"] == "p"
    # the raw room, dates as EJSON {"$date": ms} (not ISO strings as REST would send them)
    assert set(result["ts"]) == {"$date"} and isinstance(result["ts"]["$date"], int)
    assert set(result["_updatedAt"]) == {"$date"} and result["u"]["username"] == ADMIN
    await admin.close()


async def test_two_factor_methods_take_the_trailing_code_param(ddp_server) -> None:
    secret = pyotp.random_base32()
    ddp_server.state.create_user("svc", email="svc@example.org", password=PASSWORD, roles=["admin"], totp_secret=secret)
    login = {"user": {"username": "svc"}, "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}}
    # an account older than the "remember right after registration" window (RememberFor, 1800 s)
    ddp_server.state.clock.shift(3600)
    client = await DDPTestClient.open(ddp_server.ws_url)
    assert "result" in await client.call("login", {"totp": {"login": login, "code": pyotp.TOTP(secret).at(ddp_server.state.clock.time())}})
    new_user = {"name": "Made", "username": "made", "email": "made@example.org", "password": "pw-made-123", "verified": True}

    required = await client.call("insertOrUpdateUser", new_user)
    assert required["error"]["error"] == "totp-required"
    assert required["error"]["details"]["method"] == "totp"

    code = pyotp.TOTP(secret).at(ddp_server.state.clock.time())
    created = await client.call("insertOrUpdateUser", new_user, {"twoFactorCode": code, "twoFactorMethod": "totp"})
    assert isinstance(created["result"], str)
    assert ddp_server.state.find_user(created["result"])["username"] == "made"
    await client.close()


async def test_unexpected_exceptions_are_masked_as_500_and_not_logged_verbatim(ddp_server, monkeypatch, caplog) -> None:
    # livedata_server.js `wrapInternalException`: anything that is not a Meteor.Error.
    from fake_rocketchat.backend import methods

    def boom(state, caller, params):
        raise RuntimeError("leaked-secret-" + params[0])

    monkeypatch.setitem(methods.METHODS, "test.boom", boom)
    caplog.set_level("DEBUG")
    client = await DDPTestClient.open(ddp_server.ws_url)
    answer = await client.call("test.boom", "s3cr3t")
    assert answer["error"] == {
        "isClientSafe": True,
        "error": 500,
        "reason": "Internal server error",
        "message": "Internal server error [500]",
        "errorType": "Meteor.Error",
    }
    server_log = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.name.startswith("websockets")
    )
    assert "RuntimeError" in server_log and "test.boom" in server_log
    assert "s3cr3t" not in server_log
    await client.close()


async def test_unserializable_result_becomes_500_and_the_session_survives(ddp_server, monkeypatch) -> None:
    from fake_rocketchat.backend import methods

    monkeypatch.setitem(methods.METHODS, "test.weird", lambda state, caller, params: {"x": object()})
    client = await DDPTestClient.open(ddp_server.ws_url)
    answer = await client.call("test.weird")
    assert answer["error"]["error"] == 500
    await client.send({"msg": "ping", "id": "after"})
    assert await client.expect(lambda m: m.get("msg") == "pong") == {"msg": "pong", "id": "after"}
    await client.close()
