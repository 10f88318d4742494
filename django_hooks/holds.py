"""Destructive operations the safety guard is holding back for review (issue 14's sliding-window guard).

Until that guard lands nothing is ever held, so this reads 0. It is the one place the metrics endpoint
(`rcsync_held_destructive_operations`) and `rcsync health` ask, so the guard only has to make this
function count what it stores.
"""

from __future__ import annotations

__all__ = ["held_destructive_operations"]


def held_destructive_operations() -> int:
    """How many destructive operations (deactivate, delete, kick, remove role) wait for a release."""
    return 0
