"""The mass-change guard: stop a run that would take too much away, before it writes anything.

A mistaken policy edit, an empty site query or a broken role attribute would otherwise deactivate or
kick a whole community in one nightly run. Deactivations, deletions, removals from rooms and removals of
managed roles (``ops.DESTRUCTIVE_KINDS``) are counted; if they exceed
``max(SAFETY.min_changes, SAFETY.ratio * managed users)`` the run stops before its first write and says
why, unless it is forced (after an admin looked at the dry-run).

Counting per run is not enough: a thousand single-person syncs of one each walk around it. So a run
may also be given an ``admit`` callback (:data:`Admit`), which the Django side backs with a sliding
window over every run (``django_hooks.guard``). The engine calls it once with the plan's destructive
operations, before any write; the :class:`Admission` it answers names the people whose destructive
operations are *held* (left out of this run, their additive ones still applied) or refuses the run as
a whole (a full reconcile past the window's budget).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from .config import SafetyConfig
from .ops import DESTRUCTIVE_KINDS, Operation, op_kind


@dataclass(frozen=True)
class SafetyVerdict:
    allowed: bool
    destructive: int
    limit: int
    deactivations: int
    deletions: int
    removals: int
    reason: str | None = None
    role_removals: int = 0


@dataclass(frozen=True)
class Admission:
    """The window's answer for a plan's destructive operations.

    ``held``: site ids whose destructive operations wait for a review (the rest of their plan goes on);
    ``refused``: why the whole run must not write (None: it may)."""

    held: frozenset[str] = frozenset()
    refused: str | None = None


#: ``admit(destructive_ops, force)`` -> Admission; called once per plan that has destructive operations.
Admit = Callable[[tuple[Operation, ...], bool], Admission]


def destructive_counts(ops: Iterable[Operation]) -> dict[str, int]:
    """Destructive operations of ``ops`` per kind (every kind of DESTRUCTIVE_KINDS present, 0 if none)."""
    counts = dict.fromkeys(sorted(DESTRUCTIVE_KINDS), 0)
    for op in ops:
        k = op_kind(op)
        if k in counts:
            counts[k] += 1
    return counts


def check_safety(ops: Iterable[Operation], managed_users: int, safety: SafetyConfig, *,
                 force: bool = False) -> SafetyVerdict:
    """Count destructive operations and decide whether the run may write.

    ``managed_users`` is the number of accounts rcsync manages in this run (bound accounts plus those
    it is about to create). ``force=True`` allows the run but still reports the counts.
    """
    counts = destructive_counts(ops)
    roles = counts["remove_role"] + counts["remove_room_role"]
    total = sum(counts.values())
    limit = safety.limit(managed_users)
    reason = None
    allowed = True
    if total > limit:
        reason = (f"the plan would deactivate {counts['deactivate']}, delete {counts['delete_user']}, "
                  f"remove {counts['kick']} room memberships and remove {roles} roles ({total} changes) but the "
                  f"limit is {limit} = max({safety.min_changes}, {safety.ratio:g} x {managed_users} managed users); "
                  + ("forced, so it goes ahead" if force else "review the dry-run and run again with force"))
        allowed = force
    return SafetyVerdict(allowed, total, limit, counts["deactivate"], counts["delete_user"], counts["kick"], reason,
                         role_removals=roles)
