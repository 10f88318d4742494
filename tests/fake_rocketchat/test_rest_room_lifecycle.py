"""channels.* / groups.* lifecycle and settings routes, rooms.membersOrderedByRole / adminRooms / delete and
subscriptions.getOne. Each test names the Rocket.Chat file its rule comes from (apps/meteor/...):
`app/api/server/v1/{channels,groups,rooms,subscriptions}.ts`, `server/lib/eraseRoom.ts`,
`app/lib/server/methods/{archiveRoom,unarchiveRoom,leaveRoom}.ts`, `server/methods/addAllUserToRoom.ts`,
`server/services/room/service.ts` (join), `app/channel-settings/server/methods/saveRoomSettings.ts`,
`server/lib/findUsersOfRoomOrderedByRole.ts`, `app/api/server/lib/rooms.ts` (findAdminRooms)."""

from __future__ import annotations

import httpx
import pytest

from fake_rocketchat.harness.testing import FakeServer


@pytest.fixture
def people(fake_rc: FakeServer) -> dict[str, dict]:
    return {name: fake_rc.state.create_user(name, password="pw") for name in ("alice", "bob", "carol")}


def _as(fake_rc: FakeServer, username: str) -> httpx.Client:
    return httpx.Client(base_url=fake_rc.url, headers=fake_rc.headers_for(username), timeout=10)


def _types(fake_rc: FakeServer, rid: str) -> list[str]:
    return [m["t"] for m in fake_rc.state.room_messages(rid)]


# ------------------------------------------------------------------------------ delete (eraseRoom.ts)
def test_channels_delete_needs_delete_c_in_room_scope_eraseRoom_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("doomed", "c", owner="alice", members=["bob"])
    with _as(fake_rc, "bob") as bob:
        r = bob.post("/api/v1/channels.delete", json={"roomId": room["_id"]})
    assert r.status_code == 400 and r.json()["error"] == "Not allowed [error-not-allowed]"
    with _as(fake_rc, "alice") as alice:  # the room owner holds delete-c through the owner role
        assert alice.post("/api/v1/channels.delete", json={"roomName": "doomed"}).json() == {"success": True}
    assert fake_rc.state.find_room(room["_id"]) is None
    assert fake_rc.state.subscription(room["_id"], "bob") is None
    again = admin.post("/api/v1/channels.delete", json={"roomId": room["_id"]}).json()
    assert again["errorType"] == "error-room-not-found"


def test_channels_delete_validator_isChannelsDeleteProps(admin: httpx.Client) -> None:
    r = admin.post("/api/v1/channels.delete", json={"roomId": "GENERAL", "extra": 1})
    assert r.status_code == 400 and r.json()["errorType"] == "invalid-params"


def test_groups_delete_only_through_access_groups_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("hush", "p", owner="alice")
    r = admin.post("/api/v1/groups.delete", json={"roomId": room["_id"]})  # admin is not in it
    assert r.json()["errorType"] == "error-room-not-found"
    with _as(fake_rc, "alice") as alice:
        assert alice.post("/api/v1/groups.delete", json={"roomId": room["_id"]}).json() == {"success": True}
    assert fake_rc.state.find_room(room["_id"]) is None


def test_rooms_delete_requires_room_id_rooms_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    assert admin.post("/api/v1/rooms.delete", json={}).json() == {"success": False, "error": "The 'roomId' param is required"}
    room = fake_rc.state.create_room("gone", "p", owner="alice")
    assert admin.post("/api/v1/rooms.delete", json={"roomId": room["_id"]}).json() == {"success": True}


