"""The DDP rate limiter over a real WebSocket (reference §6.2).

`apps/meteor/app/lib/server/startup/rateLimiter.js` rules, Meteor `rate-limit` counting,
accounts-base `addDefaultRateLimit` for `login`; errors as livedata_server.js sends them.
The limiter runs on the state's clock, so tests move the clock instead of sleeping.
"""

from __future__ import annotations

import pytest

from test_ddp_support import DDPTestClient, anyio_backend, ddp_server, limited_server  # noqa: F401

pytestmark = pytest.mark.anyio

PASSWORD = "rate-limited-pw"


def _assert_too_many(error: dict) -> None:
    assert error["isClientSafe"] is True and error["errorType"] == "Meteor.Error"
    assert error["error"] == "too-many-requests"
    seconds = error["reason"].split("You must wait ")[1].split(" seconds")[0]
    assert error["reason"] == f"Error, too many requests. Please slow down. You must wait {seconds} seconds before trying again."
    assert error["message"] == error["reason"] + " [too-many-requests]"
    assert 0 < error["details"]["timeToReset"] <= 60000


async def test_login_is_limited_to_five_per_ten_seconds_per_connection(limited_server) -> None:
    limited_server.state.create_user("lim", email="lim@example.org", password=PASSWORD)
    client = await DDPTestClient.open(limited_server.ws_url)
    answers = [await client.login_password("lim", "wrong") for _ in range(6)]
    assert [a["error"]["error"] for a in answers[:5]] == [403] * 5
    _assert_too_many(answers[5]["error"])
    # the limit is per connection: a new one may log in at once
    other = await DDPTestClient.open(limited_server.ws_url)
    assert "result" in await other.login_password("lim", PASSWORD)
    # moving the server clock past the window lifts it
    limited_server.state.clock.shift(61)
    assert "result" in await client.login_password("lim", PASSWORD)
    await client.close()
    await other.close()


async def test_method_limit_per_connection_and_method(limited_server) -> None:
    client = await DDPTestClient.open(limited_server.ws_url)
    results = [await client.call("logout") for _ in range(11)]
    assert all("error" not in r for r in results[:10])
    _assert_too_many(results[10]["error"])
    # the refused call still gets its `updated`
    other_method = await client.call("login", {"resume": "nope"})
    assert other_method["error"]["error"] == 403
    await client.close()


async def test_unknown_methods_are_not_counted(limited_server) -> None:
    client = await DDPTestClient.open(limited_server.ws_url)
    for _ in range(15):
        assert (await client.call("no.such"))["error"]["error"] == 404
    await client.close()


async def test_stream_subscriptions_allow_forty_then_nosub_too_many_requests(limited_server) -> None:
    limited_server.state.create_user("streamer", email="streamer@example.org", password=PASSWORD)
    client = await DDPTestClient.open(limited_server.ws_url)
    assert "result" in await client.login_password("streamer", PASSWORD)
    answers = [await client.sub("stream-notify-logged", f"event-{i}", False) for i in range(41)]
    assert [a["msg"] for a in answers[:40]] == ["ready"] * 40
    assert answers[40]["msg"] == "nosub"
    _assert_too_many(answers[40]["error"])
    await client.close()


async def test_rate_limit_settings_are_honoured(limited_server) -> None:
    limited_server.state.set_setting("DDP_Rate_Limit_Connection_By_Method_Enabled", False)
    client = await DDPTestClient.open(limited_server.ws_url)
    results = [await client.call("logout") for _ in range(15)]
    assert all("error" not in r for r in results)
    await client.close()


async def test_rate_limit_off_switch_covers_ddp_too(ddp_server) -> None:
    # running_server(rate_limit=False) / `--rate-limit off`: neither REST nor DDP limits.
    client = await DDPTestClient.open(ddp_server.ws_url)
    results = [await client.call("logout") for _ in range(12)]
    assert all("error" not in r for r in results)
    await client.close()
