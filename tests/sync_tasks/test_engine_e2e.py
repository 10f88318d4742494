"""The engine end to end: bridge client over real HTTP against the stand-in Rocket.Chat."""
from __future__ import annotations

import logging
from dataclasses import replace


from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all, sync_people
from sync_tasks.person import AccountLink, SitePerson

from engine_service import SERVICE_PASSWORD, TOTP_SECRET

CFG = load_config({})


def relink(people, report):
    out = []
    for p in people:
        r = report.result_for(p.site_id)
        if r is not None and r.rc_user_id and r.status not in ("deleted",):
            p = replace(p, link=AccountLink(r.rc_user_id, r.rc_username, bool(r.created_by_bridge)))
        out.append(p)
    return out


def room_id(state, name):
    room = state.find_room_by_name(name)
    return room["_id"] if room else None


def site(i, username, **kw):
    kw.setdefault("email", f"{username.lower()}@example.org")
    kw.setdefault("email_verified", True)
    kw.setdefault("name", username.title())
    return SitePerson(site_id=str(i), username=username, **kw)


def test_full_reconcile_applies_the_policy_table_and_second_run_is_empty(rc_server, rc_client):
    st = rc_server.state
    people = [site(1, "Иван", role="owner", name="Иван Петров"), site(2, "mod", role="moderator"),
              site(3, "vipper", groups={"vip"}), site(4, "plain", name="Plain <script>"),
              site(5, "boss", is_superuser=True), site(6, "gone", active=False)]
    preview = reconcile_all(people, rc_client, CFG, dry_run=True)
    assert preview.counts == {"add_room_role": 1, "create_room": 2, "create_user": 5, "invite": 11}
    assert preview.writes == 0 and room_id(st, "vip") is None and st.find_user_by_username("plain") is None

    seen, progress = [], []
    report = reconcile_all(people, rc_client, CFG, on_operation=seen.append,
                           on_progress=lambda d, t: progress.append((d, t)))
    assert report.failed == {} and report.applied == preview.counts and len(seen) == len(report.plan)
    assert progress[-1] == (len(report.plan), len(report.plan))
    assert report.status_counts() == {"skipped": 1, "synced": 5}
    # invites are batched per room: 3 rooms -> 3 calls, not 11
    assert report.writes == 2 + 5 + 3 + 1

    vip, mods = room_id(st, "vip"), room_id(st, "moderators")
    assert st.find_room(vip)["t"] == "p" and "owner" in st.room_roles(vip, "rcsync")
    assert st.room_members("GENERAL") == sorted(["ivan", "mod", "vipper", "plain", "boss", "rcsync"])
    assert st.room_members(vip) == ["boss", "ivan", "rcsync", "vipper"]
    assert st.room_members(mods) == ["boss", "ivan", "mod", "rcsync"]
    assert st.room_roles("GENERAL", "mod") == ["moderator"]
    assert sorted(st.user_roles("ivan")) == ["admin", "user"] and st.user_roles("plain") == ["user"]
    assert st.find_user_by_username("ivan")["name"] == "Иван Петров"
    assert st.find_user_by_username("plain")["name"] == "Plain script"

    people = relink(people, report)
    again = reconcile_all(people, rc_client, CFG)
    assert again.plan == () and again.writes == 0
    assert again.status_counts() == {"skipped": 1, "synced": 5}


def test_unmanaged_things_survive_and_unlinked_accounts_are_listed(rc_server, rc_client):
    st = rc_server.state
    st.create_room("random", "c", owner="rcsync")
    stranger = st.create_user("stranger", email="stranger@example.org", roles=["user", "admin"])
    st.add_member("GENERAL", "stranger")
    alice = st.create_user("alice", name="Alice", email="alice@example.org", roles=["user", "admin", "livechat-agent"])
    st.add_member(room_id(st, "random"), "alice")
    st.add_member("GENERAL", "alice", roles=["owner"])
    people = [site(1, "alice", link=AccountLink(alice["_id"], "alice", False))]
    report = reconcile_all(people, rc_client, CFG)
    assert report.unmanaged == ((stranger["_id"], "stranger"),)
    assert sorted(st.user_roles("alice")) == ["livechat-agent", "user"]  # managed admin removed, manual kept
    assert "alice" in st.room_members(room_id(st, "random"))  # unmanaged room untouched
    assert st.room_roles("GENERAL", "alice") == ["owner"]  # unmanaged room role untouched
    assert sorted(st.user_roles("stranger")) == ["admin", "user"] and "stranger" in st.room_members("GENERAL")
    assert reconcile_all(people, rc_client, CFG).plan == ()


