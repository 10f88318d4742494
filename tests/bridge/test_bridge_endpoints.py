"""Every endpoint method against the stand-in (Rocket.Chat 7.x shapes; 6.x where they differ)."""

from __future__ import annotations

import pytest

from bridge import (
    AsyncRocketChat,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RcRoom,
)
from bridge_support import ADMIN, ADMIN_PASSWORD, age_account, make_config
from fake_rocketchat.harness.testing import running_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[7, 6], ids=["rc7", "rc6"])
def server(request):
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, admin_email="svc@example.org",
                        compat=request.param) as srv:
        age_account(srv, ADMIN)
        yield srv


def _cfg(srv):
    return make_config(srv, totp_secret=None)


async def test_users_lifecycle(server):
    async with AsyncRocketChat(_cfg(server)) as rc:
        me = await rc.me()
        assert me.username == ADMIN and "admin" in me.roles
        alice = await rc.create_user("alice", "Alice A", "alice@example.org", "alice-Pw-1", roles=["user", "bot"],
                                     verified=True)
        assert (alice.username, alice.name, alice.emails, alice.active) == ("alice", "Alice A",
                                                                            ("alice@example.org",), True)
        assert set(alice.roles) == {"user", "bot"} and alice.type == "user"
        assert (await rc.user_info(user_id=alice.id)).username == "alice"
        assert (await rc.user_info(username="alice")).id == alice.id
        assert (await rc.find_user(username="alice")).id == alice.id
        assert (await rc.find_user(email="ALICE@example.org")).id == alice.id
        assert await rc.find_user(username="nobody") is None
        assert await rc.find_user(username="nobody", email="nobody@example.org") is None

        with pytest.raises(Conflict):
            await rc.create_user("alice", "Again", "alice2@example.org", "pw-Again-1")
        with pytest.raises(Conflict):
            await rc.create_user("alice2", "Again", "alice@example.org", "pw-Again-1")
        with pytest.raises(InvalidInput):
            await rc.create_user("admin", "Reserved", "reserved@example.org", "pw-Again-1")

        await rc.set_active(alice.id, False)
        assert (await rc.user_info(user_id=alice.id)).active is False
        await rc.set_active(alice.id, True)
        assert server.state.find_user(alice.id)["active"] is True

        await rc.delete_user(alice.id)
        with pytest.raises(NotFound):
            await rc.user_info(user_id=alice.id)
        assert await rc.find_user(username="alice") is None


async def test_update_user_fields_and_bad_input(server):
    bob = server.state.create_user("bob")
    async with AsyncRocketChat(_cfg(server)) as rc:
        updated = await rc.update_user(bob["_id"], name="Bob B", roles=["user", "bot"], require_password_change=False)
        assert updated.name == "Bob B" and set(updated.roles) == {"user", "bot"}
        with pytest.raises(InvalidInput, match="joinDefaultChannels"):
            await rc.update_user(bob["_id"], joinDefaultChannels=True)
        server.state.create_user("taken")
        with pytest.raises(Conflict):
            await rc.update_user(bob["_id"], username="taken")


async def test_user_rooms_in_both_versions(server):
    server.state.create_user("carol")
    room = server.state.create_room("club", "c", owner=ADMIN, members=["carol"])
    async with AsyncRocketChat(_cfg(server)) as rc:
        carol = await rc.user_info(username="carol", include_rooms=True)
        assert carol.rooms is not None
        assert {(r.id, r.name, r.type) for r in carol.rooms} >= {(room["_id"], "club", "c")}
        plain = await rc.user_info(username="carol")
        assert plain.rooms is None
        again = await rc.user_info(username="carol", include_rooms=True)  # the working style is remembered
        assert again.rooms == carol.rooms
    # 7.x answers includeUserRooms at once; on 6.x the client falls back to fields={"userRooms":1} once
    expected_calls = 3 if server.state.compat >= 7 else 4
    assert server.request_log.count(route="users.info") == expected_calls


async def test_iter_users_pages_and_respects_the_count_cap(server):
    for i in range(230):
        server.state.create_user(f"user{i:03d}")
    expected = sorted(server.state.usernames())
    async with AsyncRocketChat(_cfg(server)) as rc:
        names = [u.username async for u in rc.iter_users(page_size=100)]
        assert names == expected
        assert server.request_log.count(route="users.list") == 3
        server.request_log.clear()
        names = [u.username async for u in rc.iter_users(page_size=250)]  # the server clamps count to 100
        assert names == expected
        assert server.request_log.count(route="users.list") == 3


async def test_roles(server):
    server.state.create_user("dora")
    async with AsyncRocketChat(_cfg(server)) as rc:
        roles = {r.id: r for r in await rc.list_roles()}
        assert roles["admin"].scope == "Users" and roles["moderator"].scope == "Subscriptions"
        await rc.add_user_to_role("bot", "dora")
        assert "bot" in server.state.user_roles("dora")
        holders = [u.username async for u in rc.iter_users_in_role("bot", page_size=1)]
        assert "dora" in holders
        with pytest.raises(Conflict):
            await rc.add_user_to_role("bot", "dora")
        await rc.remove_user_from_role("bot", "dora")
        assert "bot" not in server.state.user_roles("dora")
        with pytest.raises(NotFound):
            await rc.add_user_to_role("no-such-role", "dora")
        server.state.custom_roles_licensed = False  # a Community server without the custom-roles licence
        with pytest.raises(PermissionDenied) as info:
            await rc.create_role("custom-x")
        assert info.value.permission == "license" and "Enterprise" in str(info.value)


