"""Requests checked by Rocket.Chat's own request schemas (`@rocket.chat/rest-typings`).

tests/conformance/validate-requests.mjs runs the ajv validators that Rocket.Chat's REST routes apply
(table and sources in tests/conformance/rest-validators.mjs) for releases 6.13.1 (the 6.14 baseline),
7.10.0 (the 7.x the site runs) and 8.8.1, over a batch of requests in one node process.

Uses here:
- the requests the project's own bridge (bridge/) actually puts on the wire during a sync-like pass,
  recorded by an httpx transport, must be valid for the release the stand-in's compat mode models;
- representative requests a provisioning bridge sends (issue 3's endpoint list, with the bodies the
  reference prescribes) must be valid in every release that validates the route;
- known-invalid requests must be rejected, so the validator run cannot pass vacuously;
- compat 7 error bodies must fit the typed-route error response schemas.
Whether the stand-in judges bodies like the schemas is test_rest_typings_wire.py.

`validate_requests` / `assert_all_valid` / `failures` are also used by the other conformance modules.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest

from test_conformance_npm import NODE, run_node_script

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")

Request = dict[str, Any]


def post(path: str, body: dict[str, Any]) -> Request:
    return {"method": "POST", "path": f"/api/v1/{path}", "body": body}


def get(path: str, **query: str) -> Request:
    return {"method": "GET", "path": f"/api/v1/{path}", "query": query}


def method_call(method: str, *params: Any) -> Request:
    message = json.dumps({"msg": "method", "id": "1", "method": method, "params": list(params)})
    return post(f"method.call/{method}", {"message": message})


# What the bridge sends (issue 3 endpoints; bodies per reference §1-§8). Query values are strings, as
# on the wire. Ids are placeholders: only the shape matters to the schemas.
BRIDGE_REQUESTS: list[Request] = [
    post("login", {"user": "svc", "password": "x", "code": "123456"}),
    post("login", {"resume": "token"}),
    post("users.create", {
        "email": "a@example.org", "name": "Alice", "password": "x", "username": "alice", "active": True,
        "verified": True, "joinDefaultChannels": False, "roles": ["user"], "requirePasswordChange": False,
        "sendWelcomeEmail": False,
    }),
    post("users.create", {"email": "b@example.org", "name": "Bob", "password": "x", "username": "bob", "setRandomPassword": True}),
    post("users.update", {"userId": "u1", "data": {"name": "Alice A", "email": "a2@example.org", "verified": True}}),
    post("users.update", {"userId": "u1", "data": {"username": "alice2"}}),
    post("users.update", {"userId": "u1", "data": {"roles": ["user", "moderator"]}}),
    post("users.update", {"userId": "u1", "data": {"active": False}, "confirmRelinquish": True}),
    get("users.info", userId="u1"),
    get("users.info", username="alice"),
    get("users.list", count="100", offset="0"),
    post("users.setActiveStatus", {"userId": "u1", "activeStatus": False}),
    post("users.setActiveStatus", {"userId": "u1", "activeStatus": True, "confirmRelinquish": True}),
    post("users.delete", {"userId": "u1", "confirmRelinquish": True}),
    post("users.generatePersonalAccessToken", {"tokenName": "rcsync", "bypassTwoFactor": True}),
    get("roles.list"),
    post("roles.create", {"name": "site-vip", "description": "VIP", "scope": "Users"}),
    post("roles.addUserToRole", {"roleId": "bot", "username": "alice"}),
    post("roles.addUserToRole", {"roleId": "moderator", "username": "alice", "roomId": "r1"}),
    post("roles.removeUserFromRole", {"roleId": "bot", "username": "alice"}),
    post("roles.removeUserFromRole", {"roleId": "moderator", "username": "alice", "scope": "r1"}),
    get("roles.getUsersInRole", role="admin", count="100", offset="0"),
    get("roles.getUsersInRole", role="moderator", roomId="r1"),
    post("channels.create", {"name": "general2", "members": ["alice"], "readOnly": False}),
    post("groups.create", {"name": "vip", "members": ["alice"], "readOnly": False}),
    get("channels.info", roomId="r1"),
    get("groups.info", roomId="r1"),
    get("channels.members", roomId="r1", count="100", offset="0"),
    get("groups.members", roomId="r1", count="100", offset="0"),
    post("channels.invite", {"roomId": "r1", "userIds": ["u1", "u2"]}),
    post("channels.invite", {"roomId": "r1", "userId": "u1"}),
    post("groups.invite", {"roomId": "r1", "userIds": ["u1", "u2"]}),
    post("groups.invite", {"roomId": "r1", "userId": "u1"}),
    post("channels.kick", {"roomId": "r1", "userId": "u1"}),
    post("groups.kick", {"roomId": "r1", "userId": "u1"}),
    post("channels.addModerator", {"roomId": "r1", "userId": "u1"}),
    post("channels.removeModerator", {"roomId": "r1", "userId": "u1"}),
    post("channels.addOwner", {"roomId": "r1", "userId": "u1"}),
    post("channels.removeOwner", {"roomId": "r1", "userId": "u1"}),
    post("groups.addModerator", {"roomId": "r1", "userId": "u1"}),
    post("groups.removeModerator", {"roomId": "r1", "userId": "u1"}),
    post("groups.addOwner", {"roomId": "r1", "userId": "u1"}),
    post("groups.removeOwner", {"roomId": "r1", "userId": "u1"}),
    get("channels.roles", roomId="r1"),
    get("groups.roles", roomId="r1"),
    get("channels.list", count="100", offset="0"),
    get("channels.listAll", count="100", offset="0"),
    get("groups.listAll", count="100", offset="0"),
    post("channels.setDefault", {"roomId": "r1", "default": True}),
    get("rooms.info", roomId="GENERAL"),
    get("subscriptions.get"),
    get("subscriptions.get", updatedSince="2024-01-01T00:00:00.000Z"),
    get("permissions.listAll"),
    post("permissions.update", {"permissions": [{"_id": "add-user-to-any-p-room", "roles": ["admin", "bot"]}]}),
    post("settings/Accounts_TwoFactorAuthentication_RememberFor", {"value": 1800}),
    # issue 11/12: settings as code and the Custom OAuth block.
    get("settings", includeDefaults="true", count="100", offset="0"),
    get("settings.public", _id="Site_Url,Accounts_OAuth_Custom-Besedka", count="50"),
    post("settings.addCustomOAuth", {"name": "besedka"}),
    post("settings/Accounts_OAuth_Custom-Besedka-merge_users", {"value": True}),
    post("settings/Accounts_OAuth_Custom-Besedka-button_color", {"value": "#1d74f5", "editor": "color"}),
    post("roles.update", {"roleId": "r1", "name": "site-gold", "description": "Gold"}),
    post("roles.delete", {"roleId": "r1"}),
    get("permissions.listAll", updatedSince="2024-01-01T00:00:00.000Z"),
    method_call("addUsersToRoom", {"rid": "r1", "users": ["alice", "bob"]}),
    method_call("authorization:addUserToRole", "bot", "alice"),
]

# Routes Rocket.Chat validates with a published rest-typings schema in at least one release, among
# those above; the rest is checked by server code that is not on npm (see rest-validators.mjs).
EXPECTED_COVERED = {
    "POST /v1/users.create", "POST /v1/users.update", "GET /v1/users.info", "GET /v1/users.list",
    "POST /v1/users.setActiveStatus", "POST /v1/roles.addUserToRole", "POST /v1/roles.removeUserFromRole",
    "POST /v1/groups.create", "GET /v1/groups.info", "POST /v1/groups.invite",
    "POST /v1/channels.kick", "GET /v1/channels.roles", "GET /v1/groups.roles", "GET /v1/channels.list",
    "GET /v1/subscriptions.get", "POST /v1/permissions.update", "POST /v1/settings/:_id", "POST /v1/method.call/:method",
    "GET /v1/settings", "GET /v1/settings.public", "POST /v1/roles.delete",
}

ALL_RELEASES = {"6.13.1", "7.10.0", "8.8.1"}
# What Rocket.Chat answers when a release's check refuses the body: None = the route's schema error
# (see SCHEMA_ERROR_TYPES); a dict = that exact body (method.call turns a bad parsed message into
# API.v1.failure('Invalid method call'), apps/meteor/app/api/server/v1/misc.ts).
INVALID_METHOD_CALL = {"success": False, "error": "Invalid method call"}

# (request, releases whose schema must reject it, wire answer): the validator has to say no, or it
# proves nothing; the stand-in must then answer like that release.
INVALID_REQUESTS: list[tuple[Request, set[str], dict[str, Any] | None]] = [
    (post("users.create", {"email": "a@example.org", "name": "A", "password": "x", "username": "a", "type": "bot"}), ALL_RELEASES, None),
    (post("users.create", {"name": "A", "password": "x", "username": "a"}), ALL_RELEASES, None),
    (post("users.create", {"email": "a@example.org", "name": "A", "password": "x", "username": "a", "roles": "user"}), ALL_RELEASES, None),
    (post("users.create", {"email": "a@example.org", "name": "A", "password": "x", "username": "a", "verified": "yes"}), ALL_RELEASES, None),
    (post("users.update", {"userId": "u1", "data": {"joinDefaultChannels": True}}), {"7.10.0", "8.8.1"}, None),  # §9.3
    (post("users.update", {"userId": "", "data": {"name": "x"}}), {"7.10.0", "8.8.1"}, None),  # §9.3 non-empty userId
    (post("users.update", {"userId": "u1"}), ALL_RELEASES, None),
    (post("users.update", {"userId": "u1", "data": {"name": "x"}, "extra": 1}), ALL_RELEASES, None),
    (post("users.setActiveStatus", {"userId": "u1", "activeStatus": "no"}), ALL_RELEASES, None),
    (post("users.setActiveStatus", {"userId": "u1", "activeStatus": False, "extra": 1}), ALL_RELEASES, None),
    (get("users.info"), ALL_RELEASES, None),
    (get("users.info", userId="u1", username="a"), ALL_RELEASES, None),
    (get("users.info", userId="u1", foo="1"), ALL_RELEASES, None),
    (get("users.info", userId="u1", includeUserRooms="true"), {"6.13.1"}, None),  # 7.x replaced fields={"userRooms":1}
    (post("roles.addUserToRole", {"roleName": "bot", "username": "a"}), {"8.8.1"}, None),  # roleName gone in 8.0.0
    (post("roles.addUserToRole", {"roleId": "bot", "username": "a", "rid": "r1"}), ALL_RELEASES, None),
    (post("roles.removeUserFromRole", {"roleId": "bot"}), ALL_RELEASES, None),
    (post("channels.kick", {"roomId": "r1"}), ALL_RELEASES, None),
    (post("channels.kick", {"roomId": "r1", "username": "a"}), ALL_RELEASES, None),
    (get("channels.roles"), ALL_RELEASES, None),
    (get("subscriptions.get", updatedSince="2024-01-01T00:00:00.000Z", foo="1"), ALL_RELEASES, None),
    (get("settings", foo="1"), {"7.10.0", "8.8.1"}, None),  # settings.ts validateParams isSettingsGetParams
    (get("settings.public", includeDefaults="true"), {"7.10.0", "8.8.1"}, None),
    (post("method.call/foo", {"message": json.dumps({"msg": "method", "method": "foo"})}), ALL_RELEASES, INVALID_METHOD_CALL),
    (post("method.call/foo", {"message": json.dumps({"msg": "method", "id": "1", "method": "foo", "params": []}), "extra": 1}), ALL_RELEASES, None),
]

# Edge cases every release accepts; the stand-in must not refuse them by schema either.
VALID_EDGE_REQUESTS: list[Request] = [
    post("users.create", {"email": "e@example.org", "name": "E", "password": "x", "username": "edge.e", "customFields": {}}),
    get("users.info", userId="u1", fields=json.dumps({"userRooms": 1})),
    post("channels.kick", {"roomName": "general", "userId": "u1"}),
    post("users.update", {"userId": "u1", "data": {"name": "x"}, "confirmRelinquish": True}),
]


def validate_requests(requests: list[Request]) -> list[dict[str, Any]]:
    """Run Rocket.Chat's validators over `requests` in one node process; one result per request."""
    run = run_node_script("validate-requests.mjs", {}, stdin=json.dumps(requests))
    assert "error" not in run.payload, run.payload.get("error")
    results = run.payload["results"]
    assert len(results) == len(requests)
    return results