# ------------------------------------------------------------------------------ moderators
def test_moderators_list_the_subscription_users_channels_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("modded", "c", owner="alice", members=["bob", "carol"])
    fake_rc.state.set_room_role(room["_id"], "bob", "moderator")
    body = admin.get("/api/v1/channels.moderators", params={"roomId": room["_id"]}).json()
    assert body == {"moderators": [{"_id": people["bob"]["_id"], "username": "bob", "name": "bob"}], "success": True}
    group = fake_rc.state.create_room("gmod", "p", owner="alice", members=["carol"])
    fake_rc.state.set_room_role(group["_id"], "carol", "moderator")
    with _as(fake_rc, "alice") as alice:
        assert [m["username"] for m in alice.get("/api/v1/groups.moderators", params={"roomId": group["_id"]}).json()["moderators"]] == ["carol"]
    assert admin.get("/api/v1/groups.moderators", params={"roomId": group["_id"]}).json()["errorType"] == "error-room-not-found"


# ------------------------------------------------------------------------------ join / leave / addAll
def test_channels_join_posts_uj_and_checks_join_code_room_service(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("joinable", "c", owner="alice")
    with _as(fake_rc, "bob") as bob:
        r = bob.post("/api/v1/channels.join", json={"roomId": room["_id"]})
        assert r.status_code == 200 and r.json()["channel"]["usersCount"] == 2
        assert fake_rc.state.room_messages(room["_id"], types=["uj"])[-1]["msg"] == "bob"
        # joining again adds nothing (addUserToRoom returns early)
        before = len(fake_rc.state.room_messages(room["_id"]))
        assert bob.post("/api/v1/channels.join", json={"roomId": room["_id"]}).status_code == 200
        assert len(fake_rc.state.room_messages(room["_id"])) == before
    with _as(fake_rc, "alice") as alice:
        assert alice.post("/api/v1/channels.setJoinCode", json={"roomId": room["_id"], "joinCode": "s3cret"}).status_code == 200
    with _as(fake_rc, "carol") as carol:
        wrong = carol.post("/api/v1/channels.join", json={"roomId": room["_id"], "joinCode": "nope"}).json()
        assert wrong["error"] == "Invalid Room Password [error-code-invalid]"
        assert carol.post("/api/v1/channels.join", json={"roomId": room["_id"], "joinCode": "s3cret"}).status_code == 200
    assert "carol" in fake_rc.state.room_members(room["_id"])


def test_leave_needs_leave_c_and_posts_ul_leaveRoom_ts(fake_rc: FakeServer, people) -> None:
    room = fake_rc.state.create_room("exit", "c", owner="alice", members=["bob", "carol"])
    with _as(fake_rc, "bob") as bob:
        body = bob.post("/api/v1/channels.leave", json={"roomId": room["_id"]}).json()
        assert body["success"] is True and body["channel"]["_id"] == room["_id"]
    assert fake_rc.state.room_messages(room["_id"], types=["ul"])[-1]["msg"] == "bob"
    fake_rc.state.revoke_permission("leave-c", "user")
    with _as(fake_rc, "carol") as carol:
        assert carol.post("/api/v1/channels.leave", json={"roomId": room["_id"]}).json()["error"] == "Not allowed [error-not-allowed]"
    with _as(fake_rc, "alice") as alice:  # admin role? no: alice is a plain user and the last owner
        fake_rc.state.grant_permission("leave-c", "user")
        assert alice.post("/api/v1/channels.leave", json={"roomId": room["_id"]}).json()["errorType"] == "error-you-are-last-owner"


def test_add_all_needs_add_all_to_room_and_posts_uj_each_addAllUserToRoom_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    fake_rc.state.set_active("carol", False)
    room = fake_rc.state.create_room("everyone", "c", owner="alice")
    with _as(fake_rc, "alice") as alice:
        r = alice.post("/api/v1/channels.addAll", json={"roomId": room["_id"]})
        assert r.json()["error"] == "Access to Method Forbidden [403]"
    # channels.ts compares activeUsersOnly with 'true'/1 while its schema admits only booleans: everyone is added
    r = admin.post("/api/v1/channels.addAll", json={"roomId": room["_id"], "activeUsersOnly": True})
    assert r.status_code == 200, r.text
    members = fake_rc.state.room_members(room["_id"], include_inactive=True)
    assert {"admin", "alice", "bob", "carol", "rocket.cat"} <= set(members)
    assert {m["msg"] for m in fake_rc.state.room_messages(room["_id"], types=["uj"])} >= {"bob", "carol", "admin"}
    group = fake_rc.state.create_room("gall", "p", owner="admin")
    body = admin.post("/api/v1/groups.addAll", json={"roomId": group["_id"], "activeUsersOnly": True}).json()
    assert body["success"] is True and "group" in body
    assert "carol" not in fake_rc.state.room_members(group["_id"], include_inactive=True)


# ------------------------------------------------------------------------------ archive
def test_archive_unarchive_messages_and_errors_archiveRoom_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("attic", "c", owner="alice", members=["bob"])
    with _as(fake_rc, "bob") as bob:
        assert bob.post("/api/v1/channels.archive", json={"roomId": room["_id"]}).json()["error"] == "Not authorized [error-not-authorized]"
    with _as(fake_rc, "alice") as alice:
        assert alice.post("/api/v1/channels.archive", json={"roomId": room["_id"]}).json() == {"success": True}
        again = alice.post("/api/v1/channels.archive", json={"roomId": room["_id"]}).json()
        assert again["error"] == "The channel, attic, is archived [error-room-archived]"
        # unarchive-room is admin-only by default
        assert alice.post("/api/v1/channels.unarchive", json={"roomId": room["_id"]}).json()["errorType"] == "error-not-authorized"
    assert fake_rc.state.find_room(room["_id"])["archived"] is True
    assert fake_rc.state.subscription(room["_id"], "bob")["archived"] is True
    assert admin.post("/api/v1/channels.unarchive", json={"roomId": room["_id"]}).json() == {"success": True}
    assert admin.post("/api/v1/channels.unarchive", json={"roomId": room["_id"]}).json() == {
        "success": False, "error": "The channel, attic, is not archived"}
    assert _types(fake_rc, room["_id"])[-2:] == ["room-archived", "room-unarchived"]


# ------------------------------------------------------------------------------ settings (saveRoomSettings.ts)
def test_channels_rename_and_same_name_channels_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("oldname", "c", owner="alice", members=["bob"])
    fake_rc.state.create_room("taken", "c")
    assert admin.post("/api/v1/channels.rename", json={"roomId": room["_id"], "name": " "}).json() == {
        "success": False, "error": 'The bodyParam "name" is required'}
    assert admin.post("/api/v1/channels.rename", json={"roomId": room["_id"], "name": "oldname"}).json()["error"] == (
        "The channel name is the same as what it would be renamed to.")
    assert admin.post("/api/v1/channels.rename", json={"roomId": room["_id"], "name": "taken"}).json()["errorType"] == "error-duplicate-channel-name"
    with _as(fake_rc, "bob") as bob:  # edit-room: admin, owner, moderator
        assert bob.post("/api/v1/channels.rename", json={"roomId": room["_id"], "name": "x"}).json()["error"] == (
            "Editing room is not allowed [error-action-not-allowed]")
    body = admin.post("/api/v1/channels.rename", json={"roomId": room["_id"], "name": "newname"}).json()
    assert body["channel"]["name"] == "newname" and body["channel"]["fname"] == "newname"
    assert fake_rc.state.subscription(room["_id"], "bob")["name"] == "newname"
    assert fake_rc.state.room_messages(room["_id"], types=["r"])[-1]["msg"] == "newname"


def test_set_type_needs_create_p_and_same_type_errors(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("flip", "c", owner="alice", members=["bob"])
    assert admin.post("/api/v1/channels.setType", json={"roomId": room["_id"], "type": "c"}).json()["error"] == (
        "The channel type is the same as what it would be changed to.")
    fake_rc.state.revoke_permission("create-p", "user")
    with _as(fake_rc, "alice") as alice:
        assert alice.post("/api/v1/channels.setType", json={"roomId": room["_id"], "type": "p"}).json()["error"] == (
            "Changing a public channel to a private room is not allowed [error-action-not-allowed]")
    body = admin.post("/api/v1/channels.setType", json={"roomId": room["_id"], "type": "p"}).json()
    assert body["channel"]["t"] == "p" and fake_rc.state.subscription(room["_id"], "bob")["t"] == "p"
    assert fake_rc.state.room_messages(room["_id"], types=["room_changed_privacy"])[-1]["msg"] == "private"
    with _as(fake_rc, "alice") as alice:
        same = alice.post("/api/v1/groups.setType", json={"roomId": room["_id"], "type": "p"}).json()
        assert same["error"] == "The private group type is the same as what it would be changed to."


def test_set_read_only_channels_and_groups(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("quiet", "c", owner="alice")
    assert admin.post("/api/v1/channels.setReadOnly", json={"roomId": room["_id"], "readOnly": False}).json()["error"] == (
        "The channel read only setting is the same as what it would be changed to.")
    assert admin.post("/api/v1/channels.setReadOnly", json={"roomId": room["_id"]}).json()["errorType"] == "invalid-params"
    assert admin.post("/api/v1/channels.setReadOnly", json={"roomId": room["_id"], "readOnly": True}).json()["channel"]["ro"] is True
    assert _types(fake_rc, room["_id"])[-1] == "room-set-read-only"
    group = fake_rc.state.create_room("gquiet", "p", owner="alice")
    with _as(fake_rc, "alice") as alice:
        assert alice.post("/api/v1/groups.setReadOnly", json={"roomId": group["_id"]}).json() == {
            "success": False, "error": 'The bodyParam "readOnly" is required'}
        assert alice.post("/api/v1/groups.setReadOnly", json={"roomId": group["_id"], "readOnly": False}).json()["error"] == (
            "The private group read only setting is the same as what it would be changed to.")
        assert alice.post("/api/v1/groups.setReadOnly", json={"roomId": group["_id"], "readOnly": True}).json()["group"]["ro"] is True


def test_text_setters_echo_and_same_value_only_for_channels(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("texty", "c", owner="alice")
    rid = room["_id"]
    assert admin.post("/api/v1/channels.setTopic", json={"roomId": rid}).json() == {"success": False, "error": 'The bodyParam "topic" is required'}
    assert admin.post("/api/v1/channels.setTopic", json={"roomId": rid, "topic": "news"}).json() == {"topic": "news", "success": True}
    assert admin.post("/api/v1/channels.setTopic", json={"roomId": rid, "topic": "news"}).json()["error"] == (
        "The channel topic is the same as what it would be changed to.")
    assert admin.post("/api/v1/channels.setDescription", json={"roomId": rid, "description": "d"}).json() == {"description": "d", "success": True}
    assert admin.post("/api/v1/channels.setPurpose", json={"roomId": rid, "purpose": "d"}).json()["error"] == (
        "The channel purpose (description) is the same as what it would be changed to.")
    assert admin.post("/api/v1/channels.setAnnouncement", json={"roomId": rid, "announcement": "a"}).json() == {"announcement": "a", "success": True}
    assert admin.post("/api/v1/channels.setAnnouncement", json={"roomId": rid, "announcement": "a"}).json()["success"] is True
    info = admin.get("/api/v1/channels.info", params={"roomId": rid}).json()["channel"]
    assert (info["topic"], info["description"], info["announcement"]) == ("news", "d", "a")
    assert _types(fake_rc, rid)[-3:] == ["room_changed_topic", "room_changed_description", "room_changed_announcement"]
    group = fake_rc.state.create_room("gtexty", "p", owner="alice")
    with _as(fake_rc, "alice") as alice:
        for _ in range(2):  # groups.ts has no same-value check
            assert alice.post("/api/v1/groups.setTopic", json={"roomId": group["_id"], "topic": "t"}).json() == {"topic": "t", "success": True}
        assert alice.post("/api/v1/groups.setPurpose", json={"roomId": group["_id"], "purpose": None}).json() == {"purpose": "", "success": True}


def test_set_default_needs_view_room_administration_saveRoomSettings_ts(fake_rc: FakeServer, people) -> None:
    room = fake_rc.state.create_room("deflt", "c", owner="alice")
    with _as(fake_rc, "alice") as alice:
        r = alice.post("/api/v1/channels.setDefault", json={"roomId": room["_id"], "default": True}).json()
    assert r["error"] == "Viewing room administration is not allowed [error-action-not-allowed]"


# ------------------------------------------------------------------------------ counters
def test_counters_nulls_unless_joined_or_admin_channels_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("count", "c", owner="alice", members=["bob"])
    with _as(fake_rc, "carol") as carol:
        body = carol.get("/api/v1/channels.counters", params={"roomId": room["_id"]}).json()
        assert body == {"joined": False, "members": None, "unreads": None, "unreadsFrom": None, "msgs": None,
                        "latest": None, "userMentions": None, "success": True}
        assert carol.get("/api/v1/channels.counters", params={"roomId": room["_id"], "userId": people["bob"]["_id"]}).status_code == 403
    with _as(fake_rc, "bob") as bob:
        body = bob.get("/api/v1/channels.counters", params={"roomId": room["_id"]}).json()
        assert body["joined"] is True and body["members"] == 2 and isinstance(body["unreads"], int)
    assert admin.get("/api/v1/channels.counters", params={"roomId": room["_id"], "userId": people["bob"]["_id"]}).json()["joined"] is True
    group = fake_rc.state.create_room("gcount", "p", owner="alice")
    with _as(fake_rc, "alice") as alice:  # groups.ts answers API.v1.unauthorized(): 401 in 7.x
        r = alice.get("/api/v1/groups.counters", params={"roomId": group["_id"], "userId": people["bob"]["_id"]})
        assert r.status_code == 401 and r.json() == {"success": False, "error": "unauthorized"}
        assert alice.get("/api/v1/groups.counters", params={"roomId": group["_id"]}).json()["members"] == 1


def test_leaders_on_channels_too_channels_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("led", "c", owner="alice", members=["bob"])
    assert admin.post("/api/v1/channels.addLeader", json={"roomId": room["_id"], "userId": people["bob"]["_id"]}).json() == {"success": True}
    assert "leader" in fake_rc.state.room_roles(room["_id"], "bob")
    assert admin.post("/api/v1/channels.removeLeader", json={"roomId": room["_id"], "userId": people["bob"]["_id"]}).json() == {"success": True}


def test_channels_list_all_does_not_exist(admin: httpx.Client) -> None:
    """Only groups.listAll exists (channels.ts registers no channels.listAll)."""
    r = admin.get("/api/v1/channels.listAll")
    assert r.status_code == 404 and r.json() == {"status": "error", "message": "API endpoint does not exist"}


# ------------------------------------------------------------------------------ rooms.* / subscriptions.getOne
def test_members_ordered_by_role_findUsersOfRoomOrderedByRole_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("ordered", "c", owner="carol", members=["alice", "bob"])
    fake_rc.state.set_room_role(room["_id"], "bob", "moderator")
    fake_rc.state.set_user_status(people["alice"]["_id"], "online")
    body = admin.get("/api/v1/rooms.membersOrderedByRole", params={"roomId": room["_id"]}).json()
    assert [m["username"] for m in body["members"]] == ["carol", "bob", "alice"]
    assert body["members"][0]["roles"] == ["owner"] and "roles" not in body["members"][2]
    assert (body["count"], body["offset"], body["total"]) == (3, 0, 3)
    filtered = admin.get("/api/v1/rooms.membersOrderedByRole", params={"roomId": room["_id"], "filter": "AL"}).json()
    assert [m["username"] for m in filtered["members"]] == ["alice"]
    assert admin.get("/api/v1/rooms.membersOrderedByRole", params={"roomId": room["_id"], "foo": "1"}).json()["errorType"] == "invalid-params"
    group = fake_rc.state.create_room("hidden", "p", owner="alice")
    r = admin.get("/api/v1/rooms.membersOrderedByRole", params={"roomId": group["_id"]})
    assert r.status_code == 404 and r.json() == {
        "success": False, "error": 'The required "roomId" or "roomName" param provided does not match any room'}


def test_members_ordered_by_role_is_7x_only(fake_rc_factory) -> None:
    srv = fake_rc_factory(admin_username="old", admin_password="pw", compat=6)
    with httpx.Client(base_url=srv.url, headers=srv.admin_headers(), timeout=10) as c:
        assert c.get("/api/v1/rooms.membersOrderedByRole", params={"roomId": "GENERAL"}).status_code == 404


def test_admin_rooms_types_filter_and_permission_rooms_lib(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    fake_rc.state.create_room("alpha-c", "c", owner="alice")
    fake_rc.state.create_room("alpha-p", "p", owner="alice")
    body = admin.get("/api/v1/rooms.adminRooms", params={"filter": "alpha"}).json()
    assert sorted(r["name"] for r in body["rooms"]) == ["alpha-c", "alpha-p"] and body["total"] == 2
    only_p = admin.get("/api/v1/rooms.adminRooms", params={"filter": "alpha", "types[]": "p"}).json()
    assert [r["name"] for r in only_p["rooms"]] == ["alpha-p"]
    assert "ts" not in only_p["rooms"][0]  # adminFields projection
    with _as(fake_rc, "alice") as alice:
        r = alice.get("/api/v1/rooms.adminRooms")
    assert r.status_code == 400 and r.json() == {"success": False, "error": "error-not-authorized"}


def test_subscriptions_get_one_null_when_not_a_member_subscriptions_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("subbed", "c", owner="alice")
    assert admin.get("/api/v1/subscriptions.getOne", params={"roomId": room["_id"]}).json() == {"subscription": None, "success": True}
    with _as(fake_rc, "alice") as alice:
        sub = alice.get("/api/v1/subscriptions.getOne", params={"roomId": room["_id"]}).json()["subscription"]
    assert sub["rid"] == room["_id"] and sub["roles"] == ["owner"]
    assert admin.get("/api/v1/subscriptions.getOne").json()["errorType"] == "invalid-params"


def test_ddp_save_room_settings_rejects_unknown_keys_saveRoomSettings_ts(fake_rc: FakeServer, people) -> None:
    from fake_rocketchat.backend.errors import MeteorError

    room = fake_rc.state.create_room("ddp", "c", owner="alice")
    with pytest.raises(MeteorError) as exc:
        fake_rc.state.save_room_settings(people["alice"]["_id"], room["_id"], {"topic": "x"})
    assert exc.value.error == "error-invalid-settings"
    assert fake_rc.state.save_room_settings(people["alice"]["_id"], room["_id"], {"roomTopic": "x"}) == {"result": True, "rid": room["_id"]}


def test_room_methods_over_method_call_archiveRoom_saveRoomSettings(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    """The same rules reach DDP/method.call: `archiveRoom`, `unarchiveRoom`, `saveRoomSettings` (whole object),
    `addAllUserToRoom`, `joinRoom`, `eraseRoom` (server/methods/*.ts, app/lib/server/methods/*.ts)."""
    import json

    def call(client: httpx.Client, method: str, *params) -> dict:
        message = json.dumps({"msg": "method", "id": "9", "method": method, "params": list(params)})
        r = client.post(f"/api/v1/method.call/{method}", json={"message": message})
        assert r.status_code == 200, r.text
        return json.loads(r.json()["message"])

    room = fake_rc.state.create_room("viaddp", "c", owner="alice")
    rid = room["_id"]
    assert "error" not in call(admin, "saveRoomSettings", rid, {"roomTopic": "t", "readOnly": True})
    assert fake_rc.state.find_room(rid)["topic"] == "t" and fake_rc.state.find_room(rid)["ro"] is True
    assert call(admin, "saveRoomSettings", rid, {"topic": "x"})["error"]["error"] == "error-invalid-settings"
    assert "error" not in call(admin, "archiveRoom", rid)
    assert fake_rc.state.find_room(rid)["archived"] is True
    assert "error" not in call(admin, "unarchiveRoom", rid)
    with _as(fake_rc, "bob") as bob:
        assert call(bob, "joinRoom", rid)["result"] is True
        assert call(bob, "addAllUserToRoom", rid, False)["error"]["error"] == 403
        assert call(bob, "eraseRoom", rid)["error"]["error"] == "error-not-allowed"
    assert call(admin, "addAllUserToRoom", rid, True)["result"] is True
    assert "carol" in fake_rc.state.room_members(rid)
    assert call(admin, "eraseRoom", rid)["result"] is True
    assert fake_rc.state.find_room(rid) is None


def test_rooms_info_lookup_errors_findRoomByIdOrName_rooms_ts(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    assert admin.get("/api/v1/rooms.info").json()["errorType"] == "error-roomid-param-not-provided"
    missing = admin.get("/api/v1/rooms.info", params={"roomName": "nowhere"}).json()
    assert missing == {"success": False, "errorType": "error-room-not-found",
                       "error": 'The required "roomId" or "roomName" param provided does not match any channel [error-room-not-found]'}
    room = fake_rc.state.create_room("shelf", "c", owner="alice")
    fake_rc.state.archive_room(people["alice"]["_id"], room["_id"])
    assert admin.get("/api/v1/rooms.info", params={"roomId": room["_id"]}).json()["error"] == "The channel, shelf, is archived [error-room-archived]"


def test_channels_info_and_members_need_room_access_channels_ts(fake_rc: FakeServer, people) -> None:
    fake_rc.state.create_user("visitor.g", roles=("guest",))  # guests lack view-c-room
    room = fake_rc.state.create_room("lobby", "c", owner="alice")
    with _as(fake_rc, "visitor.g") as guest:
        for path in ("channels.info", "channels.members"):
            r = guest.get(f"/api/v1/{path}", params={"roomId": room["_id"]})
            assert r.status_code == 403 and r.json() == {"success": False, "error": "unauthorized"}, path
        fake_rc.state.add_member(room["_id"], "visitor.g")
        assert guest.get("/api/v1/channels.info", params={"roomId": room["_id"]}).status_code == 200


@pytest.mark.parametrize("compat, status", [(6, 403), (7, 401)])
def test_handler_unauthorized_is_403_in_6x_and_401_in_7x(fake_rc_factory, compat: int, status: int) -> None:
    """groups.counters for another user without view-room-administration: `API.v1.unauthorized()`
    (groups.ts), which 7.x turned into a 401 (reference 9.1)."""
    srv = fake_rc_factory(admin_username=f"cadmin{compat}", admin_password="pw", compat=compat)
    srv.state.create_user("cnt.user")
    group = srv.state.create_room("cnt-group", "p", owner="cnt.user")
    with httpx.Client(base_url=srv.url, headers=srv.headers_for("cnt.user"), timeout=10) as c:
        r = c.get("/api/v1/groups.counters", params={"roomId": group["_id"], "userId": "someone"})
    assert r.status_code == status and r.json() == {"success": False, "error": "unauthorized"}


def test_set_description_null_on_a_room_without_one_is_no_same_value_error_channels_ts(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """`findResult.description === this.bodyParams.description`: undefined !== null in JavaScript."""
    room = fake_rc.state.create_room("nodesc", "c")
    assert admin.post("/api/v1/channels.setDescription", json={"roomId": room["_id"], "description": None}).json() == {
        "description": "", "success": True}
    assert _types(fake_rc, room["_id"]) == []  # saveRoomDescription skipped: nothing to nothing
