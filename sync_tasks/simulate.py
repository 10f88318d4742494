"""A pure in-memory model of Rocket.Chat for what the planner cares about.

Used by the property tests (apply a plan, observe again, plan again -> nothing) and by the benchmark
to compute the expected outcome. ``World`` is the ground truth, including memberships of deactivated
accounts; :func:`observe` renders what a bulk read sees, hiding those memberships exactly like
``channels.members`` does (reference §5.3), unless the account is in ``reveal`` (a per-user
``users.info`` read, which lists subscriptions whatever the active flag).

:func:`apply_ops` refuses what Rocket.Chat refuses: usernames and emails are unique
case-insensitively (reference §3.2, §3.3: ``error-field-unavailable``). It also refuses what only
works by luck of timing: the executor runs the operations of one phase (``ops.phase``) concurrently,
so an operation may not take a username or an email that another account still held when its phase
began.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from .ops import (AddRole, AddRoomRole, CreateRole, CreateRoom, CreateUser, DeleteUser, InviteToRoom,
                  KickFromRoom, Operation, RemoveRole, RemoveRoomRole, SetActive, UpdateProfile, phase)
from .state import ObservedAccount, ObservedRoom, ObservedState


@dataclass
class World:
    accounts: dict[str, ObservedAccount] = field(default_factory=dict)  # rooms always known here
    rooms: dict[str, ObservedRoom] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    service_user_id: str | None = None
    created: dict[str, str] = field(default_factory=dict)  # site_id -> user_id of CreateUser ops


class ModelError(AssertionError):
    """An operation that the real server would refuse (used to catch ordering bugs in plans)."""


def observe(world: World, reveal: Iterable[str] = (), complete: bool = True) -> ObservedState:
    shown = set(reveal)
    accounts = {}
    for uid, a in world.accounts.items():
        if not a.active and uid not in shown:
            a = replace(a, rooms=None)
        accounts[uid] = a
    return ObservedState(accounts=accounts, rooms=dict(world.rooms), roles=dict(world.roles),
                         service_user_id=world.service_user_id, complete=complete)


def apply_ops(world: World, ops: Iterable[Operation]) -> World:
    """Apply ``ops`` in order to a copy of ``world`` and return it."""
    w = World(dict(world.accounts), dict(world.rooms), dict(world.roles), world.service_user_id,
              dict(world.created))

    def uid_of(op) -> str:
        uid = op.user_id if op.user_id is not None else w.created.get(op.site_id)
        if uid is None or uid not in w.accounts:
            raise ModelError(f"{op!r}: no such account")
        return uid

    def holders(field: str) -> dict[str, str]:
        return {getattr(a, field).lower(): uid for uid, a in w.accounts.items() if getattr(a, field)}

    current_phase = None
    at_start: dict[str, dict[str, str]] = {}

    def take(op, field: str, value: str | None, uid: str) -> None:
        """``uid`` takes ``value``: nobody else may hold it now, nor at the start of the phase."""
        if not value:
            return
        for seen in (holders(field), at_start[field]):
            other = seen.get(value.lower())
            if other is not None and other != uid:
                raise ModelError(f"{op!r}: {field} {value!r} is held by account {other}")

    for op in ops:
        if phase(op) != current_phase:
            current_phase = phase(op)
            at_start = {"email": holders("email"), "username": holders("username")}
        if isinstance(op, CreateRole):
            if op.name in w.roles:
                raise ModelError(f"{op!r}: role exists")
            w.roles[op.name] = op.name
        elif isinstance(op, CreateRoom):
            if op.room in w.rooms:
                raise ModelError(f"{op!r}: room exists")
            w.rooms[op.room] = ObservedRoom(op.room, f"room-{op.room}", op.name, op.type)
        elif isinstance(op, CreateUser):
            uid = f"new-{op.site_id}"
            if uid in w.accounts or any(a.username.lower() == op.username.lower() for a in w.accounts.values()):
                raise ModelError(f"{op!r}: username taken")
            take(op, "username", op.username, uid)
            take(op, "email", op.email, uid)
            w.created[op.site_id] = uid
            w.accounts[uid] = ObservedAccount(uid, op.username, op.name, op.email, op.verified, True,
                                              frozenset(op.roles) or frozenset({"user"}), frozenset())
        else:
            uid = uid_of(op)
            a = w.accounts[uid]
            if isinstance(op, UpdateProfile):
                take(op, "email", op.email, uid)
                a = replace(a, name=op.name if op.name is not None else a.name,
                            email=op.email if op.email is not None else a.email)
            elif isinstance(op, SetActive):
                a = replace(a, active=op.active)
            elif isinstance(op, AddRole):
                if op.role not in w.roles:
                    raise ModelError(f"{op!r}: role does not exist")
                a = replace(a, roles=a.roles | {op.role})
            elif isinstance(op, RemoveRole):
                a = replace(a, roles=a.roles - {op.role})
            elif isinstance(op, InviteToRoom):
                if op.room not in w.rooms:
                    raise ModelError(f"{op!r}: room does not exist")
                a = replace(a, rooms=(a.rooms or frozenset()) | {op.room})
            elif isinstance(op, KickFromRoom):
                a = replace(a, rooms=(a.rooms or frozenset()) - {op.room},
                            room_roles=frozenset(p for p in a.room_roles if p[0] != op.room))
            elif isinstance(op, AddRoomRole):
                if op.room not in (a.rooms or ()):
                    raise ModelError(f"{op!r}: user is not in the room")
                a = replace(a, room_roles=a.room_roles | {(op.room, op.role)})
            elif isinstance(op, RemoveRoomRole):
                a = replace(a, room_roles=a.room_roles - {(op.room, op.role)})
            elif isinstance(op, DeleteUser):
                del w.accounts[uid]
                continue
            else:  # pragma: no cover - exhaustive
                raise ModelError(f"unknown op {op!r}")
            w.accounts[uid] = a
    return w
