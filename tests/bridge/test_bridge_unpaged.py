"""`unpaged=True` listings: one `count=0` request decoded as it arrives (bridge.jsonstream), the same
items as paging; with `API_Allow_Infinite_Count` off the stand-in answers a default-sized page, and the
rest is paged from there (apps/meteor/app/api/server/helpers/getPaginationItems.ts)."""

from __future__ import annotations

import json

import pytest

from bridge.client import RocketChat
from bridge.jsonstream import ArrayItems
from bridge_support import ADMIN, make_config, server_with_users


@pytest.fixture
def server():
    with server_with_users("whole", 260) as srv:
        yield srv


def test_one_request_gives_what_the_pages_give(server):
    room = server.state.create_room("big", "c", owner=ADMIN, members=[f"whole{i:03d}" for i in range(260)])
    with RocketChat(make_config(server)) as rc:
        rc.login()
        paged = [u for u in rc.iter_users(page_size=100)]
        server.request_log.clear()
        whole = [u for u in rc.iter_users(page_size=100, unpaged=True)]
        assert whole == paged and len(whole) == 262
        assert server.request_log.count(route="users.list") == 1
        info = rc.room_info(room_id=room["_id"])
        members = [m for m in rc.iter_members(info, page_size=100)]
        server.request_log.clear()
        assert [m for m in rc.iter_members(info, page_size=100, unpaged=True)] == members
        assert server.request_log.count(route="channels.members") == 1


def test_without_infinite_count_the_rest_is_paged(server):
    server.state.settings.set("API_Allow_Infinite_Count", False)
    with RocketChat(make_config(server)) as rc:
        rc.login()
        paged = [u.id for u in rc.iter_users(page_size=100)]
        server.request_log.clear()
        assert [u.id for u in rc.iter_users(page_size=100, unpaged=True)] == paged
        # count=0 became API_Default_Count (50), then pages of 100 from offset 50: 50 + 100 + 100 + 12
        assert server.request_log.count(route="users.list") == 4


def test_a_refused_token_is_left_to_paging(server):
    with RocketChat(make_config(server)) as rc:
        rc.login()
        with server.state.lock:
            server.state.user_doc_by_username(ADMIN)["services"]["resume"]["loginTokens"] = []
        assert len([u for u in rc.iter_users(page_size=100, unpaged=True)]) == 262  # paged after a re-login
        assert rc.aio.session.logins == 2


@pytest.mark.parametrize("step", [1, 7, 64, 10_000])
def test_array_items_decodes_across_any_chunking(step):
    body = {"users": [{"_id": f"u{i}", "name": "Zoë \\u00e9 ,]}", "n": i * 1000, "roles": ["a", "b"]} for i in range(50)],
            "count": 50, "offset": 0, "total": 12345, "success": True}
    raw = json.dumps(body, ensure_ascii=False).encode()
    parser = ArrayItems("users")
    got = []
    for i in range(0, len(raw), step):
        got += parser.feed(raw[i:i + step])
    got += parser.close()
    assert got == body["users"]
    assert parser.rest == {"count": 50, "offset": 0, "total": 12345, "success": True}


def test_array_items_refuses_a_truncated_body():
    parser = ArrayItems("users")
    parser.feed(b'{"users": [{"_id": "a"}, {"_id": "b"')
    with pytest.raises(ValueError):
        parser.close()
