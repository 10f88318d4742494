"""Pure policies: back-off, retry classification, rate-limit windows, TOTP code choice, event parsing."""

import hashlib
from dataclasses import replace

import httpx
import pyotp
import pytest

from bridge.config import BridgeConfig
from bridge.errors import TwoFactorError
from bridge.events import MembershipChanged, RoleChanged, StreamEvent, UserDeleted, UserRenamed, parse_stream_frame
from bridge.pacing import RESET_MARGIN, Window, decide, observe, parse_rate_headers, penalize
from bridge.retry import RetryPolicy, classify_exception, classify_status, may_retry
from bridge.twofactor import SecondFactor, password_digest

SECRET = "JBSWY3DPEHPK3PXP"


# --- retry -------------------------------------------------------------------------------------

def test_backoff_is_capped_exponential_with_jitter():
    policy = RetryPolicy(max_retries=5, base=0.5, cap=4.0)
    assert [policy.delay(a, rand=lambda: 0.0) for a in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert [policy.delay(a, rand=lambda: 1.0) for a in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_unknown_outcome_is_not_blindly_retried_for_writes():
    request = httpx.Request("POST", "http://x/api/v1/users.create")
    assert classify_exception(httpx.ConnectError("refused", request=request)) == "not_sent"
    assert classify_exception(httpx.ReadTimeout("slow", request=request)) == "unknown"
    assert classify_status(503) == "not_sent" and classify_status(500) == "unknown"
    assert classify_status(504) == "unknown" and classify_status(200) is None
    assert may_retry("not_sent", idempotent=False)
    assert not may_retry("unknown", idempotent=False)
    assert may_retry("unknown", idempotent=True)


# --- pacing ------------------------------------------------------------------------------------

def test_rate_headers_parse():
    h = parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1700000000500"})
    assert (h.limit, h.remaining, h.reset_at) == (10, 3, 1700000000.5)
    assert parse_rate_headers({"x-ratelimit-limit": "10"}) is None
    assert parse_rate_headers({"X-RateLimit-Limit": "ten", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1"}) is None


def test_unknown_budget_allows_one_probe_at_a_time():
    wait, w = decide(Window(), now=100.0)
    assert wait == 0 and w.probe_until is not None
    wait2, _ = decide(w, now=100.001)
    assert wait2 > 0  # second caller waits for the probe's headers


def test_budget_is_spent_then_waits_for_reset():
    w = observe(Window(), parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "2",
                                              "X-RateLimit-Reset": "160000"}), now=100.0, success=True)
    assert (w.limit, w.remaining, w.reset_at) == (10, 2, 160.0)
    waits = []
    for _ in range(3):
        wait, w = decide(w, now=101.0)
        waits.append(wait)
    assert waits[:2] == [0, 0]
    assert waits[2] == pytest.approx(160.0 + RESET_MARGIN - 101.0)
    # after the reset the whole budget is back
    wait, w = decide(w, now=161.0)
    assert wait == 0 and w.remaining == 9 and w.reset_at is None


def test_in_flight_calls_are_not_forgotten_by_a_stale_header():
    w = Window(limit=10, remaining=5, reset_at=160.0)
    w = observe(w, parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "8",
                                       "X-RateLimit-Reset": "160000"}), now=100.0, success=True)
    assert w.remaining == 5  # the local count (calls in flight) is lower: keep it


def test_reply_from_old_window_is_ignored_and_newer_window_adopted():
    w = Window(limit=10, remaining=4, reset_at=160.0)
    old = parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "100000"})
    assert observe(w, old, now=150.0, success=True).remaining == 4
    new = parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "220000"})
    adopted = observe(w, new, now=161.0, success=True)
    assert (adopted.limit, adopted.remaining, adopted.reset_at) == (10, 9, 220.0)


