"""Unit tests of the DDP building blocks that need no socket: framing, limiter, stream rules.

The integration tests (test_ddp_*.py) drive the same rules over a real WebSocket.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fake_rocketchat.realtime.protocol import (
    ProtocolError,
    ejson_dumps,
    ejson_loads,
    error_for_client,
    meteor_error,
    negotiate_version,
    parse_client_frame,
    result_frame,
    validate_method,
    validate_sub,
)
from fake_rocketchat.realtime.ratelimit import DDPRateLimiter, LimitInput, too_many_requests
from fake_rocketchat.realtime.streams import (
    SubscribeRefused,
    deliveries,
    dropped_by,
    parse_stream_params,
    subscribe,
)


class MeteorError(Exception):
    """Stands for any Meteor.Error-like exception (duck-typed by error_for_client)."""

    def __init__(self, error, reason="", details=None):
        super().__init__(error)
        self.error, self.reason, self.details = error, reason, details


# ---------------------------------------------------------------- EJSON and frames (ddp-common, ejson)


def test_ejson_dates_are_epoch_ms_both_ways() -> None:
    when = datetime(2024, 10, 15, 12, 0, 0, 123000, tzinfo=timezone.utc)
    text = ejson_dumps({"tokenExpires": when, "n": [when]})
    assert text == '{"tokenExpires":{"$date":1728993600123},"n":[{"$date":1728993600123}]}'
    assert ejson_loads(text)["tokenExpires"] == when


def test_parse_error_and_bad_request_reasons_match_livedata_server() -> None:
    with pytest.raises(ProtocolError) as bad_json:
        parse_client_frame("{nope")
    assert bad_json.value.frame() == {"msg": "error", "reason": "Parse error"}
    with pytest.raises(ProtocolError) as no_msg:
        parse_client_frame('{"id":"1"}')
    assert no_msg.value.frame() == {"msg": "error", "reason": "Bad request", "offendingMessage": {"id": "1"}}


@pytest.mark.parametrize(
    ("connect", "expected"),
    [
        ({"version": "1", "support": ["1", "pre2", "pre1"]}, ("1", None)),
        ({"version": "pre2", "support": ["pre2", "pre1"]}, ("pre2", None)),
        # proposes a version it does not list -> failed with the server's best
        ({"version": "1", "support": ["pre2"]}, (None, {"msg": "failed", "version": "1"})),
        # proposes a worse version than the best common one -> told which one to use
        ({"version": "pre1", "support": ["1", "pre1"]}, (None, {"msg": "failed", "version": "1"})),
        ({"version": "2", "support": ["2"]}, (None, {"msg": "failed", "version": "1"})),
        ({}, (None, {"msg": "failed", "version": "1"})),
    ],
)
def test_version_negotiation_like_handleConnect(connect, expected) -> None:
    assert negotiate_version({"msg": "connect", **connect}) == expected


def test_malformed_method_and_sub_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="Malformed method invocation"):
        validate_method({"msg": "method", "id": 1, "method": "x"})
    with pytest.raises(ProtocolError, match="Malformed method invocation"):
        validate_method({"msg": "method", "id": "1", "method": "x", "params": {}})
    with pytest.raises(ProtocolError, match="Malformed subscription"):
        validate_sub({"msg": "sub", "id": "1"})
    validate_method({"msg": "method", "id": "1", "method": "x", "params": [], "randomSeed": "abc"})


def test_meteor_error_shape_omits_undefined_reason_and_details() -> None:
    assert meteor_error("not-allowed") == {
        "isClientSafe": True,
        "error": "not-allowed",
        "message": "[not-allowed]",
        "errorType": "Meteor.Error",
    }
    assert error_for_client(MeteorError("error-x", "Bad thing", {"method": "m"})) == {
        "isClientSafe": True,
        "error": "error-x",
        "reason": "Bad thing",
        "details": {"method": "m"},
        "message": "Bad thing [error-x]",
        "errorType": "Meteor.Error",
    }


def test_non_meteor_exceptions_are_masked_and_leak_nothing() -> None:
    err = error_for_client(KeyError("secret-token-value"))
    assert err == meteor_error(500, "Internal server error")
    assert "secret" not in ejson_dumps(err)


def test_result_is_omitted_when_the_method_returns_nothing() -> None:
    assert result_frame("1", None) == {"msg": "result", "id": "1"}
    assert result_frame("1", False) == {"msg": "result", "id": "1", "result": False}


# ---------------------------------------------------------------- rate limiter (rate-limit.js, rateLimiter.js)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def ms(self) -> float:
        return self.now


def _limiter(clock: FakeClock, **settings) -> DDPRateLimiter:
    return DDPRateLimiter(clock.ms, lambda key: settings.get(key))


def test_connection_by_method_allows_10_per_10s_then_refuses_with_time_to_reset() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, DDP_Rate_Limit_Connection_Enabled=False)
    call = LimitInput("method", "addUsersToRoom", "conn1", None, "127.0.0.1")
    assert all(limiter.hit(call).allowed for _ in range(10))
    clock.now += 4000
    refused = limiter.hit(call)
    assert not refused.allowed
    assert refused.time_to_reset == 6000
    error = too_many_requests(refused)
    assert error == {
        "isClientSafe": True,
        "error": "too-many-requests",
        "reason": "Error, too many requests. Please slow down. You must wait 6 seconds before trying again.",
        "details": {"timeToReset": 6000},
        "message": "Error, too many requests. Please slow down. You must wait 6 seconds before trying again. [too-many-requests]",
        "errorType": "Meteor.Error",
    }
    # other methods and other connections have their own counters
    assert limiter.hit(LimitInput("method", "other", "conn1")).allowed
    assert limiter.hit(LimitInput("method", "addUsersToRoom", "conn2")).allowed
    # the rule's fixed window ends 10 s after its last reset
    clock.now += 6001
    assert limiter.hit(call).allowed


def test_user_by_method_counts_across_connections() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    results = [limiter.hit(LimitInput("method", "m", f"c{i}", "uid1")).allowed for i in range(21)]
    assert results == [True] * 20 + [False]


def test_stream_subscriptions_get_four_times_the_allowance() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    sub = LimitInput("subscription", "stream-notify-logged", "c1")
    results = [limiter.hit(sub).allowed for _ in range(41)]
    assert results == [True] * 40 + [False]


def test_time_to_reset_comes_from_the_first_allowing_rule_like_meteor_check() -> None:
    # rate-limit.js `check`: the Connection rule (600/60 s) is met first and still allows, so
    # its window sets timeToReset; the refusing By_Method rule only raises it (max).
    clock = FakeClock()
    limiter = _limiter(clock)
    call = LimitInput("method", "m", "c1", None, "127.0.0.1")
    for _ in range(10):
        limiter.hit(call)
    clock.now += 4000
    refused = limiter.hit(call)
    assert (refused.allowed, refused.time_to_reset) == (False, 56000)


def test_login_is_limited_to_5_per_10s_per_connection() -> None:
    clock = FakeClock()
    limiter = _limiter(clock)
    results = [limiter.hit(LimitInput("method", "login", "c1")).allowed for _ in range(6)]
    assert results == [True] * 5 + [False]


def test_disabled_rules_and_switch() -> None:
    clock = FakeClock()
    limiter = _limiter(clock, DDP_Rate_Limit_Connection_By_Method_Enabled=False)
    assert all(limiter.hit(LimitInput("method", "m", "c1")).allowed for _ in range(15))
    off = DDPRateLimiter(clock.ms, lambda key: None, enabled=lambda: False)
    assert all(off.hit(LimitInput("method", "login", "c1")).allowed for _ in range(50))


# ---------------------------------------------------------------- stream rules (streamer.module.ts, notifications.module.ts)


class FakeAccess:
    def __init__(self) -> None:
        self.rooms = {"GENERAL": "c", "priv": "p"}
        self.members = {("priv", "alice")}
        self.perms = {("alice", "view-c-room"), ("bob", "view-c-room"), ("bob", "preview-c-room")}

    def room_type(self, rid):
        return self.rooms.get(rid)

    def is_subscribed(self, rid, uid):
        return (rid, uid) in self.members

    def has_permission(self, uid, permission):
        return (uid, permission) in self.perms

    def can_access_room(self, rid, uid):
        t = self.rooms.get(rid)
        if t == "c" and self.has_permission(uid, "view-c-room"):
            return True
        return self.is_subscribed(rid, uid)


def _refusal(access, uid, stream, params):
    with pytest.raises(SubscribeRefused) as refused:
        subscribe(access, uid, "s1", stream, params)
    return refused.value.error["error"]


def test_stream_params_accept_options_object_and_legacy_boolean() -> None:
    assert parse_stream_params(["e", {"useCollection": False, "args": []}]) == ("e", False, [])
    assert parse_stream_params(["e", True]) == ("e", True, [])
    assert parse_stream_params(["e"]) == ("e", False, [])


def test_notify_logged_and_roles_need_a_login() -> None:
    access = FakeAccess()
    assert _refusal(access, None, "stream-notify-logged", ["roles-change", False]) == "not-allowed"
    assert _refusal(access, None, "stream-roles", ["roles", False]) == "not-allowed"
    assert subscribe(access, "alice", "s1", "stream-notify-logged", ["roles-change", False]).event_name == "roles-change"


def test_notify_user_accepts_only_the_own_uid() -> None:
    access = FakeAccess()
    assert subscribe(access, "alice", "s1", "stream-notify-user", ["alice/subscriptions-changed", False])
    assert _refusal(access, "alice", "stream-notify-user", ["bob/subscriptions-changed", False]) == "not-allowed"


def test_empty_event_name_is_invalid() -> None:
    assert _refusal(FakeAccess(), "alice", "stream-notify-logged", ["", False]) == "invalid-event-name"


def test_room_messages_need_room_access_or_public_preview() -> None:
    access = FakeAccess()
    assert subscribe(access, "alice", "s1", "stream-room-messages", ["priv", False])
    assert _refusal(access, "bob", "stream-room-messages", ["priv", False]) == "not-allowed"
    assert _refusal(access, "alice", "stream-room-messages", ["nosuchroom", False]) == "not-allowed"
    assert subscribe(access, "bob", "s1", "stream-room-messages", ["GENERAL", False])


def test_events_reach_only_subscriptions_of_that_exact_event_name() -> None:
    access = FakeAccess()
    subs = [
        subscribe(access, "alice", "s1", "stream-notify-logged", ["roles-change", False]),
        subscribe(access, "alice", "s2", "stream-notify-logged", ["Users:Deleted", False]),
    ]
    args = [{"type": "added", "_id": "admin", "u": {"_id": "u1", "username": "x"}}]
    assert deliveries(access, "alice", subs, "stream-notify-logged", "roles-change", args) == [
        {"msg": "changed", "collection": "stream-notify-logged", "id": "id", "fields": {"eventName": "roles-change", "args": args}}
    ]
    assert deliveries(access, "alice", subs, "stream-notify-logged", "user-status", [[1]]) == []
    assert deliveries(access, "alice", subs, "stream-roles", "roles-change", args) == []


def test_my_messages_carries_messages_of_accessible_rooms_only() -> None:
    access = FakeAccess()
    subs = [subscribe(access, "bob", "s1", "stream-room-messages", ["__my_messages__", False])]
    public = [{"_id": "m1", "rid": "GENERAL", "t": "au"}]
    private = [{"_id": "m2", "rid": "priv", "t": "au"}]
    assert len(deliveries(access, "bob", subs, "stream-room-messages", "GENERAL", public)) == 1
    assert deliveries(access, "bob", subs, "stream-room-messages", "priv", private) == []


def test_removal_of_own_subscription_drops_that_room_stream() -> None:
    access = FakeAccess()
    subs = [subscribe(access, "alice", "s1", "stream-room-messages", ["priv", False])]
    removed = ["removed", {"_id": "x", "rid": "priv", "u": {"_id": "alice"}, "t": "p"}]
    assert dropped_by("alice", subs, "stream-notify-user", "alice/subscriptions-changed", removed) == ["s1"]
    assert dropped_by("bob", subs, "stream-notify-user", "alice/subscriptions-changed", removed) == []


def test_settings_change_reconfigures_the_rules_with_fresh_counters() -> None:
    clock = FakeClock()
    settings = {}
    limiter = DDPRateLimiter(clock.ms, lambda key: settings.get(key))
    call = LimitInput("method", "m", "c1")
    assert [limiter.hit(call).allowed for _ in range(11)][-1] is False
    settings["DDP_Rate_Limit_Connection_By_Method_Requests_Allowed"] = 3
    assert [limiter.hit(call).allowed for _ in range(4)] == [True, True, True, False]
