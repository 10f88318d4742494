"""Restarts: an empty restart (a Rocket.Chat whose MongoDB volume was lost) and `--data FILE` (one that kept it).

What a first start writes: `server/startup/initialData.js` (GENERAL, rocket.cat, the ADMIN_* admin only when
the workspace has no admin), `upsertPermissions.ts` (roles, permissions), the settings registry's defaults.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import httpx
import pytest
import websockets

from fake_rocketchat.backend import persistence
from fake_rocketchat.backend.permission_table import PERMISSIONS
from fake_rocketchat.backend.state import State
from fake_rocketchat.harness.testing import FakeServer, build_state
from test_cli import SECRET_PASSWORD, _start, _stop
from test_ddp_support import DDPTestClient, anyio_backend  # noqa: F401


def _dirty(rc: FakeServer) -> dict[str, str]:
    """Change a bit of everything; returns the admin's headers from before."""
    headers = rc.admin_headers()
    st = rc.state
    st.create_user("alice", password="pw")
    st.create_room("vip", "p", owner="alice")
    st.create_role("site-vip")
    st.set_setting("Site_Url", "https://chat.example.org")
    st.grant_permission("create-user", "user")
    st.configure_custom_oauth("besedka")
    return headers


def test_restart_empty_over_http_gives_a_fresh_workspace(fake_rc: FakeServer) -> None:
    old_headers = _dirty(fake_rc)
    r = httpx.post(fake_rc.url + "/_fake/restart", json={"empty": True})
    assert r.json() == {"ok": True}
    st = fake_rc.state
    assert set(st.usernames()) == {"admin", "rocket.cat"}
    assert st.find_room("GENERAL")["default"] is True and st.find_room_by_name("vip") is None
    assert st.setting("Site_Url") == "http://localhost:3000"
    assert "Accounts_OAuth_Custom-Besedka" not in st.settings
    assert st.permission_roles("create-user") == list(PERMISSIONS["create-user"])
    roles = {r["_id"] for r in httpx.get(fake_rc.url + "/api/v1/roles.list", headers=fake_rc.admin_headers()).json()["roles"]}
    assert "site-vip" not in roles and "admin" in roles
    # Old tokens are invalid; the start-option admin logs in with its password again and is in GENERAL.
    assert httpx.get(fake_rc.url + "/api/v1/me", headers=old_headers).status_code == 401
    login = httpx.post(fake_rc.url + "/api/v1/login", json={"user": "admin", "password": "admin-pass"})
    assert login.status_code == 200
    assert "GENERAL" in st.find_user_by_username("admin")["__rooms"]
    assert httpx.post(fake_rc.url + "/_fake/restart", json={}).status_code == 400


def test_restart_empty_in_process_drops_rate_limiter_counters(fake_rc_factory) -> None:
    rc = fake_rc_factory(admin_username="admin", admin_password="pw", rate_limit=True)
    rc.state.create_user("bob")
    headers = rc.headers_for("bob")
    for _ in range(10):
        httpx.get(rc.url + "/api/v1/me", headers=headers)
    rc.restart_empty()
    assert rc.state.setting("API_Enable_Rate_Limiter") is True  # the start option is applied again
    rc.state.create_user("bob")
    assert httpx.get(rc.url + "/api/v1/me", headers=rc.headers_for("bob")).headers["X-RateLimit-Remaining"] == "9"


def test_restart_empty_without_start_admin_is_a_first_start(fake_rc_factory) -> None:
    rc = fake_rc_factory()
    rc.state.create_user("x")
    rc.restart_empty()
    assert set(rc.state.usernames()) == {"rocket.cat"}


@pytest.mark.anyio
async def test_restart_empty_drops_live_ddp_sessions(fake_rc: FakeServer) -> None:
    user = fake_rc.state.create_user("gina", password="pw")
    token = fake_rc.state.issue_login_token(user["_id"])
    client = await DDPTestClient.open(fake_rc.ws_url)
    assert (await client.login_token(token))["result"]["id"] == user["_id"]
    fake_rc.restart_empty()
    with pytest.raises(websockets.ConnectionClosed):
        await client.expect(lambda m: False, timeout=5)


