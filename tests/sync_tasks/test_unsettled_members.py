"""A room's member pages change while a pass reads them (another pass kicking, people connecting):
Rocket.Chat pages ``*.members`` by offset over a list sorted by ``statusConnection`` then username
(``apps/meteor/server/lib/findUsersOfRoom.ts``), so a removal before the reader's offset, or a member
moving across it, makes the reader skip a member. Skipped people who must leave the room would be
planned "not a member, nothing to do" and their change retired with them still inside.

Each test holds the reader between two pages (``faults.hold``), changes the room from a second
client over HTTP, and lets the read go on: no timing, the same interleaving on every run.
"""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from bridge import Listing
from sync_tasks.batch import sync_batch
from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all
from sync_tasks.observe import observe_all
from sync_tasks.person import AccountLink, SitePerson

from engine_service import SERVICE_USER

CFG = load_config({})
DEADLINE = 30.0


def person(i: int, **kw) -> SitePerson:
    return SitePerson(site_id=str(i), username=f"p{i:03d}", email=f"p{i:03d}@example.org", email_verified=True,
                      name=f"P{i:03d}", **kw)


def vip_site(rc_client, n: int) -> list[SitePerson]:
    """n linked people, all in vip (p001 ... sort before the service account "rcsync")."""
    people = [person(i, groups=frozenset({"vip"})) for i in range(1, n + 1)]
    report = reconcile_all(people, rc_client, CFG)
    assert report.failed == {}, report.failed
    return [replace(p, link=AccountLink(report.result_for(p.site_id).rc_user_id, p.username, True)) for p in people]


def vip_members(state) -> set[str]:
    room = state.find_room_by_name("vip")
    return {u["username"] for u in state.users.values() if state.subscription_doc(room["_id"], u["_id"])}


def reached(faults, route: str, stop: int, worker: threading.Thread) -> None:
    """Wait (polling, with a deadline) until the reader's ``stop``-th call of ``route`` is held."""
    deadline = time.monotonic() + DEADLINE
    while faults.stops(route) < stop:
        assert worker.is_alive() and time.monotonic() < deadline, f"the read never reached stop {stop} of {route}"
        time.sleep(0.01)


def while_paging_vip(rc_server, other_client, action, run):
    """Run ``run()`` in a thread, stop it before vip's second member page, do ``action(vip)``, go on.

    The full read pages the managed rooms in key order: general (channels.members), moderators (one
    page of groups.members), then vip: the third groups.members call is vip's second page."""
    faults = rc_server.faults
    out: dict = {}
    faults.hold("groups.members", after=2)
    worker = threading.Thread(target=lambda: out.setdefault("result", run()))
    try:
        worker.start()
        reached(faults, "groups.members", 1, worker)
        action(other_client.room_info(name="vip"))
    finally:
        faults.release("groups.members")
    worker.join(DEADLINE)
    assert not worker.is_alive()
    return out["result"]


def kick_first(other_client, site, k):
    """Another pass kicks k people of the first page meanwhile: the rest move up past the offset."""
    def action(vip):
        for p in site[:k]:
            other_client.kick(vip, p.link.rc_user_id)
    return action


def test_a_batch_pass_kicks_everyone_who_must_leave_although_the_room_shrank_under_its_read(
        rc_server, rc_client, other_client):
    site = vip_site(rc_client, 150)
    # p101..p110 leave vip; the read's second page starts at offset 100, where p101 stood.
    leaving = [replace(p, groups=frozenset()) for p in site[100:110]]
    rc_server.request_log.clear()
    report, choice = while_paging_vip(rc_server, other_client, kick_first(other_client, site, 5),
                                      lambda: sync_batch(leaving, rc_client, CFG, population=len(site), reader="full"))
    assert choice.reader == "full" and report.failed == {}
    assert not vip_members(rc_server.state) & {p.username for p in leaving}, "a skipped member stayed in vip"
    # The five the read skipped (p101..p105) were read one by one, not everyone.
    assert rc_server.request_log.count(route="users.info") == 5
    assert rc_server.request_log.count(route="groups.kick") == 10 + 5  # ours, and the other pass's


def test_a_full_reconcile_reads_a_room_again_when_it_changed_under_the_read(rc_server, rc_client, other_client):
    site = vip_site(rc_client, 150)
    wanted = site[:5] + [replace(p, groups=frozenset()) for p in site[5:]]  # ... and p101+ must leave too
    report = while_paging_vip(rc_server, other_client, kick_first(other_client, site, 5),
                              lambda: reconcile_all(wanted, rc_client, CFG, force=True))
    assert report.failed == {} and report.problems == ()  # the second read was a snapshot
    assert not vip_members(rc_server.state) & {p.username for p in site[5:]}, "a skipped member stayed in vip"
    # The five kicked meanwhile were seen by the first read, so they count as members for this run
    # (a member seen by either read does); the next run, reading a still room, invites them back.
    again = reconcile_all(wanted, rc_client, CFG, force=True)
    assert again.failed == {} and vip_members(rc_server.state) - {SERVICE_USER} == {p.username for p in site[:5]}


