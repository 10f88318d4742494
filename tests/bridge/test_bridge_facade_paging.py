"""The sync facade crosses to its loop thread once per page, not once per item, and still yields items."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from bridge.client import RocketChat
from bridge.errors import ServerError
from bridge_support import ADMIN, ADMIN_PASSWORD, age_account, make_config
from fake_rocketchat.harness.testing import running_server


@pytest.fixture
def server():
    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, admin_email="svc@example.org") as srv:
        age_account(srv, ADMIN)
        yield srv


class _HopCounter:
    """Counts `_LoopThread.run` calls (each one is a cross-thread hop) and passes them on unchanged."""

    def __init__(self, rc: RocketChat) -> None:
        self.hops = 0
        thread = rc._thread
        real = thread.run

        def run(coro, timeout=None):
            self.hops += 1
            return real(coro, timeout)

        thread.run = run  # type: ignore[method-assign]


def test_iterators_take_one_hop_per_page(server):
    for i in range(230):
        server.state.create_user(f"page{i:03d}")
    room = server.state.create_room("big", "c", owner=ADMIN, members=[f"page{i:03d}" for i in range(230)])
    with RocketChat(make_config(server)) as rc:
        rc.login()
        counter = _HopCounter(rc)
        names = [u.username for u in rc.iter_users(page_size=50)]
        assert names == sorted(server.state.usernames())  # 230 + admin + rocket.cat, username order
        # ceil(232 / 50) = 5 pages, plus the final aclose hop; per item it was 233.
        assert counter.hops == 5 + 1
        assert server.request_log.count(route="users.list") == 5
        counter.hops = 0
        members = [m.username for m in rc.iter_members(rc.room_info(room_id=room["_id"]), page_size=100)]
        assert members == sorted(server.state.room_members(room["_id"]), key=str.lower)
        # room_info runs in this thread (a direct call, bridge/direct.py): 3 pages and the aclose hop
        assert len(members) == 231 and counter.hops == 3 + 1


def test_stopping_early_fetches_no_further_page(server):
    for i in range(120):
        server.state.create_user(f"early{i:03d}")
    with RocketChat(make_config(server)) as rc:
        first = next(iter(rc.iter_users(page_size=100)))
        assert first.username == sorted(server.state.usernames())[0]
        assert server.request_log.count(route="users.list") == 1


def test_items_before_an_error_are_yielded_then_it_is_raised(server):
    """The edge here is the async generator (stands in for a listing that fails mid-page)."""

    async def listing() -> AsyncIterator[int]:
        for i in range(3):
            yield i
        raise ServerError("boom", route="users.list")

    with RocketChat(make_config(server)) as rc:
        got: list[int] = []
        with pytest.raises(ServerError, match="boom"):
            for item in rc._iterate(listing(), chunk=10):
                got.append(item)
        assert got == [0, 1, 2]
