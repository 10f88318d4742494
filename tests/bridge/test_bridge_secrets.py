"""No secret in any captured log line, repr or exception text — with the real secrets known to the test."""

from __future__ import annotations

import hashlib
import logging

import pyotp
import pytest

from bridge import AsyncRocketChat, RocketChatError
from bridge.client import RocketChat
from bridge.ddp import RealtimeClient
from bridge_support import ADMIN, ADMIN_PASSWORD, TOTP_SECRET, make_config, revoke_tokens
from fake_rocketchat.harness.testing import running_server

pytestmark = pytest.mark.anyio


def _assert_clean(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({len(secret)} chars) leaked"


async def test_no_secret_in_logs_reprs_or_errors(totp_server, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = [ADMIN_PASSWORD, TOTP_SECRET, hashlib.sha256(ADMIN_PASSWORD.encode()).hexdigest()]
    target = totp_server.state.create_user("lena")
    cfg = make_config(totp_server)
    texts: list[str] = [repr(cfg), str(cfg)]
    async with AsyncRocketChat(cfg) as rc:
        await rc.me()
        creds = await rc.session.credentials()
        secrets.append(creds.token.reveal())
        texts += [repr(rc), repr(creds), repr(rc.session.store)]
        await rc.update_user(target["_id"], name="Lena L", password=ADMIN_PASSWORD + "-new")
        secrets.append(ADMIN_PASSWORD + "-new")
        revoke_tokens(totp_server, ADMIN)
        await rc.me()  # re-login
        secrets.append((await rc.session.credentials()).token.reveal())
        for bad in (lambda: rc.user_info(username="nobody"),
                    lambda: rc.create_user("lena", "L", "x@example.org", ADMIN_PASSWORD),
                    lambda: rc.add_user_to_role("nope", "lena")):
            with pytest.raises(RocketChatError) as info:
                await bad()
            texts += [str(info.value), repr(info.value), repr(info.value.details)]
        async with RealtimeClient(cfg, rest=rc) as rt:
            await rt.watch_users()
            texts.append(repr(rt))
        async with RealtimeClient(cfg) as rt:  # password digest + TOTP login over DDP
            await rt.call("addUsersToRoom", {"rid": "GENERAL", "users": ["lena"]})
    wrong = pyotp.random_base32()
    secrets.append(wrong)
    async with AsyncRocketChat(make_config(totp_server, totp_secret=wrong)) as rc:
        with pytest.raises(RocketChatError) as info:
            await rc.me()
        texts += [str(info.value), repr(info.value)]
    records = caplog.records
    assert any(r.name.startswith("bridge") for r in records)
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in records)
    _assert_clean(logged + "\n" + "\n".join(texts), secrets)


def test_sync_facade_repr_and_logs_are_clean(caplog):
    caplog.set_level(logging.DEBUG)
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD) as srv:
        cfg = make_config(srv, totp_secret=None)
        with RocketChat(cfg) as rc:
            rc.me()
            token = rc.aio.session._current.token.reveal()
            texts = [repr(rc), repr(rc.aio), repr(rc.aio.session._current)]
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    _assert_clean(logged + "\n".join(texts), [ADMIN_PASSWORD, token])
