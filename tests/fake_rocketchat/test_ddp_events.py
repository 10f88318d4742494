"""Stream events emitted when the workspace changes through REST (reference §7.5), and the
drop-websockets fault. The REST calls go over real HTTP to the same server the DDP client
listens to, so these tests check the whole path state → event bus → session → socket.
"""

from __future__ import annotations

import httpx
import pytest
import websockets

from test_ddp_support import ADMIN, ADMIN_PASSWORD, DDPTestClient, anyio_backend, ddp_server  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "events-pw"


async def _admin_session(server) -> DDPTestClient:
    client = await DDPTestClient.open(server.ws_url)
    result = await client.login_password(ADMIN, ADMIN_PASSWORD)
    assert "result" in result, result
    return client


def _rest(server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=server.admin_headers(), timeout=10)


async def test_users_update_rename_emits_users_name_changed(ddp_server) -> None:
    user = ddp_server.state.create_user("oldname", email="old@example.org", password=PASSWORD)
    watcher = await _admin_session(ddp_server)
    assert (await watcher.sub("stream-notify-logged", "Users:NameChanged", {"useCollection": False, "args": []}))["msg"] == "ready"
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/users.update", json={"userId": user["_id"], "data": {"username": "newname"}})
        assert reply.status_code == 200, reply.text
    event = await watcher.event("stream-notify-logged", "Users:NameChanged")
    assert event["fields"]["args"] == [{"_id": user["_id"], "name": user["name"], "username": "newname"}]
    await watcher.close()


async def test_users_delete_emits_users_deleted(ddp_server) -> None:
    user = ddp_server.state.create_user("doomed", email="doomed@example.org", password=PASSWORD)
    watcher = await _admin_session(ddp_server)
    assert (await watcher.sub("stream-notify-logged", "Users:Deleted", False))["msg"] == "ready"
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/users.delete", json={"userId": user["_id"]})
        assert reply.status_code == 200, reply.text
    event = await watcher.event("stream-notify-logged", "Users:Deleted")
    assert event["fields"]["args"] == [{"userId": user["_id"], "messageErasureType": "Delete"}]
    await watcher.close()


async def test_deactivation_closes_the_users_own_sessions(ddp_server) -> None:
    # users.setActiveStatus removes all login tokens; accounts-base then closes their connections.
    user = ddp_server.state.create_user("leaving", email="leaving@example.org", password=PASSWORD)
    own = await DDPTestClient.open(ddp_server.ws_url)
    assert "result" in await own.login_password("leaving", PASSWORD)
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/users.setActiveStatus", json={"userId": user["_id"], "activeStatus": False})
        assert reply.status_code == 200, reply.text
    with pytest.raises(websockets.ConnectionClosed):
        await own.expect(lambda m: False, timeout=5)


async def test_drop_websockets_fault_closes_every_socket(ddp_server) -> None:
    first = await _admin_session(ddp_server)
    second = await DDPTestClient.open(ddp_server.ws_url)
    async with httpx.AsyncClient(base_url=ddp_server.url, timeout=10) as http:
        reply = await http.post("/_fake/drop-websockets")
        assert reply.status_code == 200, reply.text
    for client in (first, second):
        with pytest.raises(websockets.ConnectionClosed):
            await client.expect(lambda m: False, timeout=5)
    # the server keeps accepting new connections: a client reconnects and resumes
    again = await DDPTestClient.open(ddp_server.ws_url)
    assert (await again.call("no.such"))["error"]["error"] == 404
    await again.close()


async def test_drop_websockets_in_process(ddp_server) -> None:
    client = await DDPTestClient.open(ddp_server.ws_url)
    ddp_server.faults.drop_websockets()
    with pytest.raises(websockets.ConnectionClosed):
        await client.expect(lambda m: False, timeout=5)


async def test_rest_roles_add_user_to_role_emits_roles_change(ddp_server) -> None:
    alice = ddp_server.state.create_user("alice", email="alice@example.org", password=PASSWORD)
    watcher = await _admin_session(ddp_server)
    assert (await watcher.sub("stream-notify-logged", "roles-change", {"useCollection": False, "args": []}))["msg"] == "ready"
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "alice"})
        assert reply.status_code == 200, reply.text
    event = await watcher.event("stream-notify-logged", "roles-change")
    change = event["fields"]["args"][0]
    assert (change["type"], change["_id"], change["u"]["_id"], change["u"]["username"]) == ("added", "bot", alice["_id"], "alice")
    await watcher.close()


