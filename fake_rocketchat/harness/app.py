"""ASGI application of the stand-in: REST at /api, DDP at /websocket, control at /_fake."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from ..backend.state import State
from ..realtime.server import rate_limiter_for
from ..realtime.session import endpoint as ddp_endpoint
from ..rest.auth import VERSION
from ..rest.base import Api
from ..rest.routes import build_routes
from . import control
from .faults import FaultMiddleware, Faults, RequestLog


def create_app(
    state: State,
    *,
    faults: Faults | None = None,
    request_log: RequestLog | None = None,
    auth_failure_delay: tuple[float, float] = (0.0, 0.0),
    start_options: Any = None,
) -> Starlette:
    """Build the app for `state`.

    `app.state.rc` is the State, `app.state.faults` / `app.state.request_log`
    the fault controls and log. `auth_failure_delay` is the (min, max) seconds
    every 401/403 waits (Rocket.Chat: 0.5-1.0 s; tests: 0). `start_options`
    (`testing.StartOptions`) is re-applied after an empty restart (`/_fake/restart`).
    """
    faults = faults or Faults(state)
    request_log = request_log or RequestLog()
    api = Api(state, build_routes(), auth_failure_delay=auth_failure_delay)

    async def api_info(request: Any) -> Any:
        return JSONResponse({"version": VERSION[state.compat], "success": True})

    routes = [
        Route("/api/v1/{path:path}", api.handle, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/api/info", api_info, methods=["GET"]),
        WebSocketRoute("/websocket", ddp_endpoint),
        *control.ROUTES,
    ]
    app = Starlette(routes=routes, middleware=[Middleware(FaultMiddleware, faults=faults, log=request_log)])
    app.state.rc = state
    app.state.faults = faults
    app.state.request_log = request_log
    app.state.api = api
    app.state.start_options = start_options
    # An empty restart closes every live DDP session and forgets the DDP limiter's counters, as a
    # restarted server would.
    state.on_wipe(faults.drop_websockets)
    state.on_wipe(rate_limiter_for(state).reset)
    return app
