"""The adoption guard (issue 14 M2/M3, ``sync_tasks.adoption``), one rule per test, in the pure pipeline:
rcsync never adopts a privileged, bot/app, service or already-linked account unless allow-listed, and a
refused match is a conflict naming the reason. Every path plans with ``decide``; the targeted one differs
only in what it observed (``complete=False``, other people's links as ``ObservedState.claimed``)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from sync_tasks.adoption import adoption_refusal
from sync_tasks.config import ConfigError, load_config
from sync_tasks.decide import decide
from sync_tasks.ops import CreateUser
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.state import ObservedAccount, ObservedRoom, ObservedState

ROOMS = {"general": {"type": "public", "id": "GENERAL"}}
RULES = [{"when": "always", "roles": ["user"], "rooms": ["general"]}]


def cfg(**identity):
    return load_config({"ROOMS": ROOMS, "RULES": RULES, "IDENTITY": identity})


def acct(uid, username, email, roles=("user",), type_="user"):
    return ObservedAccount(uid, username, username.title(), email, True, True, frozenset(roles), frozenset(), type=type_)


WORLD = [
    acct("boss-id", "boss", "boss@example.org", ("admin", "user")),
    acct("bot-id", "helper-bot", "bot@example.org", ("bot",), "bot"),
    acct("app-id", "zap", "zap@example.org", ("app",), "app"),
    acct("rb-id", "ci", "ci@example.org", ("bot", "user")),
    acct("aud-id", "auditor", "aud@example.org", ("auditor", "user")),
    acct("carol-id", "carol", "carol@example.org"),
    acct("free-id", "free", "free@example.org"),
]


def state(complete=True, claimed=None):
    accts = {a.user_id: a for a in WORLD}
    accts["svc"] = acct("svc", "rcsync", "svc@example.org", ("admin",))
    return ObservedState(accounts=accts, rooms={"general": ObservedRoom("general", "GENERAL", "general", "c")},
                         roles={"admin": "admin", "user": "user", "bot": "bot", "app": "app"}, service_user_id="svc",
                         service_username="rcsync", complete=complete, claimed=claimed or {})


def mallory(username="mallory", email="mallory@example.org", verified=True):
    return SitePerson("7", username, email, verified, name="Mallory")


PATHS = {"full": dict(complete=True), "targeted": dict(complete=False)}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("who,how,account,reason", [
    ("admin by verified email", dict(email="Boss@Example.org"), "boss-id", "privileged role admin"),
    ("admin by username", dict(username="Boss"), "boss-id", "privileged role admin"),
    ("bot by email", dict(email="bot@example.org"), "bot-id", "bot account"),
    ("bot by username", dict(username="helper-bot"), "bot-id", "bot account"),
    ("app by email", dict(email="zap@example.org"), "app-id", "app account"),
    ("role bot by username", dict(username="ci"), "rb-id", "bot account (role bot)"),
    ("service account by email", dict(email="svc@example.org"), "svc", "rcsync service account"),
    ("service account by username", dict(username="rcsync"), "svc", "rcsync service account"),
    ("custom privileged role", dict(email="aud@example.org"), "aud-id", "privileged role auditor"),
])
def test_a_match_that_would_take_an_account_over_is_a_conflict_naming_why(path, who, how, account, reason):
    c = cfg(adopt=["email_verified", "username"], privileged_roles=["admin", "auditor"])
    d = decide([mallory(**how)], state(**PATHS[path]), c)
    assert not d.targets, f"{who}: planned {d.targets}"
    (issue,) = d.issues
    assert issue.status == "conflict" and reason in issue.reason and account in issue.reason, issue
    assert not [op for op in d.ops if getattr(op, "user_id", None) == account]  # no write touches it


def test_linked_to_another_person_full_run_and_targeted():
    """Full run: carol is in the run and binds her account first. Targeted: only ``claimed`` says so."""
    carol = SitePerson("3", "carol", "carol@example.org", True, link=AccountLink("carol-id", "carol", True))
    c = cfg(adopt=["email_verified", "username"])
    for people, observed in (([carol, mallory(email="carol@example.org")], state()),
                             ([mallory(email="carol@example.org")], state(False, {"carol-id": "3"})),
                             ([mallory(username="carol")], state(False, {"carol-id": "3"}))):
        d = decide(people, observed, c)
        bound = {t.desired.site_id: t.user_id for t in d.targets}
        assert bound.get("7") is None and "7" not in bound
        issue = {i.site_id: i for i in d.issues}["7"]
        assert issue.status == "conflict" and "linked to site user 3" in issue.reason


def test_a_duplicate_link_left_from_before_unique_links_is_a_conflict():
    """The migration clears duplicates, but a link to an account ``claimed`` by another is never followed."""
    p = SitePerson("7", "mallory", "m@example.org", True, link=AccountLink("carol-id", "carol", False))
    d = decide([p], state(False, {"carol-id": "3"}), cfg())
    assert not d.targets and "already linked to site user 3" in d.issues[0].reason


def test_username_adoption_never_rewrites_a_privileged_accounts_email():
    """M2's second half: before the guard, adopt-by-username planned boss's email -> mallory's address."""
    d = decide([mallory(username="boss")], state(), cfg(adopt=["username"]))
    assert not [op for op in d.ops if getattr(op, "user_id", None) == "boss-id"]
    assert "privileged role admin" in d.issues[0].reason and not any(isinstance(op, CreateUser) for op in d.ops)