async def test_rest_channels_invite_and_kick_stream_au_and_ru(ddp_server) -> None:
    ddp_server.state.create_user("carl", email="carl@example.org", password=PASSWORD)
    rid = ddp_server.state.create_room("town", "c", owner=ADMIN)["_id"]
    watcher = await _admin_session(ddp_server)
    assert (await watcher.sub("stream-room-messages", rid, {"useCollection": False, "args": []}))["msg"] == "ready"
    carl = ddp_server.state.find_user_by_username("carl")
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/channels.invite", json={"roomId": rid, "userId": carl["_id"]})
        assert reply.status_code == 200, reply.text
        added = (await watcher.event("stream-room-messages", rid))["fields"]["args"][0]
        assert (added["t"], added["msg"], added["u"]["username"], added["rid"]) == ("au", "carl", ADMIN, rid)
        reply = await rest.post("/api/v1/channels.kick", json={"roomId": rid, "userId": carl["_id"]})
        assert reply.status_code == 200, reply.text
        removed = (await watcher.event("stream-room-messages", rid))["fields"]["args"][0]
        assert (removed["t"], removed["msg"]) == ("ru", "carl")
    await watcher.close()


async def test_rest_invite_reaches_the_invited_users_own_subscription_stream(ddp_server) -> None:
    dana = ddp_server.state.create_user("dana", email="dana@example.org", password=PASSWORD)
    rid = ddp_server.state.create_room("club", "p", owner=ADMIN)["_id"]
    own = await DDPTestClient.open(ddp_server.ws_url)
    assert "result" in await own.login_password("dana", PASSWORD)
    event_name = f"{dana['_id']}/subscriptions-changed"
    assert (await own.sub("stream-notify-user", event_name, {"useCollection": False, "args": []}))["msg"] == "ready"
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/groups.invite", json={"roomId": rid, "userId": dana["_id"]})
        assert reply.status_code == 200, reply.text
    action, sub = (await own.event("stream-notify-user", event_name))["fields"]["args"]
    assert (action, sub["rid"], sub["u"]["_id"], sub["t"]) == ("inserted", rid, dana["_id"], "p")
    await own.close()


async def test_reconnect_after_drop_resumes_and_streams_again(ddp_server) -> None:
    # What a listener does after the server drops it: new socket, resume token, same subs.
    admin = ddp_server.state.find_user_by_username(ADMIN)
    ddp_server.state.create_user("erik", email="erik@example.org", password=PASSWORD)
    client = await _admin_session(ddp_server)
    token = ddp_server.state.issue_login_token(admin["_id"])
    assert (await client.sub("stream-notify-logged", "roles-change", False, sub_id="rc"))["msg"] == "ready"
    ddp_server.faults.drop_websockets()
    with pytest.raises(websockets.ConnectionClosed):
        await client.expect(lambda m: False, timeout=5)

    again = await DDPTestClient.open(ddp_server.ws_url)
    assert (await again.login_token(token))["result"]["type"] == "resume"
    assert (await again.sub("stream-notify-logged", "roles-change", False, sub_id="rc"))["msg"] == "ready"
    async with _rest(ddp_server) as rest:
        reply = await rest.post("/api/v1/roles.addUserToRole", json={"roleId": "bot", "username": "erik"})
        assert reply.status_code == 200, reply.text
    change = (await again.event("stream-notify-logged", "roles-change"))["fields"]["args"][0]
    assert (change["type"], change["u"]["username"]) == ("added", "erik")
    await again.close()


async def test_websocket_is_refused_during_a_503_outage(ddp_server) -> None:
    # The fault middleware closes the handshake before accept; uvicorn answers it with HTTP 403.
    ddp_server.faults.outage(30, "503")
    with pytest.raises(websockets.InvalidStatus) as refused:
        await DDPTestClient.open(ddp_server.ws_url)
    assert refused.value.response.status_code == 403


async def test_drop_all_helper_counts_and_closes_sessions(ddp_server) -> None:
    from fake_rocketchat.realtime.server import drop_all

    clients = [await DDPTestClient.open(ddp_server.ws_url) for _ in range(2)]
    assert drop_all(ddp_server.state) == 2
    for client in clients:
        with pytest.raises(websockets.ConnectionClosed):
            await client.expect(lambda m: False, timeout=5)
