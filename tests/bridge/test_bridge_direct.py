"""Direct calls (bridge/direct.py): the blocking facade runs a single call in the caller's thread, on
httpx's blocking client, and still does everything the loop path does around it (2FA, re-login,
retries, 429 waits, pacing through Redis), against the stand-in over real HTTP."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bridge import direct
from bridge.client import RocketChat
from bridge.errors import NotFound, Unavailable
from bridge.observe import CallObserved
from bridge_support import ADMIN, make_config, revoke_tokens
from fake_rocketchat.harness.testing import running_server

class _HopCounter:
    """Counts everything handed to the facade's loop from another thread (`_LoopThread.run` and
    `direct.on_loop` both go through the loop's `call_soon_threadsafe`)."""

    def __init__(self, rc: RocketChat) -> None:
        self.hops = 0
        loop = rc._thread.loop
        real = loop.call_soon_threadsafe

        def call_soon_threadsafe(*args, **kwargs):
            self.hops += 1
            return real(*args, **kwargs)

        loop.call_soon_threadsafe = call_soon_threadsafe  # type: ignore[method-assign]


class _Threads:
    """An observer that records which thread each exchange was made from."""

    def __init__(self) -> None:
        self.idents: list[int] = []

    def __call__(self, event: CallObserved) -> None:
        self.idents.append(threading.get_ident())


def test_a_single_call_runs_in_the_callers_thread_and_takes_no_hop(totp_server):
    target = totp_server.state.create_user("dora")
    seen = _Threads()
    with RocketChat(make_config(totp_server), observer=seen) as rc:
        rc.login()  # the login itself goes through the loop (the token store lives there)
        counter = _HopCounter(rc)
        rc.user_info(user_id=target["_id"])
        rc.update_user(target["_id"], name="Dora")
        # The pacer (process-local here: no Redis) learns each new route on the loop: its probe, then
        # the reply that proves it unlimited (a 2FA challenge does not).
        assert counter.hops == 2 + 4
        counter.hops = 0
        seen.idents.clear()
        assert rc.user_info(user_id=target["_id"]).username == "dora"
        assert rc.update_user(target["_id"], name="Dora D").name == "Dora D"  # a 2FA-protected write
        assert counter.hops == 0
        assert set(seen.idents) == {threading.get_ident()}
        assert rc.aio.calls == totp_server.request_log.count()  # logins and 2FA repeats included


def test_logging_in_stores_the_token_in_redis_from_the_loop(totp_server, redis_url, key_prefix):
    """The token store (redis.asyncio) lives on the loop: a direct login awaits it there, and a second
    facade (another worker) takes the stored token instead of logging in."""
    cfg = make_config(totp_server, key_prefix=key_prefix)
    with RocketChat(cfg, redis=redis_url) as first, RocketChat(cfg, redis=redis_url) as second:
        first.login()
        assert second.me().username == ADMIN
        assert first.aio.session.logins == 1 and second.aio.session.logins == 0
    assert totp_server.request_log.count(route="login", status=200) == 1


def test_without_direct_calls_every_call_hops_to_the_loop(totp_server):
    target = totp_server.state.create_user("dora")
    seen = _Threads()
    with RocketChat(make_config(totp_server), observer=seen, direct=False) as rc:
        rc.login()
        counter = _HopCounter(rc)
        seen.idents.clear()
        assert rc.user_info(user_id=target["_id"]).username == "dora"
        assert counter.hops == 1 and threading.get_ident() not in seen.idents


def test_a_refused_token_logs_in_again_on_the_loop_and_the_call_goes_on(totp_server):
    target = totp_server.state.create_user("erin")
    with RocketChat(make_config(totp_server)) as rc:
        rc.me()
        revoke_tokens(totp_server, ADMIN)
        assert rc.update_user(target["_id"], name="Erin E").name == "Erin E"
        assert rc.aio.session.logins == 2 and rc.aio.session.refusals == 1
    assert totp_server.state.find_user(target["_id"])["name"] == "Erin E"


def test_a_server_error_is_retried_in_the_callers_thread(totp_server):
    target = totp_server.state.create_user("fay")
    with RocketChat(make_config(totp_server)) as rc:
        rc.me()
        totp_server.faults.fail_next("users.info", count=2, status=503)
        assert rc.user_info(user_id=target["_id"]).username == "fay"
    assert [e.status for e in totp_server.request_log.entries(route="users.info")] == [503, 503, 200]


def test_an_unreachable_server_ends_as_unavailable_after_the_retries(totp_server):
    with RocketChat(make_config(totp_server, max_retries=2)) as rc:
        rc.me()
        totp_server.faults.outage(30, mode="refuse")
        with pytest.raises(Unavailable, match="after 3 attempts"):
            rc.user_info(username="nobody")


def test_errors_map_as_on_the_loop(totp_server):
    with RocketChat(make_config(totp_server)) as rc:
        with pytest.raises(NotFound):
            rc.user_info(username="nobody-here")


def test_a_paced_account_waits_out_its_429s_and_shares_the_budget_through_redis(redis_url, key_prefix):
    """Pacing on (an account without api-bypass-rate-limit): the pacer's steps run on the loop thread,
    the exchanges in the callers' threads, and a burst from 6 threads stays within the limit."""
    with running_server(admin_username=ADMIN, admin_password="x-admin-pw-9", rate_limit=True) as srv:
        srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", 4)
        srv.state.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", 400)
        srv.state.create_user("paced-svc", password="paced-Svc-pw-31", roles=["user"])
        config = make_config(srv, username="paced-svc", password="paced-Svc-pw-31", totp_secret=None,
                             key_prefix=key_prefix, pacing=True, max_concurrency=8)
        with RocketChat(config, redis=redis_url) as rc:
            assert rc.aio.direct_enabled
            results: list[str] = []
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    for _ in range(3):
                        results.append(rc.user_info(username="paced-svc").username)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=work) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert not errors, errors
        assert results == ["paced-svc"] * 18
        statuses = [e.status for e in srv.request_log.entries(route="users.info")]
        assert statuses.count(200) == 18 and statuses.count(429) <= 1


