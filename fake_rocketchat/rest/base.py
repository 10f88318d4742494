"""The REST pipeline shared by every route (moto's `responses.py` plumbing).

Order as in `app/api/server/api.ts` (`_internalRouteActionHandler`):
authenticate (401) -> rate limiter (429, headers) -> `permissionsRequired`
(403) -> `twoFactorRequired` (400 totp-*) -> handler. A thrown `MeteorError`
becomes the 400 `"<reason> [<code>]"` body; a `RestFailure` is sent as is.
401/403 replies wait a random delay, like `meteor-restivus/lib/route.js`
(500-1000 ms upstream; configurable here and 0 by default in tests).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..backend.errors import MeteorError, RestFailure, failure
from ..backend.twofactor import check_code_for_user
from ..backend.views import jsonable
from .ratelimit import RateLimiter

if TYPE_CHECKING:
    from ..backend.state import State

log = logging.getLogger("fake_rocketchat.rest")

LOGGED_OUT = "You must be logged in to do this."


@dataclass
class Ctx:
    """One request as a handler sees it. Handlers run holding `state.lock`."""

    state: "State"
    request: Request
    method: str
    route: str
    body: dict[str, Any]
    query: dict[str, Any]
    path_params: dict[str, str]
    client_ip: str
    user_agent: str
    user_id: str | None = None
    token: str | None = None
    headers_out: dict[str, str] = field(default_factory=dict)
    # The Api's caches of sorted listings, keyed by the state's version counters (REST's own
    # memory: the backend stays free of per-transport caches).
    cache: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # body and token may hold secrets
        return f"Ctx(method={self.method!r}, route={self.route!r}, user_id={self.user_id!r})"

    @property
    def compat(self) -> int:
        return self.state.compat

    @property
    def user(self) -> dict[str, Any]:
        """The caller's stored document (live; only touch under the lock)."""
        return self.state.users[self.user_id]  # type: ignore[index]

    @property
    def params(self) -> dict[str, Any]:
        """Body for POST, query string for GET (restivus `bodyParams`/`queryParams`)."""
        return self.body if self.method == "POST" else self.query

    def can(self, permission: str, rid: str | None = None) -> bool:
        return self.state.has_permission(self.user_id, permission, rid)

    def json_param(self, name: str, default: Any = None) -> Any:
        raw = self.query.get(name)
        if raw in (None, ""):
            return default
        try:
            return json.loads(raw)
        except ValueError:
            raise MeteorError("error-invalid-query", f"Invalid query parameter provided: {name}")


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Endpoint:
    """One route + method and its `addRoute` options."""

    handler: Handler
    auth: bool = True
    two_factor: bool = False
    disable_remember_me: bool = False
    rate_limited: bool = True
    permissions_required: tuple[str, ...] = ()  # any-of
    permissions_required_compat: int | None = None  # only enforced from this compat on
    rate_limit: tuple[int | str, int | str] | None = None  # (calls, ms) override; a str is a setting id
    validator: Handler | None = None  # `validateParams`: runs before permissions and 2FA


@dataclass
class Reply:
    """A non-standard success reply (e.g. login's `{"status":"success","data":...}`)."""

    body: dict[str, Any]
    status: int = 200


class Routes:
    """Route table: exact names plus `prefix/:param` patterns (moto's `urls.py`)."""

    def __init__(self) -> None:
        self.exact: dict[str, dict[str, Endpoint]] = {}
        self.patterns: list[tuple[str, str, dict[str, Endpoint]]] = []

    def add(self, path: str, methods: Iterable[str], handler: Handler, **options: Any) -> None:
        endpoint = Endpoint(handler, **options)
        if "/:" in path:
            prefix, param = path.split("/:", 1)
            for p, name, table in self.patterns:
                if p == prefix:
                    break
            else:
                table = {}
                self.patterns.append((prefix, param, table))
        else:
            table = self.exact.setdefault(path, {})
        for method in methods:
            table[method] = endpoint

    def match(self, path: str) -> tuple[str, dict[str, Endpoint], dict[str, str]] | None:
        if path in self.exact:
            return path, self.exact[path], {}
        for prefix, param, table in self.patterns:
            if path.startswith(prefix + "/") and len(path) > len(prefix) + 1:
                return f"{prefix}/:{param}", table, {param: path[len(prefix) + 1 :]}
        return None


