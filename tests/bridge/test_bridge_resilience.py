"""Retries, timeouts, unknown outcomes and rate limits — against the stand-in's fault injection."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from bridge import AsyncRocketChat, OutcomeUnknown, RateLimited, Unavailable
from bridge_support import ADMIN, make_config
from fake_rocketchat.harness.testing import running_server

pytestmark = pytest.mark.anyio

PACED_USER = "paced-bot"
PACED_PASSWORD = "paced-Pw-77"


async def test_5xx_on_reads_are_retried(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.me()
        totp_server.faults.fail_next("users.info", 2, 500)
        user = await rc.user_info(username=ADMIN)
        assert user.username == ADMIN
    assert [e.status for e in totp_server.request_log.entries(route="users.info")] == [500, 500, 200]


async def test_5xx_retries_are_capped(totp_server):
    async with AsyncRocketChat(make_config(totp_server, max_retries=2)) as rc:
        await rc.me()
        totp_server.faults.fail_next("users.info", 5, 503)
        with pytest.raises(Unavailable):
            await rc.user_info(username=ADMIN)
    assert totp_server.request_log.count(route="users.info") == 3


async def test_503_on_a_write_is_retried_because_it_was_not_processed(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        totp_server.faults.fail_next("users.create", 1, 503)
        user = await rc.create_user("gina", "Gina", "gina@example.org", "gina-Pw-1")
    assert totp_server.state.find_user_by_username("gina")["_id"] == user.id
    assert [e.status for e in totp_server.request_log.entries(route="users.create")] == [503, 200]


async def test_read_timeout_is_retried(totp_server):
    async with AsyncRocketChat(make_config(totp_server, timeout=0.3)) as rc:
        await rc.me()
        totp_server.faults.set_latency(800, route="users.info")
        threading.Timer(0.15, totp_server.faults.set_latency, args=(0,), kwargs={"route": "users.info"}).start()
        sent_before = rc.calls
        user = await rc.user_info(username=ADMIN)
        assert rc.calls - sent_before == 2  # the timed-out request and its retry
    assert user.username == ADMIN
    # the slow first request is logged by the stand-in only when its latency is over


async def test_connection_refused_is_retried_until_the_server_is_back(totp_server):
    async with AsyncRocketChat(make_config(totp_server, backoff_base=0.2, backoff_cap=1.0, max_retries=6)) as rc:
        await rc.me()
        totp_server.faults.outage(0.6, mode="refuse")
        user = await rc.user_info(username=ADMIN)
    assert user.username == ADMIN


class LoseReplies(httpx.AsyncHTTPTransport):
    """The network edge: deliver the request to the real server, then lose its reply (a read timeout)
    for the first `count` requests of `route` — the write is applied, the client never hears of it."""

    def __init__(self, route: str, count: int = 1) -> None:
        super().__init__()
        self.route, self.count = route, count

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path.endswith("/" + self.route) and self.count > 0:
            self.count -= 1
            await response.aclose()
            raise httpx.ReadTimeout("reply lost", request=request)
        return response


async def test_users_create_reply_lost_does_not_create_twice(totp_server):
    """users.create was applied but its reply lost: the client looks the username up instead of
    sending users.create again (which would fail with 'already in use' or, worse, duplicate)."""
    async with AsyncRocketChat(make_config(totp_server), transport=LoseReplies("users.create")) as rc:
        user = await rc.create_user("hank", "Hank", "hank@example.org", "hank-Pw-1")
    assert totp_server.request_log.count(route="users.create") == 1
    assert totp_server.state.find_user_by_username("hank")["_id"] == user.id


async def test_users_create_timeout_before_applied_creates_exactly_once(totp_server):
    """The stand-in's latency fault delays before the request is read, so the timed-out create is never
    applied: the lookup finds nobody and one more users.create is sent."""
    async with AsyncRocketChat(make_config(totp_server, timeout=0.3)) as rc:
        await rc.me()
        totp_server.faults.set_latency(600, route="users.create")
        threading.Timer(0.15, totp_server.faults.set_latency, args=(0,), kwargs={"route": "users.create"}).start()
        user = await rc.create_user("hal", "Hal", "hal@example.org", "hal-Pw-1")
    assert totp_server.state.find_user_by_username("hal")["_id"] == user.id
    assert totp_server.request_log.count(route="users.create", status=200) == 1


async def test_idempotent_write_repeated_after_lost_reply_counts_already_done_as_success(totp_server):
    totp_server.state.create_user("kim")
    async with AsyncRocketChat(make_config(totp_server), transport=LoseReplies("roles.addUserToRole")) as rc:
        await rc.add_user_to_role("bot", "kim")
    assert "bot" in totp_server.state.user_roles("kim")
    assert totp_server.request_log.count(route="roles.addUserToRole") == 2


async def test_users_create_unknown_outcome_and_absent_user_is_created_once_more(totp_server):
    """504: unknown outcome; the lookup finds nobody, so one more users.create is sent."""
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        totp_server.faults.fail_next("users.create", 1, 504)
        user = await rc.create_user("ivy", "Ivy", "ivy@example.org", "ivy-Pw-1")
    assert [e.status for e in totp_server.request_log.entries(route="users.create")] == [504, 200]
    assert totp_server.state.find_user_by_username("ivy")["_id"] == user.id


async def test_unknown_outcome_twice_surfaces(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        totp_server.faults.fail_next("users.create", 2, 500)
        with pytest.raises(OutcomeUnknown):
            await rc.create_user("jack", "Jack", "jack@example.org", "jack-Pw-1")
    assert totp_server.request_log.count(route="users.create") == 2


# --- rate limits -------------------------------------------------------------------------------

LIMIT = 10
WINDOW_MS = 400


def _limited_server():
    srv_cm = running_server(admin_username=ADMIN, admin_password="x-admin-pw-9", rate_limit=True, compat=7)
    return srv_cm


def _prepare_limited(srv) -> None:
    srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", LIMIT)
    srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", WINDOW_MS)
    # A plain user: no api-bypass-rate-limit (admin, bot and app have it).
    srv.state.create_user(PACED_USER, password=PACED_PASSWORD, roles=["user"])


def _paced_config(srv, **kw):
    return make_config(srv, username=PACED_USER, password=PACED_PASSWORD, totp_secret=None, **kw)


@pytest.mark.slow
async def test_pacing_keeps_429s_under_one_percent():
    calls = 150
    with _limited_server() as srv:
        _prepare_limited(srv)
        async with AsyncRocketChat(_paced_config(srv, max_concurrency=8)) as rc:
            started = time.monotonic()
            users = await asyncio.gather(*(rc.user_info(username=PACED_USER) for _ in range(calls)))
            elapsed = time.monotonic() - started
        assert all(u.username == PACED_USER for u in users)
        log = srv.request_log.entries(route="users.info")
        too_many = sum(1 for e in log if e.status == 429)
        assert too_many / len(log) < 0.01, f"{too_many} 429s in {len(log)} calls"
        # it really was limited: 150 calls at 10 per 0.4 s cannot finish in under ~5.6 s
        assert elapsed >= (calls / LIMIT - 1) * WINDOW_MS / 1000 * 0.9
        assert "x-ratelimit-limit" not in {k.lower() for k in log[0].headers}  # (request headers only)


async def test_without_pacing_429s_happen_and_are_waited_out():
    with _limited_server() as srv:
        _prepare_limited(srv)
        async with AsyncRocketChat(_paced_config(srv, pacing=False, max_concurrency=8)) as rc:
            users = await asyncio.gather(*(rc.user_info(username=PACED_USER) for _ in range(25)))
        assert len(users) == 25
        assert srv.request_log.count(route="users.info", status=429) > 0
        assert srv.request_log.count(route="users.info", status=200) == 25


async def test_rate_limit_wait_longer_than_allowed_raises_rate_limited():
    with _limited_server() as srv:
        _prepare_limited(srv)
        srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", 60_000)
        async with AsyncRocketChat(_paced_config(srv, max_rate_limit_wait=1.0)) as rc:
            for _ in range(LIMIT):
                await rc.user_info(username=PACED_USER)
            with pytest.raises(RateLimited) as info:
                await rc.user_info(username=PACED_USER)
        assert info.value.retry_at > time.time() + 30


@pytest.mark.slow
async def test_pacing_shared_through_redis_by_two_clients(redis_url, key_prefix):
    calls = 60
    with _limited_server() as srv:
        _prepare_limited(srv)
        cfg = _paced_config(srv, key_prefix=key_prefix, max_concurrency=6)
        async with AsyncRocketChat(cfg, redis=redis_url) as one, AsyncRocketChat(cfg, redis=redis_url) as two:
            await asyncio.gather(*(c.user_info(username=PACED_USER) for c in (one, two) for _ in range(calls)))
        log = srv.request_log.entries(route="users.info")
        assert len([e for e in log if e.status == 200]) == 2 * calls
        assert sum(1 for e in log if e.status == 429) / len(log) < 0.01


async def test_bypass_account_is_never_paced(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await asyncio.gather(*(rc.user_info(username=ADMIN) for _ in range(30)))
        window = rc.pacer.window("GET users.info")
    assert window.unlimited
