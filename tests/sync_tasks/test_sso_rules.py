"""SSO co-existence in the pure pipeline: what rcsync creates, links or refuses for each login rule of
reference §11.1 (Custom OAuth, ``app/custom-oauth/server/custom_oauth_server.js`` at 7dd5655)."""
from __future__ import annotations

import itertools

import pytest

from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.ops import CreateUser, UpdateProfile
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.sso import SsoObserved, creation_blocker, default_identity, identity_from, login_made_account, oauth_setting_name
from sync_tasks.state import ObservedAccount, ObservedRoom, ObservedState

ROOMS = {"general": {"type": "public", "id": "GENERAL"}}
RULES = [{"when": "always", "roles": ["user"], "rooms": ["general"]}]


def cfg(**sso):
    return load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka", **sso}})


def state(*accounts, sso=None):
    accts = {a.user_id: a for a in accounts}
    accts["svc"] = ObservedAccount("svc", "rcsync", "rcsync", "svc@example.org", True, True, frozenset({"admin"}))
    return ObservedState(accounts=accts, rooms={"general": ObservedRoom("general", "GENERAL", "general", "c")},
                         roles={"admin": "admin", "user": "user"}, service_user_id="svc", complete=True, sso=sso)


READY = SsoObserved(registered=True, enabled=True, key_field="username", merge_users=True, distinct_services=True)


def person(i, username, **kw):
    kw.setdefault("email", f"{username.lower()}@example.org")
    kw.setdefault("email_verified", True)
    return SitePerson(site_id=str(i), username=username, name=kw.pop("name", username.title()), **kw)


# --- §11.1: does a login attach to an account users.create made? -------------------------------------------

def login_attaches_to_precreated(key_field: str, merge: bool, distinct: bool) -> bool:
    """The reference's table, independently of rcsync's code: a users.create account has no
    services.besedka, so only the distinct-services lookup finds it, and only merge lets the login use it."""
    found = distinct  # off: username/email AND services.besedka.id must match, which never holds here
    return found and merge


@pytest.mark.parametrize("key_field,merge,distinct", list(itertools.product(("username", "email"), (False, True),
                                                                             (False, True))))
def test_create_ahead_creates_only_when_the_login_attaches(key_field, merge, distinct):
    c = cfg(key_field=key_field)
    seen = SsoObserved(registered=True, enabled=True, key_field=key_field, merge_users=merge, distinct_services=distinct)
    d = decide([person(1, "alice")], state(sso=seen), c)
    created = [op for op in d.ops if isinstance(op, CreateUser)]
    assert bool(created) == login_attaches_to_precreated(key_field, merge, distinct)
    if not created:
        (issue,) = d.issues
        assert issue.status == "conflict" and "not created" in issue.reason
        if not merge:
            assert "Accounts_OAuth_Custom-Besedka-merge_users" in issue.reason
        if not distinct:
            assert "Accounts_OAuth_Custom-Besedka-merge_users_distinct_services" in issue.reason


def test_key_field_mismatch_unreadable_unregistered_disabled_create_nothing():
    c = cfg(key_field="username")
    cases = {
        "is 'email' but RCSYNC['SSO']['key_field']": SsoObserved(registered=True, enabled=True, key_field="email",
                                                                merge_users=True, distinct_services=True),
        "cannot read the besedka OAuth settings": SsoObserved(readable=False),
        "does not exist in Rocket.Chat": SsoObserved(registered=False),
        "is switched off": SsoObserved(registered=True, enabled=False, merge_users=True, distinct_services=True),
    }
    for needle, seen in cases.items():
        d = decide([person(1, "alice")], state(sso=seen), c)
        assert not any(isinstance(op, CreateUser) for op in d.ops), needle
        assert needle in d.issues[0].reason
    assert not any(isinstance(op, CreateUser) for op in decide([person(1, "alice")], state(sso=None), c).ops)


def test_precreated_account_uses_exactly_the_identity():
    def ident(user):  # the site's identity endpoint serves another username than the site's own
        return {"id": f"u{user.site_id}", "username": "alice.w", "email": "Alice.W@Example.org", "name": "Alice W."}
    c = cfg()
    p = person(1, "Alice", sso_identity=ident(person(1, "x")))
    (create,) = [op for op in decide([p], state(sso=READY), c).ops if isinstance(op, CreateUser)]
    assert (create.username, create.email, create.name) == ("alice.w", "Alice.W@Example.org", "Alice W.")


def test_a_transliterated_username_is_never_created_for_a_login_presenting_another():
    # Without SSO rcsync would create "ivan"; the login presents "иван" and would not find "ivan".
    p = person(1, "иван", email="ivan@example.org")
    d = decide([p], state(sso=READY), cfg())
    assert not any(isinstance(op, CreateUser) for op in d.ops)
    (issue,) = d.issues
    assert issue.status == "conflict" and "'иван'" in issue.reason and "refuses as a username" in issue.reason
    plain = load_config({"ROOMS": ROOMS, "RULES": RULES})
    assert [op.username for op in decide([p], state(), plain).ops if isinstance(op, CreateUser)] == ["ivan"]


def test_username_held_by_another_account_is_reported_not_suffixed():
    other = ObservedAccount("o1", "Alice", "Someone", "someone@example.org", True, True, frozenset({"user"}))
    d = decide([person(1, "alice")], state(other, sso=READY), cfg())
    assert not any(isinstance(op, CreateUser) for op in d.ops)  # no "alice-2"
    (issue,) = d.issues
    assert issue.status == "conflict" and "@Alice (o1)" in issue.reason and "take that account over" in issue.reason


