"""Start a stand-in Rocket.Chat for tests (moto's `mock_*` equivalent).

    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username="admin", admin_password="pw") as rc:
        httpx.get(rc.url + "/api/info")
        rc.state.create_user("alice")          # direct set-up, no HTTP
        rc.faults.fail_next("users.info", 2, 503)
        rc.request_log.count("users.info")
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from ..backend.seed import apply_seed, create_admin
from ..backend.state import State
from .app import create_app
from .control import oauth_login_reply, restart_empty
from .faults import Faults, RequestLog
from .server_thread import ServerThread


class OAuthReply(NamedTuple):
    """What `POST /_fake/oauth/<service>/login` answers: HTTP status and the login-shaped body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class StartOptions:
    """What a first start creates from the command line / `running_server` options (Rocket.Chat's
    `ADMIN_USERNAME`/`ADMIN_PASS`/`ADMIN_EMAIL` and `OVERWRITE_SETTING_*` at start-up): applied on the first
    start and again after an empty restart. The seed is data, not a start option: an empty restart drops it."""

    admin_username: str | None = None
    admin_password: str | None = None
    admin_email: str | None = None
    admin_totp_secret: str | None = None
    rate_limit: bool = True

    def __repr__(self) -> str:  # the password and TOTP secret never appear
        return f"StartOptions(admin_username={self.admin_username!r}, rate_limit={self.rate_limit!r})"

    def apply(self, state: State) -> None:
        state.set_setting("API_Enable_Rate_Limiter", bool(self.rate_limit))
        if self.admin_username or self.admin_password:
            if not (self.admin_username and self.admin_password):
                raise ValueError("admin_username and admin_password go together")
            # initialData.js: only when the workspace has no admin (a kept data file may already have it).
            if state.find_user_by_username(self.admin_username) is None and not state.users_in_role("admin"):
                create_admin(state, self.admin_username, self.admin_password, self.admin_email, self.admin_totp_secret)


@dataclass
class FakeServer:
    """A running stand-in: where it listens and handles on its state."""

    url: str
    ws_url: str
    state: State
    faults: Faults
    request_log: RequestLog
    admin_username: str | None = None
    _thread: ServerThread | None = None
    _app: Any = None

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def headers_for(self, username: str) -> dict[str, str]:
        """Auth headers with a fresh login token for `username` (issued directly, no HTTP)."""
        user = self.state.find_user_by_username(username)
        if user is None:
            raise KeyError(username)
        token = self.state.issue_login_token(user["_id"])
        return {"X-User-Id": user["_id"], "X-Auth-Token": token}

    def admin_headers(self) -> dict[str, str]:
        if not self.admin_username:
            raise RuntimeError("server was started without an admin")
        return self.headers_for(self.admin_username)

    def oauth_login(self, service: str, identity: dict[str, Any]) -> OAuthReply:
        """In process, what `POST /_fake/oauth/<service>/login` with `identity` answers."""
        return OAuthReply(*oauth_login_reply(self.state, service, identity))

    def restart_empty(self) -> None:
        """In process, what `POST /_fake/restart {"empty": true}` does: a fresh workspace with only the
        start-option admin; every token invalid, live DDP sessions dropped."""
        restart_empty(self._app)

    def __repr__(self) -> str:
        return f"FakeServer(url={self.url!r})"


def build_state(
    *,
    admin_username: str | None = None,
    admin_password: str | None = None,
    admin_email: str | None = None,
    admin_totp_secret: str | None = None,
    seed: dict[str, Any] | str | Path | None = None,
    rate_limit: bool = True,
    compat: int = 7,
) -> State:
    """A State with the CLI/test options applied (admin first, then the seed)."""
    state = State(compat=compat)
    StartOptions(admin_username, admin_password, admin_email, admin_totp_secret, rate_limit).apply(state)
    apply_seed(state, seed)
    return state


@contextlib.contextmanager
def running_server(
    *,
    admin_username: str | None = None,
    admin_password: str | None = None,
    admin_email: str | None = None,
    admin_totp_secret: str | None = None,
    seed: dict[str, Any] | str | Path | None = None,
    rate_limit: bool = False,
    latency_ms: float = 0,
    compat: int = 7,
    auth_failure_delay: tuple[float, float] = (0.0, 0.0),
    state: State | None = None,
    host: str = "127.0.0.1",
) -> Iterator[FakeServer]:
    """Serve a fresh stand-in on a free loopback port for the `with` block.

    `rate_limit` defaults to off here (tests opt in); the CLI defaults to on,
    like a real server. `auth_failure_delay` is the random (min, max) seconds
    Rocket.Chat waits before every 401/403 (0 here so the suite stays fast).
    """
    own_state = state is not None
    if state is None:
        state = build_state(
            admin_username=admin_username, admin_password=admin_password, admin_email=admin_email,
            admin_totp_secret=admin_totp_secret, seed=seed, rate_limit=rate_limit, compat=compat,
        )
    faults, log = Faults(state), RequestLog()
    if latency_ms:
        faults.set_latency(latency_ms)
    start = None if own_state else StartOptions(admin_username, admin_password, admin_email, admin_totp_secret, rate_limit)
    app = create_app(state, faults=faults, request_log=log, auth_failure_delay=auth_failure_delay, start_options=start)
    thread = ServerThread(app, host=host)
    faults.refuse_hook = thread.pause_listening
    thread.start()
    base = f"http://{host}:{thread.port}"
    try:
        yield FakeServer(base, f"ws://{host}:{thread.port}/websocket", state, faults, log, admin_username, thread, app)
    finally:
        thread.stop()
