"""The pacer against the stand-in's real REST limiter (Meteor fixed windows per route and IP,
fake_rocketchat/rest/ratelimit.py): one client, and four clients in their own threads and event loops sharing
the budget through Redis. The limiter refuses every call over the limit of its window, so "no 429" means
"never more than the limit per window". Each test also shows the burst would overdraw without pacing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bridge import AsyncRocketChat
from bridge.pacing import LocalPacer
from bridge_support import ADMIN, make_config
from fake_rocketchat.harness.testing import FakeServer, running_server

LIMIT = 6
WINDOW_MS = 500
USER, PASSWORD = "paced-svc", "paced-Svc-pw-31"


@pytest.fixture
def limited() -> FakeServer:
    """Limiter on, LIMIT calls per WINDOW_MS per route; a service account without api-bypass-rate-limit."""
    with running_server(admin_username=ADMIN, admin_password="x-admin-pw-9", rate_limit=True) as srv:
        srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", LIMIT)
        srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", WINDOW_MS)
        srv.state.create_user(USER, password=PASSWORD, roles=["user"])
        yield srv


def _config(srv: FakeServer, **kw):
    return make_config(srv, username=USER, password=PASSWORD, totp_secret=None, max_concurrency=8, **kw)


async def _burst(config, calls: int, **client_kw) -> list[str]:
    async with AsyncRocketChat(config, **client_kw) as rc:
        users = await asyncio.gather(*(rc.user_info(username=USER) for _ in range(calls)))
    return [u.username for u in users]


def _in_threads(n: int, work) -> list:
    """Run `work(i)` (a coroutine factory) in n threads, each with its own event loop, all at once."""
    results: list = [None] * n
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = asyncio.run(work(i))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return results


def _statuses(srv: FakeServer) -> list[int]:
    return [e.status for e in srv.request_log.entries(route="users.info")]


def test_one_pacer_never_exceeds_the_limit_of_a_window(limited):
    calls = LIMIT * 5
    assert asyncio.run(_burst(_config(limited), calls)) == [USER] * calls
    assert _statuses(limited).count(429) == 0
    assert _statuses(limited).count(200) == calls


def test_without_the_pacer_the_same_burst_overdraws(limited):
    assert asyncio.run(_burst(_config(limited, pacing=False), LIMIT * 3)) == [USER] * (LIMIT * 3)
    assert _statuses(limited).count(429) > 0


def test_four_pacers_sharing_redis_never_exceed_the_limit_of_a_window(limited, redis_url, key_prefix):
    per_client = LIMIT * 2
    config = _config(limited, key_prefix=key_prefix)
    results = _in_threads(4, lambda i: _burst(config, per_client, redis=redis_url))
    assert results == [[USER] * per_client] * 4
    assert _statuses(limited).count(429) == 0
    assert _statuses(limited).count(200) == 4 * per_client


def test_four_pacers_each_pacing_alone_overdraw(limited):
    per_client = LIMIT * 2
    results = _in_threads(4, lambda i: _burst(_config(limited), per_client, pacer=LocalPacer()))
    assert results == [[USER] * per_client] * 4
    assert _statuses(limited).count(429) > 0  # four budgets of LIMIT in one window of LIMIT: sharing is needed


def _counting(pacer):
    """Count the pacer's shared (Redis) updates."""
    calls = []
    inner = pacer._shared_update

    async def counted(key, fn):
        calls.append(key)
        return await inner(key, fn)

    pacer._shared_update = counted
    return calls


def test_a_bypass_account_leaves_redis_alone_once_a_route_is_proven_unlimited(redis_url, key_prefix):
    with running_server(admin_username=ADMIN, admin_password="x-admin-pw-9", rate_limit=True) as srv:
        async def run() -> tuple[list[str], bool]:
            config = make_config(srv, password="x-admin-pw-9", totp_secret=None, key_prefix=key_prefix)
            async with AsyncRocketChat(config, redis=redis_url) as rc:
                calls = _counting(rc.pacer)
                await rc.user_info(username=ADMIN)  # learns "unlimited": a probe and its reply
                first = len([k for k in calls if k == "GET users.info"])
                await asyncio.gather(*(rc.user_info(username=ADMIN) for _ in range(20)))
                return [k for k in calls if k == "GET users.info"][first:], first > 0

        later, learned = asyncio.run(run())
    assert learned and later == []


def test_rate_headers_end_the_trust_in_an_unlimited_route(limited, redis_url, key_prefix):
    async def run() -> list[int]:
        async with AsyncRocketChat(_config(limited, key_prefix=key_prefix), redis=redis_url) as rc:
            pacer = rc.pacer
            await pacer.acquire("GET users.info", max_wait=1)
            await pacer.record("GET users.info", {}, success=True)  # as if the account had had the bypass
            assert pacer._trusted_unlimited("GET users.info")
            # ...and now it has lost it: the replies carry headers again and the budget is shared anew
            await asyncio.gather(*(rc.user_info(username=USER) for _ in range(LIMIT * 3)))
            assert not pacer._trusted_unlimited("GET users.info")
        return _statuses(limited)

    statuses = asyncio.run(run())
    assert statuses.count(200) == LIMIT * 3
    # Until the first reply at most max_concurrency (8) calls go unpaced: at most 8 - LIMIT refusals, then none.
    assert statuses.count(429) <= 8 - LIMIT