@pytest.mark.parametrize("how,account", [(dict(email="boss@example.org"), "boss-id"),
                                         (dict(username="boss"), "boss-id"),
                                         (dict(email="bot@example.org"), "bot-id"),
                                         (dict(username="zap"), "app-id")])
def test_an_allow_listed_id_is_adopted(how, account):
    c = cfg(adopt=["email_verified", "username"], adopt_allow_ids=[account])
    d = decide([mallory(**how)], state(complete=False), c)
    assert [(t.user_id, t.adopted) for t in d.targets] == [(account, True)] and not d.issues


def test_the_allow_list_never_lifts_the_service_or_linked_rules():
    c = cfg(adopt=["email_verified", "username"], adopt_allow_ids=["svc", "carol-id"])
    for person in (mallory(email="svc@example.org"), mallory(username="carol")):
        d = decide([person], state(False, {"carol-id": "3"}), c)
        assert not d.targets and d.issues[0].status == "conflict"


def test_an_ordinary_account_is_still_adopted_by_verified_email():
    d = decide([mallory(email="free@example.org")], state(), cfg())
    assert [(t.user_id, t.adopted) for t in d.targets] == [("free-id", True)]
    d = decide([mallory(email="free@example.org", verified=False)], state(), cfg())
    assert not d.targets and "not verified" in d.issues[0].reason


def test_empty_privileged_roles_is_allowed_and_adopts_admins():
    """An explicit choice (rcsync check warns about it): the bot and service rules still hold."""
    c = cfg(privileged_roles=[])
    assert adoption_refusal(WORLD[0], state(), c.identity, {}) is None
    assert "bot" in adoption_refusal(WORLD[1], state(), c.identity, {})


@pytest.mark.parametrize("bad", [{"privileged_roles": "admin"}, {"privileged_roles": [""]},
                                 {"adopt_allow_ids": "boss-id"}, {"adopt_allow_ids": [1]}])
def test_bad_identity_keys_are_refused_at_start_up(bad):
    with pytest.raises(ConfigError):
        cfg(**bad)


def test_sso_look_alike_of_an_admin_is_never_linked_unless_allow_listed():
    """The SSO path (match_sso.sso_claim): same username and email as the login would present."""
    sso = {"service": "besedka", "mode": "wait_for_login"}
    admin = acct("rc1", "alice", "alice@example.org", ("user", "admin"))
    observed = replace(state(), accounts={**state().accounts, "rc1": admin})
    alice = SitePerson("1", "alice", "alice@example.org", True, name="Alice")
    base = {"ROOMS": ROOMS, "RULES": RULES, "SSO": sso}
    d = decide([alice], observed, load_config({**base, "IDENTITY": {"adopt": "never"}}))
    assert not d.targets and "privileged" in d.issues[0].reason
    d = decide([alice], observed, load_config({**base, "IDENTITY": {"adopt": "never", "adopt_allow_ids": ["rc1"]}}))
    assert [t.user_id for t in d.targets] == ["rc1"]
