"""How long sync runs and their audit rows are kept: the nightly task prunes what is older.

Every reconcile and every targeted sync that changed something leaves a SyncRun and one SyncOperation
per operation; without pruning both tables grow forever (issue 14). ``RCSYNC["TASKS"]["RUNS_KEEP_DAYS"]``
(default 90, 0 keeps everything) says how long; deleting in batches keeps each transaction short on
a large table.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.utils import timezone

from django_hooks.conf import hook_settings
from django_hooks.models import SyncRun

log = logging.getLogger("rcsync.retention")

BATCH = 500


def prune_runs(keep_days: float | None = None, *, now: datetime | None = None) -> int:
    """Delete runs started more than ``keep_days`` (default: the setting) ago, with their audit rows.
    Returns how many runs were deleted."""
    keep = hook_settings().runs_keep_days if keep_days is None else keep_days
    if keep <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=keep)
    deleted = 0
    while True:
        ids = list(SyncRun.objects.filter(started_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        SyncRun.objects.filter(pk__in=ids).delete()  # its SyncOperation rows go with it (one DELETE)
        deleted += len(ids)
    if deleted:
        log.info("pruned %d sync run(s) older than %g day(s)", deleted, keep)
    return deleted
