"""A batch of people in one engine pass (sync_tasks.batch) over real HTTP against the stand-in: the
reader is chosen by its estimated cost, invites go per room in `userIds` batches, kicks one per call
(Rocket.Chat 7.x `apps/meteor/app/api/server/v1/channels.ts` / `groups.ts`: `*.invite` reads
`getUserListFromParams`, `*.kick` `getUserFromParams`), and one bad person fails alone."""
from __future__ import annotations

import math
import sys
import types
from dataclasses import replace

import pytest

from sync_tasks.batch import over_the_limit, sync_batch
from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all
from sync_tasks.ops import KickFromRoom
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.read_cost import ITEMS_PER_READ, choose_reader, full_read_cost, per_person_cost

from engine_service import SERVICE_USER

CFG = load_config({})


def person(i: int, **kw) -> SitePerson:
    return SitePerson(site_id=str(i), username=f"p{i:03d}", email=f"p{i:03d}@example.org", email_verified=True,
                      name=f"P{i:03d}", **kw)


def linked(people, report):
    out = []
    for p in people:
        r = report.result_for(p.site_id)
        out.append(replace(p, link=AccountLink(r.rc_user_id, r.rc_username, True)) if r and r.rc_user_id else p)
    return out


def synced_site(rc_client, n: int):
    people = [person(i) for i in range(1, n + 1)]
    report = reconcile_all(people, rc_client, CFG)
    assert report.failed == {}, report.failed
    return linked(people, report)


def vip_members(state) -> set[str]:
    room = state.find_room_by_name("vip")
    return {u["username"] for u in state.users.values() if state.subscription_doc(room["_id"], u["_id"])}


# --- the estimate (pure) ---------------------------------------------------------------------------

def test_a_few_people_are_read_one_by_one_many_through_the_pages():
    site = [replace(person(i), link=AccountLink(f"u{i}", f"p{i:03d}", True)) for i in range(1, 2001)]
    sizes = [2000, 10, 3]
    few = choose_reader(site[:5], CFG, 10_000, sizes)
    many = choose_reader(site, CFG, 10_000, sizes)
    assert (few.reader, few.per_person) == ("people", 5)
    assert many.reader == "full" and many.full == full_read_cost(10_000, sizes, 100) == 100 + 21 + 2 + 2
    assert many.per_person == 2000 > many.full


def test_the_full_read_weighs_the_accounts_it_lists_not_only_its_calls():
    """A site of 500: the full read is 15 calls, but they list 1,030 accounts and members, which weigh
    more than 16 to 25 users.info (bench/latency.py's passes read a few hundred accounts for 9 people
    when the choice counted calls alone)."""
    site = [replace(person(i), link=AccountLink(f"u{i}", f"p{i:03d}", True)) for i in range(1, 501)]
    sizes = [500, 25, 5]
    few = choose_reader(site[:9], CFG, 500, sizes)
    assert few.full == 5 + (1 + 5) + (1 + 1) + (1 + 1) == 15 and few.full_items == 1030
    assert few.reader == "people"  # 15 + 1030 / ITEMS_PER_READ > 9
    assert 15 < few.full + few.full_items / ITEMS_PER_READ < 40
    cut = few.full + few.full_items / ITEMS_PER_READ
    assert choose_reader(site[:int(cut) + 1], CFG, 500, sizes).reader == "full"
    assert choose_reader(site[:int(cut)], CFG, 500, sizes).reader == "people"


def test_the_site_is_counted_only_when_the_choice_depends_on_it():
    """A few linked people cost their per-person reads however large the site; while that is no more
    than the least a full read can cost, the count (two queries on the Django side) is never asked for,
    and the choice is what the count would have made."""
    site = [replace(person(i), link=AccountLink(f"u{i}", f"p{i:03d}", True)) for i in range(1, 2001)]
    sizes = [2000, 10, 3]
    counted: list[int] = []

    def count() -> int:
        counted.append(1)
        return 10_000

    calls = 1 + (1 + 20) + (1 + 1) + (1 + 1)  # one users.list page; each room's member pages and roles
    floor = calls + 2013 // ITEMS_PER_READ  # and the members those rooms list, whatever the site's size
    few = choose_reader(site[:floor], CFG, count, sizes)
    assert (few.reader, few.per_person, few.full, few.full_items, counted) == ("people", floor, calls, 2013, [])
    assert choose_reader(site[:floor], CFG, 10_000, sizes).reader == "people"
    more = choose_reader(site[:floor + 1], CFG, count, sizes)  # could go either way: counted
    assert counted == [1] and more == choose_reader(site[:floor + 1], CFG, 10_000, sizes)
    unlinked = choose_reader([person(1)], CFG, count, sizes)  # may scan users.list for its email: counted
    assert counted == [1, 1] and unlinked == choose_reader([person(1)], CFG, 10_000, sizes)


