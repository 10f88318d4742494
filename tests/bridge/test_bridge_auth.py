"""Login, TOTP, the 2FA challenge on users.update, re-login, and shared tokens — against the stand-in."""

from __future__ import annotations

import hashlib

import pyotp
import pytest

from bridge import AsyncRocketChat, AuthError, SessionLost, TransientError, TwoFactorError
from bridge.client import RocketChat
from bridge_support import ADMIN, ADMIN_PASSWORD, age_account, make_config, revoke_tokens
from fake_rocketchat.harness.testing import running_server

pytestmark = pytest.mark.anyio


async def test_totp_login(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        me = await rc.me()
        assert me.username == ADMIN and "admin" in me.roles
        assert rc.session.logins == 1
    logins = totp_server.request_log.entries(route="login")
    assert [e.status for e in logins] == [401, 200]  # totp-required, then the code


async def test_users_update_challenged_once_then_remembered(totp_server):
    target = totp_server.state.create_user("alice", password="alice-pw-1")
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        updated = await rc.update_user(target["_id"], name="Alice One")
        assert updated.name == "Alice One"
        await rc.update_user(target["_id"], name="Alice Two", status_text="hi")
        await rc.update_user(target["_id"], name="Alice Three")
    assert totp_server.state.find_user(target["_id"])["name"] == "Alice Three"
    calls = totp_server.request_log.entries(route="users.update")
    assert [e.status for e in calls] == [400, 200, 200, 200]
    assert calls[1].headers.get("x-2fa-method") == "totp"
    assert "x-2fa-method" not in calls[2].headers  # remembered: no code sent, none asked


async def test_password_fallback_when_account_has_no_totp():
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, compat=7) as srv:
        age_account(srv, ADMIN)
        target = srv.state.create_user("bob")
        async with AsyncRocketChat(make_config(srv, totp_secret=None)) as rc:
            await rc.update_user(target["_id"], name="Bob B")
        calls = srv.request_log.entries(route="users.update")
        assert [e.status for e in calls] == [400, 200]
        assert calls[1].headers["x-2fa-method"] == "password"
        assert srv.state.find_user(target["_id"])["name"] == "Bob B"


async def test_wrong_totp_secret_fails_clearly_without_looping(totp_server):
    wrong = pyotp.random_base32()
    async with AsyncRocketChat(make_config(totp_server, totp_secret=wrong)) as rc:
        with pytest.raises(TwoFactorError) as info:
            await rc.me()
    assert ADMIN in str(info.value)
    assert not isinstance(info.value, TransientError)  # retrying repeats the same refusal
    assert wrong not in str(info.value) and ADMIN_PASSWORD not in str(info.value)
    logins = totp_server.request_log.entries(route="login")
    assert len(logins) == 4  # the challenge plus three codes, then stop
    assert totp_server.request_log.count(route="me") == 0


@pytest.mark.parametrize("shift", [30, -30, 60, -60])
async def test_clock_skew(totp_server, shift):
    """±1 step is inside the server's window; ±2 steps is recovered by trying the neighbouring codes."""
    totp_server.faults.shift_clock(shift)
    target = totp_server.state.create_user("carol")
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.update_user(target["_id"], name="Carol C")
    assert totp_server.state.find_user(target["_id"])["name"] == "Carol C"
    login_statuses = [e.status for e in totp_server.request_log.entries(route="login")]
    assert login_statuses[-1] == 200 and len(login_statuses) <= 4


async def test_token_removed_server_side_triggers_one_relogin(totp_server):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.me()
        revoke_tokens(totp_server, ADMIN)
        me = await rc.me()
        assert me.username == ADMIN
        assert rc.session.logins == 2
    assert [e.status for e in totp_server.request_log.entries(route="me")] == [200, 401, 200]


async def test_a_token_refused_right_after_a_fresh_login_is_session_lost_and_transient(totp_server):
    """The second 401 comes for a token issued a moment ago: the server's trouble, not the credentials'."""
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.me()
        totp_server.faults.fail_next("me", count=2, status=401,
                                     body={"status": "error", "message": "You must be logged in to do this."})
        with pytest.raises(SessionLost) as info:
            await rc.me()
        assert rc.session.logins == 2
    assert isinstance(info.value, AuthError) and isinstance(info.value, TransientError)
    assert [e.status for e in totp_server.request_log.entries(route="me")] == [200, 401, 401]


async def test_refused_personal_token_is_a_clear_auth_error(totp_server):
    admin_id = totp_server.state.find_user_by_username(ADMIN)["_id"]
    cfg = make_config(totp_server, username=None, password=None, totp_secret=None, user_id=admin_id,
                      token="not-a-real-token-value")
    async with AsyncRocketChat(cfg) as rc:
        with pytest.raises(AuthError, match="personal access token"):
            await rc.me()
    assert totp_server.request_log.count(route="me") == 1
    assert totp_server.request_log.count(route="login") == 0


