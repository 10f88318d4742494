"""The Celery tasks: thin wrappers that take ids and flags (never secrets) and call django_hooks.

Every task is safe to run twice: `acks_late` + `reject_on_worker_lost` mean a
killed worker's message is delivered again, and the work it stands for is
level-triggered (re-read the current state, do what is still missing).
"""

from __future__ import annotations

import logging

from sync_tasks.celery import app

log = logging.getLogger("rcsync.tasks")

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}


@app.task(name="rcsync.sync_user", bind=True, max_retries=None, soft_time_limit=600, time_limit=660, **RELIABLE)
def sync_user(self, user_key: str) -> str:
    """Bring one site user's Rocket.Chat account in line, if a pending change asks for it."""
    from django_hooks.worker import sync_pending_user

    outcome = sync_pending_user(str(user_key))
    if outcome.retry_in is not None:
        countdown = outcome.retry_in
        if outcome.status == "busy":  # someone holds this user: back off while they keep it
            from django_hooks.worker import busy_backoff

            countdown = busy_backoff(self.request.retries)
        raise self.retry(countdown=countdown, max_retries=None)
    return outcome.status


@app.task(name="rcsync.relay_pending", **RELIABLE, soft_time_limit=120, time_limit=150)
def relay_pending() -> int:
    """Beat, every RELAY_INTERVAL: re-send pending syncs whose message was lost."""
    from django_hooks.worker import relay_pending as relay

    return relay()


RECONCILE_RETRY_AFTER = 600  # s: a scheduled reconcile that could not reach Rocket.Chat tries again
RECONCILE_RETRIES = 6


@app.task(name="rcsync.reconcile_all", bind=True, max_retries=RECONCILE_RETRIES, soft_time_limit=6600, time_limit=6900,
          **RELIABLE)
def reconcile_all(self, dry_run: bool = False, force: bool = False, kind: str = "manual", triggered_by: str = "") -> int | None:
    """Full reconciliation of every site user; one at a time across all beat processes and workers."""
    from django_hooks.runs import ReconcileBusy, run_reconcile

    try:
        run = run_reconcile(kind=kind, dry_run=dry_run, force=force, triggered_by=triggered_by or f"celery:{kind}")
    except ReconcileBusy:
        log.info("a reconcile is already running; this %s trigger is dropped (the running one covers it)", kind)
        return None
    if run is not None and run.status == run.Status.FAILED and kind in ("nightly", "drift") and not dry_run:
        raise self.retry(countdown=RECONCILE_RETRY_AFTER)  # e.g. Rocket.Chat was down at 03:00
    return run.pk if run is not None else None