def test_targeted_sync_follows_role_changes_deprovisioning_and_profile(rc_server, rc_client):
    st = rc_server.state
    p = site(7, "Olga", role="moderator", groups={"vip"})
    r = sync_people([p], rc_client, CFG)
    res = r.result_for("7")
    assert res.status == "synced" and res.rc_username == "olga" and res.created_by_bridge
    p = replace(p, link=AccountLink(res.rc_user_id, res.rc_username, True))
    mods, vip = room_id(st, "moderators"), room_id(st, "vip")
    assert "olga" in st.room_members(mods) and st.room_roles("GENERAL", "olga") == ["moderator"]

    # loses moderator, renamed on the site: users.update needs TOTP, which the bridge supplies
    p = replace(p, role="user", name="Olga Q", email="olga.q@example.org")
    r = sync_people([p], rc_client, CFG)
    assert r.counts == {"kick": 1, "remove_room_role": 1, "update_profile": 1} and r.failed == {}
    assert "olga" not in st.room_members(mods) and st.room_roles("GENERAL", "olga") == []
    assert st.find_user_by_username("olga")["name"] == "Olga Q"
    assert st.find_user_by_username("olga")["emails"] == [{"address": "olga.q@example.org", "verified": True}]

    # leaves the site: kicked from managed rooms first, then deactivated; global roles kept
    p = replace(p, active=False)
    r = sync_people([p], rc_client, CFG)
    assert r.result_for("7").status == "deactivated" and r.counts == {"deactivate": 1, "kick": 2}
    u = st.find_user_by_username("olga")
    assert u["active"] is False and u["roles"] == ["user"]
    assert "olga" not in st.room_members("GENERAL", include_inactive=True)
    assert sync_people([p], rc_client, CFG).plan == ()

    # comes back
    p = replace(p, active=True)
    r = sync_people([p], rc_client, CFG)
    assert r.counts == {"activate": 1, "invite": 2}
    assert sync_people([p], rc_client, CFG).plan == ()
    assert reconcile_all([p], rc_client, CFG).plan == ()


def test_reactivation_after_manual_deactivation_reveals_hidden_memberships(rc_server, rc_client):
    st = rc_server.state
    p = site(8, "pavel", groups={"vip"})
    r = reconcile_all([p], rc_client, CFG)
    p = relink([p], r)[0]
    vip = room_id(st, "vip")
    st.set_active("pavel", False)  # deactivated by hand in Rocket.Chat, still subscribed to vip
    assert "pavel" not in st.room_members(vip)  # *.members hides him
    p = replace(p, groups=frozenset())  # ... and meanwhile lost VIP on the site
    r = reconcile_all([p], rc_client, CFG)
    assert r.counts == {"activate": 1, "kick": 1}
    assert "pavel" not in st.room_members(vip, include_inactive=True)
    assert reconcile_all([p], rc_client, CFG).plan == ()


def test_safety_guard_stops_mass_deactivation_before_any_write(rc_server, rc_client):
    st = rc_server.state
    people = [site(i, f"member{i}") for i in range(1, 16)]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    leaving = [replace(p, active=False) for p in people]
    before = rc_server.request_log.count(method="POST")
    r = reconcile_all(leaving, rc_client, CFG)
    assert r.stopped_by_safety and "limit is 10" in r.safety_reason and r.applied == {}
    assert rc_server.request_log.count(method="POST") == before
    assert all(st.find_user_by_username(f"member{i}")["active"] for i in range(1, 16))
    assert {x.status for x in r.results} == {"stopped"}
    forced = reconcile_all(leaving, rc_client, CFG, force=True)
    assert forced.failed == {} and forced.applied == {"deactivate": 15, "kick": 15}
    assert not any(st.find_user_by_username(f"member{i}")["active"] for i in range(1, 16))