def failures(requests: list[Request], results: list[dict[str, Any]]) -> list[str]:
    """One line per (request, release) that a schema rejected: endpoint, release, ajv errors, body."""
    lines = []
    for request, result in zip(requests, results):
        for check in result["checks"]:
            if not check["valid"]:
                params = request.get("body", request.get("query"))
                lines.append(f"{result['endpoint']} [{check['release']} {check['validator']}] {check['errors']} <- {json.dumps(params)[:300]}")
    return lines


def assert_all_valid(requests: list[Request], results: list[dict[str, Any]]) -> None:
    problems = failures(requests, results)
    assert not problems, "requests Rocket.Chat's schemas reject:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def bridge_results() -> list[dict[str, Any]]:
    return validate_requests(BRIDGE_REQUESTS)


def test_bridge_requests_are_valid_in_every_release_that_validates_them(bridge_results: list[dict[str, Any]]) -> None:
    assert_all_valid(BRIDGE_REQUESTS, bridge_results)


def test_the_validated_routes_are_the_expected_ones(bridge_results: list[dict[str, Any]]) -> None:
    """If the route table loses an endpoint, the suite says so instead of validating less."""
    covered = {r["endpoint"] for r in bridge_results if r["covered"] and r["checks"]}
    assert covered == EXPECTED_COVERED


