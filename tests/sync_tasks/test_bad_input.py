"""Bad site data never stops a run: >= 500 hostile records each get a valid account or a reasoned error.

The corpus: 240 random combinations of bad usernames, emails and names (``bad_people``), plus the
records of ``hostile_corpus``: bidi, zero-width and control characters, Unicode digits, over-long keys
and take-over attempts on a human admin's and on an already linked account (``hostile_people``).
"""
from __future__ import annotations

import random
import re

import pytest
from dataclasses import replace

from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.identity import RESERVED_USERNAMES
from sync_tasks.ops import CreateUser
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.simulate import observe

from hostile_corpus import (ADMIN_EMAIL, APP_EMAIL, APP_USERNAME, BOT_EMAIL, BOT_USERNAME, CAROL_SITE_ID, INVISIBLE, VICTIM_IDS, TakeOver, extra_hostile,
                            takeover_records, victim_accounts)
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


def hostile_people(service_email="svc@example.org", carol_id="carol-id"):
    """The whole corpus: the 240 random records and the >= 260 targeted ones."""
    return bad_people() + extra_hostile(service_email, carol_id)


def hostile_world(cfg):
    """The in-memory Rocket.Chat the corpus meets: service account, a human admin, carol's account."""
    w = base_world(cfg)
    for acct in victim_accounts(cfg.room_keys):
        w.accounts[acct.user_id] = acct
    return w


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
            assert not any(ch in op.name or ch in op.email for ch in INVISIBLE), op
    return creates, issues


def test_every_bad_record_gets_an_account_or_a_reason():
    people = hostile_people()
    assert len(people) >= 500
    d = decide(people, observe(hostile_world(CFG)), CFG)
    creates, issues = check_all(people, d)
    assert len(creates) > 50 and len(issues) > 20
    reasons = {i.reason for i in issues.values()}
    assert any("missing or invalid email" in r for r in reasons)
    assert any("duplicate email" in r for r in reasons)
    assert any("share this site id" in r for r in reasons)
    assert any("invisible or control characters" in r for r in reasons)
    for p in extra_hostile():  # the targeted records: every invisible character left its email refused
        if p.active and p.email and any(ch in p.email.strip() for ch in INVISIBLE):
            assert "invisible or control characters" in issues[p.site_id].reason, p


def test_bad_records_are_handled_deterministically():
    people = hostile_people()
    d1 = decide(people, observe(hostile_world(CFG)), CFG)
    shuffled = list(people)
    random.Random(1).shuffle(shuffled)
    d2 = decide(shuffled, observe(hostile_world(CFG)), CFG)
    assert d1.ops == d2.ops and d1.issues == d2.issues


PRIVILEGED = {"privileged_roles": ["admin", "auditor"]}
CFG_GUARD = load_config({"IDENTITY": PRIVILEGED})
ADOPT_BY_USERNAME = load_config({"IDENTITY": {"adopt": ["email_verified", "username"], **PRIVILEGED}})

#: What each take-over ends as, per way of running (full reconcile; a targeted sync of the attacker
#: alone, carol's link known only as ``ObservedState.claimed``; the same with adoption by username):
#: a fragment of the person's conflict/error reason, or ``"new"`` for a new account of its own.
GUARDED = {
    "9001": "privileged role admin", "9002": "privileged role admin", "9003": "privileged role admin",
    "9004": "not verified", "9008": "invisible or control", "9029": "invisible or control",
    "9009": "linked to site user 9000", "9010": "linked to site user 9000",
    "9012": "rcsync service account", "9021": "bot account", "9023": "app account", "9025": "bot account",
    "9027": "privileged role auditor",
}
BY_USERNAME = {"9005": "privileged role admin", "9006": "privileged role admin", "9007": "privileged role admin",
               "9011": "linked to site user 9000", "9013": "rcsync service account", "9020": "bot account",
               "9022": "bot account", "9024": "app account", "9026": "bot account",
               "9028": "privileged role auditor"}


def _expected(how: str, site_id: str) -> str:
    if how == "username" and site_id in BY_USERNAME:
        return BY_USERNAME[site_id]
    return GUARDED.get(site_id, "new")


def _takeover_cases():
    for how in ("full", "targeted", "username"):
        for t in takeover_records("svc@example.org"):
            yield pytest.param(how, t, id=f"{how}-{t.person.site_id}-{t.victim}")


