"""The transport's optional observer (bridge/observe.py): one event per HTTP exchange, retries, 429s and
refused connections included; the events carry no secret; an observer that raises breaks nothing."""

from __future__ import annotations

import pytest

from bridge import AsyncRocketChat, CallObserved, Unavailable
from bridge.observe import route_label
from bridge_support import ADMIN, ADMIN_PASSWORD, TOTP_SECRET, make_config

pytestmark = pytest.mark.anyio


async def test_every_exchange_is_observed_with_its_route_status_and_latency(totp_server):
    seen: list[CallObserved] = []
    async with AsyncRocketChat(make_config(totp_server), observer=seen.append) as rc:
        await rc.me()
        totp_server.faults.fail_next("users.info", 2, 500)
        await rc.user_info(username=ADMIN)
    info = [(e.method, e.status) for e in seen if e.route == "users.info"]
    assert info == [("GET", 500), ("GET", 500), ("GET", 200)]
    assert any(e.route == "login" for e in seen)
    assert all(e.seconds >= 0 for e in seen)
    text = repr(seen)
    for secret in (ADMIN_PASSWORD, TOTP_SECRET):
        assert secret not in text


async def test_a_429_is_observed_before_the_retry(totp_server):
    seen: list[CallObserved] = []
    async with AsyncRocketChat(make_config(totp_server), observer=seen.append) as rc:
        await rc.me()
        totp_server.faults.fail_next("users.info", 1, 429)
        await rc.user_info(username=ADMIN)
    assert [e.status for e in seen if e.route == "users.info"] == [429, 200]


async def test_a_refused_connection_is_observed_without_a_status():
    seen: list[CallObserved] = []
    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, compat=7) as srv:
        config = make_config(srv, totp_secret=None, max_retries=1, backoff_base=0.01)
    async with AsyncRocketChat(config, observer=seen.append) as rc:  # the server has stopped
        with pytest.raises(Unavailable):
            await rc.me()
    assert seen and all(e.status is None and e.error for e in seen)


async def test_an_observer_that_raises_does_not_break_the_call(totp_server):
    def broken(event: CallObserved) -> None:
        raise RuntimeError("metrics are down")

    async with AsyncRocketChat(make_config(totp_server), observer=broken) as rc:
        assert (await rc.me()).username == ADMIN


def test_route_labels_stay_few() -> None:
    assert route_label("method.call/getUsersOfRoom") == "method.call"
    assert route_label("users.info") == "users.info"
