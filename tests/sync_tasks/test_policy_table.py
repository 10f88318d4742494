"""Example tests of DESIGN.md's default policy table, through the pure pipeline (policy -> match -> plan).

Every case also runs a second pass to check that nothing is left to do (level-triggered).
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.ops import (AddRole, CreateRole, CreateRoom, CreateUser, DeleteUser, InviteToRoom, KickFromRoom,
                            RemoveRole, RemoveRoomRole, SetActive, op_kind)
from sync_tasks.person import AccountLink
from sync_tasks.simulate import observe
from sync_tasks.state import ObservedAccount

from sync_world import base_world, person, run_once

CFG = load_config({})


def converge(people, world, config=CFG):
    d, w2, people2 = run_once(people, world, config)
    d2, w3, _ = run_once(people2, w2, config)
    assert d2.ops == (), f"second run not empty: {d2.ops}"
    return d, w2, people2


def account_of(world, people, site_id):
    p = next(p for p in people if p.site_id == str(site_id))
    return world.accounts[p.link.rc_user_id]


def linked(world, site_id, username, *, acct_active=True, roles=("user",), rooms=("general",), room_roles=(), **kw):
    uid = f"u{site_id}"
    world.accounts[uid] = ObservedAccount(uid, username, username.title(), f"{username}@example.org", True, acct_active,
                                          frozenset(roles), frozenset(rooms), frozenset(room_roles))
    return person(site_id, username, link=AccountLink(uid, username, True), **kw)


@pytest.mark.parametrize("role,flags,groups,roles,rooms,room_roles", [
    ("user", {}, (), {"user"}, {"general"}, set()),
    ("store_owner", {}, (), {"user"}, {"general"}, set()),
    ("store_admin", {}, (), {"user"}, {"general"}, set()),
    ("owner", {}, (), {"user", "admin"}, {"general", "vip", "moderators"}, set()),
    ("user", {"is_superuser": True}, (), {"user", "admin"}, {"general", "vip", "moderators"}, set()),
    ("moderator", {}, (), {"user"}, {"general", "moderators"}, {("general", "moderator")}),
    ("user", {}, ("vip",), {"user"}, {"general", "vip"}, set()),
    ("moderator", {}, ("vip",), {"user"}, {"general", "vip", "moderators"}, {("general", "moderator")}),
    ("user", {"is_staff": True}, (), {"user"}, {"general"}, set()),
])
def test_active_person_gets_table_row(role, flags, groups, roles, rooms, room_roles):
    people = [person(1, "alice", role=role, groups=groups, **flags)]
    d, w, people2 = converge(people, base_world(CFG))
    creates = [op for op in d.ops if isinstance(op, CreateUser)]
    assert len(creates) == 1 and creates[0].username == "alice"
    a = account_of(w, people2, 1)
    assert a.active and a.roles == roles and a.rooms == rooms and a.room_roles == room_roles


def test_new_user_create_then_invites_in_order():
    d = decide([person(1, "alice", role="moderator")], observe(base_world(CFG)), CFG)
    assert [op_kind(o) for o in d.ops] == ["create_user", "invite", "invite", "add_room_role"]
    assert d.ops[0].roles == ("user",)
    assert [o.room for o in d.ops if isinstance(o, InviteToRoom)] == ["general", "moderators"]


@pytest.mark.parametrize("flag", [{"active": False}, {"deleted": True}])
def test_inactive_or_deleted_person_is_deactivated_and_removed_from_managed_rooms(flag):
    w = base_world(CFG)
    people = [linked(w, 1, "bob", roles=("user", "admin"), rooms=("general", "vip", "moderators"),
                     room_roles=(("general", "moderator"),), **flag)]
    d, w2, people2 = converge(people, w)
    kinds = [op_kind(o) for o in d.ops]
    assert kinds == ["kick", "kick", "kick", "deactivate"]  # kicks while the membership is still visible
    a = w2.accounts["u1"]
    assert not a.active and a.rooms == frozenset() and a.room_roles == frozenset()
    assert a.roles == {"user", "admin"}  # global roles are kept (reactivation is one step)
    assert {i.site_id: i.status for i in d.issues} == {}


def test_delete_mode_deletes_and_leave_mode_does_nothing():
    w = base_world(CFG)
    p = linked(w, 1, "bob", active=False)
    d = decide([p], observe(w), load_config({"DEPROVISION": "delete"}))
    assert d.ops == (DeleteUser("1", "u1"),)
    d = decide([p], observe(w), load_config({"DEPROVISION": "leave"}))
    assert d.ops == ()


def test_role_loss_removes_room_and_room_role_but_not_manual_roles():
    w = base_world(CFG)
    p = linked(w, 1, "carol", role="user", roles=("user", "admin", "livechat-agent"),
               rooms=("general", "moderators", "vip"), room_roles=(("general", "moderator"), ("general", "owner")))
    d, w2, _ = converge([p], w)
    assert set(d.ops) == {RemoveRole("1", "u1", "carol", "admin"), KickFromRoom("1", "u1", "moderators"),
                          KickFromRoom("1", "u1", "vip"), RemoveRoomRole("1", "u1", "general", "moderator")}
    a = w2.accounts["u1"]
    assert "livechat-agent" in a.roles  # unmanaged role survives
    assert ("general", "owner") in a.room_roles  # unmanaged room role survives


def test_unmanaged_admin_role_survives_when_admin_is_not_managed():
    cfg = load_config({"ROLES": ["user"], "RULES": [{"when": "always", "roles": ["user"], "rooms": ["general"]}]})
    w = base_world(cfg)
    p = linked(w, 1, "dave", roles=("user", "admin"))
    assert decide([p], observe(w), cfg).ops == ()


def test_reactivation_reveals_hidden_memberships_and_converges():
    w = base_world(CFG)
    # Deactivated by hand in Rocket.Chat while still subscribed to vip: *.members hides that.
    p = linked(w, 1, "erin", active=True, rooms=("general", "vip"))
    w.accounts["u1"] = replace(w.accounts["u1"], active=False)
    assert observe(w).accounts["u1"].rooms is None
    d, w2, _ = converge([p], w)
    assert set(d.ops) == {SetActive("1", "u1", True), KickFromRoom("1", "u1", "vip")}


def test_deactivated_account_with_unknown_rooms_is_left_alone():
    w = base_world(CFG)
    p = linked(w, 1, "finn", active=False, rooms=("general",))
    w.accounts["u1"] = replace(w.accounts["u1"], active=False)
    d = decide([p], observe(w), CFG)
    assert d.ops == ()  # no churn on hidden memberships


def test_missing_rooms_and_roles_are_created():
    cfg = load_config({"ROLES": ["admin", "user", "vip"],
                       "RULES": [{"when": "always", "roles": ["user"], "rooms": ["general"]},
                                 {"when": {"group": ["vip"]}, "roles": ["vip"], "rooms": ["vip"]}]})
    w = base_world(cfg, rooms=False)
    d, w2, people = converge([person(1, "gina", groups=["vip"])], w, cfg)
    assert d.ops[:4] == (CreateRole("vip"), CreateRoom("general", "general", "c"), CreateRoom("moderators", "moderators", "p"),
                         CreateRoom("vip", "vip", "p")) or [op_kind(o) for o in d.ops[:4]] == [
        "create_role", "create_room", "create_room", "create_room"]
    create = next(o for o in d.ops if isinstance(o, CreateUser))
    assert create.roles == ("user",)  # vip does not exist yet at creation time
    assert AddRole("1", None, "gina", "vip") in d.ops
    assert account_of(w2, people, 1).roles == {"user", "vip"}



def test_adoption_by_verified_email_only_by_default():
    w = base_world(CFG)
    w.accounts["x1"] = ObservedAccount("x1", "hank.rc", "Hank", "hank@example.org", False, True, frozenset({"user"}),
                                       frozenset())
    verified = person(1, "hank", email="HANK@example.org", email_verified=True)
    d = decide([verified], observe(w), CFG)
    assert d.targets[0].user_id == "x1" and d.targets[0].adopted
    assert not any(isinstance(o, CreateUser) for o in d.ops)
    assert InviteToRoom("1", "x1", "general") in d.ops
    unverified = replace(verified, email_verified=False)
    d = decide([unverified], observe(w), CFG)
    assert d.ops == () and d.issues[0].status == "conflict" and "not verified" in d.issues[0].reason
    d = decide([unverified], observe(w), load_config({"IDENTITY": {"adopt": "never"}}))
    assert d.issues[0].status == "conflict"


def test_adoption_by_username_when_configured():
    cfg = load_config({"IDENTITY": {"adopt": ["username"]}})
    w = base_world(cfg)
    w.accounts["x1"] = ObservedAccount("x1", "ivan", "Ivan", "other@example.org", True, True, frozenset({"user"}),
                                       frozenset({"general"}))
    d = decide([person(1, "Ivan")], observe(w), cfg)
    assert d.targets[0].user_id == "x1"
    # the site email differs and no one else holds it: the profile follows the site
    assert [op_kind(o) for o in d.ops] == ["update_profile"]


def test_unlinked_accounts_are_listed_not_touched():
    w = base_world(CFG)
    w.accounts["x1"] = ObservedAccount("x1", "stranger", "S", "s@example.org", True, True, frozenset({"user"}),
                                       frozenset({"general", "vip"}))
    w.accounts["bot"] = ObservedAccount("bot", "rocket.cat", type="bot")
    d = decide([person(1, "jane")], observe(w), CFG)
    assert d.unmanaged == (("x1", "stranger"),)
    assert all(getattr(o, "user_id", None) != "x1" for o in d.ops)


def test_service_account_is_never_managed():
    w = base_world(CFG)
    p = person(1, "svc", link=AccountLink("svc", "rcsync"), active=False)
    d = decide([p], observe(w), CFG)
    assert d.ops == () and d.issues[0].status == "conflict"


def test_linked_account_deleted_in_rocketchat_is_recreated_with_its_username():
    w = base_world(CFG)
    p = person(1, "kate", link=AccountLink("gone", "kate.rc"))
    d = decide([p], observe(w), CFG)
    assert isinstance(d.ops[0], CreateUser) and d.ops[0].username == "kate.rc"


def test_username_collisions_resolve_in_site_order():
    w = base_world(CFG)
    w.accounts["x1"] = ObservedAccount("x1", "lee", "Lee", "lee@elsewhere.org", False, True)
    people = [person(3, "Lee", email="lee3@example.org"), person(2, "lee", email="lee2@example.org"),
              person(10, "LEE", email="lee10@example.org")]
    d = decide(people, observe(w), CFG)
    names = {o.site_id: o.username for o in d.ops if isinstance(o, CreateUser)}
    assert names == {"2": "lee-2", "3": "lee-3", "10": "lee-4"}
    assert decide(list(reversed(people)), observe(w), CFG).ops == d.ops