def test_a_room_that_never_settles_is_named_as_a_problem_of_the_full_reconcile(rc_server, rc_client, other_client):
    site = vip_site(rc_client, 150)
    faults = rc_server.faults
    faults.hold("groups.members", after=2)  # moderators, vip's first page; then stop before each next page
    out: dict = {}
    worker = threading.Thread(target=lambda: out.setdefault("r", reconcile_all(site, rc_client, CFG)))
    try:
        worker.start()
        for stop, k in ((1, 0), (2, 5)):  # during the first read (before its second page), then the re-read's
            reached(faults, "groups.members", stop, worker)
            vip = other_client.room_info(name="vip")
            for p in site[k:k + 5]:
                other_client.kick(vip, p.link.rc_user_id)
            faults.let_through("groups.members", 2)  # the held page, then the re-read's first page
    finally:
        faults.release("groups.members")
    worker.join(DEADLINE)
    report = out["r"]
    assert any("'vip' changed while they were read (2 reads)" in p for p in report.problems), report.problems


def test_a_member_who_connects_while_the_room_is_read_is_not_lost(rc_server, rc_client, other_client):
    """statusConnection sorts before the username: p105, who must leave, connects while the read is
    between pages one and two and moves to the front of vip's list, behind the offset: the read sees
    p100 twice and p105 never (Rocket.Chat's order, not ours)."""
    site = vip_site(rc_client, 150)
    leaving = [replace(p, groups=frozenset()) for p in site[100:110]]

    def connect(vip):
        rc_server.state.set_user_status(site[104].link.rc_user_id, "online")

    report, _ = while_paging_vip(rc_server, other_client, connect,
                                 lambda: sync_batch(leaving, rc_client, CFG, population=len(site), reader="full"))
    assert report.failed == {}
    assert not vip_members(rc_server.state) & {p.username for p in leaving}


def test_a_read_that_saw_the_room_still_needs_nothing_more(rc_server, rc_client):
    site = vip_site(rc_client, 150)
    obs = observe_all(rc_client, CFG)
    assert obs.state.unsettled_rooms == frozenset()
    rc_server.request_log.clear()
    report, _ = sync_batch([replace(p, groups=frozenset()) for p in site[100:110]], rc_client, CFG,
                           population=len(site), reader="full")
    assert report.failed == {} and rc_server.request_log.count(route="users.info") == 0


def test_a_listing_is_changed_when_its_total_moved_or_it_saw_someone_twice():
    assert not Listing([150, 150]).changed
    assert Listing([150, 145]).changed and Listing([150, 151]).changed
    assert Listing([150, 150], duplicates=1).changed


@pytest.mark.parametrize("path", ["batch", "full"])
def test_a_pass_keeps_the_accounts_users_list_skipped_while_accounts_were_deleted(
        rc_server, rc_client, other_client, path):
    """users.list pages by offset too: accounts deleted before the offset meanwhile make the read skip
    as many others. A linked account the read skipped is not gone: no second account, no error."""
    site = vip_site(rc_client, 150)
    renamed = [replace(p, name=f"Renamed {p.username}") for p in site[100:110]]
    accounts = len(rc_server.state.users)
    faults = rc_server.faults
    faults.hold("users.list", after=1)
    out: dict = {}
    if path == "batch":
        def run():
            return sync_batch(renamed, rc_client, CFG, population=len(site), reader="full")[0]
    else:  # everyone still on the site (the five deleted people left it)
        def run():
            return reconcile_all(site[5:100] + renamed + site[110:], rc_client, CFG)
    worker = threading.Thread(target=lambda: out.setdefault("r", run()))
    try:
        worker.start()
        reached(faults, "users.list", 1, worker)
        for p in site[:5]:  # people who left the site, deleted by another pass
            other_client.delete_user(p.link.rc_user_id)
    finally:
        faults.release("users.list")
    worker.join(DEADLINE)
    report = out["r"]
    assert report.failed == {}, report.failed
    ids = {r.site_id: r.rc_user_id for r in report.results}
    assert {p.site_id: ids[p.site_id] for p in renamed} == {p.site_id: p.link.rc_user_id for p in renamed}
    assert len(rc_server.state.users) == accounts - 5  # nobody got a second account
    assert all(rc_server.state.users[p.link.rc_user_id]["name"] == p.name for p in renamed)
