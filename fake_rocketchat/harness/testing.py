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
from typing import Any, Iterator

from ..backend.seed import apply_seed, create_admin
from ..backend.state import State
from .app import create_app
from .faults import Faults, RequestLog
from .server_thread import ServerThread


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
    state.set_setting("API_Enable_Rate_Limiter", bool(rate_limit))
    if admin_username or admin_password:
        if not (admin_username and admin_password):
            raise ValueError("admin_username and admin_password go together")
        create_admin(state, admin_username, admin_password, admin_email, admin_totp_secret)
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
    if state is None:
        state = build_state(
            admin_username=admin_username, admin_password=admin_password, admin_email=admin_email,
            admin_totp_secret=admin_totp_secret, seed=seed, rate_limit=rate_limit, compat=compat,
        )
    faults, log = Faults(state), RequestLog()
    if latency_ms:
        faults.set_latency(latency_ms)
    app = create_app(state, faults=faults, request_log=log, auth_failure_delay=auth_failure_delay)
    thread = ServerThread(app, host=host)
    faults.refuse_hook = thread.pause_listening
    thread.start()
    base = f"http://{host}:{thread.port}"
    try:
        yield FakeServer(base, f"ws://{host}:{thread.port}/websocket", state, faults, log, admin_username, thread)
    finally:
        thread.stop()
