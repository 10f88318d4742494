"""`State.bulk_create_users` (the direct seeding path of bench/reconcile.py and large test workspaces) stores
what `create_user` then `add_member` per room store, row by row: the same documents, lookups, counters and
listing order (users.list, *.members, roles.getUsersInRole), and the routes answer the same pages."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from fake_rocketchat.backend.helpers import BulkUser
from fake_rocketchat.backend.state import State
from fake_rocketchat.harness.testing import running_server

VOLATILE = ("_id", "createdAt", "_updatedAt", "ts", "ls")


def _rows(rng: random.Random, rooms: list[str]) -> list[BulkUser]:
    rows, seen = [], set()
    while len(rows) < 300:
        name = f"{rng.choice(['ann', 'Ann', 'bob', 'Zed', 'a.b', '9x'])}{rng.randrange(2000)}"
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        joined = rng.sample(rooms, rng.randrange(len(rooms) + 1))
        rows.append(BulkUser(
            user_id=f"U{len(rows):016d}", username=name,
            name=rng.choice([None, f"Name {name}"]), email=rng.choice([None, f"{name}@example.org"]),
            roles=rng.choice([("user",), ("user", "admin"), ()]), active=rng.random() < 0.8,
            verified=rng.random() < 0.5,
            rooms=[(rid, rng.choice([(), ("moderator",), ("owner", "moderator")])) for rid in joined]))
    return rows


def _one_by_one(state: State, rows: list[BulkUser]) -> None:
    for r in rows:
        state.create_user(r.username, name=r.name, email=r.email, roles=r.roles, active=r.active,
                          verified=r.verified, user_id=r.user_id)
        for rid, roles in r.rooms:
            state.add_member(rid, r.username, roles=roles)


def _world() -> State:
    state = State()
    state.create_user("boss", roles=["admin"], password="pw", user_id="BOSS")
    state.create_room("club", "c", owner="boss", room_id="CLUB")
    state.create_room("priv", "p", room_id="PRIV")
    return state


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k not in VOLATILE or k == "_id" and not doc.get("rid")}
    if "services" in out:  # boss's salted password hash differs per world
        out["services"] = {k: (sorted(v) if k == "password" else v) for k, v in out["services"].items()}
    return out


def _snapshot(state: State) -> dict[str, Any]:
    """Everything but timestamps and (random) subscription ids, in the stores' own order."""
    subs = {(s["rid"], s["u"]["_id"]): _strip(s) for s in state.subscriptions.values()}
    by_id = {sid: (s["rid"], s["u"]["_id"]) for sid, s in state.subscriptions.items()}
    rooms = {rid: {k: v for k, v in r.items() if k not in VOLATILE} for rid, r in state.rooms.items()}
    return {
        "users": [_strip(u) for u in state.users.values()],
        "subs": subs,
        "by_username": dict(state._by_username), "by_email": dict(state._by_email),
        "by_room": {rid: [by_id[s] for s in d] for rid, d in state._subs_by_room.items()},
        "by_user": {uid: [by_id[s] for s in d] for uid, d in state._subs_by_user.items()},
        "rooms": rooms,
        "users_listing": list(state.listing.users),
        "members": {rid: list(state.listing.members(rid)) for rid in state.rooms},
        "in_role": {role: [u["_id"] for u in state.users_in_role(role, scope)] for role, scope in
                    (("user", None), ("admin", None), ("moderator", "CLUB"), ("owner", "PRIV"))},
    }


@pytest.mark.parametrize("seed", range(4))
def test_bulk_seeding_equals_one_by_one(seed: int) -> None:
    rows = _rows(random.Random(seed), ["GENERAL", "CLUB", "PRIV"])
    one, bulk = _world(), _world()
    _one_by_one(one, rows)
    assert bulk.bulk_create_users(iter(rows)) == len(rows)
    assert _snapshot(bulk) == _snapshot(one)
    assert any(len(bulk.listing.members(rid)) > 50 for rid in ("GENERAL", "CLUB", "PRIV"))
    # and the workspace stays live: later changes keep both in step
    for state in (one, bulk):
        state.create_user("late0", user_id="LATE0")
        state.add_member("CLUB", "late0")
        state.set_active(rows[0].username, not rows[0].active)
        state.remove_member("GENERAL", rows[1].username)
    assert _snapshot(bulk) == _snapshot(one)


def test_bulk_seeding_refuses_taken_names_emails_ids_and_unknown_rooms() -> None:
    state = _world()
    state.bulk_create_users([BulkUser("A1", "alice", email="a@example.org"), BulkUser(None, "carol")])
    carol = state.find_user_by_username("carol")
    assert len(carol["_id"]) == 17 and carol["emails"] == [{"address": "carol@example.invalid", "verified": True}]
    for row in (BulkUser(None, "ALICE"), BulkUser(None, "al", email="A@example.org"), BulkUser("A1", "al2"),
                BulkUser(None, "al3", rooms=[("NOPE", ())])):
        with pytest.raises(ValueError):
            state.bulk_create_users([row])
    assert [u["username"] for u in state.users.values()] == ["rocket.cat", "boss", "alice", "carol"]
    # a duplicate inside one batch: the rows before it stay, indexed
    with pytest.raises(ValueError):
        state.bulk_create_users([BulkUser(None, "bob", rooms=[("CLUB", ())]), BulkUser(None, "Bob")])
    assert state.find_user_by_username("bob") is not None
    assert "bob" in state.room_members("CLUB")
    assert [state.users[i]["username"] for i in state.listing.users] == ["alice", "bob", "boss", "carol", "rocket.cat"]


def test_routes_page_a_bulk_seeded_workspace_as_a_one_by_one_one() -> None:
    rows = _rows(random.Random(11), ["GENERAL"])
    pages = []
    for bulk in (False, True):
        with running_server(admin_username="admin", admin_password="pw") as rc:
            if bulk:
                rc.state.bulk_create_users(rows)
            else:
                _one_by_one(rc.state, rows)
            h = rc.admin_headers()
            got = []
            for route, params in (("users.list", {}), ("channels.members", {"roomId": "GENERAL"})):
                for offset in range(0, 400, 100):
                    body = httpx.get(f"{rc.url}/api/v1/{route}", params={**params, "count": 100, "offset": offset},
                                     headers=h).json()
                    got.append((body["total"], [(m["_id"] if m["username"] != "admin" else "-", m["username"], m.get("active"), m.get("roles"))
                                                for m in body.get("users") or body.get("members")]))
            pages.append(got)
    assert pages[0] == pages[1]
    assert sum(len(p) for _, p in pages[0]) > 300