@pytest.mark.parametrize("how,takeover", list(_takeover_cases()))
def test_takeover_records_never_adopt_someone_elses_account(how, takeover: TakeOver):
    """A site user with an admin's, a bot's or the service account's email or username, or with the email of
    an account linked to another site person, ends as a conflict naming why (or a new account of its own
    when nothing adopts by that field), never bound to the victim's account, on every path."""
    cfg = ADOPT_BY_USERNAME if how == "username" else CFG_GUARD
    world = hostile_world(cfg)
    people = hostile_people() if how == "full" else [takeover.person]
    observed = observe(world)
    if how != "full":  # what django_hooks.links.claimed_by_others tells a targeted sync
        observed = replace(observed, claimed={"carol-id": CAROL_SITE_ID})
    d = decide(people, observed, cfg)
    bound = {t.desired.site_id: t.user_id for t in d.targets}
    site_id = takeover.person.site_id
    assert bound.get(site_id) != VICTIM_IDS[takeover.victim], f"{site_id} adopted the {takeover.victim} account"
    assert not set(bound.values()) & {v for k, v in VICTIM_IDS.items() if k != "carol"}
    if how == "full":
        assert bound[CAROL_SITE_ID] == "carol-id"  # the linked person keeps her account
    issues = {i.site_id: i for i in d.issues}
    want = _expected(how, site_id)
    if want == "new":
        assert site_id in bound and bound[site_id] is None, issues.get(site_id)
    else:
        assert site_id in issues and want in issues[site_id].reason, issues.get(site_id)
        assert issues[site_id].status in ("conflict", "error")
    victim = VICTIM_IDS[takeover.victim]  # nothing at all touches the victim's account
    assert not [op for op in d.ops if getattr(op, "user_id", None) == victim and op.site_id != CAROL_SITE_ID]


def test_allow_listed_privileged_and_bot_accounts_are_adopted():
    """``adopt_allow_ids`` lifts the privileged and bot rules for the reviewed ids only; the service account
    and a linked account stay refused even when listed."""
    cfg = load_config({"IDENTITY": {"adopt": ["email_verified", "username"], "adopt_allow_ids":
                                    ["boss-id", "bot-id", "svc", "carol-id"], **PRIVILEGED}})
    observed = replace(observe(hostile_world(cfg)), claimed={"carol-id": CAROL_SITE_ID})
    records = {t.person.site_id: t.person for t in takeover_records("svc@example.org")}
    for site_id, victim in (("9001", "boss-id"), ("9005", "boss-id"), ("9020", "bot-id"), ("9021", "bot-id")):
        d = decide([records[site_id]], observed, cfg)
        assert [(t.user_id, t.adopted) for t in d.targets] == [(victim, True)], d.issues
    for site_id in ("9009", "9012", "9013"):
        d = decide([records[site_id]], observed, cfg)
        assert not d.targets and d.issues[0].status == "conflict", d.targets
    d = decide([records["9027"]], observed, cfg)  # not listed: still refused
    assert "privileged role auditor" in d.issues[0].reason


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
    """The same >= 500 hostile records through reconcile_all over HTTP: the run completes, every record
    ends as an account Rocket.Chat accepted or as a per-person error/conflict/skip with a reason."""
    from sync_tasks.engine import reconcile_all

    st = rc_server.state
    boss = st.create_user("boss", password="pw-boss-Very-1", email=ADMIN_EMAIL, roles=["admin", "user"])
    carol = st.create_user("carol", password="pw-carol-Very-1", email="carol@example.org")
    bot = st.create_user(BOT_USERNAME, email=BOT_EMAIL, roles=["bot"], user_type="bot")
    app = st.create_user(APP_USERNAME, email=APP_EMAIL, roles=["app"], user_type="app")
    people = hostile_people(service_email="rcsync@example.org", carol_id=carol["_id"])
    assert len(people) >= 500
    report = reconcile_all(people, rc_client, CFG)
    assert not report.stopped_by_safety
    victims = {boss["_id"], bot["_id"], app["_id"]}
    assert not [r for r in report.results if r.rc_user_id in victims]  # none adopted, over HTTP too
    assert "privileged role admin" in report.result_for("9001").error
    assert "bot account" in report.result_for("9021").error and "app account" in report.result_for("9023").error
    after = st.find_user(boss["_id"])
    assert after["roles"] == ["admin", "user"] and after["emails"][0]["address"] == ADMIN_EMAIL
    by_site = {}
    for r in report.results:
        by_site.setdefault(r.site_id, []).append(r)
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