async def test_permissions_lists_every_grant_by_role(server):
    # Default grants (apps/meteor/app/authorization/server/constant/permissions.ts): add-user-to-any-p-room
    # goes to no role, api-bypass-rate-limit to admin, bot and app.
    async with AsyncRocketChat(_cfg(server)) as rc:
        granted = await rc.permissions()
        assert granted["add-user-to-any-p-room"] == frozenset()
        assert {"admin", "bot", "app"} <= granted["api-bypass-rate-limit"]
        server.state.grant_permission("add-user-to-any-p-room", "bot")
        assert (await rc.permissions())["add-user-to-any-p-room"] == {"bot"}


async def test_create_role_with_licence(server):
    server.state.custom_roles_licensed = True
    async with AsyncRocketChat(_cfg(server)) as rc:
        role = await rc.create_role("site-vip", scope="Users", description="VIPs")
        assert role.name == "site-vip" and role.id
        with pytest.raises(Conflict):
            await rc.create_role("site-vip")
        with pytest.raises(InvalidInput):
            await rc.create_role("bad-scope", scope="Rooms")


async def test_rooms_members_and_room_roles(server):
    ids = [server.state.create_user(f"m{i:03d}")["_id"] for i in range(230)]
    async with AsyncRocketChat(_cfg(server)) as rc:
        channel = await rc.create_room("policy-c", "c")
        group = await rc.create_room("policy-p", "p", members=["m000"])
        assert (channel.type, group.type) == ("c", "p")
        assert (await rc.room_info(name="policy-p")).id == group.id
        assert (await rc.room_info(room_id=channel.id)).name == "policy-c"
        with pytest.raises(NotFound):
            await rc.room_info(name="no-such-room")
        with pytest.raises(Conflict):
            await rc.create_room("policy-c", "c")
        with pytest.raises(InvalidInput):
            await rc.create_room("admin", "c")

        server.request_log.clear()
        assert await rc.invite(channel, ids + ids[:5]) == 3  # 230 unique ids: 100 + 100 + 30
        assert server.request_log.count(route="channels.invite") == 3
        members = {m.username async for m in rc.iter_members(channel)}
        assert members == {f"m{i:03d}" for i in range(230)} | {ADMIN}

        server.state.set_active("m001", False)
        members = {m.id async for m in rc.iter_members(channel)}
        assert ids[1] not in members  # deactivated users are hidden from *.members

        await rc.kick(channel, ids[2])
        assert server.state.subscription(channel.id, "m002") is None

        await rc.invite(group, [ids[3]])
        await rc.add_moderator(group, ids[3])
        await rc.add_owner(group, ids[3])
        roles = {r.username: set(r.roles) for r in await rc.room_roles(group)}
        assert roles["m003"] == {"moderator", "owner"} and "owner" in roles[ADMIN]
        await rc.remove_moderator(group, ids[3])
        await rc.remove_owner(group, ids[3])
        assert server.state.room_roles(group.id, "m003") == []
        with pytest.raises(NotFound):
            await rc.remove_owner(group, ids[3])

        assert group.id in {g.id async for g in rc.iter_all_groups()}
        assert {"general", "policy-c"} <= {c.name async for c in rc.iter_channels()}
        subs = {s.room_id: s for s in await rc.subscriptions()}
        assert "owner" in subs[group.id].roles and subs[group.id].type == "p"


async def test_private_group_of_others_is_not_found(server):
    server.state.create_user("owner1")
    hidden = server.state.create_room("hidden", "p", owner="owner1")
    async with AsyncRocketChat(_cfg(server)) as rc:
        with pytest.raises(NotFound, match="private group"):
            await rc.room_info(name="hidden")
        ghost = RcRoom(id=hidden["_id"], name="hidden", type="p")
        with pytest.raises(NotFound):
            [m async for m in rc.iter_members(ghost)]


async def test_call_method_answers_the_2fa_challenge(server):
    erin = server.state.create_user("erin")
    async with AsyncRocketChat(_cfg(server)) as rc:
        result = await rc.call_method("insertOrUpdateUser", {"_id": erin["_id"], "name": "Erin E"})
        assert result is True
        assert server.state.find_user(erin["_id"])["name"] == "Erin E"
        with pytest.raises(NotFound):
            await rc.call_method("noSuchMethod")


async def test_invite_rejects_oversized_batches(server):
    async with AsyncRocketChat(_cfg(server)) as rc:
        with pytest.raises(InvalidInput):
            await rc.invite(RcRoom(id="GENERAL", name="general", type="c"), ["x"], batch_size=101)
        assert await rc.invite(RcRoom(id="GENERAL", name="general", type="c"), []) == 0


async def test_permission_denied_names_the_permission(server):
    server.state.create_user("plain-svc", password="plain-Pw-1", roles=["user"])
    cfg = make_config(server, username="plain-svc", password="plain-Pw-1", totp_secret=None)
    async with AsyncRocketChat(cfg) as rc:
        with pytest.raises(PermissionDenied) as created:
            await rc.create_user("nope", "Nope", "nope@example.org", "nope-Pw-1")
        with pytest.raises(PermissionDenied) as listed:
            [g async for g in rc.iter_all_groups()]
        with pytest.raises(PermissionDenied) as deleted:
            await rc.delete_user(server.state.find_user_by_username(ADMIN)["_id"])
    assert created.value.permission  # Rocket.Chat's details or the route's known permission
    assert listed.value.permission == "view-room-administration"
    assert deleted.value.permission == "delete-user"
    assert server.request_log.count(route="login", status=200) == 1  # a 401/403 refusal is no reason to re-login
