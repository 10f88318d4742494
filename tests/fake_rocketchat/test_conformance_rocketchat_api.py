"""The stand-in driven by the Python `rocketchat-API` package (issue 2: users, channels, groups, roles).

`rocketchat_API` is the client most Rocket.Chat users reach for; nobody here wrote it. It has no 2FA
support, so the admin here has no TOTP (and is fresh, so Rocket.Chat's "remember right after
registration" lets users.update through, app/2fa/server/code/index.ts). Every request it sends is
recorded through a requests.Session hook and checked by the rest-typings schema of the release the
stand-in's compat mode models.

One behaviour is release-specific on purpose: `roles_add_user_to_role` always sends the deprecated
`roleName` (plus `roleId` when given as a keyword). 6.x resolves the name; 7.x still accepts the key
in its schema but needs `roleId` (reference §4.2, §9.4; apps/meteor/app/api/server/v1/roles.ts).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from rocketchat_API.rocketchat import RocketChat

from test_conformance_npm import NODE
from test_rest_typings import failures, validate_requests

ADMIN = "rcapi.admin"
RELEASE_OF_COMPAT = {6: "6.13.1", 7: "7.10.0"}
stamp = secrets.token_hex(3)


class Recorder:
    """A requests.Session hook keeping (method, path, body|query) of every request sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent = response.request
        url = urlsplit(sent.url or "")
        entry: dict[str, Any] = {"method": sent.method, "path": url.path}
        if sent.method == "GET":
            entry["query"] = dict(parse_qsl(url.query))
        elif sent.body:
            body = sent.body.decode() if isinstance(sent.body, bytes) else sent.body
            entry["body"] = json.loads(body)
        self.requests.append(entry)


@pytest.fixture(scope="module", params=[6, 7], ids=["compat6", "compat7"])
def rc(request: pytest.FixtureRequest) -> Iterator[tuple[int, RocketChat, Recorder]]:
    from fake_rocketchat.harness.testing import running_server

    password = f"pw-{secrets.token_urlsafe(10)}"
    with running_server(admin_username=ADMIN, admin_password=password, compat=request.param) as srv:
        recorder = Recorder()
        session = requests.Session()
        session.hooks["response"].append(recorder)
        client = RocketChat(ADMIN, password, server_url=srv.url, session=session, timeout=10)
        yield request.param, client, recorder
        session.close()