def test_known_invalid_requests_are_rejected_by_the_right_releases() -> None:
    requests = [request for request, _, _ in INVALID_REQUESTS] + VALID_EDGE_REQUESTS
    results = validate_requests(requests)
    expectations = [(request, must_reject) for request, must_reject, _ in INVALID_REQUESTS] + [(r, set()) for r in VALID_EDGE_REQUESTS]
    for (request, must_reject), result in zip(expectations, results):
        rejected = {c["release"] for c in result["checks"] if not c["valid"]}
        assert rejected == must_reject, f"{result['endpoint']} {request}: rejected by {sorted(rejected)}"


# The stand-in's `compat` switch models these releases (reference §0, §9).
RELEASE_OF_COMPAT = {6: "6.13.1", 7: "7.10.0"}


# --------------------------------------------------------------------- error bodies, 7.x shapes

def test_compat7_error_bodies_match_rocket_chat_error_response_schemas() -> None:
    """7.x typed routes declare their 400/401/403 bodies (rest-typings v1/Ajv.js validate*ErrorResponse,
    additionalProperties:false); the stand-in's compat 7 answers must fit them. (6.x's 401 has no
    `success` key, reference §1.2, so this is compat 7 only.)"""
    import pyotp

    from fake_rocketchat.harness.testing import running_server

    secret = pyotp.random_base32()
    with running_server(admin_username="shapes.admin", admin_password="shapes-pass", admin_totp_secret=secret, compat=7) as srv:
        srv.state.create_user("shapes.plain", password="plain-pass", verified=False)
        srv.faults.shift_clock(3600)  # past "remember right after registration", so users.update challenges
        admin, plain = srv.admin_headers(), srv.headers_for("shapes.plain")
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            calls = [
                (400, http.post("/api/v1/users.create", headers=admin, json={"email": "t@example.org", "name": "T", "password": "x", "username": "t", "type": "bot"})),
                (400, http.get("/api/v1/users.info", headers=admin, params={"username": "nobody.here"})),
                (400, http.post("/api/v1/roles.addUserToRole", headers=admin, json={"roleId": "no-such-role", "username": "shapes.plain"})),
                (400, http.get("/api/v1/channels.info", headers=admin, params={"roomId": "no-such-room"})),
                (400, http.post("/api/v1/users.update", headers=admin, json={"userId": "x", "data": {"name": "y"}})),
                (401, http.get("/api/v1/me")),
                (403, http.get("/api/v1/groups.listAll", headers=plain)),
                (403, http.post("/api/v1/users.delete", headers=plain, json={"userId": "x"})),
            ]
    assert [r.status_code for _, r in calls] == [status for status, _ in calls], [(r.request.url.path, r.status_code, r.text[:200]) for _, r in calls]
    assert calls[4][1].json().get("errorType") == "totp-required"
    items = [{"status": r.status_code, "body": r.json()} for _, r in calls]
    run = run_node_script("validate-responses.mjs", {}, stdin=json.dumps(items))
    bad = [f"{calls[r['index']][1].request.method} {calls[r['index']][1].request.url.path} {r['status']} {r['errors']} <- {json.dumps(items[r['index']]['body'])[:300]}" for r in run.payload["results"] if not r["valid"]]
    assert not bad, "error bodies outside Rocket.Chat's response schemas:\n" + "\n".join(bad)