def test_persistence_round_trip_keeps_everything_and_rebuilds_indexes(tmp_path: Path) -> None:
    st = build_state(admin_username="admin", admin_password="pw", rate_limit=False)
    st.create_user("alice", email="alice@example.org", password="pw")
    room = st.create_room("vip", "p", owner="alice", members=["admin"])
    st.set_room_role(room["_id"], "admin", "moderator")
    st.configure_custom_oauth("besedka", username_field="username")
    token = st.issue_login_token(st.find_user_by_username("alice")["_id"])
    path = tmp_path / "rc.json"
    persistence.save(st, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["rc.json"]  # no temporary file left
    assert token not in path.read_text()  # tokens are stored hashed only
    loaded = State()
    assert persistence.load(loaded, path)
    alice = loaded.find_user_by_username("alice")
    assert loaded.authenticate(alice["_id"], token) is not None
    assert loaded.find_user_by_email("ALICE@example.org")["_id"] == alice["_id"]
    assert sorted(loaded.room_members(room["_id"])) == ["admin", "alice"]
    assert loaded.room_roles(room["_id"], "admin") == ["moderator"]
    assert loaded.setting("Accounts_OAuth_Custom-Besedka-username_field") == "username"
    assert loaded.setting("API_Enable_Rate_Limiter") is False
    assert loaded.find_user(alice["_id"])["createdAt"] == st.find_user(alice["_id"])["createdAt"]
    assert persistence.load(State(), tmp_path / "missing.json") is False
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError):
        persistence.load(State(), bad)


def test_cli_data_file_keeps_the_workspace_across_restarts(tmp_path: Path) -> None:
    data = tmp_path / "workspace.json"
    env = {"FAKE_RC_ADMIN_PASSWORD": SECRET_PASSWORD}
    args = ("--admin-username", "svc", "--rate-limit", "off", "--auth-failure-delay-ms", "0", "--data", str(data))
    proc, url = _start(*args, env=env)
    try:
        login = httpx.post(url + "/api/v1/login", json={"user": "svc", "password": SECRET_PASSWORD}).json()["data"]
        headers = {"X-User-Id": login["userId"], "X-Auth-Token": login["authToken"]}
        created = httpx.post(url + "/api/v1/users.create", headers=headers, json={
            "username": "kept", "email": "kept@example.org", "name": "Kept", "password": "pw"})
        assert created.status_code == 200, created.text
    finally:
        _stop(proc)
    assert data.exists() and SECRET_PASSWORD not in data.read_text()
    proc, url = _start(*args, env=env)
    try:
        # Same users, and the token issued before the restart still works (Rocket.Chat keeps them in MongoDB).
        assert httpx.get(url + "/api/v1/me", headers=headers).json()["username"] == "svc"
        info = httpx.get(url + "/api/v1/users.info", params={"username": "kept"}, headers=headers)
        assert info.json()["user"]["name"] == "Kept"
        assert httpx.post(url + "/_fake/restart", json={"empty": True}).json() == {"ok": True}
        assert httpx.get(url + "/api/v1/users.info", params={"username": "kept"},
                         headers=headers).status_code == 401  # old token gone with the data
    finally:
        _stop(proc)
    proc, url = _start(*args, env=env)  # the emptied workspace is what was saved
    try:
        login = httpx.post(url + "/api/v1/login", json={"user": "svc", "password": SECRET_PASSWORD}).json()["data"]
        headers = {"X-User-Id": login["userId"], "X-Auth-Token": login["authToken"]}
        assert httpx.get(url + "/api/v1/users.info", params={"username": "kept"}, headers=headers).json()["success"] is False
    finally:
        _stop(proc)


def test_restart_empty_forgets_ddp_limiter_counters(fake_rc_factory) -> None:
    """A restarted Rocket.Chat builds its DDP rules afresh (app/lib/server/startup/rateLimiter.js)."""
    from fake_rocketchat.realtime.ratelimit import LimitInput
    from fake_rocketchat.realtime.server import rate_limiter_for

    rc = fake_rc_factory(admin_username="admin", admin_password="pw", rate_limit=True)
    limiter = rate_limiter_for(rc.state)
    inp = LimitInput(type="method", name="logout", user_id=None, connection_id="c1", client_address="10.0.0.1")
    results = [limiter.hit(inp) for _ in range(11)]
    assert not results[-1].allowed
    rc.restart_empty()
    assert limiter.hit(inp).allowed