def test_forced_run_is_bounded_by_its_preview(rc_server, rc_client):
    """Issue 14, M1: force applies what the reviewed preview showed, or less; more stops before any write."""
    from sync_tasks.bound import as_bound, destructive_keys

    st = rc_server.state
    people = [site(i, f"member{i}") for i in range(1, 16)]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    eight = [replace(p, active=False) if int(p.site_id) <= 8 else p for p in people]
    preview = reconcile_all(eight, rc_client, CFG, dry_run=True)
    assert preview.stopped_by_safety and preview.counts == {"deactivate": 8, "kick": 8}
    bound = as_bound(destructive_keys(preview.plan))  # what the preview stores, after a JSON round trip
    assert len(bound) == 16
    everyone = [replace(p, active=False) for p in people]  # the site changed after the preview
    before = rc_server.request_log.count(method="POST")
    stopped = reconcile_all(everyone, rc_client, CFG, force=True, bound=bound)
    assert stopped.stopped_by_safety and stopped.applied == {} and len(stopped.beyond_preview) == 14
    assert "changed since its preview" in stopped.safety_reason and "compute a new preview" in stopped.safety_reason
    assert rc_server.request_log.count(method="POST") == before
    assert all(st.find_user_by_username(f"member{i}")["active"] for i in range(1, 16))
    six = [replace(p, active=False) if int(p.site_id) <= 6 else p for p in people]  # two came back: a subset
    forced = reconcile_all(six, rc_client, CFG, force=True, bound=bound)
    assert not forced.stopped_by_safety and forced.applied == {"deactivate": 6, "kick": 6}
    assert [st.find_user_by_username(f"member{i}")["active"] for i in (6, 7)] == [False, True]


def test_adoption_by_verified_email_in_targeted_sync(rc_server, rc_client):
    st = rc_server.state
    existing = st.create_user("quinn.rc", name="Quinn", email="quinn@example.org")
    log = rc_server.request_log
    r = sync_people([site(8, "fresh", email="fresh@example.org")], rc_client, CFG)
    assert r.result_for("8").status == "synced" and log.count("users.list") == 0  # no scan for a free email
    r = sync_people([site(9, "quinn", email="Quinn@Example.org", email_verified=True, name="Quinn")], rc_client, CFG)
    res = r.result_for("9")
    assert res.status == "synced" and res.rc_user_id == existing["_id"] and res.created_by_bridge is False
    assert "quinn.rc" in st.room_members("GENERAL") and log.count("users.list") >= 1
    assert r.counts == {"create_user": 1, "invite": 2} and r.applied == {"invite": 1}  # tried, then adopted
    assert r.failed == {}  # the refused create was resolved by adopting
    r = sync_people([site(10, "quinn2", email="quinn@example.org", email_verified=False)], rc_client, CFG)
    res = r.result_for("10")
    assert res.status == "conflict" and "not verified" in res.error and r.counts == {"create_user": 1, "invite": 1}


def test_unreadable_private_room_is_reported_and_left_alone(rc_server, rc_client):
    st = rc_server.state
    st.create_user("someone", email="someone@example.org")
    st.create_room("vip", "p", owner="someone")  # the service account is not a member
    r = reconcile_all([site(1, "uma", groups={"vip"})], rc_client, CFG)
    assert any("vip" in msg for msg in r.problems)
    assert all(getattr(op, "room", None) != "vip" for op in r.plan)
    assert r.result_for("1").status == "synced" and "uma" in st.room_members("GENERAL")