def test_calls_from_many_threads_are_all_counted(totp_server):
    users = [totp_server.state.create_user(f"many{i}") for i in range(8)]
    with RocketChat(make_config(totp_server, max_concurrency=3)) as rc:
        rc.me()
        before = rc.aio.calls
        errors: list[BaseException] = []

        def work(uid: str) -> None:
            try:
                for _ in range(10):
                    rc.user_info(user_id=uid)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(u["_id"],)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert rc.aio.calls - before == 80 == totp_server.request_log.count(route="users.info")


class _LoopFuture:
    """What an event loop's future does when awaited: hands itself to the loop to be woken later."""

    def __await__(self):
        yield self


def test_a_coroutine_that_waits_on_the_loop_is_reported_not_hung():
    closed = []

    async def waits() -> None:
        try:
            await _LoopFuture()
        finally:
            closed.append(True)

    with pytest.raises(direct.DirectCallSuspended, match="needs an event loop"):
        direct.run(waits())
    assert closed == [True] and not direct.active()


def test_asyncio_calls_that_need_a_loop_fail_at_once():
    async def sleeps() -> None:
        await asyncio.sleep(0.01)

    with pytest.raises(RuntimeError, match="no running event loop"):
        direct.run(sleeps())
    assert not direct.active()


def test_pause_and_on_loop_outside_a_direct_call_are_plain_awaits():
    async def step(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def body() -> int:
        await direct.pause(0)
        return await direct.on_loop(None, step, 1)

    assert asyncio.run(body()) == 2


class _StickyBalancer:
    """A load balancer in front of the stand-in that pins a client with a cookie (as AWS ALB or HAProxy
    stickiness do): every reply sets it, and each request's Cookie header is recorded."""

    def __init__(self, upstream: str) -> None:
        import httpx

        self.cookies: list[str | None] = []
        self._upstream = httpx.AsyncClient(base_url=upstream)

    async def __call__(self, scope, receive, send) -> None:
        from starlette.requests import Request
        from starlette.responses import Response

        request = Request(scope, receive)
        self.cookies.append(request.headers.get("cookie"))
        headers = {k: v for k, v in request.headers.items() if k not in ("host", "cookie", "content-length")}
        reply = await self._upstream.request(request.method, request.url.path, params=request.query_params,
                                             content=await request.body(), headers=headers)
        out = Response(reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type"))
        out.set_cookie("lb", "node-1")
        await out(scope, receive, send)


def test_a_cookie_a_balancer_sets_is_sent_back_on_direct_calls(totp_server):
    """The direct exchange skips the cookie jar's parse only for replies that set no cookie (see
    `_Core._direct_exchange`): a sticky session's cookie still reaches every later call."""
    from fake_rocketchat.harness.server_thread import ServerThread

    balancer = _StickyBalancer(totp_server.url)
    front = ServerThread(balancer)
    front.start()
    try:
        target = totp_server.state.create_user("dora")
        with RocketChat(make_config(totp_server, url=f"http://127.0.0.1:{front.port}")) as rc:
            rc.login()
            rc.user_info(user_id=target["_id"])
            balancer.cookies.clear()
            for _ in range(3):
                assert rc.user_info(user_id=target["_id"]).username == "dora"  # direct calls
            assert rc.update_user(target["_id"], name="Dora").name == "Dora"
            assert balancer.cookies and set(balancer.cookies) == {"lb=node-1"}, balancer.cookies
    finally:
        front.stop()


def test_a_proxy_from_the_environment_is_recognised_for_the_servers_url(monkeypatch):
    """Where httpx would route through a proxy (HTTPS_PROXY, ...), direct calls take the client's own
    routing, not the lean exchange straight to the transport."""
    from bridge.rest import _proxied

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert not _proxied("https://chat.example.org")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.org:3128")
    assert _proxied("https://chat.example.org") and not _proxied("http://chat.example.org")
    monkeypatch.setenv("NO_PROXY", "chat.example.org")
    assert not _proxied("https://chat.example.org")
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example.org:3128")
    assert _proxied("http://other.example.org")


def test_httpx_logs_rcsyncs_requests_without_their_query_strings(totp_server, caplog):
    """httpx's INFO line per request carries the whole URL, and a lookup's query names the person: a
    worker at `-l INFO` whose site does not quiet httpx would log it. Requests to the server a client was
    made for are logged without their query (bridge/log_privacy.py); direct calls log no line at all
    (they skip `Client.send`, which writes it)."""
    import logging

    import httpx

    totp_server.state.create_user("dora", email="dora@example.org")
    elsewhere = totp_server.url.replace("127.0.0.1", "localhost")  # another origin, as far as URLs go
    with caplog.at_level(logging.INFO, logger="httpx"):
        with RocketChat(make_config(totp_server)) as rc:
            rc.login()
            assert rc.user_info(username="dora").username == "dora"  # a direct call
            assert "dora" in {u.username for u in rc.iter_users(page_size=1)}  # pages, on the loop
        httpx.get(f"{elsewhere}/_fake/requests", params={"route": "users.info"})
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    ours = [line for line in lines if line.split()[3].startswith(totp_server.url)]
    assert any("users.list" in line for line in ours), lines
    assert not any("?" in line or "dora" in line for line in ours), ours
    assert any("_fake/requests?route=users.info" in line for line in lines), lines  # not a client's server