async def test_personal_access_token_with_bypass_needs_no_code_and_is_not_logged_out(totp_server):
    token = totp_server.state.create_personal_access_token(ADMIN, "rcsync", bypass_two_factor=True)
    admin_id = totp_server.state.find_user_by_username(ADMIN)["_id"]
    target = totp_server.state.create_user("dave")
    cfg = make_config(totp_server, username=None, password=None, totp_secret=None, user_id=admin_id, token=token,
                      token_bypasses_2fa=True)
    async with AsyncRocketChat(cfg) as rc:
        await rc.update_user(target["_id"], name="Dave D")
    assert [e.status for e in totp_server.request_log.entries(route="users.update")] == [200]
    assert totp_server.request_log.count(route="logout") == 0
    assert totp_server.state.authenticate(admin_id, token) is not None


async def test_logout_on_close(totp_server):
    before = totp_server.state.login_tokens_count(ADMIN)
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.me()
        assert totp_server.state.login_tokens_count(ADMIN) == before + 1
    assert totp_server.state.login_tokens_count(ADMIN) == before
    assert totp_server.request_log.count(route="logout") == 1


async def test_redis_shared_token_and_remembered_2fa_across_clients(totp_server, redis_url, key_prefix):
    target = totp_server.state.create_user("erin")
    cfg = make_config(totp_server, key_prefix=key_prefix)
    async with AsyncRocketChat(cfg, redis=redis_url) as first, AsyncRocketChat(cfg, redis=redis_url) as second:
        await first.update_user(target["_id"], name="Erin 1")
        await second.update_user(target["_id"], name="Erin 2")
        assert first.session.logins + second.session.logins == 1
    assert [e.status for e in totp_server.request_log.entries(route="login")] == [401, 200]
    assert [e.status for e in totp_server.request_log.entries(route="users.update")] == [400, 200, 200]
    # a shared token is not logged out by one worker closing
    assert totp_server.request_log.count(route="logout") == 0


async def test_redis_shared_token_concurrent_first_login(totp_server, redis_url, key_prefix):
    import asyncio

    cfg = make_config(totp_server, key_prefix=key_prefix)
    clients = [AsyncRocketChat(cfg, redis=redis_url) for _ in range(4)]
    try:
        await asyncio.gather(*(c.me() for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    assert totp_server.request_log.count(route="login", status=200) == 1


async def test_shared_token_refreshed_by_one_worker_is_picked_up_by_the_other(totp_server, redis_url, key_prefix):
    cfg = make_config(totp_server, key_prefix=key_prefix)
    async with AsyncRocketChat(cfg, redis=redis_url) as first, AsyncRocketChat(cfg, redis=redis_url) as second:
        await first.me()
        await second.me()
        revoke_tokens(totp_server, ADMIN)
        await first.me()  # re-logs in, stores the new token
        await second.me()  # 401 with the old token, then takes first's new token: no login of its own
        assert first.session.logins == 2 and second.session.logins == 0
    assert totp_server.request_log.count(route="login", status=200) == 2


def test_sync_facade_with_redis(totp_server, redis_url, key_prefix):
    target = totp_server.state.create_user("frank")
    cfg = make_config(totp_server, key_prefix=key_prefix)
    import redis

    sync_redis = redis.Redis.from_url(redis_url)
    with RocketChat(cfg, redis=sync_redis) as rc:
        assert rc.me().username == ADMIN
        assert rc.update_user(target["_id"], name="Frank F").name == "Frank F"
        assert [u.username for u in rc.iter_users(page_size=1)][:2] == sorted(totp_server.state.usernames())[:2]
    sync_redis.close()


def test_password_digest_matches_rocketchat():
    assert hashlib.sha256(ADMIN_PASSWORD.encode()).hexdigest() == __import__("bridge.twofactor").twofactor.password_digest(
        ADMIN_PASSWORD)


async def test_unreachable_redis_degrades_to_a_process_local_token_and_pacing(totp_server, caplog):
    target = totp_server.state.create_user("gwen")
    cfg = make_config(totp_server)
    async with AsyncRocketChat(cfg, redis="redis://127.0.0.1:1/0") as rc:
        await rc.update_user(target["_id"], name="Gwen G")
        await rc.me()
        assert rc.session.logins == 1
    assert totp_server.state.find_user(target["_id"])["name"] == "Gwen G"
    assert "Redis unreachable" in caplog.text


def test_sync_facade_survives_a_fork(totp_server):
    """Celery's prefork pool forks after the facade may exist: the child builds its own loop and client."""
    import multiprocessing

    cfg = make_config(totp_server)
    rc = RocketChat(cfg)
    try:
        assert rc.me().username == ADMIN
        ctx = multiprocessing.get_context("fork")
        parent_end, child_end = ctx.Pipe()

        def child() -> None:
            try:
                child_end.send(rc.me().username)
            except Exception as exc:  # report, do not hang the parent
                import traceback
                child_end.send(f"error: {type(exc).__name__}: {exc} {traceback.format_exc()}")

        proc = ctx.Process(target=child)
        proc.start()
        assert parent_end.poll(20), "the forked child did not answer"
        assert parent_end.recv() == ADMIN
        proc.join(10)
        assert rc.me().username == ADMIN  # the parent's client still works
    finally:
        rc.close()
