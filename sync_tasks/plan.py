"""The planner: desired state + observed state + ownership -> the minimal, ordered list of operations.

Pure and total: no I/O, no clock, no randomness; the same input always gives the same tuple. Rules:

* Only managed things are touched: global roles in ``RCSYNC["ROLES"]``, rooms in ``RCSYNC["ROOMS"]``,
  room roles in ``RCSYNC["ROOM_ROLES"]`` inside managed rooms. Everything else an account holds
  (a manually granted ``admin`` when ``admin`` is unmanaged, other rooms, other room roles) survives.
* Minimal: an operation is emitted only when its effect does not already hold in the observed state.
* Unknown membership (a deactivated account seen through ``*.members``, which hides it) is never a
  reason to kick; on reactivation the desired rooms are invited (a no-op for an existing member,
  reference §5.4), so there is no kick/re-invite churn.
* Deprovisioning (``remove="deactivate"``) kicks from the managed rooms first, while the membership is
  still visible, then deactivates; global roles are kept. ``"delete"`` deletes; ``"leave"`` does nothing.
* Emails are unique in Rocket.Chat. An email change is planned when the address is free, or freed
  earlier in the same run: by a deletion (deletions run first), or by the email change of the account
  holding it, which then runs in an earlier step; a cycle of moves (a swap) goes through a temporary
  address (``sync_tasks.emails``). An address held by an account that keeps it is never taken. So one
  run converges: the next plans nothing (tests/sync_tasks/test_plan_properties.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from .config import SyncConfig
from .emails import EmailMoves, plan_email_moves, wanted_email_changes
from .match import Target
from .ops import (AddRole, AddRoomRole, CreateRole, CreateRoom, CreateUser, DeleteUser, InviteToRoom,
                  KickFromRoom, Operation, RemoveRole, RemoveRoomRole, SetActive, UpdateProfile, op_kind,
                  sort_key)
from .person import SitePerson
from .state import ObservedAccount, ObservedState

__all__ = ["Ownership", "plan_changes", "ownership_from_config", "count_by_kind", "memberships_to_reveal"]


@dataclass(frozen=True)
class Ownership:
    """What rcsync owns and may change. Built from the config; a separate value so tests and the
    property checks can vary it independently."""

    roles: frozenset[str]
    rooms: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, type)
    room_roles: frozenset[str] = frozenset({"moderator"})
    create_roles: bool = True
    create_rooms: frozenset[str] = frozenset()  # room keys that may be created
    sync_profile: bool = True
    #: Profile fields rcsync writes on linked accounts; with SSO the provider owns name and email by default
    #: (the next login would overwrite them, or fail, reference §11.1), so they are left out.
    profile_fields: frozenset[str] = frozenset({"name", "email"})


def ownership_from_config(config: SyncConfig) -> Ownership:
    return Ownership(
        roles=frozenset(config.managed_roles),
        rooms={r.key: (r.name, r.type) for r in config.rooms},
        room_roles=frozenset(config.managed_room_roles),
        create_roles=config.create_missing_roles,
        create_rooms=frozenset(r.key for r in config.rooms if r.create),
        sync_profile=config.identity.sync_profile,
        profile_fields=frozenset(f for f in ("name", "email") if config.sso is None or not config.sso.provider_owns(f)),
    )


def _plan_new(t: Target, observed: ObservedState, own: Ownership) -> list[Operation]:
    d = t.desired
    roles = d.roles or frozenset()
    at_create = tuple(sorted(r for r in roles if r in observed.roles))
    ops: list[Operation] = [CreateUser(d.site_id, t.username, d.name, d.email or "", d.email_verified, at_create)]
    ops += [AddRole(d.site_id, None, t.username, r) for r in sorted(roles) if r not in observed.roles]
    if not at_create and "user" in own.roles and "user" not in roles:
        # users.create with no roles falls back to Accounts_Registration_Users_Default_Roles ("user").
        ops.append(RemoveRole(d.site_id, None, t.username, "user"))
    ops += [InviteToRoom(d.site_id, None, room) for room in sorted(d.rooms & own.rooms.keys())]
    ops += [AddRoomRole(d.site_id, None, room, role) for room, role in sorted(d.room_roles)
            if room in own.rooms and role in own.room_roles]
    return ops


def _plan_existing(t: Target, acct: ObservedAccount, observed: ObservedState, own: Ownership,
                   moves: EmailMoves) -> list[Operation]:
    d = t.desired
    sid, uid = d.site_id, acct.user_id
    if d.remove == "leave":
        return []
    if d.remove == "delete":
        return [DeleteUser(sid, uid)]
    ops: list[Operation] = []
    known = acct.known_rooms & own.rooms.keys()
    held_room_roles = {(room, role) for room, role in acct.room_roles if room in own.rooms and role in own.room_roles}
    if d.active:
        if not acct.active:
            ops.append(SetActive(sid, uid, True))
        if own.sync_profile:
            name = d.name if d.name and d.name != acct.name and "name" in own.profile_fields else None
            email = d.email if uid in moves.steps else None
            if uid in moves.parked:
                temp, step = moves.parked[uid]
                # verified=True only so Rocket.Chat sends no verification mail to the parking address.
                ops.append(UpdateProfile(sid, uid, email=temp, email_verified=True, step=step))
            if name is not None or email is not None:
                ops.append(UpdateProfile(sid, uid, name=name, email=email,
                                         email_verified=d.email_verified if email is not None else None,
                                         step=moves.steps.get(uid, 0)))
        if d.roles is not None:
            managed_held = acct.roles & own.roles
            ops += [AddRole(sid, uid, acct.username, r) for r in sorted((d.roles & own.roles) - acct.roles)]
            ops += [RemoveRole(sid, uid, acct.username, r) for r in sorted(managed_held - d.roles)]
        want_rooms = d.rooms & own.rooms.keys()
        ops += [InviteToRoom(sid, uid, room) for room in sorted(want_rooms - known)]
        kicks = sorted(known - want_rooms)
        want_rr = {(room, role) for room, role in d.room_roles if room in own.rooms and role in own.room_roles}
        ops += [AddRoomRole(sid, uid, room, role) for room, role in sorted(want_rr - held_room_roles)]
        # Kicking removes the user's room roles too (reference §5.4), so no RemoveRoomRole there.
        ops += [RemoveRoomRole(sid, uid, room, role) for room, role in sorted(held_room_roles - want_rr)
                if room not in kicks]
        ops += [KickFromRoom(sid, uid, room) for room in kicks]
    else:  # deactivate
        ops += [KickFromRoom(sid, uid, room) for room in sorted(known)]
        if acct.active:
            ops.append(SetActive(sid, uid, False))
    return ops


def plan_changes(targets: Iterable[Target], observed: ObservedState, own: Ownership) -> tuple[Operation, ...]:
    """The ordered operations that make Rocket.Chat match ``targets``. See the module docstring."""
    ops: list[Operation] = []
    if own.create_roles:
        ops += [CreateRole(r) for r in sorted(own.roles - observed.roles.keys())]
    for key in sorted(own.create_rooms - observed.rooms.keys()):
        name, rtype = own.rooms[key]
        ops.append(CreateRoom(key, name, rtype))
    targets = tuple(targets)
    deleting = [t.user_id for t in targets if t.user_id is not None and t.desired.remove == "delete"]
    # With SSO the provider may own the email: then no address is changed (the next login would undo it).
    moves = plan_email_moves(wanted_email_changes(targets, observed, own.sync_profile and "email" in own.profile_fields),
                             observed, deleting)
    for t in targets:
        if t.user_id is None:
            if t.desired.remove is None:
                ops += _plan_new(t, observed, own)
            continue
        acct = observed.accounts.get(t.user_id)
        if acct is None or acct.user_id == observed.service_user_id:
            continue
        ops += _plan_existing(t, acct, observed, own, moves)
    ops.sort(key=sort_key)
    return tuple(ops)


def count_by_kind(ops: Iterable[Operation]) -> dict[str, int]:
    """Counts per reporting kind (``activate``/``deactivate`` split), sorted by kind name."""
    counts: dict[str, int] = {}
    for op in ops:
        k = op_kind(op)
        counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items()))


def memberships_to_reveal(targets: Iterable[Target], observed: ObservedState, *,
                          unsettled: bool = True) -> tuple[str, ...]:
    """Accounts whose room memberships a bulk read could not see, and that the plan depends on.

    * Accounts to be reactivated: reactivating one would make its hidden memberships visible again,
      including ones the policy no longer wants. Reactivations are rare (a returning person).
    * With ``unsettled``: accounts that must not be in a room whose member pages changed while they
      were read (``ObservedState.unsettled_rooms``) and were not seen in it. The read may have skipped
      them; planning "not a member, nothing to do" would retire their change with them still inside.
      Few people of a batch are both outside a room and meant to be (a burst into or out of a room
      reads everyone who moves as a member or as wanted there), so this too is a handful of reads.

    Reading them first (one ``users.info`` each, which lists subscriptions regardless of the active
    flag) keeps the plan exact, so the next run has nothing left to do.
    """
    out = []
    shaky = observed.unsettled_rooms if unsettled else frozenset()
    for t in targets:
        if t.user_id is None or t.desired.remove in ("leave", "delete"):
            continue
        acct = observed.accounts.get(t.user_id)
        if acct is None:
            continue
        if acct.rooms is None:
            if t.desired.remove is None:
                out.append(t.user_id)
            continue
        unseen = shaky - acct.known_rooms
        if unseen and unseen - (t.desired.rooms if t.desired.active else frozenset()):
            out.append(t.user_id)
    return tuple(out)


def accounts_to_confirm(people: Iterable[SitePerson], observed: ObservedState) -> tuple[str, ...]:
    """Linked accounts a bulk read did not list although they may exist: ``users.list`` moved while it
    was paged (``ObservedState.users_unsettled``), so a missing account is not proof it is gone.
    Taking it for gone would match the person again and try to create an account whose username is
    taken (or, under another name, a second one). Few links are missing in a read, so a ``users.info``
    each is cheap; a Rocket.Chat that came back empty is read in bulk, not moving, and costs nothing here."""
    if not observed.users_unsettled:
        return ()
    return tuple(dict.fromkeys(p.link.rc_user_id for p in people
                               if p.link is not None and p.link.rc_user_id not in observed.accounts))
