"""The relay: re-send pending syncs whose Celery message was lost.

A PendingSync row is durable, its message is not (the broker was down at commit, restarted, or a
retry's countdown message was lost). Beat runs this every RELAY_INTERVAL; over-sending is harmless
because the worker loop re-reads the row under the user's lock.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connections
from django.utils import timezone

from django_hooks.conf import hook_settings
from django_hooks.models import PendingSync
from django_hooks.queue.pending import enqueue, pending_table

__all__ = ["relay_pending"]

log = logging.getLogger("rcsync.worker")


def relay_pending(now: datetime | None = None, limit: int = 500) -> int:
    """Re-send pending rows whose message was lost (broker down at commit, a broker restart, a lost retry).

    Safe to over-send: a message for a row that is gone, or whose user is being synced, is harmless.
    """
    cfg = hook_settings()
    now = now or timezone.now()
    stale = now - timedelta(seconds=cfg.relay_stale_after)
    # A fresh row's on-commit send may still be under way: give it a moment.
    unsent = now - timedelta(seconds=min(2.0, cfg.relay_stale_after))
    rows = PendingSync.objects.raw(
        f"""
        SELECT id, user_key FROM {pending_table(connections[PendingSync.objects.db])}
        WHERE (state IN ('queued', 'running') AND enqueued_at IS NULL AND last_requested_at < %s)
           OR (state IN ('queued', 'running') AND enqueued_at < %s)
           OR (state = 'retrying' AND next_attempt_at < %s AND (enqueued_at IS NULL OR enqueued_at < %s))
        ORDER BY first_requested_at
        LIMIT %s
        """,
        [unsent, stale, stale, stale, limit],
    )
    sent = 0
    for row in rows:
        if enqueue(row.user_key):
            sent += 1
        else:
            break  # broker still down: try again next tick
    if sent:
        log.info("relay re-sent %d pending sync(s)", sent)
    return sent
