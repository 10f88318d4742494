"""The stand-in judges request bodies the way Rocket.Chat's schemas do (issue 2, rest-typings).

For each compat mode (6 → rest-typings 6.13.1, 7 → 7.10.0) the stand-in must reject by schema exactly
what that release's validator rejects, and never refuse by schema what it accepts:
- hand-written invalid and edge requests (test_rest_typings.INVALID_REQUESTS / VALID_EDGE_REQUESTS),
- systematic mutations of the bridge's requests (an unknown key, each key dropped, each value of a
  type no coercion fixes, an unknown key one level down), judged by the validators in one node run.
Open findings are strict xfails whose reason names the Rocket.Chat source (tests/conformance/FINDINGS.md).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import pytest

from test_conformance_npm import NODE
from test_rest_typings import (
    BRIDGE_REQUESTS,
    INVALID_REQUESTS,
    RELEASE_OF_COMPAT,
    VALID_EDGE_REQUESTS,
    Request,
    validate_requests,
)

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")


@pytest.fixture(scope="module")
def bridge_results() -> list[dict[str, Any]]:
    return validate_requests(BRIDGE_REQUESTS)


# errorType of a schema rejection: legacy routes "invalid-params", 7.x typed routes
# "error-invalid-params" (§9.2), roles.* "error-invalid-role-properties" with the ajv text (roles.ts),
# permissions.update "error-invalid-body-params" (permissions.ts).
# A bare API.v1.failure('error-invalid-role-properties') has no errorType and is not a schema verdict.
SCHEMA_ERROR_TYPES = {"invalid-params", "error-invalid-params", "error-invalid-role-properties", "error-invalid-body-params"}


@pytest.fixture(scope="module", params=[6, 7], ids=["compat6", "compat7"])
def admin_client(request: pytest.FixtureRequest) -> Iterator[tuple[int, httpx.Client]]:
    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username="typings.admin", admin_password="typings-pass", compat=request.param) as srv:
        with httpx.Client(base_url=srv.url, headers=srv.admin_headers(), timeout=10) as client:
            yield request.param, client


def send(client: httpx.Client, request: Request) -> httpx.Response:
    if request["method"] == "GET":
        return client.get(request["path"], params=request.get("query"))
    return client.post(request["path"], json=request.get("body"))


def rejected_as_invalid_params(response: httpx.Response) -> bool:
    """400 whose errorType says the route's schema refused the body (see SCHEMA_ERROR_TYPES)."""
    if response.status_code != 400:
        return False
    body = response.json()
    return isinstance(body, dict) and body.get("errorType") in SCHEMA_ERROR_TYPES


def finding_key(compat: int, request: Request) -> tuple[int, str, str]:
    return compat, request["path"], json.dumps(request.get("body", request.get("query")))


# Open findings about the stand-in, keyed by finding_key: strict xfail, so a fix shows up as XPASS.
# (tests/conformance/FINDINGS.md lists the ones fixed so far.)
STAND_IN_FINDINGS: dict[tuple[int, str, str], str] = {}


def wire_id(index: int, request: Request) -> str:
    return f"{index}-{request['method']} {request['path'].rsplit('/', 1)[-1]}"


@pytest.mark.parametrize("request_, rejecting, wire", INVALID_REQUESTS, ids=[wire_id(i, r) for i, (r, _, _) in enumerate(INVALID_REQUESTS)])
def test_stand_in_rejects_exactly_what_its_release_schema_rejects(
    request: pytest.FixtureRequest, admin_client: tuple[int, httpx.Client], request_: Request, rejecting: set[str], wire: dict[str, Any] | None,
) -> None:
    compat, client = admin_client
    finding = STAND_IN_FINDINGS.get(finding_key(compat, request_))
    if finding:
        request.applymarker(pytest.mark.xfail(strict=True, reason=finding))
    response = send(client, request_)
    release = RELEASE_OF_COMPAT[compat]
    answered = f"the stand-in answered {response.status_code} {response.text[:300]}"
    if release not in rejecting:
        assert not rejected_as_invalid_params(response), f"compat {compat}: Rocket.Chat {release} accepts this body by schema; {answered}"
    elif wire is None:
        assert rejected_as_invalid_params(response), f"compat {compat}: Rocket.Chat {release} rejects this body by schema; {answered}"
    else:
        assert response.status_code == 400 and response.json() == wire, f"compat {compat}: Rocket.Chat {release} answers 400 {wire}; {answered}"


# ----------------------------------------------------------------- mutations of the bridge's requests

