"""HTTP control API of the stand-in, outside Rocket.Chat's URL space (`/_fake/...`).

POST /_fake/fail            {"route","count"?,"status"?,"method"?,"body"?}
POST /_fake/latency         {"ms","route"?}
POST /_fake/outage          {"seconds","mode"?: "503"|"refuse"|"blackhole"}
POST /_fake/fail-writes     {"ratio","seconds","status"?,"seed"?}
POST /_fake/drop-websockets
POST /_fake/clock           {"shift": seconds} or {"offset": seconds}
POST /_fake/reset           clear faults (and the request log with {"log": true})
GET  /_fake/requests        ?route=&method=&status=  -> {"requests":[...], "count"}
DELETE /_fake/requests      clear the log
GET  /_fake/health          {"ok": true}
POST /_fake/oauth/<service>/login   the provider's identity JSON -> the body of POST /api/v1/login
POST /_fake/restart         {"empty": true}: come back as a fresh workspace (start-option accounts only)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..backend.errors import MeteorError
from ..backend.oauth import LoginFailure, ServiceUnavailable
from ..backend.views import jsonable
from ..rest.auth import login_failure_body, login_success_body


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=400)


async def fail(request: Request) -> JSONResponse:
    body = await _json(request)
    if not body.get("route"):
        return _bad("route is required")
    request.app.state.faults.fail_next(body["route"], int(body.get("count", 1)), int(body.get("status", 500)), body.get("method"), body.get("body"))
    return JSONResponse({"ok": True})


async def latency(request: Request) -> JSONResponse:
    body = await _json(request)
    request.app.state.faults.set_latency(float(body.get("ms", 0)), body.get("route"))
    return JSONResponse({"ok": True})


async def outage(request: Request) -> JSONResponse:
    body = await _json(request)
    try:
        request.app.state.faults.outage(float(body.get("seconds", 0)), str(body.get("mode", "503")))
    except ValueError as exc:
        return _bad(str(exc))
    return JSONResponse({"ok": True})


async def fail_writes(request: Request) -> JSONResponse:
    body = await _json(request)
    try:
        request.app.state.faults.fail_writes(float(body["ratio"]), float(body["seconds"]), int(body.get("status", 500)),
                                             int(body.get("seed", 0)))
    except (KeyError, TypeError, ValueError) as exc:
        return _bad(f"ratio (0..1) and seconds are required: {exc}")
    return JSONResponse({"ok": True})


async def drop_websockets(request: Request) -> JSONResponse:
    request.app.state.faults.drop_websockets()
    return JSONResponse({"ok": True})


async def clock(request: Request) -> JSONResponse:
    body = await _json(request)
    clk = request.app.state.rc.clock
    if "offset" in body:
        clk.set_offset(float(body["offset"]))
    elif "shift" in body:
        clk.shift(float(body["shift"]))
    return JSONResponse({"ok": True, "offset": clk.offset, "now_ms": clk.ms()})


async def reset(request: Request) -> JSONResponse:
    body = await _json(request)
    request.app.state.faults.clear()
    if body.get("log"):
        request.app.state.request_log.clear()
    return JSONResponse({"ok": True})


async def requests_(request: Request) -> JSONResponse:
    log = request.app.state.request_log
    if request.method == "DELETE":
        log.clear()
        return JSONResponse({"ok": True})
    q = request.query_params
    status = int(q["status"]) if q.get("status") else None
    entries = [e.as_dict() for e in log.entries(q.get("route"), q.get("method"), status)]
    return JSONResponse({"requests": entries, "count": len(entries)})


async def oauth_login(request: Request) -> JSONResponse:
    """A person signs in through Custom OAuth service `<service>`; answers like `POST /api/v1/login`."""
    identity = await _json(request)
    status, body = oauth_login_reply(request.app.state.rc, request.path_params["service"], identity)
    return JSONResponse(jsonable(body), status_code=status)


def oauth_login_reply(state: Any, service: str, identity: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(status, body) of a simulated OAuth login: 200 login success, 401 login failure (Rocket.Chat's
    message), 404 when no enabled Custom OAuth service has that name."""
    try:
        result = state.oauth_login(service, identity)
    except ServiceUnavailable:
        return 404, {"success": False, "error": f"no enabled Custom OAuth service {service!r}"}
    except MeteorError as exc:
        return 401, login_failure_body(state.compat, exc)
    except LoginFailure as exc:
        return 401, login_failure_body(state.compat, None, exc.message)
    with state.lock:
        return 200, login_success_body(state, result)


async def restart(request: Request) -> JSONResponse:
    body = await _json(request)
    if body.get("empty") is not True:
        return _bad('only {"empty": true} is supported (a restart that keeps data is --data FILE and a real restart)')
    restart_empty(request.app)
    return JSONResponse({"ok": True})


def restart_empty(app: Any) -> None:
    """Wipe the workspace (`State.wipe`: DDP sessions dropped through the wipe hook, tokens gone) and
    re-create what the start options create on a first start (the admin, the rate-limit switch)."""
    state = app.state.rc
    with state.lock:
        state.wipe()
        start = getattr(app.state, "start_options", None)
        if start is not None:
            start.apply(state)


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


ROUTES = [
    Route("/_fake/fail", fail, methods=["POST"]),
    Route("/_fake/latency", latency, methods=["POST"]),
    Route("/_fake/outage", outage, methods=["POST"]),
    Route("/_fake/fail-writes", fail_writes, methods=["POST"]),
    Route("/_fake/drop-websockets", drop_websockets, methods=["POST"]),
    Route("/_fake/clock", clock, methods=["POST"]),
    Route("/_fake/reset", reset, methods=["POST"]),
    Route("/_fake/requests", requests_, methods=["GET", "DELETE"]),
    Route("/_fake/health", health, methods=["GET"]),
    Route("/_fake/oauth/{service}/login", oauth_login, methods=["POST"]),
    Route("/_fake/restart", restart, methods=["POST"]),
]
