"""DDP session behaviour over a real WebSocket on loopback (meteor `packages/ddp/DDP.md`,
`packages/ddp-server/livedata_server.js`): handshake, ping/pong, heartbeat, errors, login.
"""

from __future__ import annotations

import asyncio
import json

import pyotp
import pytest
import websockets

from test_ddp_support import DDPTestClient, anyio_backend, ddp_server, fast_heartbeat_server, sha256_hex  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


# ---------------------------------------------------------------- handshake (livedata_server.js _handleConnect)


async def test_server_id_frame_then_connected_with_session_id(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url, connect=False)
    await client.send({"msg": "connect", "version": "1", "support": ["1", "pre2", "pre1"]})
    connected = await client.recv_raw()
    assert connected["msg"] == "connected"
    assert isinstance(connected["session"], str) and len(connected["session"]) == 17
    await client.close()


async def test_unsupported_version_gets_failed_and_the_socket_is_closed(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url, connect=False)
    await client.send({"msg": "connect", "version": "2", "support": ["2"]})
    assert await client.recv_raw() == {"msg": "failed", "version": "1"}
    with pytest.raises(websockets.ConnectionClosed):
        await client.recv_raw()


async def test_messages_before_connect_are_errors_and_connect_twice_too(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url, connect=False)
    await client.send({"msg": "method", "id": "1", "method": "login", "params": []})
    assert await client.recv_raw() == {
        "msg": "error",
        "reason": "Must connect first",
        "offendingMessage": {"msg": "method", "id": "1", "method": "login", "params": []},
    }
    await client.send({"msg": "connect", "version": "1", "support": ["1"]})
    assert (await client.recv_raw())["msg"] == "connected"
    await client.send({"msg": "connect", "version": "1", "support": ["1"]})
    assert (await client.recv_raw())["reason"] == "Already connected"
    await client.close()


