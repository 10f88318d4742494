"""`prefetch=True` listings ask for the next page while the caller still works through this one, ask for
the same pages as without, and a caller that stops early leaves no read-ahead behind."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bridge import AsyncRocketChat
from bridge.client import RocketChat
from bridge_support import make_config, server_with_users

pytestmark = pytest.mark.anyio


@pytest.fixture
def server():
    with server_with_users("ahead", 250) as srv:
        yield srv


class _Watch(httpx.AsyncBaseTransport):
    """The real transport, setting an event when a users.list page at `offset` is asked for."""

    def __init__(self, offset: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.offset = str(offset)
        self.asked = asyncio.Event()
        self.offsets: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users.list"):
            self.offsets.append(request.url.params.get("offset"))
            if self.offsets[-1] == self.offset:
                self.asked.set()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_next_page_is_asked_for_while_the_caller_holds_the_first(server):
    watch = _Watch(offset=100)
    async with AsyncRocketChat(make_config(server), transport=watch) as rc:
        listing = rc.iter_users(page_size=100, prefetch=True)
        first = await listing.__anext__()  # the caller holds item 1 of page 1 and asks for nothing more
        # The next page's request left before page 1 was handed out (rest._until_sent), not later.
        assert watch.asked.is_set()
        rest = [u async for u in listing]
    names = [first.username] + [u.username for u in rest]
    assert names == sorted(server.state.usernames())  # 250 + admin + rocket.cat, each once, in order
    assert watch.offsets == ["0", "100", "200"]  # the pages a plain listing asks for, no more


def test_same_pages_with_and_without_prefetch_and_early_stop_cleans_up(server):
    with RocketChat(make_config(server)) as rc:
        rc.login()
        plain = [u.id for u in rc.iter_users(page_size=100)]
        server.request_log.clear()
        ahead = [u.id for u in rc.iter_users(page_size=100, prefetch=True)]
        assert ahead == plain and server.request_log.count(route="users.list") == 3
        server.request_log.clear()
        listing = rc.iter_users(page_size=100, prefetch=True)
        assert next(listing).id == plain[0]
        listing.close()  # stops early: the page read ahead is dropped, at most one more page was asked for
        assert server.request_log.count(route="users.list") <= 2
        loop_tasks = rc._run(_other_tasks())
        assert loop_tasks == []  # no read-ahead task left running on the loop
        assert [u.id for u in rc.iter_users(page_size=100)] == plain  # the client is still fine


async def _other_tasks() -> list[asyncio.Task]:
    me = asyncio.current_task()
    return [t for t in asyncio.all_tasks() if t is not me and not t.done()]
