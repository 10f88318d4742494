"""Issue 11's room lifecycle routes driven by the Python `rocketchat-API` package (nobody here wrote it).

A channel and a private group go through their whole life as a third-party provisioning client drives
them: moderators, leaders, rename, topic/description/announcement, read-only, type changes, counters,
join/leave, addAll, archive/unarchive, delete; plus rooms.info, rooms.adminRooms, subscriptions.getOne.
Every request the package sends is recorded and checked with the rest-typings schema of the release
the compat mode models (as test_conformance_rocketchat_api.py does for the issue-2 routes).
"""

from __future__ import annotations

import secrets
from typing import Any, Iterator

import pytest
import requests
from rocketchat_API.rocketchat import RocketChat

from test_conformance_npm import NODE
from test_conformance_rocketchat_api import RELEASE_OF_COMPAT, Recorder, ok
from test_rest_typings import failures, validate_requests

ADMIN = "rcapi.rooms.admin"
stamp = secrets.token_hex(3)


@pytest.fixture(scope="module", params=[6, 7], ids=["compat6", "compat7"])
def rc(request: pytest.FixtureRequest) -> Iterator[tuple[int, Any, RocketChat, Recorder]]:
    from fake_rocketchat.harness.testing import running_server

    password = f"pw-{secrets.token_urlsafe(10)}"
    with running_server(admin_username=ADMIN, admin_password=password, compat=request.param) as srv:
        recorder = Recorder()
        session = requests.Session()
        session.hooks["response"].append(recorder)
        client = RocketChat(ADMIN, password, server_url=srv.url, session=session, timeout=10)
        yield request.param, srv, client, recorder
        session.close()


def drive_channel(srv: Any, client: RocketChat, tag: str) -> None:
    member = srv.state.create_user(f"rcr.ann.{tag}")
    name = f"rcr-c-{tag}"
    rid = ok(client.channels_create(name, members=[member["username"]]))["channel"]["_id"]
    ok(client.channels_add_moderator(rid, member["_id"]))
    assert [m["username"] for m in ok(client.channels_moderators(room_id=rid))["moderators"]] == [member["username"]]
    ok(client.channels_add_leader(rid, member["_id"]))
    ok(client.channels_remove_leader(rid, member["_id"]))
    assert ok(client.channels_rename(rid, f"{name}-2"))["channel"]["name"] == f"{name}-2"
    assert ok(client.channels_set_topic(rid, "topic"))["topic"] == "topic"
    assert ok(client.channels_set_description(rid, "about"))["description"] == "about"
    assert ok(client.channels_set_announcement(rid, "news"))["announcement"] == "news"
    assert ok(client.channels_set_read_only(rid, True))["channel"]["ro"] is True
    counters = ok(client.channels_counters(room_id=rid))
    assert counters["joined"] is True and counters["members"] == 2
    assert client.channels_leave(rid).json()["errorType"] == "error-you-are-last-owner"
    ok(client.channels_add_owner(rid, user_id=member["_id"]))
    ok(client.channels_leave(rid))
    assert srv.state.subscription(rid, ADMIN) is None
    ok(client.channels_join(rid, None))
    ok(client.channels_add_all(rid))
    assert srv.state.subscription(rid, "rocket.cat") is not None
    ok(client.channels_archive(rid))
    assert client.channels_archive(rid).json()["errorType"] == "error-room-archived"
    ok(client.channels_unarchive(rid))
    assert ok(client.channels_set_type(rid, "p"))["channel"]["t"] == "p"
    ok(client.groups_set_type(rid, "c"))
    assert ok(client.rooms_info(room_id=rid))["room"]["t"] == "c"
    assert ok(client.subscriptions_get_one(rid))["subscription"]["rid"] == rid
    assert rid in {r["_id"] for r in ok(client.rooms_admin_rooms(filter=name))["rooms"]}
    ok(client.channels_delete(room_id=rid))
    assert srv.state.find_room(rid) is None


def drive_group(srv: Any, client: RocketChat, tag: str) -> None:
    member = srv.state.create_user(f"rcr.ben.{tag}")
    gid = ok(client.groups_create(f"rcr-p-{tag}", members=[member["username"]]))["group"]["_id"]
    ok(client.groups_add_moderator(gid, member["_id"]))
    assert [m["username"] for m in ok(client.groups_moderators(room_id=gid))["moderators"]] == [member["username"]]
    ok(client.groups_add_leader(gid, member["_id"]))
    ok(client.groups_remove_leader(gid, member["_id"]))
    assert ok(client.groups_rename(gid, f"rcr-p2-{tag}"))["group"]["name"] == f"rcr-p2-{tag}"
    assert ok(client.groups_set_topic(gid, "t"))["topic"] == "t"
    assert ok(client.groups_set_description(gid, "d"))["description"] == "d"
    assert ok(client.groups_set_announcement(gid, "a"))["announcement"] == "a"
    assert ok(client.groups_set_read_only(gid, True))["group"]["ro"] is True
    ok(client.groups_archive(gid))
    ok(client.groups_unarchive(gid))
    ok(client.groups_delete(room_id=gid))
    assert srv.state.find_room(gid) is None


def test_channel_lifecycle(rc: tuple[int, Any, RocketChat, Recorder]) -> None:
    _, srv, client, _ = rc
    drive_channel(srv, client, f"a{stamp}")


def test_group_lifecycle(rc: tuple[int, Any, RocketChat, Recorder]) -> None:
    _, srv, client, _ = rc
    drive_group(srv, client, f"a{stamp}")


@pytest.mark.skipif(NODE is None, reason="node is not installed (Debian: apt-get install nodejs npm)")
def test_every_request_it_sent_is_valid_for_the_modelled_release(rc: tuple[int, Any, RocketChat, Recorder]) -> None:
    compat, srv, client, recorder = rc
    recorder.requests.clear()
    drive_channel(srv, client, f"b{stamp}")
    drive_group(srv, client, f"b{stamp}")
    sent = list(recorder.requests)
    assert len(sent) >= 30, f"only {len(sent)} requests recorded"
    results = validate_requests(sent)
    release = RELEASE_OF_COMPAT[compat]
    for result in results:
        result["checks"] = [c for c in result["checks"] if c["release"] == release]
    reached = {r["endpoint"] for r in results if r["checks"]}
    assert {"POST /v1/channels.delete", "POST /v1/channels.join", "POST /v1/channels.archive", "POST /v1/channels.setReadOnly"} <= reached
    problems = failures(sent, results)
    assert not problems, f"rocketchat-API sent requests Rocket.Chat {release} rejects:\n" + "\n".join(problems)
