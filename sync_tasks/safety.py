"""The mass-change guard: stop a run that would take too much away, before it writes anything.

A mistaken policy edit, an empty site query or a broken role attribute would otherwise deactivate or
kick a whole community in one nightly run. Deactivations, deletions and removals from rooms are
counted; if they exceed ``max(SAFETY.min_changes, SAFETY.ratio * managed users)`` the run stops before
its first write and says why, unless it is forced (after an admin looked at the dry-run).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .config import SafetyConfig
from .ops import Operation, op_kind


@dataclass(frozen=True)
class SafetyVerdict:
    allowed: bool
    destructive: int
    limit: int
    deactivations: int
    deletions: int
    removals: int
    reason: str | None = None


def check_safety(ops: Iterable[Operation], managed_users: int, safety: SafetyConfig, *,
                 force: bool = False) -> SafetyVerdict:
    """Count destructive operations and decide whether the run may write.

    ``managed_users`` is the number of accounts rcsync manages in this run (bound accounts plus those
    it is about to create). ``force=True`` allows the run but still reports the counts.
    """
    counts = {"deactivate": 0, "delete_user": 0, "kick": 0}
    for op in ops:
        k = op_kind(op)
        if k in counts:
            counts[k] += 1
    total = sum(counts.values())
    limit = safety.limit(managed_users)
    reason = None
    allowed = True
    if total > limit:
        reason = (f"the plan would deactivate {counts['deactivate']}, delete {counts['delete_user']} and "
                  f"remove {counts['kick']} room memberships ({total} changes) but the limit is {limit} = "
                  f"max({safety.min_changes}, {safety.ratio:g} x {managed_users} managed users); "
                  + ("forced, so it goes ahead" if force else "review the dry-run and run again with force"))
        allowed = force
    return SafetyVerdict(allowed, total, limit, counts["deactivate"], counts["delete_user"], counts["kick"], reason)
