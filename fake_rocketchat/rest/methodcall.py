"""`POST method.call/:method` and `method.callAnon/:method` (`app/api/server/v1/misc.ts`).

The DDP message travels as an EJSON string; the answer is always HTTP 200
`success:true` with the DDP `result` message as a string. Not REST rate
limited (`rateLimiterOptions: false`), but counted by the DDP limiter (§6.2, §8.4)."""

from __future__ import annotations

from typing import Any

from ..realtime.protocol import ejson_dumps, ejson_loads, error_for_client, method_not_found
from ..realtime.ratelimit import LimitInput, too_many_requests
from ..realtime.server import rate_limiter_for
from ..backend.errors import MeteorError, failure
from ..backend.ids import random_id
from ..backend.methods import Caller, lookup
from .base import Ctx, Routes


def _call(ctx: Ctx, anonymous: bool) -> dict[str, Any]:
    if set(ctx.body) != {"message"} or not isinstance(ctx.body["message"], str):  # isMeteorCall
        raise MeteorError("invalid-params", "must NOT have additional properties" if "message" in ctx.body else "must have required property 'message'")
    raw = ctx.body.get("message")
    try:
        data = ejson_loads(raw) if isinstance(raw, str) else None
    except ValueError:
        data = None
    valid = (
        isinstance(data, dict) and data.get("msg") == "method" and isinstance(data.get("method"), str)
        and isinstance(data.get("id"), str) and isinstance(data.get("params"), list)
    )
    if not valid:
        raise failure("Invalid method call")
    method_id = data.get("id")
    params = data.get("params") or []
    handler = lookup(data["method"])
    frame: dict[str, Any] = {"msg": "result", "id": method_id}
    if handler is None:
        frame["error"] = method_not_found(data["method"])
    else:
        headers = {k: v for k, v in ctx.request.headers.items()}
        caller = Caller(None if anonymous else ctx.user_id, None if anonymous else ctx.token, ctx.user_agent, ctx.client_ip, headers)
        # misc.ts counts the call through the DDP limiter; each REST call is its own "connection".
        limit = rate_limiter_for(ctx.state).hit(
            LimitInput("method", data["method"], random_id(), caller.user_id, ctx.client_ip)
        )
        try:
            if not limit.allowed:
                frame["error"] = too_many_requests(limit)
                return {"message": ejson_dumps(frame)}
            result = handler(ctx.state, caller, list(params))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a DDP error
            frame["error"] = error_for_client(exc)
        else:
            if result is not None:
                frame["result"] = result
    return {"message": ejson_dumps(frame)}


def register_routes(routes: Routes) -> None:
    routes.add("method.call/:method", ["POST"], lambda ctx: _call(ctx, False), rate_limited=False)
    routes.add("method.callAnon/:method", ["POST"], lambda ctx: _call(ctx, True), auth=False, rate_limited=False)
