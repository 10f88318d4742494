"""The streamed full reconcile (sync_tasks.stream) plans exactly what matching everyone at once does.

Worlds come from the property tests' generator (tests/sync_tasks/test_plan_properties.py), with more
people whose link and email are already right (the "settled" people the stream plans page by page),
and sometimes two records with one site id or two people linked to one account (then the stream
gives up and the engine plans everyone at once). Pages of 2 make every world cross page boundaries.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given, strategies as st

from sync_tasks.config import load_config
from sync_tasks.decide import decide, to_reveal
from sync_tasks.person import AccountLink, site_sort_key
from sync_tasks.plan import ownership_from_config
from sync_tasks.simulate import observe
from sync_tasks.state import ObservedAccount
from sync_tasks.stream import plan_streamed

from sync_world import base_world, person
from test_plan_properties import SETTINGS, pinned, scenarios


@st.composite
def streamed_scenarios(draw):
    config, world, people = draw(scenarios())
    out = []
    for p in people:
        acct = world.accounts.get(p.link.rc_user_id) if p.link is not None else None
        if acct is not None and draw(st.booleans()):  # settled: the site agrees with the account's email
            p = replace(p, email=acct.email, name=acct.name)
        out.append(p)
    if out and draw(st.integers(0, 5)) == 0:  # a second record for a site id, or for an account
        twin = draw(st.sampled_from(out))
        other = draw(st.sampled_from(out))
        out.append(replace(other, site_id=twin.site_id) if draw(st.booleans()) else
                   replace(twin, site_id="99", link=other.link))
    order = draw(st.permutations(range(len(out))))
    return config, world, [out[i] for i in order]


def _rows(targets, quiet=()):
    rows = [(t.desired.site_id, t.user_id, t.username, t.created_by_bridge if t.user_id else None)
            for t in targets]
    rows += [(r.site_id, r.rc_user_id, r.rc_username, r.created_by_bridge) for r in quiet]
    return sorted(rows)


def _both(config, world, people):
    """(decision of everyone at once, streamed plan or None, ids each revealed)."""
    observed = observe(world)
    hidden = to_reveal(people, observed, config)
    whole = decide(people, observe(world, reveal=hidden), config)
    streamed_state = observe(world)
    revealed = []

    def reveal(ids):
        revealed.extend(ids)
        for uid in ids:
            streamed_state.accounts[uid] = world.accounts[uid]

    streamed = plan_streamed(iter(people), streamed_state, config, ownership_from_config(config), reveal=reveal,
                             page=2)
    return whole, streamed, (sorted(hidden), sorted(revealed))


def _tangled(people) -> bool:
    ids = [p.site_id for p in people]
    links = [p.link.rc_user_id for p in people if p.link is not None]
    return len(set(ids)) != len(ids) or len(set(links)) != len(links)


@SETTINGS
@given(streamed_scenarios())
def test_streamed_plan_is_the_plan_of_everyone_at_once(scenario):
    config, world, people = scenario
    whole, streamed, (hidden, revealed) = _both(config, world, people)
    if streamed is None:
        assert _tangled(people), "the stream gave up on untangled site data"
        return
    assert streamed.ops == whole.ops
    assert streamed.issues == whole.issues
    assert streamed.unmanaged == whole.unmanaged
    assert _rows(streamed.targets, streamed.quiet) == _rows(whole.targets)
    assert revealed == hidden
    assert [r.site_id for r in streamed.quiet] == sorted((r.site_id for r in streamed.quiet), key=site_sort_key)


@SETTINGS
@given(scenarios())
@pinned
def test_streamed_plan_matches_on_the_property_worlds(scenario):
    config, world, people = scenario
    whole, streamed, _ = _both(config, world, people)
    assert streamed is not None or _tangled(people)
    if streamed is not None:
        assert (streamed.ops, streamed.issues, streamed.unmanaged) == (whole.ops, whole.issues, whole.unmanaged)
        assert _rows(streamed.targets, streamed.quiet) == _rows(whole.targets)


def test_an_unlinked_person_does_not_take_a_settled_persons_email_or_account():
    """The settled person (planned in an earlier page) still holds its account and email for matching."""
    config = load_config({"IDENTITY": {"adopt": ["email", "username"]}})
    world = base_world(config)
    world.accounts["u1"] = ObservedAccount("u1", "ann", "Ann", "ann@example.org", True, True,
                                           frozenset({"user"}), frozenset({"general"}))
    settled = person(1, "ann", link=AccountLink("u1", "ann", True))
    rival = person(2, "ann", email="ann@example.org")  # same username and email, no link
    whole, streamed, _ = _both(config, world, [settled, rival])
    assert streamed is not None and [r.site_id for r in streamed.quiet] == ["1"]
    assert streamed.issues == whole.issues and [i.site_id for i in streamed.issues] == ["2"]
    assert "linked to site user 1" in streamed.issues[0].reason


def test_a_shared_account_or_site_id_is_left_to_matching_everyone_at_once():
    config = load_config({})
    world = base_world(config)
    world.accounts["u1"] = ObservedAccount("u1", "ann", "Ann", "ann@example.org", True, True,
                                           frozenset({"user"}), frozenset({"general"}))
    a = person(1, "ann", email="ann@example.org", name="Ann", link=AccountLink("u1", "ann", True))
    for twin in (replace(a, site_id="2"), replace(a, email="x@example.org")):
        assert plan_streamed([a, twin], observe(world), config, ownership_from_config(config)) is None


def _world_with(config, *accounts):
    world = base_world(config)
    for a in accounts:
        world.accounts[a.user_id] = a
    return world


def test_a_deprovisioned_settled_person_lets_go_of_the_email_rule_like_everyone_at_once():
    """Settled person 1 is leaving and no longer wants the address its account holds: two unlinked
    people who want that address are then told about each other (the first one "waits" for it)."""
    config = load_config({})
    world = _world_with(config, ObservedAccount("u1", "ann", "Ann", "a@example.org", True, False,
                                                frozenset({"user"}), frozenset()))
    leaver = person(1, "ann", email="b@example.org", active=False, link=AccountLink("u1", "ann", True))
    people = [leaver, person(2, "bob", email="a@example.org"), person(3, "carl", email="a@example.org")]
    whole, streamed, _ = _both(config, world, people)
    assert streamed is not None and [r.site_id for r in streamed.quiet] == ["1"]
    assert streamed.issues == whole.issues
    assert "duplicate email, also used by site user 2" in streamed.issues[1].reason


def test_a_settled_person_holds_its_email_against_a_new_person_like_everyone_at_once():
    """The account of settled person 1 is not a user account (never adopted), but its person still
    comes first for the address: the later new person is a duplicate, not just a held address."""
    config = load_config({})
    world = _world_with(config, ObservedAccount("u1", "ann", "Ann", "a@example.org", True, True,
                                                frozenset({"user"}), frozenset({"general"}), type="bot"))
    people = [person(1, "ann", email="a@example.org", name="Ann", link=AccountLink("u1", "ann", True)),
              person(3, "carl", email="a@example.org")]
    whole, streamed, _ = _both(config, world, people)
    assert streamed is not None and [r.site_id for r in streamed.quiet] == ["1"]
    assert streamed.issues == whole.issues
    assert streamed.issues[0].reason == "duplicate email, also used by site user 1"
