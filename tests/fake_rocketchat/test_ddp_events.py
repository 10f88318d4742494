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