def test_email_held_by_another_account_is_a_conflict():
    other = ObservedAccount("o1", "someone", "Someone", "ALICE@example.org", False, True, frozenset({"user"}))
    d = decide([person(1, "alice", email_verified=False)], state(other, sso=READY), cfg())
    assert not any(isinstance(op, CreateUser) for op in d.ops)
    assert d.issues[0].status == "conflict" and "email is already used" in d.issues[0].reason


def test_wait_for_login_creates_nothing_and_says_so():
    d = decide([person(1, "alice")], state(sso=None), cfg(mode="wait_for_login"))
    assert not any(isinstance(op, CreateUser) for op in d.ops)
    assert [(i.status, "waiting for the first sign-in through besedka" in i.reason) for i in d.issues] == [("waiting", True)]


def test_wait_for_login_links_the_account_the_login_made_and_applies_the_policy():
    made = ObservedAccount("rc1", "alice", "Alice", "alice@example.org", True, True, frozenset({"user"}), frozenset())
    d = decide([person(1, "alice")], state(made), cfg(mode="wait_for_login"))
    (t,) = d.targets
    assert t.user_id == "rc1" and t.adopted and not t.created_by_bridge and not d.issues
    assert {op.kind for op in d.ops} == {"invite"}


def test_an_account_with_an_unverified_email_is_not_linked():
    # A self-registered squatter (or Accounts_Verify_Email_For_External_Accounts off): not provably the person's.
    squat = ObservedAccount("rc1", "alice", "Alice", "alice@example.org", False, True, frozenset({"user"}), frozenset())
    c = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka", "mode": "wait_for_login"},
                     "IDENTITY": {"adopt": "never"}})
    d = decide([person(1, "alice")], state(squat), c)
    assert not d.targets and d.issues[0].status == "conflict"
    assert "Accounts_Verify_Email_For_External_Accounts" in d.issues[0].reason


def test_login_made_account_rule():
    ident = identity_from({"id": "7", "username": "Alice", "email": "a@x.org"})
    assert login_made_account(ident, "alice", "A@X.org", True)
    assert not login_made_account(ident, "alice", "a@x.org", False)
    assert not login_made_account(ident, "alice2", "a@x.org", True)
    assert not login_made_account(ident, "alice", None, True)


def test_provider_owns_name_and_email_by_default():
    acct = ObservedAccount("rc1", "alice", "Alice (from provider)", "old@example.org", True, True,
                           frozenset({"user"}), frozenset({"general"}))
    p = person(1, "alice", link=AccountLink("rc1", "alice"), name="Alice Site")
    assert not [op for op in decide([p], state(acct, sso=READY), cfg()).ops if isinstance(op, UpdateProfile)]
    ours = cfg(profile={"name": "rcsync"})
    (up,) = [op for op in decide([p], state(acct, sso=READY), ours).ops if isinstance(op, UpdateProfile)]
    assert up.name == "Alice Site" and up.email is None
    plain = load_config({"ROOMS": ROOMS, "RULES": RULES})
    (up,) = [op for op in decide([p], state(acct), plain).ops if isinstance(op, UpdateProfile)]
    assert up.name == "Alice Site" and up.email == "alice@example.org"


def test_a_vanished_link_is_recreated_or_relinked_never_an_error():
    p = person(1, "alice", link=AccountLink("gone", "alice"))
    d = decide([p], state(sso=READY), cfg())
    assert [op.username for op in d.ops if isinstance(op, CreateUser)] == ["alice"] and not d.issues
    restored = ObservedAccount("new-id", "alice", "Alice", "alice@example.org", False, True, frozenset({"user"}),
                               frozenset({"general"}))
    plain = load_config({"ROOMS": ROOMS, "RULES": RULES, "IDENTITY": {"adopt": "never"}})
    d = decide([p], state(restored), plain)
    assert [t.user_id for t in d.targets] == ["new-id"] and not d.issues and d.targets[0].created_by_bridge


def test_identity_function_errors_are_that_persons_error():
    p = person(1, "alice", sso_identity={"error": "myapp.ident failed: KeyError: 'x'"})
    d = decide([p, person(2, "bob")], state(sso=READY), cfg())
    assert [(i.site_id, i.status) for i in d.issues] == [("1", "error")] and "KeyError" in d.issues[0].reason
    assert [op.username for op in d.ops if isinstance(op, CreateUser)] == ["bob"]
    with pytest.raises(ValueError, match="no id, username"):
        identity_from({"name": "x"})


def test_names_and_defaults():
    assert oauth_setting_name("besedka") == "Besedka" == oauth_setting_name("BESEDKA")
    assert oauth_setting_name("My SSO-2") == "Mysso2"
    assert default_identity(person(3, "Zoe", name="")) == {"id": "3", "username": "Zoe", "email": "zoe@example.org",
                                                           "name": "Zoe"}
    assert creation_blocker(cfg().sso, READY) is None


def test_a_privileged_account_is_never_linked_on_looks_alone():
    admin = ObservedAccount("rc1", "alice", "Alice", "alice@example.org", True, True, frozenset({"user", "admin"}),
                            frozenset())
    c = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka", "mode": "wait_for_login"},
                     "IDENTITY": {"adopt": "never"}})
    d = decide([person(1, "alice")], state(admin), c)
    assert not d.targets and d.issues[0].status == "conflict"
    assert "privileged: admin; never linked automatically" in d.issues[0].reason
