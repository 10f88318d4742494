"""Destructive changes the safety guard holds back for review, and their release.

`django_hooks.guard` writes a :class:`~django_hooks.models.HeldSync` row for each person whose
destructive operations it held; this module is what the metrics endpoint
(`rcsync_held_destructive_operations`), `rcsync status`, the admin's "Held syncs" page and
`rcsync release` ask and do. A release marks the rows released and queues one sync per person (one
bulk write and one message); that sync applies at most what was held, past the window, and is counted.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from django_hooks.models import HeldSync
from django_hooks.queue.pending import mark_pending_many

__all__ = ["RELEASE_REASON_PREFIX", "held_destructive_operations", "open_holds", "release"]

#: The pending reason of a released person's sync ("released by <who>"). The queue syncs such a row
#: on its own, never in someone else's batch pass: each release is one reviewed person's own sync and
#: run, as the docs (operations.md) and each person's own message promise.
RELEASE_REASON_PREFIX = "released by "


def held_destructive_operations() -> int:
    """How many destructive operations (deactivate, delete, kick, remove role) wait for a release."""
    return HeldSync.objects.filter(state=HeldSync.State.HELD).aggregate(n=Sum("count"))["n"] or 0


def open_holds():
    """The held rows waiting for a release, oldest first."""
    return HeldSync.objects.filter(state=HeldSync.State.HELD).order_by("held_at", "user_key")


def release(user_keys: list[str] | None, by: str) -> list[str]:
    """Release the holds of these people (None: every held person) and queue their syncs; returns the
    user keys released (those that were held)."""
    with transaction.atomic():
        rows = open_holds().select_for_update()
        if user_keys is not None:
            rows = rows.filter(user_key__in=list(user_keys))
        keys = list(rows.values_list("user_key", flat=True))
        if not keys:
            return []
        HeldSync.objects.filter(user_key__in=keys).update(
            state=HeldSync.State.RELEASED, released_at=timezone.now(), released_by=by[:255])
        mark_pending_many(keys, f"{RELEASE_REASON_PREFIX}{by}")
    return keys