def client_ip(request: Request) -> str:
    """`X-Real-IP`, else the socket address (X-Forwarded-For ignored, HTTP_FORWARDED_COUNT=0)."""
    real = request.headers.get("x-real-ip")
    if real:
        return real.strip()
    return request.client.host if request.client else ""


def json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(jsonable(body), status_code=status, headers=headers or {})


def unauthorized_401(state: "State") -> RestFailure:
    if state.compat >= 7:
        return RestFailure(401, {"success": False, "error": LOGGED_OUT, "status": "error", "message": LOGGED_OUT})
    return RestFailure(401, {"status": "error", "message": LOGGED_OUT})


def forbidden(message: str = "unauthorized") -> RestFailure:
    """`API.v1.unauthorized()` in 6.x / `forbidden()` in 7.x: 403 `{"success":false,"error":"unauthorized"}`."""
    return RestFailure(403, {"success": False, "error": message})


def permission_denied() -> RestFailure:
    """A `permissionsRequired` failure."""
    return RestFailure(
        403,
        {"success": False, "error": "User does not have the permissions required for this action [error-unauthorized]"},
    )


async def _read_body(request: Request) -> dict[str, Any]:
    if request.method != "POST":
        return {}
    ctype = request.headers.get("content-type", "")
    raw = await request.body()
    if not raw.strip():
        return {}
    if "application/x-www-form-urlencoded" in ctype or "multipart/form-data" in ctype:
        form = await request.form()
        return {k: v for k, v in form.items()}
    try:
        data = json.loads(raw)
    except ValueError:
        raise failure("Invalid JSON body")
    if not isinstance(data, dict):
        raise failure("Invalid JSON body")
    return data