# Routes that 6.x and 7.x both validate with a schema we load (so both compat modes can be judged).
MUTATED_ROUTES = {
    "POST /v1/users.create", "POST /v1/users.update", "GET /v1/users.info", "POST /v1/users.setActiveStatus",
    "POST /v1/roles.addUserToRole", "POST /v1/roles.removeUserFromRole", "POST /v1/channels.kick",
    "GET /v1/channels.list", "GET /v1/channels.roles", "GET /v1/subscriptions.get",
}
# Values no ajv coercion turns into the declared type.
WRONG_TYPE: dict[type, Any] = {str: {"wrong": 1}, bool: "notabool", list: "notanarray", dict: "notanobject", int: "NaN"}


def route_of(request: Request) -> str:
    return f"{request['method']} {request['path'].removeprefix('/api')}"


def mutate(request: Request) -> Iterator[tuple[str, Request]]:
    """An unknown key; each key dropped; each body value of a wrong type; an unknown key one level down."""
    where = "query" if request["method"] == "GET" else "body"
    params: dict[str, Any] = request.get(where) or {}

    def variant(change: Any) -> Request:
        copy = json.loads(json.dumps(request))
        copy.setdefault(where, {})
        change(copy[where])
        return copy

    yield "unknown-key", variant(lambda p: p.update(zzUnknown="1" if where == "query" else 1))
    for key, value in params.items():
        yield f"drop-{key}", variant(lambda p, k=key: p.pop(k))
        if where == "body" and type(value) in WRONG_TYPE:
            yield f"wrong-type-{key}", variant(lambda p, k=key, v=value: p.update({k: WRONG_TYPE[type(v)]}))
        if isinstance(value, dict):
            yield f"unknown-key-in-{key}", variant(lambda p, k=key: p[k].update(zzUnknown=1))


MUTATIONS: list[tuple[str, Request]] = [
    (f"{i}-{route_of(request).split('/')[-1]}-{name}", mutated)
    for i, request in enumerate(BRIDGE_REQUESTS) if route_of(request) in MUTATED_ROUTES
    for name, mutated in mutate(request)
]


# Open findings on mutations, keyed by (compat, mutation id suffix): strict xfail, so a fix shows up as
# XPASS. (tests/conformance/FINDINGS.md lists the ones fixed so far.)
MUTATION_FINDINGS: dict[tuple[int, str], str] = {}


def mutation_finding(compat: int, mutation_id: str) -> str | None:
    return next((reason for (c, suffix), reason in MUTATION_FINDINGS.items() if c == compat and mutation_id.endswith(suffix)), None)


@pytest.fixture(scope="module")
def mutation_verdicts() -> dict[str, dict[str, bool]]:
    """mutation id -> {release: valid} from one validator run over all mutations."""
    results = validate_requests([mutated for _, mutated in MUTATIONS])
    return {mid: {c["release"]: c["valid"] for c in result["checks"]} for (mid, _), result in zip(MUTATIONS, results)}


@pytest.mark.parametrize("mutation_id, request_", MUTATIONS, ids=[mid for mid, _ in MUTATIONS])
def test_stand_in_judges_mutated_bridge_requests_like_its_release(
    request: pytest.FixtureRequest, admin_client: tuple[int, httpx.Client], mutation_verdicts: dict[str, dict[str, bool]],
    mutation_id: str, request_: Request,
) -> None:
    compat, client = admin_client
    release = RELEASE_OF_COMPAT[compat]
    verdict = mutation_verdicts[mutation_id]
    assert release in verdict, f"{route_of(request_)} lost its {release} validator (MUTATED_ROUTES out of date)"
    finding = mutation_finding(compat, mutation_id)
    if finding:
        request.applymarker(pytest.mark.xfail(strict=True, reason=finding))
    response = send(client, request_)
    expected = not verdict[release]
    assert rejected_as_invalid_params(response) == expected, (
        f"compat {compat}: Rocket.Chat {release}'s schema {'rejects' if expected else 'accepts'} "
        f"{json.dumps(request_.get('body', request_.get('query')))}; the stand-in answered {response.status_code} {response.text[:300]}"
    )


def test_stand_in_does_not_reject_valid_bodies_as_invalid_params(admin_client: tuple[int, httpx.Client], bridge_results: list[dict[str, Any]]) -> None:
    """Valid by every schema → the stand-in may refuse for other reasons (unknown ids), never as params."""
    compat, client = admin_client
    wrong = []
    for request, result in [*zip(BRIDGE_REQUESTS, bridge_results), *[(r, {"checks": [True]}) for r in VALID_EDGE_REQUESTS]]:
        if not result["checks"]:
            continue  # a route Rocket.Chat does not validate with a published schema
        response = send(client, request)
        if rejected_as_invalid_params(response):
            wrong.append(f"{request['method']} {request['path']} {request.get('body', request.get('query'))} -> {response.text[:300]}")
    assert not wrong, f"compat {compat}: the stand-in rejects bodies Rocket.Chat's schemas accept:\n" + "\n".join(wrong)