async def test_malformed_and_unknown_messages_get_error_frames(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    await client.ws.send("this is not json")
    assert await client.recv_raw() == {"msg": "error", "reason": "Parse error"}
    await client.send({"id": "x"})
    assert await client.recv_raw() == {"msg": "error", "reason": "Bad request", "offendingMessage": {"id": "x"}}
    await client.send({"msg": "frobnicate"})
    assert await client.recv_raw() == {"msg": "error", "reason": "Bad request", "offendingMessage": {"msg": "frobnicate"}}
    await client.send({"msg": "method", "id": 7, "method": "x"})
    assert (await client.recv_raw())["reason"] == "Malformed method invocation"
    await client.send({"msg": "sub", "id": "s", "name": "x", "params": "nope"})
    assert (await client.recv_raw())["reason"] == "Malformed subscription"
    # the session survives all of it
    await client.send({"msg": "ping", "id": "still-here"})
    assert await client.recv_raw() == {"msg": "pong", "id": "still-here"}
    await client.close()


# ---------------------------------------------------------------- ping / pong / heartbeat (ddp-common/heartbeat.js)


async def test_ping_is_answered_with_pong_echoing_the_id(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    await client.send({"msg": "ping"})
    assert await client.recv_raw() == {"msg": "pong"}
    await client.send({"msg": "ping", "id": "abc"})
    assert await client.recv_raw() == {"msg": "pong", "id": "abc"}
    await client.close()


async def test_idle_client_is_pinged_and_disconnected_when_it_never_answers(fast_heartbeat_server) -> None:
    client = await DDPTestClient.open(fast_heartbeat_server.ws_url, auto_pong=False)
    assert await client.recv_raw(timeout=3) == {"msg": "ping"}
    with pytest.raises(websockets.ConnectionClosed):
        await client.recv_raw(timeout=3)


async def test_client_that_answers_pings_stays_connected(fast_heartbeat_server) -> None:
    client = await DDPTestClient.open(fast_heartbeat_server.ws_url, auto_pong=False)
    for _ in range(3):  # well past interval + timeout
        assert await client.recv_raw(timeout=3) == {"msg": "ping"}
        await client.send({"msg": "pong"})
    await client.send({"msg": "ping", "id": "alive"})
    assert await client.expect(lambda m: m.get("msg") == "pong", timeout=3) == {"msg": "pong", "id": "alive"}
    await client.close()


async def test_pre1_sessions_have_no_ping(ddp_server) -> None:
    # Session.processMessage: "pre1" predates ping, so a ping is an unknown message there.
    client = await DDPTestClient.open(ddp_server.ws_url, connect=False)
    await client.send({"msg": "connect", "version": "pre1", "support": ["pre1"]})
    assert (await client.recv_raw())["msg"] == "connected"
    await client.send({"msg": "ping"})
    assert await client.recv_raw() == {"msg": "error", "reason": "Bad request", "offendingMessage": {"msg": "ping"}}
    await client.close()


# ---------------------------------------------------------------- methods (protocol_handlers.method)


async def test_unknown_method_is_404_then_updated(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    await client.send({"msg": "method", "id": "9", "method": "no.such.method", "params": []})
    assert await client.recv_raw() == {
        "msg": "result",
        "id": "9",
        "error": {
            "isClientSafe": True,
            "error": 404,
            "reason": "Method 'no.such.method' not found",
            "message": "Method 'no.such.method' not found [404]",
            "errorType": "Meteor.Error",
        },
    }
    assert await client.recv_raw() == {"msg": "updated", "methods": ["9"]}
    await client.close()


# ---------------------------------------------------------------- login (accounts-base, accounts-password, 2fa loginHandler.ts)


async def test_login_with_password_digest_and_resume(ddp_server) -> None:
    user = ddp_server.state.create_user("alice", email="alice@example.org", password=PASSWORD)
    client = await DDPTestClient.open(ddp_server.ws_url)
    result, updated = await client.call_frames(
        "login", {"user": {"username": "alice"}, "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}}
    )
    assert updated == {"msg": "updated", "methods": [result["id"]]}
    body = result["result"]
    assert body["id"] == user["_id"] and body["type"] == "password"
    assert set(body["tokenExpires"]) == {"$date"} and isinstance(body["tokenExpires"]["$date"], int)
    # accounts-base publishes the logged-in user's own document
    added = await client.expect(lambda m: m.get("msg") == "added" and m.get("collection") == "users")
    assert added["id"] == user["_id"] and added["fields"]["username"] == "alice"
    assert "services" not in added["fields"]
    await client.close()

    again = await DDPTestClient.open(ddp_server.ws_url)
    resumed = await again.login_token(body["token"])
    assert resumed["result"]["id"] == user["_id"]
    assert resumed["result"]["type"] == "resume"
    assert resumed["result"]["token"] == body["token"]
    await again.close()


async def test_login_with_plain_string_password_and_email_selector(ddp_server) -> None:
    ddp_server.state.create_user("bob", email="bob@example.org", password=PASSWORD)
    client = await DDPTestClient.open(ddp_server.ws_url)
    result = await client.call("login", {"user": {"email": "bob@example.org"}, "password": PASSWORD})
    assert result["result"]["type"] == "password"
    await client.close()


async def test_login_errors_have_meteor_shapes(ddp_server) -> None:
    ddp_server.state.create_user("carol", email="carol@example.org", password=PASSWORD)
    client = await DDPTestClient.open(ddp_server.ws_url)
    wrong = await client.login_password("carol", "nope")
    assert wrong["error"] == {
        "isClientSafe": True,
        "error": 403,
        "reason": "Incorrect password",
        "message": "Incorrect password [403]",
        "errorType": "Meteor.Error",
    }
    missing = await client.login_password("nobody", PASSWORD)
    assert (missing["error"]["error"], missing["error"]["reason"]) == (403, "User not found")
    bad_token = await client.login_token("not-a-token")
    assert bad_token["error"]["reason"] == "You've been logged out by the server. Please log in again."
    unrecognized = await client.call("login", {"foo": "bar"})
    assert (unrecognized["error"]["error"], unrecognized["error"]["reason"]) == (400, "Unrecognized options for login request")
    short_digest = await client.call("login", {"user": {"username": "carol"}, "password": {"digest": "abc", "algorithm": "sha-256"}})
    assert (short_digest["error"]["error"], short_digest["error"]["reason"]) == (400, "Match failed")
    await client.close()


async def test_deactivated_user_cannot_log_in(ddp_server) -> None:
    ddp_server.state.create_user("dave", email="dave@example.org", password=PASSWORD, active=False)
    client = await DDPTestClient.open(ddp_server.ws_url)
    result = await client.login_password("dave", PASSWORD)
    assert result["error"]["error"] == "error-user-is-not-activated"
    assert result["error"]["reason"] == "User is not activated"
    await client.close()


async def test_totp_user_needs_the_totp_wrapper(ddp_server) -> None:
    secret = pyotp.random_base32()
    ddp_server.state.create_user("svc", email="svc@example.org", password=PASSWORD, roles=["admin"], totp_secret=secret)
    client = await DDPTestClient.open(ddp_server.ws_url)
    login = {"user": {"username": "svc"}, "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}}

    required = await client.call("login", login)
    assert required["error"] == {
        "isClientSafe": True,
        "error": "totp-required",
        "reason": "TOTP Required",
        "details": {"method": "totp", "codeGenerated": False, "availableMethods": ["totp"]},
        "message": "TOTP Required [totp-required]",
        "errorType": "Meteor.Error",
    }
    totp = pyotp.TOTP(secret)
    valid_now = {totp.at(ddp_server.state.clock.time() + step) for step in (-30, 0, 30)}
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid_now)
    invalid = await client.call("login", {"totp": {"login": login, "code": wrong_code}})
    assert invalid["error"]["error"] == "totp-invalid"
    assert invalid["error"]["reason"] == "TOTP Invalid"

    ok = await client.call("login", {"totp": {"login": login, "code": pyotp.TOTP(secret).now()}})
    assert ok["result"]["type"] == "password"
    # resume logins are never 2FA-checked
    other = await DDPTestClient.open(ddp_server.ws_url)
    assert (await other.login_token(ok["result"]["token"]))["result"]["type"] == "resume"
    await other.close()
    await client.close()


async def test_logout_destroys_the_connection_token(ddp_server) -> None:
    ddp_server.state.create_user("erin", email="erin@example.org", password=PASSWORD)
    client = await DDPTestClient.open(ddp_server.ws_url)
    token = (await client.login_password("erin", PASSWORD))["result"]["token"]
    result = await client.call("logout")
    assert result == {"msg": "result", "id": result["id"]}  # returns undefined: no `result` key
    removed = await client.expect(lambda m: m.get("msg") == "removed" and m.get("collection") == "users")
    assert removed["id"]
    again = await client.login_token(token)
    assert again["error"]["error"] == 403
    await client.close()


async def test_secrets_never_reach_the_server_log(ddp_server, caplog) -> None:
    secret = pyotp.random_base32()
    ddp_server.state.create_user("frank", email="frank@example.org", password=PASSWORD, totp_secret=secret)
    caplog.set_level("DEBUG")
    client = await DDPTestClient.open(ddp_server.ws_url)
    code = pyotp.TOTP(secret).now()
    login = {"user": {"username": "frank"}, "password": {"digest": sha256_hex(PASSWORD), "algorithm": "sha-256"}}
    token = (await client.call("login", {"totp": {"login": login, "code": code}}))["result"]["token"]
    await client.call("no.such.method", token)
    await client.close()
    # server-side records only: the websockets *client* logs its own frames at DEBUG
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.name.startswith("websockets"))
    for secret_value in (PASSWORD, sha256_hex(PASSWORD), token, secret):
        assert secret_value not in logged


async def test_connection_closes_when_its_login_token_is_removed_elsewhere(ddp_server) -> None:
    # accounts-base `_setLoginToken` observes the token and closes the connection when it goes.
    user = ddp_server.state.create_user("gina", email="gina@example.org", password=PASSWORD)
    token = ddp_server.state.issue_login_token(user["_id"])
    client = await DDPTestClient.open(ddp_server.ws_url)
    assert (await client.login_token(token))["result"]["id"] == user["_id"]
    ddp_server.state.logout(user["_id"], token)  # e.g. REST /logout with the same token
    with pytest.raises(websockets.ConnectionClosed):
        await client.expect(lambda m: False, timeout=5)