def test_username_collision_with_an_existing_account_gets_a_suffix(rc_server, rc_client):
    st = rc_server.state
    st.create_user("clash", email="clash-existing@example.org")
    r = reconcile_all([site(2, "clash", email="other@example.org")], rc_client, CFG)
    assert r.result_for("2").rc_username == "clash-2" and r.failed == {}
    assert st.find_user_by_username("clash-2") is not None


def test_failed_operation_marks_one_person_and_the_rest_continue(rc_server, rc_client):
    cfg = load_config({"BATCH": {"concurrency": 1}})  # so the injected failure hits person 1's create
    rc_server.faults.fail_next("users.create", 1, 400, body={"success": False, "error": "boom [error-boom]",
                                                                "errorType": "error-boom"})
    people = [site(1, "first"), site(2, "second"), site(3, "third")]
    r = reconcile_all(people, rc_client, cfg)
    first = r.result_for("1")
    assert first.status == "error" and "boom" in first.error and first.rc_user_id is None
    assert [o.status for o in first.outcomes] == ["failed", "skipped"]
    assert {r.result_for(s).status for s in ("2", "3")} == {"synced"}
    assert r.failed == {"create_user": 1, "invite": 1}
    assert rc_server.state.room_members("GENERAL") == ["rcsync", "second", "third"]
    # the next run repairs it (level-triggered)
    r2 = reconcile_all(relink(people, r), rc_client, cfg)
    assert r2.counts == {"create_user": 1, "invite": 1} and r2.failed == {}


def test_secrets_never_reach_reports_or_logs(rc_server, rc_client, caplog):
    caplog.set_level(logging.DEBUG)
    r = reconcile_all([site(1, "vera"), site(2, "walt", role="owner")], rc_client, CFG)
    r2 = sync_people([replace(site(1, "vera", name="Vera V"), link=AccountLink(r.results[0].rc_user_id, "vera"))],
                     rc_client, CFG)
    text = repr(r) + repr(r.summary()) + repr(r2) + caplog.text
    assert SERVICE_PASSWORD not in text and TOTP_SECRET not in text
    assert "password" not in repr([o.as_dict() for res in r.results for o in res.outcomes]).lower()


def test_custom_managed_role_is_created_and_granted(rc_server, rc_client):
    cfg = load_config({"ROLES": ["admin", "user", "vip"],
                       "RULES": [{"when": "always", "roles": ["user"], "rooms": ["general"]},
                                 {"when": {"group": ["vip"]}, "roles": ["vip"], "rooms": ["vip"]}]})
    people = [site(1, "xena", groups={"vip"}), site(2, "yuri")]
    r = reconcile_all(people, rc_client, cfg)
    assert r.failed == {} and r.counts["create_role"] == 1 and r.counts["add_role"] == 1
    role_id = next(x["_id"] for x in rc_server.state.roles.values() if x["name"] == "vip")
    assert sorted(rc_server.state.user_roles("xena")) == sorted(["user", role_id])
    people = relink(people, r)
    assert reconcile_all(people, rc_client, cfg).plan == ()
    people[0] = replace(people[0], groups=frozenset())
    r = reconcile_all(people, rc_client, cfg)
    assert r.counts == {"kick": 1, "remove_role": 1} and rc_server.state.user_roles("xena") == ["user"]


def test_delete_mode_deletes_accounts_of_deleted_site_users(rc_server, rc_client):
    cfg = load_config({"DEPROVISION": "delete"})
    people = relink([site(1, "zed"), site(2, "amy")], reconcile_all([site(1, "zed"), site(2, "amy")], rc_client, cfg))
    gone = SitePerson(site_id="1", username="zed", deleted=True, active=False, link=people[0].link)
    r = reconcile_all([gone, people[1]], rc_client, cfg)
    assert r.result_for("1").status == "deleted" and r.counts == {"delete_user": 1}
    assert rc_server.state.find_user_by_username("zed") is None


