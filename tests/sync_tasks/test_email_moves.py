"""Emails that move between accounts in one run (sync_tasks.emails): chains, swaps, cycles, and a new
account taking an address an update frees. Each converges in one run against the model, which
refuses an address another account held when the phase began (like Rocket.Chat with concurrent calls)."""
from __future__ import annotations

from sync_tasks.config import load_config
from sync_tasks.emails import PARKING_DOMAIN, plan_email_moves
from sync_tasks.ops import CreateUser, UpdateProfile, phase, sort_key
from sync_tasks.person import AccountLink
from sync_tasks.simulate import observe
from sync_tasks.state import ObservedAccount, ObservedState

from sync_world import base_world, person, run_once

CFG = load_config({})


def world_with(accounts: dict[str, str]):
    """Accounts u<n> named after their key, holding the given email."""
    w = base_world(CFG)
    for uid, email in accounts.items():
        w.accounts[uid] = ObservedAccount(uid, uid, uid.title(), email, True, True, frozenset({"user"}),
                                          frozenset({"general"}))
    return w


def linked(uid: str, email: str, site_id: int | None = None):
    sid = site_id if site_id is not None else int(uid[1:])
    return person(sid, uid, email=email, name=uid.title(), link=AccountLink(uid, uid, True))


def one_run(people, world):
    d1, w1, people1 = run_once(people, world, CFG)
    d2, _, _ = run_once(people1, w1, CFG)
    assert d2.ops == (), f"second run not empty: {d2.ops}"
    return d1, w1


def emails(world):
    return {uid: a.email for uid, a in world.accounts.items() if uid != "svc"}


def test_a_chain_runs_from_its_free_end():
    w = world_with({"u1": "a@example.org", "u2": "b@example.org", "u3": "c@example.org"})
    people = [linked("u1", "b@example.org"), linked("u2", "c@example.org"), linked("u3", "d@example.org")]
    d, after = one_run(people, w)
    updates = [op for op in d.ops if isinstance(op, UpdateProfile)]
    assert [(op.user_id, op.step) for op in updates] == [("u3", 0), ("u2", 1), ("u1", 2)]
    assert emails(after) == {"u1": "b@example.org", "u2": "c@example.org", "u3": "d@example.org"}


def test_a_swap_parks_one_account_on_a_temporary_address():
    w = world_with({"u1": "a@example.org", "u2": "b@example.org"})
    d, after = one_run([linked("u1", "b@example.org"), linked("u2", "a@example.org")], w)
    updates = [op for op in d.ops if isinstance(op, UpdateProfile)]
    assert len(updates) == 3 and updates[0].user_id == "u1" and updates[0].email.endswith("@" + PARKING_DOMAIN)
    assert [(op.user_id, op.email, op.step) for op in updates[1:]] == [("u2", "a@example.org", 1),
                                                                       ("u1", "b@example.org", 2)]
    assert emails(after) == {"u1": "b@example.org", "u2": "a@example.org"}


def test_a_three_cycle_with_case_changes_converges():
    w = world_with({"u1": "a@example.org", "u2": "b@example.org", "u3": "c@example.org"})
    people = [linked("u1", "B@Example.org"), linked("u2", "c@example.org"), linked("u3", "A@example.org")]
    d, after = one_run(people, w)
    assert sum(1 for op in d.ops if isinstance(op, UpdateProfile)) == 4  # three moves, one parking
    assert {k: v.lower() for k, v in emails(after).items()} == {
        "u1": "b@example.org", "u2": "c@example.org", "u3": "a@example.org"}


def test_a_new_account_takes_an_address_that_an_update_frees_in_the_same_run():
    w = world_with({"u1": "a@example.org"})
    people = [linked("u1", "z@example.org"), person(5, "newbie", email="a@example.org")]
    d, after = one_run(people, w)
    kinds = [(type(op).__name__, phase(op)) for op in d.ops if isinstance(op, (UpdateProfile, CreateUser))]
    assert [k for k, _ in kinds] == ["UpdateProfile", "CreateUser"] and kinds[0][1] < kinds[1][1]
    assert after.accounts["new-5"].email == "a@example.org"


def test_an_address_its_holder_keeps_is_never_taken_and_nothing_churns():
    w = world_with({"u1": "a@example.org", "u9": "b@example.org"})  # u9: nobody's account on the site
    newbie = person(5, "newbie", email="b@example.org", email_verified=False)  # not adopting u9
    d, after = one_run([linked("u1", "b@example.org"), newbie], w)
    assert not any(isinstance(op, UpdateProfile) and op.email for op in d.ops)
    assert {i.site_id: i.status for i in d.issues} == {"5": "conflict"}
    assert "@u9" in d.issues[0].reason and emails(after)["u1"] == "a@example.org"


def test_moves_are_planned_in_steps_that_never_take_a_held_address():
    accounts = {f"u{i}": ObservedAccount(f"u{i}", f"u{i}", email=f"{i}@x.org") for i in range(1, 7)}
    observed = ObservedState(accounts=accounts)
    # u1->u2->u3 (a 3-cycle), u4->u5 (u5 moves to a free one), u6 wants an address no one gives up
    wanted = {"u1": "2@x.org", "u2": "3@x.org", "u3": "1@x.org", "u4": "5@x.org", "u5": "9@x.org",
              "u6": "1@X.org"}
    moves = plan_email_moves(wanted, observed)
    assert set(moves.parked) == {"u1"} and "u6" not in moves.steps
    assert moves.steps["u5"] < moves.steps["u4"]
    assert moves.steps["u3"] < moves.steps["u2"] < moves.steps["u1"]
    assert moves.released == {"1@x.org", "2@x.org", "3@x.org", "4@x.org", "5@x.org"}
    assert moves == plan_email_moves(dict(reversed(list(wanted.items()))), observed)  # deterministic


def test_the_plan_order_puts_steps_before_targets():
    ops = [UpdateProfile("2", "u2", email="a@x.org", step=1), UpdateProfile("9", "u9", email="b@x.org", step=0)]
    assert [op.user_id for op in sorted(ops, key=sort_key)] == ["u9", "u2"]
    assert observe(world_with({})).accounts.keys() == {"svc"}


def test_a_person_whose_email_the_linked_holder_gives_up_gets_an_account_in_the_same_run():
    """Before, the unlinked person was a conflict ("linked to site user 1") and was created one run later."""
    w = world_with({"u1": "a@example.org"})
    d, after = one_run([linked("u1", "new-a@example.org"), person(2, "ann", email="a@example.org")], w)
    assert d.issues == () and after.accounts["new-2"].email == "a@example.org"
    # while the holder keeps the address, it stays a conflict, with the reason
    d, _ = one_run([linked("u1", "a@example.org"), person(2, "ann", email="a@example.org")], w)
    assert [(i.site_id, i.status) for i in d.issues] == [("2", "conflict")]
    assert "linked to site user 1" in d.issues[0].reason
