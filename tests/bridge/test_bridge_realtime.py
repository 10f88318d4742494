"""The realtime (DDP) client over a real WebSocket to the stand-in: login, events, reconnects."""

from __future__ import annotations

import asyncio

import pytest

from bridge import AsyncRocketChat, AuthError
from bridge.ddp import RealtimeClient
from bridge.events import MembershipChanged, Reconnected, RoleChanged, UserDeleted, UserRenamed
from bridge_support import ADMIN, make_config

pytestmark = pytest.mark.anyio


async def _next_of(rt: RealtimeClient, kind: type, timeout: float = 5.0):
    """The next event of `kind` (others are skipped), within `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        event = await rt.next_event(timeout=max(0.01, remaining))
        if isinstance(event, kind):
            return event


async def test_events_from_rest_changes_with_resume_login(totp_server):
    totp_server.state.create_user("zoe")
    async with AsyncRocketChat(make_config(totp_server)) as rc, RealtimeClient(make_config(totp_server), rest=rc) as rt:
        assert rt.user_id == totp_server.state.find_user_by_username(ADMIN)["_id"]
        await rt.watch_users()
        await rt.watch_room("GENERAL")

        await rc.add_user_to_role("bot", "zoe")
        event = await _next_of(rt, RoleChanged)
        assert (event.change, event.role_id, event.username) == ("added", "bot", "zoe")

        zoe = await rc.user_info(username="zoe")
        general = await rc.room_info(room_id="GENERAL")
        await rc.invite(general, [zoe.id])
        added = await _next_of(rt, MembershipChanged)
        assert (added.room_id, added.kind, added.username, added.actor_username) == ("GENERAL", "au", "zoe", ADMIN)
        await rc.kick(general, zoe.id)
        removed = await _next_of(rt, MembershipChanged)
        assert (removed.kind, removed.action, removed.username) == ("ru", "removed", "zoe")

        await rc.update_user(zoe.id, username="zoe2")
        renamed = await _next_of(rt, UserRenamed)
        assert (renamed.user_id, renamed.username) == (zoe.id, "zoe2")

        await rc.delete_user(zoe.id)
        deleted = await _next_of(rt, UserDeleted)
        assert deleted.user_id == zoe.id
    # the resume login needed no second factor
    assert totp_server.request_log.count(route="login") == 2


async def test_password_and_totp_login_and_method_call(totp_server):
    cfg = make_config(totp_server)
    totp_server.state.create_user("yann")
    async with RealtimeClient(cfg) as rt:
        assert rt.user_id == totp_server.state.find_user_by_username(ADMIN)["_id"]
        assert await rt.call("addUsersToRoom", {"rid": "GENERAL", "users": ["yann"]}) is True
        assert totp_server.state.subscription("GENERAL", "yann") is not None
        yann = totp_server.state.find_user_by_username("yann")
        # a 2FA-wrapped method: the client appends {twoFactorCode, twoFactorMethod} when challenged
        assert await rt.call("insertOrUpdateUser", {"_id": yann["_id"], "name": "Yann Y"}) is True
        assert totp_server.state.find_user(yann["_id"])["name"] == "Yann Y"


async def test_bad_password_fails_connect_clearly(totp_server):
    cfg = make_config(totp_server, password="wrong-password-1")
    rt = RealtimeClient(cfg)
    with pytest.raises(AuthError) as info:
        await rt.connect(timeout=10)
    assert "wrong-password-1" not in str(info.value)
    assert not rt.connected


async def test_disconnect_reconnect_and_events_keep_flowing(totp_server):
    totp_server.state.create_user("xena")
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        rt = RealtimeClient(make_config(totp_server), rest=rc, reconnect_base=0.05, reconnect_cap=0.2)
        await rt.connect()
        try:
            await rt.watch_users()
            await rc.add_user_to_role("bot", "xena")
            assert (await _next_of(rt, RoleChanged)).change == "added"

            totp_server.faults.drop_websockets()
            reconnected = await _next_of(rt, Reconnected)
            assert reconnected.attempt >= 0 and rt.connections == 2

            await rc.remove_user_from_role("bot", "xena")
            event = await _next_of(rt, RoleChanged)
            assert (event.change, event.username) == ("removed", "xena")

            # the token expired meanwhile: the reconnect resumes with a fresh REST login
            from bridge_support import revoke_tokens

            revoke_tokens(totp_server, ADMIN)
            totp_server.faults.drop_websockets()
            await _next_of(rt, Reconnected)
            await rc.add_user_to_role("bot", "xena")
            assert (await _next_of(rt, RoleChanged)).change == "added"
            assert rt.connections == 3
        finally:
            await rt.close()


async def test_reconnects_through_an_outage(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        rt = RealtimeClient(make_config(totp_server), rest=rc, reconnect_base=0.1, reconnect_cap=0.3)
        await rt.connect()
        try:
            await rt.watch_users()
            totp_server.faults.outage(0.8, mode="503")
            totp_server.faults.drop_websockets()
            await _next_of(rt, Reconnected, timeout=10)
            totp_server.state.create_user("walt")
            await rc.add_user_to_role("bot", "walt")
            assert (await _next_of(rt, RoleChanged)).username == "walt"
        finally:
            await rt.close()


async def test_dead_socket_is_detected_by_heartbeat(totp_server):
    """A server that stops answering (not even pongs) is given up on after ping_interval + ping_timeout."""
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        rt = RealtimeClient(make_config(totp_server), rest=rc, ping_interval=0.3, ping_timeout=0.3,
                            reconnect_base=0.05, reconnect_cap=0.1)
        await rt.connect()
        try:
            # Freeze the transport's reader: frames stop arriving although the TCP connection stays up.
            ws = rt._ws
            assert ws is not None
            ws.transport.pause_reading()
            await _next_of(rt, Reconnected, timeout=5)
            assert rt.connections == 2
        finally:
            await rt.close()


async def test_subscription_refused_is_an_error(totp_server):
    from bridge import RocketChatError

    async with AsyncRocketChat(make_config(totp_server)) as rc, RealtimeClient(make_config(totp_server), rest=rc) as rt:
        with pytest.raises(RocketChatError):
            await rt.subscribe_stream("stream-notify-user", "someone-else/subscriptions-changed")


async def test_server_pings_are_answered_so_the_connection_stays_up(totp_server):
    from fake_rocketchat.realtime.server import configure

    configure(totp_server.state, heartbeat_interval=0.2, heartbeat_timeout=0.3)
    totp_server.state.create_user("vera")
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        # the client itself stays quiet (long ping interval): only its pongs keep the server content
        async with RealtimeClient(make_config(totp_server), rest=rc, ping_interval=30, ping_timeout=30) as rt:
            await rt.watch_users()
            await asyncio.sleep(1.2)  # several server heartbeat rounds (time-based by nature)
            assert rt.connected and rt.connections == 1
            await rc.add_user_to_role("bot", "vera")
            assert (await _next_of(rt, RoleChanged)).username == "vera"
            assert rt.connections == 1


async def test_event_iterator_survives_a_cancelled_wait(totp_server):
    totp_server.state.create_user("uma")
    async with AsyncRocketChat(make_config(totp_server)) as rc, RealtimeClient(make_config(totp_server), rest=rc) as rt:
        await rt.watch_users()
        events = rt.events().__aiter__()
        pending = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        pending.cancel()  # e.g. a stop signal won the race
        with pytest.raises(asyncio.CancelledError):
            await pending
        await rc.add_user_to_role("bot", "uma")
        async with asyncio.timeout(5):
            async for event in events:
                if isinstance(event, RoleChanged):
                    assert event.username == "uma"
                    break


async def test_connect_to_a_dead_server_fails_within_the_timeout(totp_server):
    import socket

    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = make_config(totp_server, url=f"http://127.0.0.1:{port}")
    rt = RealtimeClient(cfg, reconnect_base=0.05, reconnect_cap=0.1)
    from bridge import Unavailable

    with pytest.raises(Unavailable):
        await rt.connect(timeout=0.5)
    assert rt._runner is None  # nothing left running


async def test_event_queue_is_bounded_and_drops_the_oldest(caplog):
    from bridge import BridgeConfig
    from bridge.events import StreamEvent

    rt = RealtimeClient(BridgeConfig(url="http://127.0.0.1:9", username="u", password="p"), queue_size=2)
    for i in range(3):
        rt._emit(StreamEvent("stream-x", f"e{i}"))
    assert [(await rt.next_event(1)).event_name for _ in range(2)] == ["e1", "e2"]
    assert "queue full" in caplog.text