def test_unknown_site_size_or_room_size_err_towards_per_person_reads():
    site = [replace(person(i), link=AccountLink(f"u{i}", f"p{i:03d}", True)) for i in range(1, 301)]
    assert choose_reader(site, CFG, None, []).reader == "people"
    assert full_read_cost(10_000, [None], 100) == 100 + 1 + 100  # an unknown room counts as everyone


def test_unlinked_people_cost_an_email_scan_where_adoption_by_email_applies():
    new = [person(i) for i in range(1, 4)]
    assert per_person_cost(new, CFG, 1000) == 3 * (1 + 10)  # default adopt: verified email
    no_email_adoption = load_config({"IDENTITY": {"adopt": []}})
    assert per_person_cost(new, no_email_adoption, 1000) == 3


# --- against the stand-in ----------------------------------------------------------------------------

def test_a_burst_into_vip_costs_pages_and_batched_invites(rc_server, rc_client):
    site = synced_site(rc_client, 150)
    movers = [replace(p, groups=frozenset({"vip"})) for p in site]
    rc_server.request_log.clear()
    report, choice = sync_batch(movers, rc_client, CFG, population=len(site))
    assert choice.reader == "full" and report.failed == {}
    assert vip_members(rc_server.state) >= {p.username for p in site}
    invites = rc_server.request_log.count(route="groups.invite")
    assert invites == math.ceil(150 / 100)  # userIds batches of BATCH.invite_batch
    assert rc_server.request_log.count(route="users.info") == 0
    calls = len([e for e in rc_server.request_log.entries() if e.path.startswith("/api/")])
    assert calls < 0.2 * len(site)
    # Level-triggered: the same batch again finds nothing to do.
    again, _ = sync_batch(movers, rc_client, CFG, population=len(site))
    assert again.counts == {}


def test_the_per_person_reader_reads_several_people_at_once(rc_server, rc_client):
    """A batch's users.info go BATCH.concurrency at a time, not one after another: with the route
    held, several of them wait at the stand-in together (one by one, the second would only be sent
    once the first is answered)."""
    import threading
    import time

    site = synced_site(rc_client, 12)
    movers = [replace(p, groups=frozenset({"vip"})) for p in site[:6]]
    rc_client.user_info(user_id=site[0].link.rc_user_id)  # the pacer's probe of the route, answered
    rc_server.faults.hold("users.info")
    outcome: list = []
    thread = threading.Thread(target=lambda: outcome.append(sync_batch(movers, rc_client, CFG, population=len(site),
                                                                       reader="people")))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while rc_server.faults.waiting("users.info") < min(CFG.batch.concurrency, 6):
            assert time.monotonic() < deadline and thread.is_alive(), "the batch's reads never waited together"
            time.sleep(0.02)
    finally:
        rc_server.faults.release("users.info")
        thread.join(60)
    report, choice = outcome[0]
    assert choice.reader == "people" and report.failed == {}
    assert rc_server.request_log.count(route="users.info") >= 6
    assert vip_members(rc_server.state) >= {p.username for p in movers}


def test_a_burst_out_of_vip_kicks_one_user_per_call(rc_server, rc_client):
    site = synced_site(rc_client, 30)
    sync_batch([replace(p, groups=frozenset({"vip"})) for p in site], rc_client, CFG, population=len(site))
    rc_server.request_log.clear()
    report, choice = sync_batch(site, rc_client, CFG, population=len(site))
    assert choice.reader == "full" and not report.stopped_by_safety  # 30 kicks > the run-wide limit of 10
    assert rc_server.request_log.count(route="groups.kick") == 30
    assert not vip_members(rc_server.state) & {p.username for p in site}