# --------------------------------------------------------------------- the project's own bridge

class RecordingTransport(httpx.AsyncHTTPTransport):
    """httpx transport that keeps (method, path, body|query) of every request before sending it."""

    def __init__(self, sink: list[Request]) -> None:
        super().__init__()
        self.sink = sink

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        entry: Request = {"method": request.method, "path": request.url.path}
        if request.method == "GET":
            entry["query"] = dict(request.url.params)
        elif request.content:
            entry["body"] = json.loads(request.content)
        self.sink.append(entry)
        return await super().handle_async_request(request)


def drive_bridge(rc: Any, tag: str) -> None:
    """One pass over the bridge API a sync uses (issue 3's endpoint list)."""
    rc.me()
    ann = rc.create_user(f"br.ann.{tag}", "Ann", f"ann.{tag}@example.org", "Pw-ann-123456", roles=["user"], verified=True)
    ben = rc.create_user(f"br.ben.{tag}", "Ben", f"ben.{tag}@example.org", "Pw-ben-123456")
    rc.update_user(ann.id, name="Ann B")
    rc.user_info(user_id=ann.id)
    rc.find_user(username=ben.username)
    rc.set_active(ben.id, False)
    rc.set_active(ben.id, True)
    list(rc.iter_users(page_size=2))
    rc.list_roles()
    rc.add_user_to_role("bot", ann.username)
    list(rc.iter_users_in_role("bot"))
    rc.remove_user_from_role("bot", ann.username)
    for kind in ("c", "p"):
        room = rc.create_room(f"br-{kind}-{tag}", kind, members=[ann.username])
        rc.room_info(room_id=room.id)
        rc.invite(room, [ben.id], batch_size=100)
        list(rc.iter_members(room))
        rc.add_moderator(room, ann.id)
        rc.remove_moderator(room, ann.id)
        rc.add_owner(room, ben.id)
        rc.remove_owner(room, ben.id)
        rc.room_roles(room)
        rc.kick(room, ben.id)
        rc.add_user_to_role("moderator", ann.username, room.id)
        rc.remove_user_from_role("moderator", ann.username, room.id)
    list(rc.iter_all_groups())
    list(rc.iter_channels())
    rc.subscriptions()
    rc.delete_user(ben.id)


