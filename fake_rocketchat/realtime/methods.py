"""Method dispatch for DDP sessions: `login`/`logout` here, everything else via the shared registry.

The server methods (`addUsersToRoom`, `authorization:addUserToRole`, ...) live in the
registry that REST `method.call` also uses, so both transports behave the same; this module
only adds what exists on a DDP connection alone: login (accounts-base `login` method with the
`resume`, `password` and Rocket.Chat `totp` handlers), `logout`, and the connection context
(login token, User-Agent, client address, `x-2fa-*` headers) that 2FA checks read.

Sources: meteor `packages/accounts-base/accounts_server.js` (`_runLoginHandlers`,
`_attemptLogin`, `methods.logout`), `packages/accounts-password/password_server.js`
(`passwordValidator`, `_userQueryValidator`), `apps/meteor/app/2fa/server/loginHandler.ts`,
`apps/meteor/app/2fa/server/twoFactorRequired.ts`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from ..backend import methods as registry
from ..backend.errors import MeteorError
from .protocol import OMIT, error_for_client, is_meteor_error

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
log = logging.getLogger("fake_rocketchat.realtime")


@dataclass
class MethodContext:
    """Who is calling, on which connection; `token` is the connection's plain login token."""

    session: Any
    connection_id: str
    user_id: str | None
    token: str | None
    client_address: str | None
    user_agent: str | None
    headers: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print the token
        return f"MethodContext(connection_id={self.connection_id!r}, user_id={self.user_id!r})"


@dataclass(frozen=True)
class Outcome:
    result: Any = OMIT
    error: dict[str, Any] | None = None


class MatchFailed(Exception):
    """`check()` failed: Meteor reports `Match.Error` to clients as `Meteor.Error(400, "Match failed")`."""

    error = 400
    reason = "Match failed"
    details = None


LocalMethod = Callable[["DDPMethods", MethodContext, list[Any]], Awaitable[Any]]


class DDPMethods:
    """Finds and runs a method for a session; the state is shared with REST."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self._local: dict[str, LocalMethod] = {"login": _login, "logout": _logout}

    def lookup(self, name: str) -> Any:
        if name in self._local:
            return self._local[name]
        return _registry_lookup(name)

    async def call(self, handler: Any, name: str, ctx: MethodContext, params: list[Any]) -> Outcome:
        try:
            if handler in self._local.values():
                result = await handler(self, ctx, params)
            else:
                result = await asyncio.to_thread(_registry_call, self.state, handler, name, ctx, params)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a DDP error
            if isinstance(exc, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                raise
            if not is_meteor_error(exc):
                _log_internal(name, exc)
            return Outcome(error=error_for_client(exc))
        return Outcome(result=result)


def _log_internal(name: str, exc: BaseException) -> None:
    """Meteor logs "Exception while invoking method"; we log type and stack but never the
    exception's text or the params, which may carry passwords or tokens."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    log.error("Exception while invoking method %r: %s (message withheld)\n%s", name, type(exc).__name__, stack)


# ---------------------------------------------------------------------------- shared registry


def _registry_lookup(name: str) -> Any:
    return registry.lookup(name)


def _registry_call(state: Any, handler: Any, name: str, ctx: MethodContext, params: list[Any]) -> Any:
    caller = registry_caller(state, ctx)
    return handler(state, caller, list(params))


def registry_caller(state: Any, ctx: MethodContext) -> registry.Caller:
    """The backend's caller object for this connection."""
    return registry.Caller(
        user_id=ctx.user_id,
        token=ctx.token,
        user_agent=ctx.user_agent,
        client_ip=ctx.client_address,
        headers=ctx.headers,
    )


# ---------------------------------------------------------------------------- login / logout


def _check_user_query(user: Any) -> dict[str, str]:
    """accounts-base `_userQueryValidator`: exactly one of id/username/email, non-empty strings."""
    if not isinstance(user, dict) or len(user) != 1:
        raise MatchFailed()
    (key, value), = user.items()
    if key not in ("id", "username", "email") or not isinstance(value, str) or not value:
        raise MatchFailed()
    return {key: value}


def _check_password(password: Any) -> tuple[str | None, str | None]:
    """accounts-password `passwordValidator`: a string (≤256) or `{digest:<64 chars>, algorithm:'sha-256'}`."""
    if isinstance(password, str):
        if len(password) > 256:
            raise MatchFailed()
        return password, None
    if (
        isinstance(password, dict)
        and set(password) == {"digest", "algorithm"}
        and password["algorithm"] == "sha-256"
        and isinstance(password["digest"], str)
        and len(password["digest"]) == 64
    ):
        return None, password["digest"]
    raise MatchFailed()


def _run_login_handlers(state: Any, ctx: MethodContext, options: dict[str, Any], code: str | None) -> Any:
    """Handlers in registration order: resume, password, totp (which re-runs on `totp.login`)."""
    if options.get("resume"):
        if not isinstance(options["resume"], str):
            raise MatchFailed()
        return state.login_with_resume(options["resume"])
    if options.get("password"):
        if not set(options) <= {"user", "password", "code"}:
            raise MatchFailed()
        selector = _check_user_query(options.get("user"))
        password, digest = _check_password(options["password"])
        if digest is not None and not _HEX64.match(digest):
            # Meteor only checks the length; a non-hex digest simply never matches.
            raise _incorrect_password()
        return state.login_with_password(
            selector,
            password=password,
            digest=digest,
            code=code,
            user_agent=ctx.user_agent,
            client_ip=ctx.client_address,
        )
    totp = options.get("totp")
    if isinstance(totp, dict) and totp.get("code"):
        inner = totp.get("login")
        if not isinstance(inner, dict):
            raise MatchFailed()
        # loginHandler.ts: the 2FA hook reads `methodArguments[0].totp.code`.
        return _run_login_handlers(state, ctx, inner, str(totp["code"]))
    return None


def _incorrect_password() -> Exception:
    return MeteorError(403, "Incorrect password")


async def _login(methods: DDPMethods, ctx: MethodContext, params: list[Any]) -> Any:
    options = params[0] if params else None
    if not isinstance(options, dict):
        raise MatchFailed()
    state = methods.state
    result = await asyncio.to_thread(_run_login_handlers, state, ctx, options, None)
    if result is None:
        raise _Unrecognized()
    user = await asyncio.to_thread(state.find_user, result.user_id)
    # accounts-base `_loginUser`: the connection is logged in before the method returns.
    ctx.session.set_user(result.user_id, result.token, user)
    return {"id": result.user_id, "token": result.token, "tokenExpires": result.token_expires, "type": result.login_type}


class _Unrecognized(Exception):
    error = 400
    reason = "Unrecognized options for login request"
    details = None


async def _logout(methods: DDPMethods, ctx: MethodContext, params: list[Any]) -> Any:
    """accounts-base `methods.logout`: destroy this connection's token, then forget the user."""
    ctx.session.stop_token_watch()
    if ctx.user_id and ctx.token:
        await asyncio.to_thread(methods.state.logout, ctx.user_id, ctx.token)
    ctx.session.set_user(None, None)
    return None