def test_each_failure_says_whether_a_later_try_may_succeed(rc_server, rc_client):
    """``OperationOutcome.transient`` comes from the bridge's class tree (``TransientError``), never from
    the error's text: Rocket.Chat answering 503 past the retries is transient, a refusal of the
    request itself is not."""
    cfg = load_config({"BATCH": {"concurrency": 1}})  # creates run in site order
    rc_server.faults.fail_next("users.create", 2, 503)  # the first try and the client's one retry
    rc_server.faults.fail_next("users.create", 1, 400, body={"success": False, "error": "boom [error-boom]",
                                                             "errorType": "error-boom"})
    r = reconcile_all([site(1, "first"), site(2, "second"), site(3, "third")], rc_client, cfg)
    away, refused = r.result_for("1").outcomes[0], r.result_for("2").outcomes[0]
    assert (away.status, away.error_class, away.transient) == ("failed", "Unavailable", True)
    assert (refused.status, refused.transient) == ("failed", False) and "boom" in refused.error
    assert away.as_dict()["transient"] is True
    assert not any(o.transient for o in r.result_for("3").outcomes)
    assert r.result_for("3").status == "synced"


def test_the_policy_is_computed_once_per_person_per_run(rc_server, rc_client, monkeypatch):
    """Policy, then observe, match, plan with that one value: a site resolver (which may query the
    site's database) runs once per person, even in a targeted sync that reads and plans twice (the
    create was refused because the email is taken, so the person is looked up by email and adopted)."""
    import sys
    import types

    calls: list[str] = []
    mod = types.ModuleType("rcsync_test_counting_resolver")
    mod.grants = lambda person: calls.append(person.site_id)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rcsync_test_counting_resolver", mod)
    cfg = load_config({"PEOPLE": {"resolver": "rcsync_test_counting_resolver.grants"}})
    existing = rc_server.state.create_user("quinn.rc", name="Quinn", email="quinn@example.org")
    r = sync_people([site(9, "quinn", email="quinn@example.org")], rc_client, cfg)
    assert r.result_for("9").rc_user_id == existing["_id"] and r.counts["create_user"] == 1  # two passes
    assert calls == ["9"]
    calls.clear()
    reconcile_all([site(1, "ann"), site(2, "bob"), site(9, "quinn", email="quinn@example.org")], rc_client, cfg)
    assert sorted(calls) == ["1", "2", "9"]


def test_emails_swapped_on_the_site_are_swapped_in_one_run(rc_server, rc_client):
    """Rocket.Chat refuses an address another account holds (error-field-unavailable), so a swap goes
    through a parking address; the stand-in applies Rocket.Chat's rule, and the next run is empty."""
    st = rc_server.state
    people = [site(1, "ann"), site(2, "bob"), site(3, "cyd")]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    swapped = [replace(people[0], email="bob@example.org"), replace(people[1], email="cyd@example.org"),
               replace(people[2], email="ann@example.org")]
    r = reconcile_all(swapped, rc_client, CFG)
    assert r.failed == {} and r.counts == {"update_profile": 4}  # three moves, one parking
    assert [st.find_user_by_username(u)["emails"][0]["address"] for u in ("ann", "bob", "cyd")] == [
        "bob@example.org", "cyd@example.org", "ann@example.org"]
    assert reconcile_all(swapped, rc_client, CFG).counts == {}


