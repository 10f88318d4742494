"""Bad site data never stops a run: >= 200 hostile records each get a valid account or a reasoned error."""
from __future__ import annotations

import random
import re
from dataclasses import replace

from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.identity import RESERVED_USERNAMES
from sync_tasks.ops import CreateUser
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.simulate import observe

from sync_world import base_world

CFG = load_config({})
RC_NAME = re.compile(r"^[0-9a-zA-Z\-_.]+$")

USERNAMES = ["", "   ", "admin", "Administrator", "SYSTEM", "user", "all", "here", "Иван Петров", "иван.петров",
             "Ёжик в тумане", "李小龙", "محمد", "Ωμέγα", "José María", "o'brien", "dup", "dup", "DUP", "x" * 300,
             "a/b\\c", "<script>", "tab\tname", "emoji😀", "..", "-", "_", "rocket.cat", "Łukasz", "straße"]
EMAILS = [None, "", "not-an-email", "a@b", "dup@example.org", "DUP@example.org", " spaced@example.org ",
          "x@" + "d" * 300 + ".org", "ok{}@example.org", "üñí@exämple.org", "two@@example.org",
          "p{}@example.org", "Q{}@Example.ORG", "r{}+tag@example.org"]
NAMES = ["", "<b>bold</b>", "back\\slash", "a/b", "Normal Name", "  spaces  ", "\x00ctrl", "N" * 500, None]


def bad_people(n=240, seed=7):
    rnd = random.Random(seed)
    people = []
    for i in range(1, n + 1):
        email = rnd.choice(EMAILS)
        if email and "{}" in email:
            email = email.format(i)
        people.append(SitePerson(site_id=str(i), username=rnd.choice(USERNAMES), email=email,
                                 email_verified=rnd.random() < 0.5, name=rnd.choice(NAMES) or "",
                                 active=rnd.random() < 0.9, role=rnd.choice(["user", "owner", "moderator", "nope", None]),
                                 groups=frozenset(rnd.sample(["vip", "x"], rnd.randint(0, 2)))))
    # plus a duplicate site id and exact duplicates
    people.append(SitePerson(site_id="7", username="dup-site-id", email="dsi@example.org"))
    return people


def check_all(people, decision):
    creates = {op.site_id: op for op in decision.ops if isinstance(op, CreateUser)}
    issues = {i.site_id: i for i in decision.issues}
    targets = {t.desired.site_id for t in decision.targets}
    seen_names, seen_emails = set(), set()
    for p in people:
        assert p.site_id in issues or p.site_id in targets, p
        if p.site_id in issues:
            assert issues[p.site_id].reason and issues[p.site_id].status in {"error", "conflict", "skipped"}
        if p.site_id in creates:
            op = creates[p.site_id]
            assert RC_NAME.match(op.username) and len(op.username) <= 32, op
            assert op.username.lower() not in RESERVED_USERNAMES
            assert op.username.lower() not in seen_names
            seen_names.add(op.username.lower())
            assert re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", op.email) and op.email.lower() not in seen_emails
            seen_emails.add(op.email.lower())
            assert not re.search(r"[<>\\/\x00-\x1f]", op.name) and 0 < len(op.name) <= 120
    return creates, issues


def test_every_bad_record_gets_an_account_or_a_reason():
    people = bad_people()
    assert len(people) >= 200
    d = decide(people, observe(base_world(CFG)), CFG)
    creates, issues = check_all(people, d)
    assert len(creates) > 50 and len(issues) > 20
    reasons = {i.reason for i in issues.values()}
    assert any("missing or invalid email" in r for r in reasons)
    assert any("duplicate email" in r for r in reasons)
    assert any("share this site id" in r for r in reasons)


def test_bad_records_are_handled_deterministically():
    people = bad_people()
    d1 = decide(people, observe(base_world(CFG)), CFG)
    shuffled = list(people)
    random.Random(1).shuffle(shuffled)
    d2 = decide(shuffled, observe(base_world(CFG)), CFG)
    assert d1.ops == d2.ops and d1.issues == d2.issues


def test_resolver_failure_costs_one_person(monkeypatch):
    import types, sys
    mod = types.ModuleType("rcsync_test_resolver")

    def grants(person):
        if person.site_id == "2":
            raise RuntimeError("site bug")
        if person.site_id == "3":
            return {"rooms": ["nope"]}
        return {"rooms": ["vip"]} if person.role == "owner" else None

    mod.grants = grants
    monkeypatch.setitem(sys.modules, "rcsync_test_resolver", mod)
    cfg = load_config({"PEOPLE": {"resolver": "rcsync_test_resolver.grants"}})
    people = [SitePerson(str(i), f"u{i}", f"u{i}@example.org", True, role="owner" if i == 1 else "user")
              for i in range(1, 5)]
    d = decide(people, observe(base_world(cfg)), cfg)
    issues = {i.site_id: i.reason for i in d.issues}
    assert "site bug" in issues["2"] and "unmanaged rooms ['nope']" in issues["3"]
    assert {t.desired.site_id for t in d.targets} == {"1", "4"}


def test_bad_records_against_the_stand_in(rc_server, rc_client):
    """The same 240 hostile records through reconcile_all over HTTP: the run completes, every record
    ends as an account Rocket.Chat accepted or as a per-person error/conflict/skip with a reason."""
    from sync_tasks.engine import reconcile_all

    people = bad_people()
    report = reconcile_all(people, rc_client, CFG)
    assert not report.stopped_by_safety
    by_site = {}
    for r in report.results:
        by_site.setdefault(r.site_id, []).append(r)
    st = rc_server.state
    for p in people:
        results = by_site[p.site_id]
        for r in results:
            if r.status == "synced":
                user = st.find_user(r.rc_user_id)
                assert user is not None and RC_NAME.match(user["username"]) and user["active"]
                assert not re.search(r"[<>\\/]", user["name"])
            else:
                assert r.status in {"error", "conflict", "skipped"} and r.error, r
    synced = [r for r in report.results if r.status == "synced"]
    assert len(synced) > 50 and report.failed == {}
    again = reconcile_all([replace(p, link=AccountLink(r.rc_user_id, r.rc_username, True))
                           if (r := report.result_for(p.site_id)) is not None and r.status == "synced" else p
                           for p in people], rc_client, CFG)
    assert again.plan == ()
