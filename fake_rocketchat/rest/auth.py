"""`login`, `logout`, `me`, `users.register` and `/api/info` (`app/api/server/v1/misc.ts`, `api.ts`)."""

from __future__ import annotations

from typing import Any

from ..backend.errors import MeteorError, failure
from ..backend.views import me as me_view, user_info
from .base import Ctx, Reply, Routes
from .validate import check

VERSION = {6: "6.14.0", 7: "7.7.1"}
_PLAIN_LOGIN_KEYS = {"user", "username", "email", "password", "code"}


def login_failure_body(compat: int, exc: MeteorError | None, message: str | None = None) -> dict[str, Any]:
    """The 401 body of a failed `POST login` (api.ts): `{status, error, details?, message}`; a plain
    JavaScript Error (`exc` None, `message` given) has no `error` key."""
    body: dict[str, Any] = {"status": "error"}
    if exc is not None:
        error, message = exc.error, exc.reason
        if message == "User not found":  # api.ts rewrites Meteor's wording
            error, message = "Unauthorized", "Unauthorized"
        body["error"] = error
        if exc.details is not None:
            body["details"] = exc.details
    if message:  # a Meteor.Error without a reason has `reason: undefined`, which JSON drops
        body["message"] = message
    if compat >= 7:
        body = {"success": False, **body}
    return body


def login_success_body(state: Any, result: Any) -> dict[str, Any]:
    """The 200 body of a successful login: `{"status":"success","data":{"userId","authToken","me"}}`."""
    user_doc = state.users[result.user_id]
    data = {"userId": result.user_id, "authToken": result.token, "me": me_view(user_doc, state.settings.get("Site_Url"))}
    out: dict[str, Any] = {"status": "success", "data": data}
    if state.compat >= 7:
        out["success"] = True
    return out


def _login_failure(ctx: Ctx, exc: MeteorError) -> Reply:
    return Reply(login_failure_body(ctx.compat, exc), 401)


def login(ctx: Ctx) -> Reply:
    body = ctx.body
    state = ctx.state
    try:
        if "resume" in body:
            result = state.login_with_resume(str(body["resume"]))
        else:
            if not set(body) <= _PLAIN_LOGIN_KEYS or "password" not in body:
                raise MeteorError(400, "Unrecognized options for login request")
            user = body.get("user")
            if isinstance(user, str):
                selector: Any = {"email": user} if "@" in user else {"username": user}
            elif isinstance(user, dict):
                selector = user
            elif body.get("username"):
                selector = {"username": body["username"]}
            elif body.get("email"):
                selector = {"email": body["email"]}
            else:
                raise MeteorError(400, "Match failed")
            code = body.get("code") or ctx.request.headers.get("x-2fa-code")
            result = state.login_with_password(
                selector,
                password=str(body["password"]),
                code=code,
                method=ctx.request.headers.get("x-2fa-method") if code else None,
                user_agent=ctx.user_agent,
                client_ip=ctx.client_ip,
            )
    except MeteorError as exc:
        return _login_failure(ctx, exc)
    return Reply(login_success_body(state, result))


def logout(ctx: Ctx) -> Reply:
    ctx.state.logout(ctx.user_id, ctx.token)  # type: ignore[arg-type]
    return Reply({"status": "success", "data": {"message": "You've been logged out!"}})


def me(ctx: Ctx) -> dict[str, Any]:
    return me_view(ctx.user, ctx.state.settings.get("Site_Url"))


def register(ctx: Ctx) -> dict[str, Any]:
    check(ctx.body, {"username": "string", "email": "string", "pass": "string", "name": "string"},
          {"secret": "string", "reason": "string"})
    if ctx.user_id:
        raise failure("Logged in users can not register again.")
    name = ctx.body["name"]
    if ctx.compat >= 7 and any(c in name for c in "<>\\/"):
        raise failure("Name contains invalid characters")
    state = ctx.state
    username = ctx.body["username"]
    if ctx.compat >= 7 and not state.is_valid_username(username):  # users.ts: validateUsername first
        raise failure("The username provided is not valid")
    if not state.check_username_availability(username):
        raise failure("Username is already in use")
    user = state.register_user(username, ctx.body["email"], ctx.body["pass"], name, secret_url=ctx.body.get("secret"))
    return {"user": user_info(user, full=False, is_self=False)}


def info(ctx: Ctx) -> dict[str, Any]:
    return {"version": VERSION[ctx.compat]}


def register_routes(routes: Routes) -> None:
    routes.add("login", ["POST"], login, auth=False)
    routes.add("logout", ["POST", "GET"], logout)
    routes.add("me", ["GET"], me)
    routes.add("info", ["GET"], info, auth=False, rate_limited=False)
    # users.register: `Rate_Limiter_Limit_RegisterUser` (1) calls per `API_Enable_Rate_Limiter_Limit_Time_Default`
    # (60000 ms) per IP (users.ts `rateLimiterOptions`), both read live.
    routes.add("users.register", ["POST"], register, auth=False,
               rate_limit=("Rate_Limiter_Limit_RegisterUser", "API_Enable_Rate_Limiter_Limit_Time_Default"))