def _query(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if key.endswith("[]"):
            out.setdefault(key[:-2], []).append(value)
        else:
            out[key] = value
    return out


class Api:
    """Dispatches `/api/v1/<route>` through the pipeline above."""

    def __init__(self, state: "State", routes: Routes, *, auth_failure_delay: tuple[float, float] = (0.0, 0.0)) -> None:
        self.state = state
        self.routes = routes
        self.auth_failure_delay = auth_failure_delay
        self.limiter = RateLimiter(state.clock)
        self.cache: dict[str, Any] = {}
        # api.ts `settings.watch` on the limiter settings re-adds every route's rule (fresh counters)
        # when one changes; an empty restart forgets every counter and cached listing.
        state.watch_settings(self._setting_changed)
        state.on_wipe(self._forget)

    def _setting_changed(self, setting_id: str, _value: Any) -> None:
        if setting_id.startswith("API_Enable_Rate_Limiter") or setting_id == "Rate_Limiter_Limit_RegisterUser":
            self.limiter.reset()

    def _forget(self) -> None:
        self.limiter.reset()
        self.cache.clear()

    async def handle(self, request: Request) -> Response:
        path = request.path_params.get("path", "")
        try:
            status, body, headers = await self._dispatch(request, path)
        except RestFailure as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        if status in (401, 403) and self.auth_failure_delay[1] > 0:
            await asyncio.sleep(random.uniform(*self.auth_failure_delay))
        return json_response(status, body, headers)

    async def _dispatch(self, request: Request, path: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        found = self.routes.match(path)
        if found is None:
            return 404, {"status": "error", "message": "API endpoint does not exist"}, {}
        route, table, path_params = found
        endpoint = table.get(request.method)
        if endpoint is None:
            allow = ", ".join(sorted(table))
            return 405, {"status": "error", "message": "API endpoint does not exist"}, {"Allow": allow}
        ctx = Ctx(
            state=self.state,
            request=request,
            method=request.method,
            route=route,
            body=await _read_body(request),
            query=_query(request),
            path_params=path_params,
            client_ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            cache=self.cache,
        )
        request.state.route = route
        with self.state.lock:
            return self._run(ctx, endpoint)

    def _run(self, ctx: Ctx, endpoint: Endpoint) -> tuple[int, dict[str, Any], dict[str, str]]:
        state = self.state
        uid = ctx.request.headers.get("x-user-id")
        token = ctx.request.headers.get("x-auth-token")
        if uid and token and state.authenticate(uid, token) is not None:
            ctx.user_id, ctx.token = uid, token
        elif endpoint.auth:
            raise unauthorized_401(state)
        try:
            self._rate_limit(ctx, endpoint)
            if endpoint.validator is not None:
                endpoint.validator(ctx)
            needed = endpoint.permissions_required
            if needed and (endpoint.permissions_required_compat is None or state.compat >= endpoint.permissions_required_compat):
                if not ctx.user_id or not state.has_any_permission(ctx.user_id, needed):
                    raise permission_denied()
            if endpoint.two_factor:
                check_code_for_user(
                    state,
                    ctx.user_id,
                    token=ctx.token,
                    code=ctx.request.headers.get("x-2fa-code"),
                    method=ctx.request.headers.get("x-2fa-method"),
                    user_agent=ctx.user_agent,
                    client_ip=ctx.client_ip,
                    disable_remember_me=endpoint.disable_remember_me,
                )
            result = endpoint.handler(ctx)
        except MeteorError as exc:
            return 400, exc.rest_body(), ctx.headers_out
        except RestFailure as exc:
            return exc.status, exc.body, {**ctx.headers_out, **exc.headers}
        except Exception:  # a stand-in bug: loud, not disguised as a Rocket.Chat error
            log.error("handler crashed for %s %s\n%s", ctx.method, ctx.route, traceback.format_exc())
            return 500, {"success": False, "error": "Internal server error (fake_rocketchat bug)"}, ctx.headers_out
        if isinstance(result, Reply):
            return result.status, result.body, ctx.headers_out
        body = dict(result or {})
        body["success"] = True
        return 200, body, ctx.headers_out

    def _rate_limit(self, ctx: Ctx, endpoint: Endpoint) -> None:
        state = self.state
        if not endpoint.rate_limited or state.env.get("TEST_MODE") or not state.settings.get("API_Enable_Rate_Limiter"):
            return
        if ctx.user_id and state.has_permission(ctx.user_id, "api-bypass-rate-limit"):
            return
        calls, interval = endpoint.rate_limit or ("API_Enable_Rate_Limiter_Limit_Calls_Default", "API_Enable_Rate_Limiter_Limit_Time_Default")
        # Setting ids are read per call, so a changed setting applies at once (api.ts watches them).
        calls = int(state.settings.get(calls)) if isinstance(calls, str) else calls
        interval = int(state.settings.get(interval)) if isinstance(interval, str) else interval
        decision = self.limiter.hit(f"/api/v1/{ctx.route}{ctx.method}", ctx.client_ip, calls, interval)
        ctx.headers_out.update(decision.headers())
        if not decision.allowed:
            message = (
                "Error, too many requests. Please slow down. You must wait "
                f"{decision.seconds} seconds before trying this endpoint again. [error-too-many-requests]"
            )
            raise RestFailure(429, {"success": False, "error": message}, decision.headers())


def paginate(ctx: Ctx) -> tuple[int, int]:
    """`getPaginationItems`: default 50, clamp to the upper limit (100), 0 = unlimited."""
    settings = ctx.state.settings
    default = int(settings.get("API_Default_Count")) if int(settings.get("API_Default_Count")) > 0 else 50
    upper = int(settings.get("API_Upper_Count_Limit")) if int(settings.get("API_Upper_Count_Limit")) > 0 else 100
    params = ctx.params
    try:
        offset = int(params.get("offset") or 0)
        count = int(params["count"]) if params.get("count") not in (None, "") else default
    except (TypeError, ValueError):
        raise MeteorError("error-invalid-params", "Invalid pagination parameters")
    if count > upper:
        count = upper
    if count == 0 and not settings.get("API_Allow_Infinite_Count"):
        count = default
    return max(0, offset), count


def page(items: list[Any], offset: int, count: int) -> list[Any]:
    return items[offset:] if count == 0 else items[offset : offset + count]


def parse_sort(ctx: Ctx, default: dict[str, int]) -> list[tuple[str, int]]:
    sort = ctx.json_param("sort", default) or default
    if not isinstance(sort, dict):
        raise MeteorError("error-invalid-sort", "Invalid sort parameter provided")
    return [(k, -1 if v == -1 else 1) for k, v in sort.items()]


def sort_docs(docs: list[dict[str, Any]], sort: list[tuple[str, int]], ci_fields: tuple[str, ...] = ("name",)) -> list[dict[str, Any]]:
    for key, direction in reversed(sort):
        def keyfn(d: dict[str, Any], key: str = key) -> Any:
            value = d.get(key)
            if value is None:
                return (0, "")
            if isinstance(value, str) and key in ci_fields:
                value = value.lower()
            return (1, value)
        docs = sorted(docs, key=keyfn, reverse=direction == -1)
    return docs