def test_the_per_person_reader_reaches_the_same_state(rc_server, rc_client):
    site = synced_site(rc_client, 12)
    movers = [replace(p, groups=frozenset({"vip"})) for p in site[:3]]
    rc_server.request_log.clear()
    report, choice = sync_batch(movers, rc_client, CFG, population=len(site))
    assert choice.reader == "people" and report.failed == {}
    assert rc_server.request_log.count(route="users.info") == 3
    assert rc_server.request_log.count(route="groups.invite") == 1
    assert vip_members(rc_server.state) >= {p.username for p in movers}


def test_one_bad_person_fails_alone(rc_server, rc_client, monkeypatch):
    mod = types.ModuleType("rcsync_test_batch_resolver")

    def grants(p):
        if p.site_id == "7":
            raise RuntimeError("site bug")
        return None

    mod.grants = grants
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    site = synced_site(rc_client, 40)
    cfg = load_config({"PEOPLE": {"resolver": f"{mod.__name__}.grants"}})
    report, _ = sync_batch([replace(p, groups=frozenset({"vip"})) for p in site], rc_client, cfg, population=40)
    statuses = {r.site_id: r.status for r in report.results}
    assert statuses.pop("7") == "error" and "site bug" in report.result_for("7").error
    assert set(statuses.values()) == {"synced"}
    assert vip_members(rc_server.state) - {SERVICE_USER} == {p.username for p in site if p.site_id != "7"}


def test_the_guard_judges_each_person_as_their_own_sync():
    cfg = load_config({"SAFETY": {"min_changes": 2, "ratio": 0.0}})
    plan = [KickFromRoom(site_id="1", user_id="u1", room="vip"), KickFromRoom(site_id="2", user_id="u2", room="vip"),
            KickFromRoom(site_id="2", user_id="u2", room="general"),
            KickFromRoom(site_id="2", user_id="u2", room="moderators")]
    assert over_the_limit(plan, cfg) == {"2": 3}


@pytest.mark.parametrize("reader", ["people", "full"])
def test_rocket_chat_unreachable_raises_before_any_write(rc_server, rc_client, reader):
    from bridge.errors import RocketChatError

    site = synced_site(rc_client, 5)
    rc_server.request_log.clear()
    rc_server.faults.outage(30, "503")
    with pytest.raises(RocketChatError):
        sync_batch([replace(p, groups=frozenset({"vip"})) for p in site], rc_client, CFG, population=5, reader=reader)
    rc_server.faults.outage(0)
    assert not vip_members(rc_server.state) & {p.username for p in site}
    assert rc_server.request_log.count(method="POST", status=200) == 0


@pytest.mark.parametrize("reader", ["people", "full"])
def test_a_batch_is_many_one_person_syncs_not_a_run_with_a_run_wide_limit(rc_server, rc_client, reader):
    # Found in the gate (tests/e2e/test_e2e_guard.py under load): a batch of 7 deactivations read per
    # person was refused as a whole by the run-wide limit (14 destructive > 10), and its people were
    # then neither applied nor held. Each is a one-person sync: 2 destructive changes, under the limit.
    site = synced_site(rc_client, 12)
    leavers = [replace(p, active=False) for p in site[:7]]
    report, choice = sync_batch(leavers, rc_client, CFG, population=len(site), reader=reader)
    assert choice.reader == reader
    assert not report.stopped_by_safety, report.safety_reason
    assert {r.site_id: r.status for r in report.results} == {p.site_id: "deactivated" for p in leavers}
    assert all(rc_server.state.find_user_by_username(p.username)["active"] is False for p in leavers)


@pytest.mark.parametrize("reader", ["people", "full"])
def test_a_person_past_what_their_own_sync_may_do_is_stopped_alone(rc_server, rc_client, reader):
    cfg = load_config({"SAFETY": {"min_changes": 1, "ratio": 0.0}})
    site = synced_site(rc_client, 12)
    leaver, mover = replace(site[0], active=False), replace(site[1], groups=frozenset({"vip"}))
    report, _ = sync_batch([leaver, mover], rc_client, cfg, population=len(site), reader=reader)
    assert report.result_for(leaver.site_id).status == "stopped"
    assert "safety guard stopped this person's sync" in report.result_for(leaver.site_id).error
    assert report.result_for(mover.site_id).status == "synced"
    assert rc_server.state.find_user_by_username(leaver.username)["active"] is True
    assert mover.username in vip_members(rc_server.state)