def test_new_window_opened_early_counts_calls_still_in_flight():
    w = Window(limit=10, remaining=0, reset_at=160.0)
    for _ in range(3):  # three calls sent at the end of the window, still unanswered
        w = replace(w, remaining=1)
        _, w = decide(w, now=159.9)
    assert w.in_flight == 3
    early = parse_rate_headers({"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "160420"})
    w = observe(w, early, now=160.02, success=True)  # one of them opened the next window
    assert (w.remaining, w.reset_at, w.in_flight) == (7, 160.42, 2)


def test_stale_in_flight_calls_are_forgotten():
    w = Window(limit=10, remaining=5, reset_at=1000.0, in_flight=4, touched=100.0)
    _, w = decide(w, now=200.0)
    assert w.in_flight == 1


def test_route_without_headers_is_unlimited():
    w = observe(Window(), None, now=1.0, success=True)
    assert w.unlimited
    assert decide(w, now=2.0)[0] == 0
    assert not observe(Window(), None, now=1.0, success=False).unlimited


def test_429_blocks_until_retry_time():
    w = penalize(Window(), retry_at=130.0)
    wait, w = decide(w, now=100.0)
    assert wait == pytest.approx(30.0 + RESET_MARGIN)
    wait, w = decide(w, now=131.0)
    assert wait == 0  # probe after the reset


# --- two-factor --------------------------------------------------------------------------------

def _cfg(**kw):
    return BridgeConfig(url="http://x:1", username="svc", password="pw", **kw)


def test_totp_headers_and_boundary_retry_with_next_code():
    now = [1000 * 30 + 29.9]  # last instant of step 1000
    factor = SecondFactor(_cfg(totp_secret=SECRET), clock=lambda: now[0])
    totp = pyotp.TOTP(SECRET)
    first = factor.next_headers("totp-required", {"method": "totp"})
    assert first == {"x-2fa-code": totp.at(1000 * 30), "x-2fa-method": "totp"}
    now[0] += 0.2  # the step changed meanwhile: use the now-current code
    assert factor.next_headers("totp-invalid", {"method": "totp"})["x-2fa-code"] == totp.at(1001 * 30)
    # still rejected in the same step: try the next step's code
    assert factor.next_headers("totp-invalid", {"method": "totp"})["x-2fa-code"] == totp.at(1002 * 30)
    with pytest.raises(TwoFactorError, match="'svc'.*secret is wrong"):
        factor.next_headers("totp-invalid", {"method": "totp"})


def test_wrong_secret_stops_after_three_codes():
    factor = SecondFactor(_cfg(totp_secret=SECRET), clock=lambda: 30_000.0)
    codes = {factor.next_login_code("totp-required", {"method": "totp"})}
    codes.add(factor.next_login_code("totp-invalid", {}))
    codes.add(factor.next_login_code("totp-invalid", {}))
    assert len(codes) == 3
    with pytest.raises(TwoFactorError):
        factor.next_login_code("totp-invalid", {})


def test_password_fallback_sends_sha256_hex():
    factor = SecondFactor(_cfg())
    headers = factor.next_headers("totp-required", {"method": "password", "availableMethods": []})
    assert headers == {"x-2fa-code": hashlib.sha256(b"pw").hexdigest(), "x-2fa-method": "password"}
    assert password_digest("pw") == headers["x-2fa-code"]
    with pytest.raises(TwoFactorError, match="password digest was rejected"):
        factor.next_headers("totp-invalid", {"method": "password"})


def test_email_2fa_and_missing_secret_are_clear_errors():
    with pytest.raises(TwoFactorError, match="email 2FA"):
        SecondFactor(_cfg(totp_secret=SECRET)).next_headers("totp-required", {"method": "email"})
    with pytest.raises(TwoFactorError, match="no totp_secret"):
        SecondFactor(_cfg()).next_headers("totp-required", {"method": "totp"})
    with pytest.raises(TwoFactorError, match="login does not accept"):
        SecondFactor(_cfg()).next_login_code("totp-required", {"method": "password"})


def test_method_param_form():
    factor = SecondFactor(_cfg(totp_secret=SECRET), clock=lambda: 60.0)
    assert factor.next_method_param("totp-required", {"method": "totp"}) == {
        "twoFactorCode": pyotp.TOTP(SECRET).at(60), "twoFactorMethod": "totp"}


def test_two_factor_error_never_contains_secret():
    factor = SecondFactor(_cfg(totp_secret=SECRET), clock=lambda: 60.0)
    for _ in range(3):
        factor.next_headers("totp-invalid" if factor.tries else "totp-required", {"method": "totp"})
    with pytest.raises(TwoFactorError) as info:
        factor.next_headers("totp-invalid", {"method": "totp"})
    assert SECRET not in str(info.value) and "pw" not in str(info.value).split("svc")[0]


# --- events ------------------------------------------------------------------------------------

def _changed(stream, name, args):
    return {"msg": "changed", "collection": stream, "id": "id", "fields": {"eventName": name, "args": args}}


def test_parse_typed_events():
    assert parse_stream_frame(_changed("stream-notify-logged", "roles-change", [
        {"type": "added", "_id": "moderator", "u": {"_id": "u1", "username": "alice"}, "scope": "GENERAL"}])) == [
        RoleChanged("added", "moderator", "u1", "alice", "GENERAL")]
    assert parse_stream_frame(_changed("stream-notify-logged", "Users:NameChanged", [
        {"_id": "u1", "name": "Alice", "username": "alice2"}])) == [UserRenamed("u1", "alice2", "Alice")]
    assert parse_stream_frame(_changed("stream-notify-logged", "Users:Deleted", [
        {"userId": "u1", "messageErasureType": "Delete"}])) == [UserDeleted("u1", "Delete")]
    event, = parse_stream_frame(_changed("stream-room-messages", "GENERAL", [
        {"_id": "m1", "rid": "GENERAL", "t": "ru", "msg": "bob", "u": {"_id": "a1", "username": "admin"}}]))
    assert event == MembershipChanged("GENERAL", "ru", "bob", "a1", "admin", "m1") and event.action == "removed"
    other, = parse_stream_frame(_changed("stream-room-messages", "GENERAL", [{"_id": "m2", "msg": "hi"}]))
    assert isinstance(other, StreamEvent)
    assert parse_stream_frame({"msg": "added", "collection": "users"}) == []