def ok(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 200 and body.get("success") is True, f"{response.request.method} {response.request.url} -> {response.status_code} {body}"
    return body


@pytest.fixture(scope="module")
def people(rc: tuple[int, RocketChat, Recorder]) -> dict[str, str]:
    """username -> _id of three users created through users_create."""
    _, client, _ = rc
    made = {}
    for name in ("ann", "ben", "cat"):
        username = f"rcapi.{name}.{stamp}"
        body = ok(client.users_create(f"{username}@example.org", name.title(), f"pw-{secrets.token_hex(6)}", username, verified=True))
        made[username] = body["user"]["_id"]
    return made


def test_login_and_me(rc: tuple[int, RocketChat, Recorder]) -> None:
    _, client, _ = rc
    me = ok(client.me())
    assert me["username"] == ADMIN and "admin" in me["roles"]


def test_users_info_list_update_and_active_status(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    _, client, _ = rc
    username, uid = next(iter(people.items()))
    assert ok(client.users_info(user_id=uid))["user"]["username"] == username
    assert ok(client.users_info(username=username))["user"]["_id"] == uid
    page = ok(client.users_list(count=2, offset=0))
    assert len(page["users"]) == 2 and page["count"] == 2 and page["total"] >= 4
    assert ok(client.users_update(uid, name="Renamed"))["user"]["name"] == "Renamed"
    assert ok(client.users_set_active_status(uid, False))["user"]["active"] is False
    assert ok(client.users_set_active_status(uid, True))["user"]["active"] is True


def test_channels_create_invite_members_moderator_kick(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    _, client, _ = rc
    (ann, ann_id), (ben, ben_id), _ = people.items()
    channel = ok(client.channels_create(f"rcapi-pub-{stamp}", members=[ann]))["channel"]
    rid = channel["_id"]
    assert channel["t"] == "c"
    ok(client.channels_invite(rid, ben_id))
    members = {m["username"] for m in ok(client.channels_members(room_id=rid))["members"]}
    assert {ann, ben, ADMIN} <= members
    ok(client.channels_add_moderator(rid, ann_id))
    roles = {r["u"]["username"]: r["roles"] for r in ok(client.channels_roles(room_id=rid))["roles"]}
    assert "moderator" in roles[ann] and "owner" in roles[ADMIN]
    ok(client.channels_kick(rid, ben_id))
    assert ben not in {m["username"] for m in ok(client.channels_members(room_id=rid))["members"]}
    assert ok(client.channels_info(room_id=rid))["channel"]["name"] == f"rcapi-pub-{stamp}"
    assert rid in {c["_id"] for c in ok(client.channels_list(count=100))["channels"]}


def test_groups_create_invite_owner_members_kick(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    _, client, _ = rc
    (ann, ann_id), (ben, ben_id), _ = people.items()
    group = ok(client.groups_create(f"rcapi-priv-{stamp}", members=[ann]))["group"]
    rid = group["_id"]
    assert group["t"] == "p"
    ok(client.groups_invite(rid, ben_id))
    ok(client.groups_add_owner(rid, ben_id))
    members = {m["username"] for m in ok(client.groups_members(room_id=rid))["members"]}
    assert {ann, ben} <= members
    ok(client.groups_kick(rid, ann_id))
    assert ann not in {m["username"] for m in ok(client.groups_members(room_id=rid))["members"]}
    assert rid in {g["_id"] for g in ok(client.groups_list_all(count=100))["groups"]}


def test_roles_list_get_users_and_remove(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    _, client, _ = rc
    _, _, (cat, cat_id) = people.items()
    assert {"admin", "user", "bot", "moderator", "owner"} <= {r["_id"] for r in ok(client.roles_list())["roles"]}
    ok(client.roles_add_user_to_role("bot", cat, roleId="bot"))
    assert cat_id in {u["_id"] for u in ok(client.roles_get_users_in_role("bot"))["users"]}
    ok(client.roles_remove_user_from_role("bot", cat, roleId="bot"))
    assert cat_id not in {u["_id"] for u in ok(client.roles_get_users_in_role("bot"))["users"]}


def test_roles_add_user_to_role_by_name_only(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    """6.x: works (deprecated). 7.x: the schema still allows `roleName` (rest-typings up to 7.13.9;
    removed in 8.0.0), the handler wants `roleId` and answers the bare failure of reference §9.4,
    never an ajv "additional properties" error."""
    compat, client, _ = rc
    _, _, (cat, _) = people.items()
    response = client.roles_add_user_to_role("livechat-agent", cat)
    if compat == 6:
        assert ok(response)["role"]["_id"] == "livechat-agent"
    else:
        assert response.status_code == 400 and response.json() == {"success": False, "error": "error-invalid-role-properties"}, response.text


def test_users_delete(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    _, client, _ = rc
    victim = ok(client.users_create(f"rcapi.del.{stamp}@example.org", "Del", f"pw-{secrets.token_hex(6)}", f"rcapi.del.{stamp}"))["user"]
    ok(client.users_delete(victim["_id"]))
    gone = client.users_info(user_id=victim["_id"])
    assert gone.status_code == 400 and gone.json()["success"] is False


def sweep(client: RocketChat, people: dict[str, str]) -> None:
    """Call every rocketchat-API wrapper used above once (outcomes do not matter, the bodies do).

    Leaves the shared `people` usable, so test order does not matter."""
    (ann, ann_id), (ben, ben_id), _ = people.items()
    client.users_info(user_id=ann_id)
    client.users_info(username=ann)
    client.users_list(count=2, offset=0)
    client.users_update(ann_id, name="Swept")
    client.users_set_active_status(ben_id, True)
    swept = client.users_create(f"rcapi.sw.{stamp}@example.org", "Sw", f"pw-{secrets.token_hex(6)}", f"rcapi.sw.{stamp}", verified=True)
    rid = client.channels_create(f"rcapi-sw-{stamp}", members=[ann]).json().get("channel", {}).get("_id", "missing")
    client.channels_invite(rid, ben_id)
    client.channels_members(room_id=rid)
    client.channels_add_moderator(rid, ann_id)
    client.channels_roles(room_id=rid)
    client.channels_kick(rid, ben_id)
    client.channels_info(room_id=rid)
    client.channels_list(count=100)
    gid = client.groups_create(f"rcapi-swp-{stamp}", members=[ann]).json().get("group", {}).get("_id", "missing")
    client.groups_invite(gid, ben_id)
    client.groups_add_owner(gid, ben_id)
    client.groups_members(room_id=gid)
    client.groups_kick(gid, ann_id)
    client.groups_list_all(count=100)
    client.roles_list()
    client.roles_add_user_to_role("bot", ann, roleId="bot")
    client.roles_get_users_in_role("bot")
    client.roles_remove_user_from_role("bot", ann, roleId="bot")
    client.users_delete(swept.json().get("user", {}).get("_id", "missing"))


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")
def test_every_request_it_sends_is_valid_for_the_modelled_release(rc: tuple[int, RocketChat, Recorder], people: dict[str, str]) -> None:
    compat, client, recorder = rc
    recorder.requests.clear()
    sweep(client, people)
    sent = list(recorder.requests)
    assert len(sent) == 25
    results = validate_requests(sent)
    release = RELEASE_OF_COMPAT[compat]
    for result in results:
        result["checks"] = [c for c in result["checks"] if c["release"] == release]
    assert sum(1 for r in results if r["checks"]) >= 10, "too few requests reached a validator"
    problems = failures(sent, results)
    assert not problems, f"rocketchat-API sent requests Rocket.Chat {release} rejects:\n" + "\n".join(problems)


@pytest.mark.parametrize("compat", [6, 7])
def test_fresh_workspace_first_registered_user_becomes_admin(compat: int) -> None:
    """No admin at start: the first `users.register` gets the admin role, the next one does not
    (apps/meteor/app/authentication/server/startup/index.ts, Accounts.insertUserDoc: `hasAdmin`), and
    the body rocketchat-API sends (`pass`, not `password`) passes isUserRegisterParamsPOST."""
    from fake_rocketchat.harness.testing import running_server

    recorder = Recorder()
    with running_server(compat=compat) as srv, requests.Session() as session:
        session.hooks["response"].append(recorder)
        anonymous = RocketChat(server_url=srv.url, session=session, timeout=10)
        first_password, second_password = f"pw-{secrets.token_hex(6)}", f"pw-{secrets.token_hex(6)}"
        first = ok(anonymous.users_register(f"first.{stamp}@example.org", "First", first_password, f"first.{stamp}"))["user"]
        second = ok(anonymous.users_register(f"second.{stamp}@example.org", "Second", second_password, f"second.{stamp}"))["user"]
        first_client = RocketChat(f"first.{stamp}", first_password, server_url=srv.url, session=session, timeout=10)
        assert "admin" in ok(first_client.me())["roles"]
        second_client = RocketChat(f"second.{stamp}", second_password, server_url=srv.url, session=session, timeout=10)
        assert "admin" not in ok(second_client.me())["roles"]
        assert first["username"] == f"first.{stamp}" and second["username"] == f"second.{stamp}"
    if NODE is not None:
        registrations = [r for r in recorder.requests if r["path"].endswith("/users.register")]
        assert len(registrations) == 2 and "pass" in registrations[0]["body"]
        results = validate_requests(registrations)
        assert not failures(registrations, results)
