"""What a run reports per site person: its own module so the engine and the streamed planner
(:mod:`sync_tasks.stream`, which finalises the results of people it leaves alone as it goes) share it."""
from __future__ import annotations

from dataclasses import dataclass

from .apply import OperationOutcome
from .ops import Operation

__all__ = ["PersonResult", "planned_status"]


@dataclass(frozen=True, slots=True)
class PersonResult:
    """Outcome for one site person. ``rc_user_id``/``rc_username``/``created_by_bridge`` are what the
    site should store in its AccountLink (``created_by_bridge`` is None when there is no account).
    Slotted: a full reconcile holds one per site person."""

    site_id: str
    status: str
    rc_user_id: str | None = None
    rc_username: str | None = None
    created_by_bridge: bool | None = None
    error: str | None = None
    planned: tuple[Operation, ...] = ()
    outcomes: tuple[OperationOutcome, ...] = ()

    @property
    def ops(self) -> tuple[Operation, ...]:
        return self.planned


def planned_status(remove: str | None) -> str:
    """The status of a person whose planned operations all went through (or who needed none)."""
    return {None: "synced", "deactivate": "deactivated", "delete": "deleted", "leave": "skipped"}[remove]
