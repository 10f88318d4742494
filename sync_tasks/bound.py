"""A forced apply is bounded by its preview: it may take away what the preview showed, nothing else.

"Force" means "I looked at this plan and want it although it crosses the safety threshold". The run
that follows reads both sides again; if the site or Rocket.Chat changed meanwhile, the fresh plan can
hold destructive operations nobody reviewed (issue 14, M1: a preview showed 15 operations, the
forced apply did 55). So a preview records the destructive operations it showed as keys
(kind, site person, target), and a forced run whose fresh plan holds a key outside that set stops
before its first write and asks for a new preview. Fewer (a subset) is fine: someone came back.

Pure: operations in, keys and verdicts out.
"""
from __future__ import annotations

from typing import Iterable

from .ops import DESTRUCTIVE_KINDS, Operation, op_kind

#: What a forced apply may only do if its preview showed it: the safety guard's kinds plus taking a
#: role away (the M2 finding: removing ``admin`` from an account is as destructive as a kick).
BOUNDED_KINDS = DESTRUCTIVE_KINDS | frozenset({"remove_role", "remove_room_role"})

Key = tuple[str, str, str]


def destructive_key(op: Operation) -> Key | None:
    """(kind, site person, target) of a destructive operation; None for one that adds or changes."""
    kind = op_kind(op)
    if kind not in BOUNDED_KINDS:
        return None
    return (kind, op.site_id or "", op.target)


def destructive_keys(ops: Iterable[Operation]) -> list[Key]:
    """The destructive operations of a plan as sorted keys (stored with a preview, JSON-friendly)."""
    return sorted({k for k in map(destructive_key, ops) if k is not None})


def as_bound(stored: Iterable[Iterable[str]]) -> frozenset[Key]:
    """A preview's stored keys (lists after a JSON round trip) back as a set of tuples."""
    out = set()
    for item in stored:
        kind, site_id, target = (str(x) for x in item)
        out.add((kind, site_id, target))
    return frozenset(out)


def beyond(ops: Iterable[Operation], bound: frozenset[Key]) -> list[Key]:
    """The destructive operations of ``ops`` that ``bound`` (the preview) did not show."""
    return [k for k in destructive_keys(ops) if k not in bound]


def beyond_reason(extra: list[Key]) -> str:
    """Why a forced run stopped, naming a few of the operations its preview did not show."""
    shown = ", ".join(f"{kind} {target} (site user {site_id})" for kind, site_id, target in extra[:5])
    more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
    return (f"the plan changed since its preview: {len(extra)} destructive operation(s) the preview did not show "
            f"({shown}{more}); nothing was applied: compute a new preview and review it")
