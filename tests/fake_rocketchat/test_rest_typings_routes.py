"""Issue 11's route families against Rocket.Chat's own schemas (`@rocket.chat/rest-typings`).

Like test_rest_typings.py / test_rest_typings_wire.py, for the routes added with the channels.*/groups.*
lifecycle, users.listByStatus/presence/tokens, rooms.membersOrderedByRole/adminRooms and
subscriptions.getOne (which schema each route applies: tests/conformance/rest-validators.mjs):
- representative requests a provisioning client sends must pass every release's schema for the route,
  and the set of schema-checked routes among them is pinned;
- systematic mutations of the schema-checked ones are judged by the validators, and the stand-in must
  reject exactly those as invalid-params in the compat mode of that release;
- the stand-in's compat 7 error bodies of these routes fit the typed-route error response schemas.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest

from test_conformance_npm import NODE, run_node_script
from test_rest_typings import RELEASE_OF_COMPAT, Request, assert_all_valid, get, post, validate_requests
from test_rest_typings_wire import mutate, rejected_as_invalid_params, route_of, send

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")

ROUTE_REQUESTS: list[Request] = [
    post("channels.delete", {"roomId": "r1"}),
    post("channels.delete", {"roomName": "town"}),
    post("groups.delete", {"roomId": "r1"}),
    get("channels.moderators", roomId="r1"),
    get("groups.moderators", roomId="r1"),
    post("channels.join", {"roomId": "r1"}),
    post("channels.join", {"roomId": "r1", "joinCode": "1234"}),
    post("channels.leave", {"roomId": "r1"}),
    post("groups.leave", {"roomId": "r1"}),
    post("channels.addAll", {"roomId": "r1"}),
    post("channels.addAll", {"roomName": "town", "activeUsersOnly": True}),
    post("groups.addAll", {"roomId": "r1", "activeUsersOnly": True}),
    post("channels.archive", {"roomId": "r1"}),
    post("channels.unarchive", {"roomId": "r1"}),
    post("groups.archive", {"roomId": "r1"}),
    post("groups.unarchive", {"roomId": "r1"}),
    post("channels.rename", {"roomId": "r1", "name": "town2"}),
    post("groups.rename", {"roomId": "r1", "name": "vip2"}),
    post("channels.setType", {"roomId": "r1", "type": "p"}),
    post("groups.setType", {"roomId": "r1", "type": "c"}),
    post("channels.setReadOnly", {"roomId": "r1", "readOnly": True}),
    post("groups.setReadOnly", {"roomId": "r1", "readOnly": True}),
    post("channels.setDescription", {"roomId": "r1", "description": "d"}),
    post("channels.setTopic", {"roomId": "r1", "topic": "t"}),
    post("channels.setPurpose", {"roomId": "r1", "purpose": "p"}),
    post("channels.setAnnouncement", {"roomId": "r1", "announcement": "a"}),
    post("groups.setAnnouncement", {"roomId": "r1", "announcement": "a"}),
    post("channels.addLeader", {"roomId": "r1", "userId": "u1"}),
    post("groups.addLeader", {"roomId": "r1", "userId": "u1"}),
    get("channels.counters", roomId="r1"),
    get("groups.counters", roomId="r1", userId="u1"),
    get("rooms.membersOrderedByRole", roomId="r1", count="25", offset="0"),
    get("rooms.adminRooms", filter="town", count="25"),
    post("rooms.delete", {"roomId": "r1"}),
    get("subscriptions.getOne", roomId="r1"),
    get("users.listByStatus", status="active", searchTerm="al", count="25", offset="0"),
    get("users.listByStatus", hasLoggedIn="true", type="user"),
    get("users.presence", ids="u1,u2"),
    post("users.regeneratePersonalAccessToken", {"tokenName": "ci"}),
    post("users.removePersonalAccessToken", {"tokenName": "ci"}),
    get("users.getPersonalAccessTokens"),
    get("users.info", importId="legacy-42"),
]

EXPECTED_COVERED = {
    "POST /v1/channels.delete", "GET /v1/channels.moderators", "POST /v1/channels.join", "POST /v1/channels.leave",
    "POST /v1/channels.addAll", "POST /v1/channels.archive", "POST /v1/channels.unarchive",
    "POST /v1/channels.setReadOnly", "POST /v1/channels.setAnnouncement", "GET /v1/rooms.membersOrderedByRole",
    "GET /v1/subscriptions.getOne", "GET /v1/users.listByStatus", "GET /v1/users.info",
}


@pytest.fixture(scope="module")
def route_results() -> list[dict[str, Any]]:
    return validate_requests(ROUTE_REQUESTS)


def test_route_family_requests_are_valid_in_every_release_that_validates_them(route_results: list[dict[str, Any]]) -> None:
    assert_all_valid(ROUTE_REQUESTS, route_results)


def test_the_schema_checked_routes_are_the_expected_ones(route_results: list[dict[str, Any]]) -> None:
    covered = {r["endpoint"] for r in route_results if r["covered"] and r["checks"]}
    assert covered == EXPECTED_COVERED


@pytest.fixture(scope="module", params=[6, 7], ids=["compat6", "compat7"])
def admin_client(request: pytest.FixtureRequest) -> Iterator[tuple[int, httpx.Client]]:
    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username="routes.admin", admin_password="routes-pass", compat=request.param) as srv:
        with httpx.Client(base_url=srv.url, headers=srv.admin_headers(), timeout=10) as client:
            yield request.param, client


def test_stand_in_never_refuses_valid_route_requests_as_invalid_params(
    admin_client: tuple[int, httpx.Client], route_results: list[dict[str, Any]],
) -> None:
    compat, client = admin_client
    wrong = []
    for request, result in zip(ROUTE_REQUESTS, route_results):
        response = send(client, request)
        if rejected_as_invalid_params(response):
            wrong.append(f"{route_of(request)} {request.get('body', request.get('query'))} -> {response.text[:300]}")
    assert not wrong, f"compat {compat}: refused as params:\n" + "\n".join(wrong)


MUTATIONS: list[tuple[str, Request]] = [
    (f"{i}-{route_of(request).split('/')[-1]}-{name}", mutated)
    for i, request in enumerate(ROUTE_REQUESTS) if route_of(request) in EXPECTED_COVERED - {"GET /v1/users.info"}
    for name, mutated in mutate(request)
]


@pytest.fixture(scope="module")
def mutation_verdicts() -> dict[str, dict[str, bool]]:
    results = validate_requests([mutated for _, mutated in MUTATIONS])
    return {mid: {c["release"]: c["valid"] for c in result["checks"]} for (mid, _), result in zip(MUTATIONS, results)}


def test_mutations_exercise_both_verdicts(mutation_verdicts: dict[str, dict[str, bool]]) -> None:
    """The mutation run must contain schema rejections and acceptances, or the next test proves nothing."""
    verdicts = {v for per_release in mutation_verdicts.values() for v in per_release.values()}
    assert verdicts == {True, False}


@pytest.mark.parametrize("mutation_id, request_", MUTATIONS, ids=[mid for mid, _ in MUTATIONS])
def test_stand_in_judges_mutated_route_requests_like_its_release(
    admin_client: tuple[int, httpx.Client], mutation_verdicts: dict[str, dict[str, bool]], mutation_id: str, request_: Request,
) -> None:
    compat, client = admin_client
    release = RELEASE_OF_COMPAT[compat]
    verdict = mutation_verdicts[mutation_id]
    if release not in verdict:
        pytest.skip(f"{route_of(request_)} has no {release} schema (the route is newer)")
    response = send(client, request_)
    expected = not verdict[release]
    assert rejected_as_invalid_params(response) == expected, (
        f"compat {compat}: Rocket.Chat {release}'s schema {'rejects' if expected else 'accepts'} "
        f"{json.dumps(request_.get('body', request_.get('query')))}; the stand-in answered {response.status_code} {response.text[:300]}"
    )


def test_compat7_error_bodies_of_the_route_families_fit_the_error_response_schemas() -> None:
    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username="shapes2.admin", admin_password="pw", compat=7) as srv:
        state = srv.state
        state.create_user("shapes2.plain", password="pw")
        public = state.create_room("shapes2-c", "c", owner="shapes2.admin")
        private = state.create_room("shapes2-p", "p", owner="shapes2.admin")
        hidden = state.create_room("shapes2-h", "p")
        admin, plain = srv.admin_headers(), srv.headers_for("shapes2.plain")
        state.revoke_permission("create-p", "user")
        with httpx.Client(base_url=srv.url, timeout=10) as http:
            calls = [
                (400, http.post("/api/v1/groups.create", headers=plain, json={"name": "shapes2-np"})),  # groups.ts
                (400, http.get("/api/v1/channels.info", headers=admin)),  # channels.ts: error-room-not-found
                (400, http.post("/api/v1/channels.kick", headers=admin, json={"roomId": public["_id"], "userId": "none"})),
                (400, http.post("/api/v1/channels.delete", headers=plain, json={"roomId": public["_id"]})),
                (400, http.post("/api/v1/channels.delete", headers=admin, json={"roomId": public["_id"], "x": 1})),
                (400, http.post("/api/v1/channels.unarchive", headers=admin, json={"roomId": public["_id"]})),
                (400, http.post("/api/v1/channels.rename", headers=admin, json={"roomId": public["_id"]})),
                (400, http.get("/api/v1/rooms.adminRooms", headers=plain)),
                (400, http.get("/api/v1/users.listByStatus", headers=admin, params={"status": "x"})),
                (400, http.post("/api/v1/users.regeneratePersonalAccessToken", headers=admin, json={"tokenName": "none"})),
                (401, http.get("/api/v1/groups.counters", headers=plain, params={"roomId": private["_id"], "userId": "x"})),
                (401, http.get("/api/v1/users.presence")),
                (403, http.get("/api/v1/channels.counters", headers=plain, params={"roomId": public["_id"], "userId": "x"})),
                (404, http.get("/api/v1/rooms.membersOrderedByRole", headers=admin, params={"roomId": hidden["_id"]})),
            ]
    assert [r.status_code for _, r in calls] == [status for status, _ in calls], [(r.request.url.path, r.status_code, r.text[:200]) for _, r in calls]
    items = [{"status": r.status_code, "body": r.json()} for _, r in calls]
    run = run_node_script("validate-responses.mjs", {}, stdin=json.dumps(items))
    bad = [f"{calls[r['index']][1].request.url.path} {r['status']} {r['errors']} <- {json.dumps(items[r['index']]['body'])[:300]}"
           for r in run.payload["results"] if not r["valid"]]
    assert not bad, "error bodies outside Rocket.Chat's response schemas:\n" + "\n".join(bad)


ALL = {"6.13.1", "7.10.0", "8.8.1"}
UP_TO_7 = {"6.13.1", "7.10.0"}
# (request, releases whose schema must reject it): 6.x/7.x channels schemas are a plain `new Ajv()` (no
# coercion: "true" is no boolean, 123 no string; 8.8.1 compiles them with coercion), users.listByStatus
# and rooms.membersOrderedByRole coerce query strings in every release.
INVALID_ROUTE_REQUESTS: list[tuple[Request, set[str]]] = [
    (post("channels.addAll", {"roomId": "r1", "activeUsersOnly": "true"}), UP_TO_7),
    (post("channels.delete", {"roomId": 123}), UP_TO_7),
    (post("channels.delete", {"roomId": "r1", "roomName": "town"}), ALL),
    (post("channels.setReadOnly", {"roomId": "r1", "readOnly": "yes"}), ALL),
    (post("channels.setAnnouncement", {"roomId": "r1"}), ALL),
    (get("users.listByStatus", count="many"), ALL),
    (get("users.listByStatus", status="gone"), ALL),
    (get("rooms.membersOrderedByRole", roomId="r1", roomName="town"), {"7.10.0", "8.8.1"}),
    (get("subscriptions.getOne"), ALL),
]
VALID_ROUTE_EDGES: list[Request] = [
    post("channels.join", {"roomId": "r1", "joinCode": None}),
    get("users.listByStatus", count="5", hasLoggedIn="false"),
    get("rooms.membersOrderedByRole", roomName="town", offset="10"),
]


def test_invalid_route_requests_are_rejected_by_the_right_releases() -> None:
    requests_ = [r for r, _ in INVALID_ROUTE_REQUESTS] + VALID_ROUTE_EDGES
    expectations = [must for _, must in INVALID_ROUTE_REQUESTS] + [set() for _ in VALID_ROUTE_EDGES]
    for request_, must, result in zip(requests_, expectations, validate_requests(requests_)):
        rejected = {c["release"] for c in result["checks"] if not c["valid"]}
        assert rejected == must, f"{route_of(request_)} {request_.get('body', request_.get('query'))}: rejected by {sorted(rejected)}"


@pytest.mark.parametrize("request_, rejecting", [*INVALID_ROUTE_REQUESTS, *[(r, set()) for r in VALID_ROUTE_EDGES]])
def test_stand_in_rejects_the_invalid_route_requests_like_its_release(
    admin_client: tuple[int, httpx.Client], request_: Request, rejecting: set[str],
) -> None:
    compat, client = admin_client
    response = send(client, request_)
    expected = RELEASE_OF_COMPAT[compat] in rejecting
    assert rejected_as_invalid_params(response) == expected, f"compat {compat}: {response.status_code} {response.text[:300]}"