@pytest.mark.parametrize("compat", [6, 7])
def test_requests_the_bridge_sends_are_valid_for_the_release(compat: int) -> None:
    """The project's own client (bridge/) against the stand-in: every body it sends must pass the
    schema the modelled Rocket.Chat release applies to that route."""
    import pyotp

    from bridge.client import RocketChat
    from bridge.config import BridgeConfig
    from fake_rocketchat.harness.testing import running_server

    secret = pyotp.random_base32()
    sent: list[Request] = []
    with running_server(admin_username="br.admin", admin_password="Br-admin-pass-1", admin_totp_secret=secret, compat=compat) as srv:
        with srv.state.lock:  # an aged service account, so users.update is 2FA-challenged (§2.3 step 4)
            admin = srv.state.user_doc_by_username("br.admin")
            admin["createdAt"] = srv.state.now() - timedelta(days=2)
        config = BridgeConfig(url=srv.url, username="br.admin", password="Br-admin-pass-1", totp_secret=secret, pacing=False)
        with RocketChat(config, transport=RecordingTransport(sent)) as rc:
            drive_bridge(rc, f"{compat}{secrets.token_hex(2)}")
    assert len(sent) >= 40, f"only {len(sent)} requests recorded"
    results = validate_requests(sent)
    release = RELEASE_OF_COMPAT[compat]
    for result in results:
        result["checks"] = [c for c in result["checks"] if c["release"] == release]
    reached = {r["endpoint"] for r in results if r["checks"]}
    assert {"POST /v1/users.create", "POST /v1/users.update", "POST /v1/roles.addUserToRole", "POST /v1/channels.kick"} <= reached
    assert_all_valid(sent, results)
