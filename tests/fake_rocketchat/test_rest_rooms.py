"""channels.* / groups.* / rooms.info / subscriptions.get — `apps/meteor/app/api/server/v1/{channels,groups,
rooms,subscriptions}.ts`, `app/lib/server/methods/addUsersToRoom.ts`, `server/methods/removeUserFromRoom.ts`,
`server/methods/addRoomModerator.ts` & co (reference §5)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fake_rocketchat.backend.events import Event
from fake_rocketchat.harness.testing import FakeServer


@pytest.fixture
def people(fake_rc: FakeServer) -> dict[str, dict]:
    return {name: fake_rc.state.create_user(name, password="pw") for name in ("alice", "bob", "carol")}


def _events(fake_rc: FakeServer) -> tuple[list[Event], object]:
    seen: list[Event] = []
    return seen, fake_rc.state.events.subscribe(seen.append)


def test_general_exists_public_default(admin: httpx.Client) -> None:
    channel = admin.get("/api/v1/channels.info", params={"roomId": "GENERAL"}).json()["channel"]
    assert channel["_id"] == "GENERAL" and channel["name"] == "general" and channel["t"] == "c" and channel["default"] is True
    assert admin.get("/api/v1/channels.info", params={"roomName": "general"}).json()["channel"]["_id"] == "GENERAL"


def test_channels_create_owner_members_and_errors(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    r = admin.post("/api/v1/channels.create", json={"name": "town", "members": ["alice", "ghost"]})
    assert r.status_code == 200, r.text
    channel = r.json()["channel"]
    assert channel["t"] == "c" and channel["u"]["username"] == "admin" and channel["usersCount"] == 2
    assert fake_rc.state.room_members(channel["_id"]) == ["admin", "alice"]
    assert fake_rc.state.room_roles(channel["_id"], "admin") == ["owner"]
    dup = admin.post("/api/v1/channels.create", json={"name": "town"})
    assert dup.json()["error"] == "A channel with name 'town' exists [error-duplicate-channel-name]"
    for bad in ("admin", "Administrator", "has space", "sl/ash"):
        r = admin.post("/api/v1/channels.create", json={"name": bad})
        assert r.json()["errorType"] == "error-invalid-room-name", bad
        assert r.json()["error"] == f"{bad} is not a valid room name. [error-invalid-room-name]"
    assert admin.post("/api/v1/channels.create", json={}).json() == {"success": False, "error": 'Param "name" is required'}
    assert admin.post("/api/v1/groups.create", json={}).json() == {"success": False, "error": 'Body param "name" is required'}


def test_channels_create_without_create_c_is_403_createChannelValidator_channels_ts(
        fake_rc: FakeServer, http: httpx.Client, people) -> None:
    """channels.ts `createChannelValidator` checks `create-c` before anything else and throws
    'unauthorized', which the route turns into `API.v1.forbidden()`."""
    fake_rc.state.revoke_permission("create-c", "user")
    r = http.post("/api/v1/channels.create", json={}, headers=fake_rc.headers_for("alice"))
    assert r.status_code == 403 and r.json() == {"success": False, "error": "unauthorized"}


def test_groups_create_without_create_p_is_400_not_allowed_groups_ts(
        fake_rc: FakeServer, http: httpx.Client, people) -> None:
    """groups.ts `groups.create` validates the body first, then `createPrivateGroupMethod`
    (app/lib/server/methods/createPrivateGroup.ts) throws `Meteor.Error('error-not-allowed', 'Not allowed',
    {method})`; the route's catch only maps `error.reason === 'error-not-allowed'` (never true: the reason
    is 'Not allowed'), so the error is re-thrown and answered as a 400, not a 403."""
    fake_rc.state.revoke_permission("create-p", "user")
    alice = fake_rc.headers_for("alice")
    assert http.post("/api/v1/groups.create", json={}, headers=alice).json() == {
        "success": False, "error": 'Body param "name" is required'}
    assert http.post("/api/v1/groups.create", json={"name": "x", "members": "bob"}, headers=alice).json() == {
        "success": False, "error": 'Body param "members" must be an array if provided'}
    assert http.post("/api/v1/groups.create", json={"name": "x", "extraData": 3}, headers=alice).json() == {
        "success": False, "error": 'Body param "extraData" must be an object if provided'}
    r = http.post("/api/v1/groups.create", json={"name": "nope"}, headers=alice)
    assert r.status_code == 400 and r.json() == {
        "success": False, "error": "Not allowed [error-not-allowed]", "errorType": "error-not-allowed",
        "details": {"method": "createPrivateGroup"}}
    assert fake_rc.state.find_room_by_name("nope") is None


def test_channels_without_room_param_is_room_not_found_findChannelByIdOrName_channels_ts(
        admin: httpx.Client) -> None:
    """7.x channels.ts `findChannelByIdOrName` has no "param not provided" check (only rooms.ts and groups.ts
    do): without roomId/roomName, and with an empty roomId, no room matches."""
    not_found = {"success": False, "errorType": "error-room-not-found",
                 "error": 'The required "roomId" or "roomName" param provided does not match any channel [error-room-not-found]'}
    for path in ("channels.info", "channels.members", "channels.roles"):
        r = admin.get(f"/api/v1/{path}")
        if path == "channels.roles":  # validateParams: isChannelsRolesProps comes first
            assert r.json()["errorType"] == "invalid-params"
            continue
        assert r.status_code == 400 and r.json() == not_found, path
    assert admin.get("/api/v1/channels.info", params={"roomId": ""}).json() == not_found
    # a present roomId wins over roomName even when empty (`findOneById(params.roomId || '')`)
    assert admin.get("/api/v1/channels.info", params={"roomId": "", "roomName": "general"}).json() == not_found
    for path in ("channels.invite", "channels.addModerator", "channels.setDefault"):
        r = admin.post(f"/api/v1/{path}", json={"username": "admin", "default": True})
        assert r.status_code == 400 and r.json() == not_found, path


def test_groups_room_param_rules_getRoomFromParams_groups_ts(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """groups.ts `getRoomFromParams`: "not provided" only when neither key is given or both are empty; a lone
    empty roomId goes on to match no group."""
    missing = {"success": False, "errorType": "error-room-param-not-provided",
               "error": 'The parameter "roomId" or "roomName" is required [error-room-param-not-provided]'}
    assert admin.get("/api/v1/groups.info").json() == missing
    assert admin.get("/api/v1/groups.info", params={"roomId": "", "roomName": ""}).json() == missing
    assert admin.get("/api/v1/groups.info", params={"roomId": ""}).json()["errorType"] == "error-room-not-found"


def test_compat6_keeps_the_room_param_check(fake_rc_factory) -> None:
    rc = fake_rc_factory(compat=6, admin_username="admin", admin_password="pw", admin_email="admin@example.com")
    with httpx.Client(base_url=rc.url, timeout=10, headers=rc.admin_headers()) as admin:
        assert admin.get("/api/v1/channels.info").json()["errorType"] == "error-roomid-param-not-provided"


def _username_less(fake_rc: FakeServer) -> str:
    """An account the way a Custom OAuth login without `-username_field` makes it: no username."""
    fake_rc.state.configure_custom_oauth("besedka")
    reply = fake_rc.oauth_login("besedka", {"id": "7", "username": "nick", "email": "nick@example.org", "name": "Nick"})
    uid = reply.body["data"]["userId"]
    assert "username" not in fake_rc.state.find_user(uid)
    return uid


def test_invite_and_kick_a_username_less_account_never_500_channels_ts_groups_ts(
        fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    """channels.ts / groups.ts invite: `users.map((u) => u.username).filter(isTruthy)`, so an account without
    a username is left out (the call succeeds, the others are added); kick: `if (!user?.username) return
    API.v1.failure('Invalid user')`."""
    uid = _username_less(fake_rc)
    channel = fake_rc.state.create_room("lobby", "c", owner="admin")
    group = fake_rc.state.create_room("backroom", "p", owner="admin")
    for prefix, room in (("channels", channel), ("groups", group)):
        r = admin.post(f"/api/v1/{prefix}.invite", json={"roomId": room["_id"], "userId": uid})
        assert r.status_code == 200 and r.json()["success"] is True, r.text
        r = admin.post(f"/api/v1/{prefix}.invite", json={"roomId": room["_id"], "userIds": [uid, people["bob"]["_id"]]})
        assert r.status_code == 200, r.text
        assert fake_rc.state.room_members(room["_id"]) == ["admin", "bob"]
        r = admin.post(f"/api/v1/{prefix}.kick", json={"roomId": room["_id"], "userId": uid})
        assert r.status_code == 400 and r.json() == {"success": False, "error": "Invalid user"}


def test_admin_cannot_see_private_group_it_is_not_in(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("secret", "p", owner="alice", members=["bob"])
    not_found = 'The required "roomId" or "roomName" param provided does not match any group [error-room-not-found]'
    for path in ("groups.info", "groups.members", "groups.roles"):
        r = admin.get(f"/api/v1/{path}", params={"roomId": room["_id"]})
        assert r.status_code == 400 and r.json()["error"] == not_found, path
    kick = admin.post("/api/v1/groups.kick", json={"roomId": room["_id"], "username": "bob"})
    assert kick.json()["errorType"] == "error-room-not-found"
    invite = admin.post("/api/v1/groups.invite", json={"roomId": room["_id"], "username": "carol"})
    assert invite.json()["error"] == "Not allowed [error-not-allowed]"  # add-user-to-any-p-room: no role
    mod = admin.post("/api/v1/groups.addModerator", json={"roomId": room["_id"], "username": "bob"})
    assert mod.json()["errorType"] == "error-room-not-found"
    info = admin.get("/api/v1/rooms.info", params={"roomId": room["_id"]})
    assert info.json() == {"success": False, "error": "not-allowed", "errorType": "Not Allowed"}
    assert [g["name"] for g in admin.get("/api/v1/groups.listAll").json()["groups"]] == ["secret"]
    assert admin.get("/api/v1/groups.list").json()["groups"] == []


def test_groups_flow_by_owner(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    created = admin.post("/api/v1/groups.create", json={"name": "vip", "members": ["alice"]}).json()["group"]
    rid = created["_id"]
    assert created["t"] == "p"
    seen, unsubscribe = _events(fake_rc)
    r = admin.post("/api/v1/groups.invite", json={"roomId": rid, "usernames": ["bob", "carol", "nobody"]})
    assert r.status_code == 200 and r.json()["group"]["_id"] == rid
    again = admin.post("/api/v1/groups.invite", json={"roomId": rid, "username": "bob"})
    assert again.status_code == 200  # silent success for a member
    unsubscribe()
    au = fake_rc.state.room_messages(rid, types=["au"])
    assert [m["msg"] for m in au] == ["bob", "carol"] and au[0]["u"]["username"] == "admin"
    streamed = [e for e in seen if e.stream == "stream-room-messages"]
    assert [e.event_name for e in streamed] == [rid, rid] and streamed[0].args[0]["t"] == "au"
    bob_id = people["bob"]["_id"]
    assert any(e.event_name == f"{bob_id}/subscriptions-changed" and e.args[0] == "inserted" for e in seen)
    members = admin.get("/api/v1/groups.members", params={"roomId": rid}).json()
    assert [m["username"] for m in members["members"]] == ["admin", "alice", "bob", "carol"] and members["total"] == 4
    assert set(members["members"][0]) <= {"_id", "username", "name", "nickname", "status", "avatarETag", "_updatedAt", "federated"}
    empty = admin.post("/api/v1/groups.invite", json={"roomId": rid, "usernames": ["nobody"]})
    assert empty.json()["errorType"] == "error-empty-invite-list"
    assert admin.post("/api/v1/groups.kick", json={"roomId": rid, "username": "carol"}).json() == {"success": True}
    assert fake_rc.state.room_messages(rid, types=["ru"])[-1]["msg"] == "carol"
    not_in = admin.post("/api/v1/groups.kick", json={"roomId": rid, "username": "carol"})
    assert not_in.json()["error"] == "User is not in this room [error-user-not-in-room]"


def test_channels_invite_userids_and_empty(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    ids = [people["alice"]["_id"], people["bob"]["_id"], "unknown-id"]
    r = admin.post("/api/v1/channels.invite", json={"roomId": "GENERAL", "userIds": ids})
    assert r.status_code == 200 and r.json()["channel"]["_id"] == "GENERAL"
    assert {"alice", "bob"} <= set(fake_rc.state.room_members("GENERAL"))
    empty = admin.post("/api/v1/channels.invite", json={"roomId": "GENERAL", "userIds": ["unknown-id"]})
    assert empty.json() == {"success": False, "error": "invalid-user-invite-list", "errorType": "Cannot invite if no users are provided"}


def test_inviting_deactivated_member_again_is_silent(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    fake_rc.state.add_member("GENERAL", "carol")
    fake_rc.state.set_active("carol", False)
    before = len(fake_rc.state.room_messages("GENERAL"))
    assert admin.post("/api/v1/channels.invite", json={"roomId": "GENERAL", "username": "carol"}).status_code == 200
    assert len(fake_rc.state.room_messages("GENERAL")) == before


def test_channels_kick_rules(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client, people) -> None:
    alice_id = people["alice"]["_id"]
    # admin holds kick-user-from-any-c-room: kicking a non-member of a public channel succeeds, with `ru`
    r = admin.post("/api/v1/channels.kick", json={"roomId": "GENERAL", "userId": alice_id})
    assert r.status_code == 200 and r.json()["channel"]["_id"] == "GENERAL"
    assert fake_rc.state.room_messages("GENERAL", types=["ru"])[-1]["msg"] == "alice"
    no_user_id = admin.post("/api/v1/channels.kick", json={"roomId": "GENERAL", "username": "alice"})
    assert no_user_id.json()["errorType"] == "invalid-params"
    room = fake_rc.state.create_room("club", "c", owner="alice", members=["bob"])
    last_owner = admin.post("/api/v1/channels.kick", json={"roomId": room["_id"], "userId": alice_id})
    assert last_owner.json()["errorType"] == "error-you-are-last-owner"
    as_bob = http.post("/api/v1/channels.kick", json={"roomId": room["_id"], "userId": alice_id}, headers=fake_rc.headers_for("bob"))
    assert as_bob.json()["error"] == "Not allowed [error-not-allowed]"
    fake_rc.state.set_room_role(room["_id"], "bob", "moderator")
    kicked = http.post("/api/v1/channels.kick", json={"roomId": room["_id"], "userId": people["carol"]["_id"]}, headers=fake_rc.headers_for("bob"))
    assert kicked.json()["errorType"] == "error-user-not-in-room"  # no kick-any permission for a moderator


def test_room_roles_add_remove_with_messages_and_roles_change(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    fake_rc.state.add_member("GENERAL", "alice")
    fake_rc.state.add_member("GENERAL", "admin")
    seen, unsubscribe = _events(fake_rc)
    assert admin.post("/api/v1/channels.addModerator", json={"roomId": "GENERAL", "username": "alice"}).json() == {"success": True}
    again = admin.post("/api/v1/channels.addModerator", json={"roomId": "GENERAL", "username": "alice"})
    assert again.json()["error"] == "User is already a moderator [error-user-already-moderator]"
    assert admin.post("/api/v1/channels.addOwner", json={"roomId": "GENERAL", "userId": people["alice"]["_id"]}).status_code == 200
    roles = admin.get("/api/v1/channels.roles", params={"roomId": "GENERAL"}).json()["roles"]
    assert [(r["u"]["username"], sorted(r["roles"])) for r in roles] == [("alice", ["moderator", "owner"])]
    assert admin.post("/api/v1/channels.removeModerator", json={"roomId": "GENERAL", "username": "alice"}).status_code == 200
    not_mod = admin.post("/api/v1/channels.removeModerator", json={"roomId": "GENERAL", "username": "alice"})
    assert not_mod.json()["errorType"] == "error-user-not-moderator"
    last = admin.post("/api/v1/channels.removeOwner", json={"roomId": "GENERAL", "username": "alice"})
    assert last.json()["errorType"] == "error-remove-last-owner"
    not_in = admin.post("/api/v1/channels.addModerator", json={"roomId": "GENERAL", "username": "bob"})
    assert not_in.json()["error"] == "User is not in this room [error-user-not-in-room]"
    unsubscribe()
    changes = [e.args[0] for e in seen if e.event_name == "roles-change"]
    alice = people["alice"]
    assert changes == [
        {"type": "added", "_id": "moderator", "u": {"_id": alice["_id"], "username": "alice", "name": "alice"}, "scope": "GENERAL"},
        {"type": "added", "_id": "owner", "u": {"_id": alice["_id"], "username": "alice", "name": "alice"}, "scope": "GENERAL"},
        {"type": "removed", "_id": "moderator", "u": {"_id": alice["_id"], "username": "alice", "name": "alice"}, "scope": "GENERAL"},
    ]
    sysmsgs = fake_rc.state.room_messages("GENERAL", types=["subscription-role-added", "subscription-role-removed"])
    assert [(m["t"], m["role"], m["msg"]) for m in sysmsgs] == [
        ("subscription-role-added", "moderator", "alice"), ("subscription-role-added", "owner", "alice"),
        ("subscription-role-removed", "moderator", "alice"),
    ]


def test_roles_change_not_broadcast_when_ui_display_roles_off(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    fake_rc.state.set_setting("UI_DisplayRoles", False)
    fake_rc.state.add_member("GENERAL", "alice")
    seen, unsubscribe = _events(fake_rc)
    admin.post("/api/v1/channels.addModerator", json={"roomId": "GENERAL", "username": "alice"})
    unsubscribe()
    assert not [e for e in seen if e.event_name == "roles-change"]
    assert [e for e in seen if e.stream == "stream-room-messages"]


def test_set_default(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    room = fake_rc.state.create_room("lobby", "c", owner="admin")
    r = admin.post("/api/v1/channels.setDefault", json={"roomId": room["_id"], "default": True})
    assert r.json()["channel"]["default"] is True
    same = admin.post("/api/v1/channels.setDefault", json={"roomId": room["_id"], "default": True})
    assert same.json()["errorType"] == "error-channels-setdefault-missing-default-param"  # swapped upstream
    missing = admin.post("/api/v1/channels.setDefault", json={"roomId": room["_id"]})
    assert missing.json()["errorType"] == "error-channels-setdefault-is-same"
    created = admin.post("/api/v1/users.create", json={"username": "newbie", "email": "n@example.org", "name": "N", "password": "x"})
    assert created.status_code == 200
    assert "newbie" in fake_rc.state.room_members(room["_id"])


def test_channels_list_and_joined(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client, people) -> None:
    fake_rc.state.create_room("b-room", "c", owner="alice")
    fake_rc.state.create_room("a-room", "c", owner="bob")
    fake_rc.state.create_room("hidden", "p", owner="bob")
    listing = admin.get("/api/v1/channels.list").json()
    assert [c["name"] for c in listing["channels"]] == ["a-room", "b-room", "general"]
    assert listing["total"] == 3 and listing["count"] == 3 and listing["offset"] == 0
    joined = http.get("/api/v1/channels.list.joined", headers=fake_rc.headers_for("alice")).json()
    assert [c["name"] for c in joined["channels"]] == ["b-room"]
    groups = http.get("/api/v1/groups.list", headers=fake_rc.headers_for("bob")).json()
    assert [g["name"] for g in groups["groups"]] == ["hidden"]
    denied = http.get("/api/v1/groups.listAll", headers=fake_rc.headers_for("bob"))
    assert denied.status_code == 403


def test_members_paging_filter_and_broadcast(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    for name in ("alice", "bob", "carol"):
        fake_rc.state.add_member("GENERAL", name)
    page = admin.get("/api/v1/channels.members", params={"roomId": "GENERAL", "count": 2, "offset": 1}).json()
    # the admin joined GENERAL at start (initialData.js: addUserToDefaultChannels)
    assert [m["username"] for m in page["members"]] == ["alice", "bob"] and page["total"] == 4 and page["count"] == 2
    filtered = admin.get("/api/v1/channels.members", params={"roomId": "GENERAL", "filter": "ali"}).json()
    assert [m["username"] for m in filtered["members"]] == ["alice"]


def test_rooms_info_and_subscriptions_get(fake_rc: FakeServer, http: httpx.Client, people) -> None:
    headers = fake_rc.headers_for("alice")
    fake_rc.state.add_member("GENERAL", "alice")
    info = http.get("/api/v1/rooms.info", params={"roomId": "GENERAL"}, headers=headers).json()
    assert info["room"]["_id"] == "GENERAL"
    subs = http.get("/api/v1/subscriptions.get", headers=headers).json()
    assert [s["rid"] for s in subs["update"]] == ["GENERAL"] and subs["remove"] == []
    since = (fake_rc.state.now() - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    fake_rc.state.remove_member("GENERAL", "alice")
    delta = http.get("/api/v1/subscriptions.get", params={"updatedSince": since}, headers=headers).json()
    assert delta["update"] == [] and len(delta["remove"]) == 1 and set(delta["remove"][0]) == {"_id", "_deletedAt"}
    bad = http.get("/api/v1/subscriptions.get", params={"updatedSince": "yesterday"}, headers=headers)
    assert bad.json()["errorType"] == "error-roomId-param-invalid"


def test_dates_are_iso_utc_with_millis(admin: httpx.Client) -> None:
    ts = admin.get("/api/v1/channels.info", params={"roomId": "GENERAL"}).json()["channel"]["ts"]
    parsed = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - parsed).total_seconds()) < 600


def test_members_cache_follows_joins_leaves_and_deactivation(fake_rc: FakeServer, admin: httpx.Client, people) -> None:
    def names() -> list[str]:
        return [m["username"] for m in admin.get("/api/v1/channels.members", params={"roomId": "GENERAL", "count": 0}).json()["members"]]

    fake_rc.state.add_member("GENERAL", "bob")
    assert names() == ["admin", "bob"]
    fake_rc.state.add_member("GENERAL", "alice")
    assert names() == ["admin", "alice", "bob"]
    fake_rc.state.set_active("alice", False)
    assert names() == ["admin", "bob"]
    fake_rc.state.remove_member("GENERAL", "bob")
    assert names() == ["admin"]


@pytest.mark.parametrize("sort", [None, '{"username": 1}', '{"name": 1}'])
def test_members_list_connected_people_first_findUsersOfRoom_ts(fake_rc: FakeServer, admin: httpx.Client, people,
                                                                  sort) -> None:
    """`server/lib/findUsersOfRoom.ts` sorts by `statusConnection: -1` before the username (or the
    given sort): a member who connects moves to the front, so offset paging is not a snapshot."""
    for name in ("alice", "bob", "carol"):
        fake_rc.state.add_member("GENERAL", name)
    params = {"roomId": "GENERAL", **({"sort": sort} if sort else {})}

    def names() -> list[str]:
        return [m["username"] for m in admin.get("/api/v1/channels.members", params=params).json()["members"]]

    before = names()
    fake_rc.state.set_user_status(people["carol"]["_id"], "online")
    assert names()[0] == "carol" and sorted(names()[1:]) == sorted(n for n in before if n != "carol")
    fake_rc.state.set_user_status(people["carol"]["_id"], "offline")
    assert names() == before
