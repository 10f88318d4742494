"""Login, logout, me, 401 shapes, 405 — `apps/meteor/app/api/server/{api.ts,v1/misc.ts}`,
`meteor-restivus/lib/route.js` (reference §1)."""

from __future__ import annotations

import httpx
import pytest

from fake_rocketchat.harness.testing import FakeServer

LOGGED_OUT = "You must be logged in to do this."


def test_login_with_username_returns_token_me_and_success_in_7x(fake_rc: FakeServer, http: httpx.Client) -> None:
    r = http.post("/api/v1/login", json={"user": "admin", "password": "admin-pass"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success" and body["success"] is True
    data = body["data"]
    assert data["userId"] == fake_rc.state.find_user_by_username("admin")["_id"]
    assert data["me"]["username"] == "admin" and data["me"]["email"] == "admin@example.com"
    assert data["me"]["avatarUrl"].endswith("/avatar/admin")
    me = http.get("/api/v1/me", headers={"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]})
    assert me.status_code == 200
    assert me.json()["username"] == "admin" and me.json()["success"] is True
    assert "user" not in me.json()  # flattened, not wrapped
    assert me.json()["services"]["password"] == {"exists": True}


def test_login_by_email_and_by_user_object(fake_rc: FakeServer, http: httpx.Client) -> None:
    assert http.post("/api/v1/login", json={"user": "admin@example.com", "password": "admin-pass"}).status_code == 200
    assert http.post("/api/v1/login", json={"user": {"username": "admin"}, "password": "admin-pass"}).status_code == 200
    assert http.post("/api/v1/login", json={"email": "admin@example.com", "password": "admin-pass"}).status_code == 200


def test_login_failures_are_401_with_rewritten_unknown_user(http: httpx.Client) -> None:
    unknown = http.post("/api/v1/login", json={"user": "nobody", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json() == {"success": False, "status": "error", "error": "Unauthorized", "message": "Unauthorized"}
    wrong = http.post("/api/v1/login", json={"user": "admin", "password": "x"})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Incorrect password" and wrong.json()["error"] == 403


def test_deactivated_user_cannot_log_in(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.state.create_user("ghost", password="pw", active=False)
    r = http.post("/api/v1/login", json={"user": "ghost", "password": "pw"})
    assert r.status_code == 401
    assert r.json()["error"] == "error-user-is-not-activated"
    assert r.json()["message"] == "User is not activated"


def test_resume_login_and_logout_removes_only_that_token(fake_rc: FakeServer, http: httpx.Client) -> None:
    first = http.post("/api/v1/login", json={"user": "admin", "password": "admin-pass"}).json()["data"]
    second = http.post("/api/v1/login", json={"user": "admin", "password": "admin-pass"}).json()["data"]
    resumed = http.post("/api/v1/login", json={"resume": first["authToken"]})
    assert resumed.status_code == 200 and resumed.json()["data"]["authToken"] == first["authToken"]
    h1 = {"X-User-Id": first["userId"], "X-Auth-Token": first["authToken"]}
    h2 = {"X-User-Id": second["userId"], "X-Auth-Token": second["authToken"]}
    out = http.post("/api/v1/logout", headers=h1)
    assert out.json() == {"status": "success", "data": {"message": "You've been logged out!"}}
    assert http.get("/api/v1/me", headers=h1).status_code == 401
    assert http.get("/api/v1/me", headers=h2).status_code == 200


def test_401_shape_7x(http: httpx.Client) -> None:
    r = http.get("/api/v1/me", headers={"X-User-Id": "x", "X-Auth-Token": "y"})
    assert r.status_code == 401
    assert r.json() == {"success": False, "error": LOGGED_OUT, "status": "error", "message": LOGGED_OUT}


def test_401_shape_6x(fake_rc_factory) -> None:
    rc = fake_rc_factory(compat=6)
    r = httpx.get(rc.url + "/api/v1/me")
    assert r.status_code == 401
    assert r.json() == {"status": "error", "message": LOGGED_OUT}
    login = httpx.post(rc.url + "/api/v1/login", json={"user": "nobody", "password": "x"})
    assert "success" not in login.json()


def test_wrong_method_is_405_with_allow(http: httpx.Client) -> None:
    r = http.post("/api/v1/me")
    assert r.status_code == 405
    assert r.json() == {"status": "error", "message": "API endpoint does not exist"}
    assert r.headers["allow"] == "GET"


def test_api_info_is_public(http: httpx.Client) -> None:
    assert http.get("/api/info").json() == {"version": "7.7.1", "success": True}


def test_auth_failure_delay_is_configurable(fake_rc_factory) -> None:
    import time

    rc = fake_rc_factory(auth_failure_delay=(0.2, 0.25))
    started = time.monotonic()
    assert httpx.get(rc.url + "/api/v1/me").status_code == 401
    assert time.monotonic() - started >= 0.2


def test_expired_login_token_is_rejected(fake_rc: FakeServer, http: httpx.Client) -> None:
    headers = fake_rc.admin_headers()
    assert http.get("/api/v1/me", headers=headers).status_code == 200
    fake_rc.state.clock.shift(91 * 86400)  # Accounts_LoginExpiration = 90 days
    assert http.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize("secret_header", ["X-Auth-Token", "x-2fa-code"])
def test_request_log_masks_secrets(fake_rc: FakeServer, http: httpx.Client, secret_header: str) -> None:
    headers = fake_rc.admin_headers()
    headers["x-2fa-code"] = "123456"
    http.get("/api/v1/me", headers=headers)
    entry = fake_rc.request_log.entries(route="me")[-1]
    logged = {k.lower(): v for k, v in entry.headers.items()}
    assert logged[secret_header.lower()] == "***"
    assert headers["X-Auth-Token"] not in repr(fake_rc.request_log.entries())
