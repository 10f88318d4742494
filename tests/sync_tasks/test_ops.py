"""Operation values: each names its target in one property, and the plan order is built on it."""
from __future__ import annotations

import typing

from sync_tasks.ops import (AddRole, AddRoomRole, CreateRole, CreateRoom, CreateUser, DeleteUser, InviteToRoom,
                            KickFromRoom, Operation, RemoveRole, RemoveRoomRole, SetActive, UpdateProfile, sort_key)

EXAMPLES = {
    CreateRole("vip"): "vip",
    CreateRoom("general", "general", "c"): "general",
    CreateUser("1", "ann", "Ann", "ann@example.org", True, ("user",)): "ann",  # no id yet: the username
    UpdateProfile("1", "u1", name="Ann B", email="b@example.org"): "u1",
    SetActive("1", "u1", False): "u1",
    DeleteUser("1", "u1"): "u1",
    AddRole("1", "u1", "ann", "admin"): "admin",
    RemoveRole("1", None, "ann", "user"): "user",
    InviteToRoom("1", None, "general"): "general",
    KickFromRoom("1", "u1", "vip"): "vip",
    AddRoomRole("1", "u1", "general", "moderator"): "general:moderator",
    RemoveRoomRole("1", "u1", "vip", "owner"): "vip:owner",
}


def test_every_operation_kind_names_its_target():
    assert {type(op) for op in EXAMPLES} == set(typing.get_args(Operation))
    for op, target in EXAMPLES.items():
        assert op.target == target, op


def test_the_plan_order_is_phase_then_target_then_site():
    ops = [InviteToRoom("2", "u2", "vip"), InviteToRoom("10", "u10", "general"), InviteToRoom("3", "u3", "general"),
           AddRoomRole("1", "u1", "general", "owner"), AddRoomRole("1", "u1", "general", "moderator")]
    ordered = sorted(ops, key=sort_key)
    assert [(op.target, op.site_id) for op in ordered] == [
        ("general", "3"), ("general", "10"), ("vip", "2"), ("general:moderator", "1"), ("general:owner", "1")]
