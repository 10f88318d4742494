"""REST rate limiter — `apps/meteor/app/api/server/api.ts` (enforceRateLimit, shouldVerifyRateLimit),
Meteor `rate-limit` fixed windows (reference §6.1)."""

from __future__ import annotations

import httpx
import pytest

from fake_rocketchat.backend.clock import Clock
from fake_rocketchat.harness.testing import FakeServer
from fake_rocketchat.rest.ratelimit import RateLimiter


@pytest.fixture
def limited(fake_rc_factory) -> FakeServer:
    rc = fake_rc_factory(rate_limit=True, admin_username="admin", admin_password="pw")
    rc.state.create_user("alice", password="pw")
    return rc


def test_eleventh_call_in_window_is_429_with_headers(limited: FakeServer) -> None:
    headers = limited.headers_for("alice")
    with httpx.Client(base_url=limited.url, headers=headers) as c:
        replies = [c.get("/api/v1/me") for _ in range(11)]
    assert [r.status_code for r in replies] == [200] * 10 + [429]
    assert [int(r.headers["x-ratelimit-remaining"]) for r in replies[:10]] == list(range(9, -1, -1))
    assert all(r.headers["x-ratelimit-limit"] == "10" for r in replies)
    last = replies[-1]
    assert last.headers["x-ratelimit-remaining"] == "0"
    reset_ms = int(last.headers["x-ratelimit-reset"])
    now_ms = limited.state.clock.ms()
    assert now_ms < reset_ms <= now_ms + 60_000
    body = last.json()
    assert set(body) == {"success", "error"} and body["success"] is False  # no errorType, no details
    assert body["error"].startswith("Error, too many requests. Please slow down. You must wait ")
    assert body["error"].endswith(" seconds before trying this endpoint again. [error-too-many-requests]")
    assert "retry-after" not in last.headers


def test_window_resets_after_interval(limited: FakeServer) -> None:
    with httpx.Client(base_url=limited.url, headers=limited.headers_for("alice")) as c:
        for _ in range(10):
            c.get("/api/v1/me")
        assert c.get("/api/v1/me").status_code == 429
        limited.state.clock.shift(61)
        assert c.get("/api/v1/me").status_code == 200


def test_limit_is_per_route_method_and_ip(limited: FakeServer) -> None:
    with httpx.Client(base_url=limited.url, headers=limited.headers_for("alice")) as c:
        for _ in range(10):
            c.get("/api/v1/me")
        assert c.get("/api/v1/me").status_code == 429
        assert c.get("/api/v1/users.info", params={"username": "alice"}).status_code == 200
        assert c.get("/api/v1/me", headers={"X-Real-IP": "10.0.0.7"}).status_code == 200


def test_admin_and_bot_bypass_without_headers(limited: FakeServer) -> None:
    with httpx.Client(base_url=limited.url, headers=limited.admin_headers()) as c:
        replies = [c.get("/api/v1/me") for _ in range(15)]
    assert all(r.status_code == 200 for r in replies)
    assert "x-ratelimit-limit" not in replies[0].headers


def test_unauthenticated_401_is_not_counted_but_login_is(limited: FakeServer) -> None:
    with httpx.Client(base_url=limited.url) as c:
        for _ in range(12):
            r = c.get("/api/v1/me")
            assert r.status_code == 401 and "x-ratelimit-limit" not in r.headers
        logins = [c.post("/api/v1/login", json={"user": "alice", "password": "bad"}).status_code for _ in range(11)]
    assert logins == [401] * 10 + [429]


def test_disabled_by_setting_and_off_in_helper_by_default(fake_rc: FakeServer) -> None:
    fake_rc.state.create_user("bob")
    with httpx.Client(base_url=fake_rc.url, headers=fake_rc.headers_for("bob")) as c:
        assert all(c.get("/api/v1/me").status_code == 200 for _ in range(12))


def test_method_call_is_not_rest_limited(limited: FakeServer) -> None:
    import json

    message = json.dumps({"msg": "method", "id": "1", "method": "2fa:checkCodesRemaining", "params": []})
    with httpx.Client(base_url=limited.url, headers=limited.headers_for("alice")) as c:
        codes = [c.post("/api/v1/method.call/2fa:checkCodesRemaining", json={"message": message}).status_code for _ in range(12)]
    assert codes == [200] * 12


def test_register_is_one_per_minute(limited: FakeServer) -> None:
    body = {"username": "reg1", "email": "reg1@example.org", "pass": "pw", "name": "R"}
    first = httpx.post(limited.url + "/api/v1/users.register", json=body)
    second = httpx.post(limited.url + "/api/v1/users.register", json={**body, "username": "reg2", "email": "r2@example.org"})
    assert first.status_code == 200 and second.status_code == 429


def test_fixed_window_is_shared_by_all_keys_of_a_rule() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert limiter.hit("r", "ip1", 2, 1000).allowed
    clock.shift(0.9)
    second = limiter.hit("r", "ip2", 2, 1000)
    assert second.allowed and second.time_to_reset_ms <= 100  # window started at ip1's first call
    clock.shift(0.2)
    fresh = limiter.hit("r", "ip1", 2, 1000)
    assert fresh.remaining == 1
