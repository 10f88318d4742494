"""Fault injection and the request log, in-process and over `/_fake/...` (stand-in only; no upstream)."""

from __future__ import annotations

import time

import httpx
import pytest

from fake_rocketchat.harness.testing import FakeServer


def test_fail_next_n_calls_of_a_route(fake_rc: FakeServer, admin: httpx.Client) -> None:
    fake_rc.faults.fail_next("users.info", count=2, status=503)
    codes = [admin.get("/api/v1/users.info", params={"username": "admin"}).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert admin.get("/api/v1/me").status_code == 200
    assert fake_rc.request_log.count(route="users.info", status=503) == 2


def test_fail_next_over_http_with_body_and_method(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    r = http.post("/_fake/fail", json={"route": "users.create", "count": 1, "status": 429, "method": "POST",
                                       "body": {"success": False, "error": "slow down"}})
    assert r.json() == {"ok": True}
    hit = admin.post("/api/v1/users.create", json={})
    assert hit.status_code == 429 and hit.json() == {"success": False, "error": "slow down"}
    assert http.post("/_fake/fail", json={}).status_code == 400


def test_latency(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    http.post("/_fake/latency", json={"ms": 150, "route": "me"})
    started = time.monotonic()
    admin.get("/api/v1/me")
    assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    admin.get("/api/v1/users.info", params={"username": "admin"})
    assert time.monotonic() - started < 0.15
    fake_rc.faults.set_latency(0, "me")


def test_outage_503_then_recovers(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    http.post("/_fake/outage", json={"seconds": 0.3})
    down = admin.get("/api/v1/me")
    assert down.status_code == 503
    deadline = time.monotonic() + 5
    while admin.get("/api/v1/me").status_code != 200:
        assert time.monotonic() < deadline


def test_outage_refuse_closes_the_listener(fake_rc: FakeServer) -> None:
    # Long enough that a loaded machine's first probe still lands inside the outage (0.5 s did not).
    fake_rc.faults.outage(3, mode="refuse")
    deadline = time.monotonic() + 5
    refused = False
    while time.monotonic() < deadline and not refused:
        try:
            httpx.get(fake_rc.url + "/api/info", timeout=1)
        except httpx.ConnectError:
            refused = True
    assert refused
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(fake_rc.url + "/api/info", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "server did not listen again"


def test_drop_websockets_publishes_control_event(fake_rc: FakeServer, http: httpx.Client) -> None:
    seen = []
    unsubscribe = fake_rc.state.events.subscribe(seen.append)
    assert http.post("/_fake/drop-websockets").json() == {"ok": True}
    unsubscribe()
    assert [(e.stream, e.event_name, e.args) for e in seen] == [("_fake", "drop-websockets", [])]


def test_clock_shift_over_http(fake_rc: FakeServer, http: httpx.Client) -> None:
    before = fake_rc.state.clock.ms()
    r = http.post("/_fake/clock", json={"shift": 3600}).json()
    assert r["offset"] == 3600 and r["now_ms"] >= before + 3_600_000
    assert http.post("/_fake/clock", json={"offset": 0}).json()["offset"] == 0


def test_request_log_over_http_and_reset(fake_rc: FakeServer, admin: httpx.Client, http: httpx.Client) -> None:
    admin.get("/api/v1/me")
    admin.get("/api/v1/me")
    log = http.get("/_fake/requests", params={"route": "me"}).json()
    assert log["count"] == 2 and log["requests"][0]["method"] == "GET" and log["requests"][0]["status"] == 200
    assert log["requests"][0]["headers"]["x-auth-token"] == "***"
    assert http.get("/_fake/requests").json()["count"] == 2  # /_fake itself is never logged
    http.delete("/_fake/requests")
    assert fake_rc.request_log.count() == 0
    fake_rc.faults.fail_next("me", 5)
    http.post("/_fake/reset", json={"log": True})
    assert admin.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("mode", ["bogus"])
def test_bad_outage_mode_is_rejected(http: httpx.Client, mode: str) -> None:
    assert http.post("/_fake/outage", json={"seconds": 1, "mode": mode}).status_code == 400


def test_outage_blackhole_holds_requests_until_the_client_times_out(fake_rc: FakeServer, admin: httpx.Client) -> None:
    """A partition that drops packets: the connection opens, no byte comes back, the client's read
    timeout ends the call; after the partition heals the server answers again."""
    fake_rc.faults.outage(1.5, mode="blackhole")
    with pytest.raises(httpx.ReadTimeout):
        admin.get("/api/v1/me", timeout=httpx.Timeout(5, read=0.3))
    deadline = time.monotonic() + 10
    while admin.get("/api/v1/me", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the black hole did not end"


def test_outage_blackhole_over_http_and_unknown_modes(http: httpx.Client) -> None:
    assert http.post("/_fake/outage", json={"seconds": 0, "mode": "blackhole"}).json() == {"ok": True}
    bad = http.post("/_fake/outage", json={"seconds": 1, "mode": "partition"})
    assert bad.status_code == 400 and "blackhole" in bad.json()["error"]


def test_fail_writes_fails_a_seeded_share_of_writes_and_nothing_else(fake_rc: FakeServer, admin: httpx.Client,
                                                                      http: httpx.Client) -> None:
    assert http.post("/_fake/fail-writes", json={"ratio": 0.5, "seconds": 30, "seed": 3}).json() == {"ok": True}
    def create(name: str) -> int:
        return admin.post("/api/v1/users.create", json={"username": name, "email": f"{name}@example.org",
                                                       "password": "pw-x1", "name": name}).status_code

    codes = [create(f"w{i}") for i in range(200)]
    reads = {admin.get("/api/v1/me").status_code for _ in range(20)}
    fake_rc.faults.clear()
    failed = codes.count(500)
    assert 60 < failed < 140 and set(codes) == {200, 500}, codes  # about half; replayable with the seed
    assert reads == {200}  # reads are never failed
    made = {f"w{i}" for i in range(200) if fake_rc.state.find_user_by_username(f"w{i}")}
    assert made == {f"w{i}" for i, code in enumerate(codes) if code == 200}  # a failed write did nothing
    assert create("after") == 200
    assert http.post("/_fake/fail-writes", json={"ratio": 2, "seconds": 1}).status_code == 400


def test_fail_writes_does_not_fail_logins(fake_rc: FakeServer, http: httpx.Client) -> None:
    fake_rc.faults.fail_writes(1.0, 30)
    try:
        r = http.post("/api/v1/login", json={"user": "nobody", "password": "x"})
        assert r.status_code != 500
    finally:
        fake_rc.faults.clear()
