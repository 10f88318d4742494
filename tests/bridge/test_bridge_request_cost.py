"""What one REST request costs the bridge's event loop, counted rather than timed (issue 13: a sync's CPU).

httpx parses the request URL and merges it with the base URL on every request when it is given a relative
path; the client merges each route once (AsyncRocketChat._url) and hands httpx the absolute URL, which it
takes without parsing. Against the stand-in over HTTP; a base URL with a path (Rocket.Chat behind
``/chat``) is checked with a recording transport.
"""

from __future__ import annotations

import httpx
import pytest

import httpx._urls as httpx_urls
from bridge import AsyncRocketChat
from bridge_support import ADMIN, make_config

pytestmark = pytest.mark.anyio


class CountParses:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        real = httpx_urls.urlparse

        def counting(*args, **kwargs):
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(httpx_urls, "urlparse", counting)


async def test_a_write_parses_no_url_once_its_route_was_seen(totp_server, monkeypatch):
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        me = await rc.me()
        await rc.update_user(me.id, name="Service 0")  # the route's URL is merged here, once
        parses = CountParses(monkeypatch)
        for n in range(1, 4):
            await rc.update_user(me.id, name=f"Service {n}")
        assert parses.count == 0
    assert totp_server.state.find_user_by_username(ADMIN)["name"] == "Service 3"
    assert [e.status for e in totp_server.request_log.entries(route="users.update")][-3:] == [200, 200, 200]


async def test_a_read_with_parameters_parses_no_url_either(totp_server, monkeypatch):
    """A GET's query is merged into the cached URL's parts, without parsing a URL."""
    async with AsyncRocketChat(make_config(totp_server)) as rc:
        await rc.user_info(username=ADMIN)
        parses = CountParses(monkeypatch)
        user = await rc.user_info(username=ADMIN)
        assert user.username == ADMIN and parses.count == 0


async def test_a_base_url_with_a_path_keeps_it():
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"success": True, "user": {"_id": "u1", "username": "svc"}})

    config = make_config(None, url="http://rc.example.org/chat", token="t0ken", user_id="u1", totp_secret=None,
                         password=None, redis_url=None)
    async with AsyncRocketChat(config, transport=httpx.MockTransport(answer)) as rc:
        for _ in range(2):
            await rc.user_info(username="svc")
    assert seen == ["http://rc.example.org/chat/api/v1/users.info?username=svc"] * 2