class _MeetAtCreateRoom:
    """Delegates to a real bridge client; each ``create_room`` waits until the other run asks for the same
    room, so both send ``*.create`` for it after both observed it missing (the race of two workers on a
    fresh Rocket.Chat, made certain instead of likely). Everything else goes straight through."""

    def __init__(self, inner, barriers):
        self._inner, self._barriers = inner, barriers

    def create_room(self, name, type, members=()):
        self._barriers[name].wait(timeout=30)
        return self._inner.create_room(name, type, members)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_two_runs_creating_the_same_rooms_at_once_both_succeed_and_the_loser_reuses_the_room(rc_server, rc_client):
    """Issue 12: on a fresh Rocket.Chat two runs plan the same CreateRoom; the one that loses gets
    `error-duplicate-channel-name` (a Conflict). It reads the room back and applies its invites instead of
    failing them; a third run then writes nothing."""
    import threading

    from bridge import BridgeConfig
    from bridge.client import RocketChat

    from engine_service import SERVICE_USER

    st = rc_server.state
    accounts = {name: st.create_user(name, email=f"{name}@example.org") for name in ("olga", "pavel")}
    people = [site(1, "olga", role="owner"), site(2, "pavel", groups={"vip"})]
    people = [replace(p, link=AccountLink(accounts[p.username]["_id"], p.username, True)) for p in people]
    assert room_id(st, "vip") is None and room_id(st, "moderators") is None
    barriers = {"vip": threading.Barrier(2), "moderators": threading.Barrier(2)}
    other = RocketChat(BridgeConfig(url=rc_server.url, username=SERVICE_USER, password=SERVICE_PASSWORD,
                                    totp_secret=TOTP_SECRET, max_retries=1, backoff_base=0.01))
    reports, errors = {}, []

    def run(key, client):
        try:
            reports[key] = reconcile_all(people, _MeetAtCreateRoom(client, barriers), CFG)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(k, c)) for k, c in (("a", rc_client), ("b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        other.close()
    assert not errors and set(reports) == {"a", "b"}
    for key, report in reports.items():
        assert report.failed == {}, (key, report.failed, [(r.site_id, r.status, r.error) for r in report.results])
        assert report.applied.get("create_room") == 2
    assert [r["name"] for r in st.rooms.values() if r["name"] in ("vip", "moderators")].count("vip") == 1
    assert st.room_members(room_id(st, "vip")) == ["olga", "pavel", "rcsync"]
    assert st.room_members(room_id(st, "moderators")) == ["olga", "rcsync"]
    again = reconcile_all(people, rc_client, CFG)
    assert again.plan == () and again.writes == 0


def test_tangled_site_data_after_settled_accounts_were_slimmed_plans_no_renames(rc_server, rc_client):
    """The streamed pass drops the display names of accounts it has settled (sync_tasks.engine's
    ``settle``); two people linked to one account send the run back to matching everyone at once,
    which must read the accounts again rather than see every settled name as changed."""
    people = [site(i, f"member{i}", name=f"Member {i}") for i in range(1, 5)]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    assert reconcile_all(people, rc_client, CFG).plan == ()
    twin = replace(site(5, "twin", name="Twin"), link=people[0].link)  # a stale duplicate link
    report = reconcile_all(people + [twin], rc_client, CFG, dry_run=True)
    assert report.plan == ()  # not an update_profile per settled person
    assert report.result_for("5").status == "conflict" and "site user 1" in report.result_for("5").error
    assert {r.site_id: r.status for r in report.results} == {"1": "synced", "2": "synced", "3": "synced",
                                                             "4": "synced", "5": "conflict"}
    assert rc_server.state.find_user_by_username("member2")["name"] == "Member 2"


def test_full_reconcile_results_behave_as_the_tuple_they_stand_for(rc_server, rc_client):
    """A full reconcile keeps its left-alone people as columns (sync_tasks.results.MergedResults): the
    site's code adds, indexes, compares and iterates them like the tuple a targeted sync returns."""
    people = [site(i, f"member{i}") for i in (1, 2, 3, 10)]
    people = relink(people, reconcile_all(people, rc_client, CFG))
    people[1] = replace(people[1], name="Renamed Two")  # one person worked on, three left alone
    report = reconcile_all(people, rc_client, CFG)
    as_tuple = tuple(report.results)
    assert [r.site_id for r in as_tuple] == ["1", "2", "3", "10"] and len(report.results) == 4
    assert report.results == as_tuple and as_tuple == report.results
    assert report.results[0] == as_tuple[0] and report.results[-1].site_id == "10"
    assert report.results[1:3] == as_tuple[1:3]
    assert report.results + () == as_tuple and () + report.results == as_tuple
    assert [r.status for r in as_tuple] == ["synced"] * 4
    assert as_tuple[1].planned and not as_tuple[0].planned
    assert all(r.rc_user_id and r.rc_username == f"member{r.site_id}" and r.created_by_bridge for r in as_tuple)
    assert report.status_counts() == {"synced": 4}
