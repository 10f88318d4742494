"""Streamer publications over a real WebSocket: sub/ready/nosub rules and event delivery.

Rules from `apps/meteor/server/modules/streamer/streamer.module.ts` and
`apps/meteor/server/modules/notifications/notifications.module.ts` (reference §7.5).
"""

from __future__ import annotations

import pytest

from test_ddp_support import DDPTestClient, anyio_backend, ddp_server  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "pw-for-streams"
NOT_ALLOWED = {"isClientSafe": True, "error": "not-allowed", "message": "[not-allowed]", "errorType": "Meteor.Error"}


def _users(state):
    admin = state.create_user("boss", email="boss@example.org", password=PASSWORD, roles=["admin"])
    alice = state.create_user("alice", email="alice@example.org", password=PASSWORD)
    bob = state.create_user("bob", email="bob@example.org", password=PASSWORD)
    return admin, alice, bob


async def _logged_in(server, username: str) -> DDPTestClient:
    client = await DDPTestClient.open(server.ws_url)
    result = await client.login_password(username, PASSWORD)
    assert "result" in result, result
    return client


async def test_streams_refuse_anonymous_connections(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    for name, event in (("stream-notify-logged", "roles-change"), ("stream-roles", "roles"), ("stream-room-messages", "GENERAL")):
        answer = await client.sub(name, event, {"useCollection": False, "args": []})
        assert answer == {"msg": "nosub", "id": answer["id"], "error": NOT_ALLOWED}, name
    await client.close()


async def test_unknown_publication_is_404_nosub(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    answer = await client.sub("stream-nonexistent", "x", False)
    assert answer["error"]["error"] == 404
    assert answer["error"]["reason"] == "Subscription 'stream-nonexistent' not found"
    await client.close()


async def test_notify_user_only_for_own_uid(ddp_server) -> None:
    _, alice, bob = _users(ddp_server.state)
    client = await _logged_in(ddp_server, "alice")
    own = await client.sub("stream-notify-user", f"{alice['_id']}/subscriptions-changed", {"useCollection": False, "args": []})
    assert own["msg"] == "ready"
    other = await client.sub("stream-notify-user", f"{bob['_id']}/subscriptions-changed", {"useCollection": False, "args": []})
    assert other == {"msg": "nosub", "id": other["id"], "error": NOT_ALLOWED}
    # the accepted one delivers the user's own subscription changes
    ddp_server.state.add_member("GENERAL", "alice")
    event = await client.event("stream-notify-user", f"{alice['_id']}/subscriptions-changed")
    assert event["id"] == "id"
    assert event["fields"]["args"][0] == "inserted"
    assert event["fields"]["args"][1]["rid"] == "GENERAL"
    await client.close()


async def test_empty_event_name_is_invalid(ddp_server) -> None:
    _users(ddp_server.state)
    client = await _logged_in(ddp_server, "alice")
    answer = await client.sub("stream-notify-logged", "", False)
    assert answer["error"] == {"isClientSafe": True, "error": "invalid-event-name", "message": "[invalid-event-name]", "errorType": "Meteor.Error"}
    await client.close()


async def test_use_collection_sends_added_before_ready(ddp_server) -> None:
    _users(ddp_server.state)
    client = await _logged_in(ddp_server, "alice")
    await client.send({"msg": "sub", "id": "c1", "name": "stream-notify-logged", "params": ["roles-change", {"useCollection": True, "args": []}]})
    added = await client.expect(lambda m: m.get("msg") in ("added", "ready") and m.get("collection") != "users")
    assert added == {"msg": "added", "collection": "stream-notify-logged", "id": "id", "fields": {"eventName": "roles-change"}}
    assert await client.expect(lambda m: m.get("msg") == "ready") == {"msg": "ready", "subs": ["c1"]}
    await client.close()


async def test_roles_change_reaches_only_subscribers_of_that_event(ddp_server) -> None:
    admin, alice, _ = _users(ddp_server.state)
    watcher = await _logged_in(ddp_server, "bob")
    assert (await watcher.sub("stream-notify-logged", "roles-change", {"useCollection": False, "args": []}))["msg"] == "ready"
    assert (await watcher.sub("stream-notify-logged", "Users:Deleted", False))["msg"] == "ready"
    ddp_server.state.add_user_to_role(admin["_id"], "admin", "alice")
    event = await watcher.event("stream-notify-logged", "roles-change")
    assert event == {
        "msg": "changed",
        "collection": "stream-notify-logged",
        "id": "id",
        "fields": {"eventName": "roles-change", "args": [event["fields"]["args"][0]]},
    }
    payload = event["fields"]["args"][0]
    assert payload["type"] == "added" and payload["_id"] == "admin"
    assert payload["u"]["_id"] == alice["_id"] and payload["u"]["username"] == "alice"
    await watcher.expect_none(lambda m: m.get("msg") == "changed", within=0.2)
    await watcher.close()


async def test_unsub_stops_delivery_and_answers_nosub(ddp_server) -> None:
    admin, _, _ = _users(ddp_server.state)
    client = await _logged_in(ddp_server, "bob")
    ready = await client.sub("stream-notify-logged", "roles-change", False, sub_id="r1")
    assert ready == {"msg": "ready", "subs": ["r1"]}
    await client.send({"msg": "unsub", "id": "r1"})
    assert await client.expect(lambda m: m.get("msg") == "nosub") == {"msg": "nosub", "id": "r1"}
    ddp_server.state.add_user_to_role(admin["_id"], "admin", "alice")
    await client.expect_none(lambda m: m.get("msg") == "changed", within=0.3)
    await client.close()


async def test_private_room_messages_only_for_members(ddp_server) -> None:
    admin, alice, bob = _users(ddp_server.state)
    rid = ddp_server.state.create_room("secret", "p", owner="alice")["_id"]
    member = await _logged_in(ddp_server, "alice")
    outsider_admin = await _logged_in(ddp_server, "boss")
    assert (await member.sub("stream-room-messages", rid, {"useCollection": False, "args": []}))["msg"] == "ready"
    refused = await outsider_admin.sub("stream-room-messages", rid, {"useCollection": False, "args": []})
    assert refused["error"] == NOT_ALLOWED  # admins have no implicit access to private groups
    ddp_server.state.add_users_to_room(alice["_id"], rid, ["bob"])
    event = await member.event("stream-room-messages", rid)
    message = event["fields"]["args"][0]
    assert (message["t"], message["msg"], message["u"]["username"]) == ("au", "bob", "alice")
    assert set(message["ts"]) == {"$date"}
    await member.close()
    await outsider_admin.close()


async def test_logout_ends_streams_that_need_a_login(ddp_server) -> None:
    _users(ddp_server.state)
    client = await _logged_in(ddp_server, "alice")
    assert (await client.sub("stream-notify-logged", "roles-change", False, sub_id="L"))["msg"] == "ready"
    await client.call("logout")
    nosub = await client.expect(lambda m: m.get("msg") == "nosub")
    assert nosub == {"msg": "nosub", "id": "L", "error": NOT_ALLOWED}
    await client.close()


async def test_subscribing_twice_with_the_same_id_is_ignored(ddp_server) -> None:
    _users(ddp_server.state)
    client = await _logged_in(ddp_server, "alice")
    assert (await client.sub("stream-notify-logged", "roles-change", False, sub_id="dup"))["msg"] == "ready"
    await client.send({"msg": "sub", "id": "dup", "name": "stream-notify-logged", "params": ["roles-change", False]})
    await client.expect_none(lambda m: m.get("msg") in ("ready", "nosub"), within=0.2)
    await client.close()


async def test_user_status_and_role_definitions_reach_logged_in_subscribers(ddp_server) -> None:
    _, alice, _ = _users(ddp_server.state)
    client = await _logged_in(ddp_server, "bob")
    assert (await client.sub("stream-notify-logged", "user-status", False))["msg"] == "ready"
    assert (await client.sub("stream-roles", "roles", {"useCollection": False, "args": []}))["msg"] == "ready"
    ddp_server.state.set_user_status(alice["_id"], "away", "lunch")
    status = await client.event("stream-notify-logged", "user-status")
    # one argument that is itself an array: [uid, username, status code, statusText, name, roles]
    assert status["fields"]["args"] == [[alice["_id"], "alice", 2, "lunch", alice["name"], ["user"]]]
    role = ddp_server.state.create_role("auditor")
    definition = (await client.event("stream-roles", "roles"))["fields"]["args"][0]
    assert (definition["type"], definition["_id"], definition["name"]) == ("changed", role["_id"], "auditor")
    assert set(definition["_updatedAt"]) == {"$date"}
    await client.close()
