"""The maintained listing indexes (fake_rocketchat/backend/indexes.py) give exactly the order a full sort gives
(users.list {username: 1}, case-sensitive; *.members by case-folded username, active users only,
reference §5.3), after any mix of creates, renames, (de)activations, joins, leaves and deletes; and
the routes page from them."""

from __future__ import annotations

import random

import httpx
import pytest

from fake_rocketchat.backend.state import State
from fake_rocketchat.harness.testing import running_server
from fake_rocketchat.rest.base import sort_docs


def _expected_users(state: State) -> list[str]:
    docs = [u for u in state.users.values() if u.get("type") != "visitor"]
    return [u["_id"] for u in sort_docs(docs, [("username", 1)], ci_fields=("name",))]


def _expected_members(state: State, rid: str) -> list[str]:
    subscribed = [state.users[s["u"]["_id"]] for s in state.room_subscription_docs(rid)]
    ordered = sort_docs(subscribed, [("username", 1)], ci_fields=("name", "username"))
    return [u["_id"] for u in ordered if u.get("active")]


def _name(rng: random.Random) -> str:
    stem = rng.choice(["ann", "Ann", "bob", "Bob", "zed", "carl", "Zoe", "a.b", "a-b", "a_b", "9x"])
    return f"{stem}{rng.randrange(1000)}"


@pytest.mark.parametrize("seed", range(6))
def test_indexes_match_a_full_sort_after_random_changes(seed: int) -> None:
    rng = random.Random(seed)
    state = State()
    state.create_user("boss", roles=["admin"], password="pw")
    boss = state.find_user_by_username("boss")["_id"]
    rooms = [state.create_room("general2", "c")["_id"], state.create_room("priv", "p")["_id"], "GENERAL"]
    for _ in range(400):
        names = [u["username"] for u in state.users.values() if u["_id"] not in ("rocket.cat", boss)]
        op = rng.random()
        if op < 0.3 or not names:
            name = _name(rng)
            if not state.user_doc_by_username_ci(name):
                state.create_user(name, active=rng.random() < 0.8)
        elif op < 0.5:
            state.add_member(rng.choice(rooms), rng.choice(names))
        elif op < 0.6:
            rid, name = rng.choice(rooms), rng.choice(names)
            if state.subscription(rid, name):
                state.remove_member(rid, name)
        elif op < 0.75:
            state.set_active(rng.choice(names), rng.random() < 0.5)
        elif op < 0.9:
            new = _name(rng)
            if not state.user_doc_by_username_ci(new):
                user = state.find_user_by_username(rng.choice(names))
                state.update_user(boss, user["_id"], {"username": new})
        else:
            user = state.find_user_by_username(rng.choice(names))
            state.delete_user(boss, user["_id"], confirm_relinquish=True)
    assert list(state.listing.users) == _expected_users(state)
    for rid in rooms:
        assert list(state.listing.members(rid)) == _expected_members(state, rid), rid
    assert any(len(state.listing.members(rid)) > 5 for rid in rooms)


def test_deleted_room_leaves_no_index_behind() -> None:
    state = State()
    state.create_user("alice")
    rid = state.create_room("gone", "c", members=["alice"])["_id"]
    assert len(state.listing.members(rid)) == 1
    state._delete_room(rid)
    assert len(state.listing.members(rid)) == 0


def test_routes_page_from_the_indexes_in_wire_order() -> None:
    with running_server(admin_username="admin", admin_password="pw") as rc:
        for i in (5, 3, 9, 1, 7, 2):
            rc.state.create_user(f"User{i}" if i % 2 else f"user{i}")
        rc.state.create_room("club", "c", members=[f"User{i}" if i % 2 else f"user{i}" for i in (5, 3, 9, 1, 7, 2)])
        rc.state.set_active("User7", False)
        h = rc.admin_headers()
        got = httpx.get(rc.url + "/api/v1/users.list", params={"count": 3, "offset": 2}, headers=h).json()
        every = [u for u in (rc.state.find_user(i) for i in _expected_users(rc.state))]
        assert [u["username"] for u in got["users"]] == [u["username"] for u in every[2:5]]
        assert got["total"] == len(every) and got["count"] == 3 and got["offset"] == 2
        got = httpx.get(rc.url + "/api/v1/channels.members", params={"roomName": "club", "count": 4, "offset": 1},
                        headers=h).json()
        # case-folded: User1 user2 User3 User5 (User7 deactivated, hidden) User9
        assert [m["username"] for m in got["members"]] == ["user2", "User3", "User5", "User9"]
        assert got["total"] == 5 and got["count"] == 4 and got["offset"] == 1


def test_users_in_role_pages_equal_slices_of_the_full_listing() -> None:
    state = State()
    rng = random.Random(7)
    vip = state.create_role("vip")["_id"]
    for i in range(60):
        state.create_user(f"{rng.choice(['Ann', 'ann', 'bob', 'Zed'])}{i}", roles=["user", vip] if i % 3 else ["user"])
    state.create_room("club", "c", members=[u for u in state.usernames() if u != "rocket.cat"][:20])
    for name in state.usernames()[:8]:
        if state.subscription(state.find_room_by_name("club")["_id"], name):
            state.set_room_role(state.find_room_by_name("club")["_id"], name, "moderator")
    rid = state.find_room_by_name("club")["_id"]
    for role, scope in ((vip, None), ("user", None), ("moderator", rid), ("nope", None)):
        full = state.users_in_role(role, scope)
        for offset, count in ((0, 7), (7, 7), (40, 100), (0, 0)):
            got, total = state.users_in_role_page(role, scope, offset, count)
            assert total == len(full)
            assert got == (full[offset:] if count == 0 else full[offset : offset + count])
    assert state.users_in_role_page(vip, None, 0, 100)[1] == 40
