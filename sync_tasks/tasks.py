"""The Celery tasks: thin wrappers that take ids and flags (never secrets) and call django_hooks.

Every task is safe to run twice: `acks_late` + `reject_on_worker_lost` mean a
killed worker's message is delivered again, and the work it stands for is
level-triggered (re-read the current state, do what is still missing).

The tasks are ``shared_task``s: they register with every Celery app in the process, so a site's own
app runs them once this module is imported (``app.autodiscover_tasks()`` finds it through
``django_hooks.tasks`` when ``django_hooks`` is in INSTALLED_APPS; or ``Celery(include=["sync_tasks.tasks"])``).
The bundled ``sync_tasks.celery`` app includes it as well.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import Celery, Task, shared_task
from celery._state import _get_active_apps, connect_on_app_finalize

log = logging.getLogger("rcsync.tasks")

RELIABLE = {"acks_late": True, "reject_on_worker_lost": True}
RELAY_ENTRY = "rcsync: relay pending syncs"


class RcsyncTask(Task):
    """Every send that names no destination goes to rcsync's queue, whichever app sends it.

    Covers ``.delay()``/``apply_async``, ``self.retry()`` and beat (which calls ``apply_async`` of a
    registered task with the periodic task's own options; an empty queue there means "default").
    """

    def apply_async(self, args: Any = None, kwargs: Any = None, task_id: Any = None, producer: Any = None,
                    link: Any = None, link_error: Any = None, shadow: Any = None, **options: Any) -> Any:
        from django_hooks.dispatch import destination

        return super().apply_async(args, kwargs, task_id=task_id, producer=producer, link=link,
                                   link_error=link_error, shadow=shadow, **destination(options))


def add_relay_schedule(app: Celery) -> None:
    """Beat entry for the relay, on whichever app runs beat (the site's own or the bundled one)."""
    import os

    from django.conf import settings

    if not (settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE")):  # not a Django process
        return
    from django_hooks.conf import hook_settings

    schedule = dict(app.conf.beat_schedule or {})
    schedule.setdefault(
        RELAY_ENTRY, {"task": "rcsync.relay_pending", "schedule": timedelta(seconds=hook_settings().relay_interval)},
    )
    app.conf.beat_schedule = schedule


@connect_on_app_finalize  # what shared_task itself uses to reach every app
def _on_finalize(app: Celery) -> None:
    # Beat finalizes its app (after importing the task modules) before it builds its scheduler.
    from django_hooks.dispatch import is_fallback_app

    if not is_fallback_app(app):
        add_relay_schedule(app)


for _app in list(_get_active_apps()):  # apps finalized before this module was imported (autodiscovery)
    if _app.finalized:
        _on_finalize(_app)


@shared_task(base=RcsyncTask, name="rcsync.sync_user", bind=True, max_retries=None, soft_time_limit=600, time_limit=660, **RELIABLE)
def sync_user(self, user_key: str, others: bool = False) -> str:
    """Bring one site user's Rocket.Chat account in line, if a pending change asks for it.

    `others` is set on the retry of a drain that left other people's rows to it (django_hooks.queue.worker,
    `Outcome.others`); a redelivered message (its worker was lost, perhaps mid-drain) counts as one too.

    The retry is sent without raising Celery's `Retry` (``throw=False``): raising it made the worker
    build an ExceptionInfo with the formatted traceback for every retry, and in a burst most messages
    are retried once ("covered"). The message is acknowledged after this returns, as after a raised
    retry; the new message was already sent (a broker failure there rejects this one, as before).
    """
    from django_hooks.queue.worker import sync_pending_user

    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    outcome = sync_pending_user(str(user_key), message_id=self.request.id, others=bool(others) or redelivered)
    if outcome.retry_in is not None:
        countdown = outcome.retry_in
        if outcome.status == "busy":  # someone holds this user: back off while they keep it
            from django_hooks.queue.worker import busy_backoff

            countdown = busy_backoff(self.request.retries)
        # Only a retry that carries other people's rows names the argument (a message without it is
        # what every other sender sends).
        self.retry(args=[user_key], kwargs={"others": True} if outcome.others else {}, countdown=countdown,
                   max_retries=None, throw=False)
        return f"{outcome.status}; again in {countdown:.1f} s"
    return outcome.status


@shared_task(base=RcsyncTask, name="rcsync.enqueue_pending", **RELIABLE, soft_time_limit=120, time_limit=150)
def enqueue_pending(user_keys: list[str]) -> int:
    """Send one `sync_user` per key (a bulk resync or release sent one message from the web request)."""
    from django_hooks.queue.pending import enqueue

    return sum(1 for key in user_keys if enqueue(str(key)))


@shared_task(base=RcsyncTask, name="rcsync.relay_pending", **RELIABLE, soft_time_limit=120, time_limit=150)
def relay_pending() -> int:
    """Beat, every RELAY_INTERVAL: re-send pending syncs whose message was lost."""
    from django_hooks.queue.relay import relay_pending as relay

    return relay()


RECONCILE_RETRY_AFTER = 600  # s: a scheduled reconcile that could not reach Rocket.Chat tries again
RECONCILE_RETRIES = 6


@shared_task(base=RcsyncTask, name="rcsync.reconcile_all", bind=True, max_retries=RECONCILE_RETRIES, soft_time_limit=6600, time_limit=6900,
          **RELIABLE)
def reconcile_all(self, *args: Any, **kwargs: Any) -> int | None:
    """Full reconciliation of every site user; one at a time across all beat processes and workers.

    Takes ``dry_run``, ``kind``, ``triggered_by`` and, from the admin's Apply button, ``preview`` (the
    applied preview's id). Never ``force``: whoever can add a periodic task could send it
    (django_hooks.task_args); a forced run comes only from a preview an admin applied with force
    (django_hooks.previews). Refused arguments are recorded as a failed run that says why.
    """
    from django_hooks.previews import PreviewRefused, claim
    from django_hooks.runs import ReconcileBusy, record_refused_task, run_reconcile
    from django_hooks.task_args import RECONCILE_KINDS, TaskArgumentsError, reconcile_args

    origin = _origin(self.request)
    try:
        call = reconcile_args(args, kwargs)
    except TaskArgumentsError as exc:
        kind = kwargs.get("kind") if kwargs.get("kind") in RECONCILE_KINDS else "manual"
        return record_refused_task(f"refused: {exc}", kind=kind, triggered_by=origin or "celery").pk
    force, bound, forced_by, triggered_by = False, None, "", call.triggered_by or origin or f"celery:{call.kind}"
    if call.preview is not None:
        try:
            allowed = claim(call.preview)
        except PreviewRefused as exc:  # a replay must not pose as the preview's run (the page finds it by its tag)
            by = origin or ("celery" if exc.replay else triggered_by)
            return record_refused_task(f"refused: {exc}", kind=call.kind, triggered_by=by).pk
        force, bound, triggered_by = allowed.force, allowed.bound, allowed.tag or triggered_by
        forced_by = f"admin:{allowed.by} (preview #{allowed.preview})" if allowed.force else ""
    try:
        run = run_reconcile(kind=call.kind, dry_run=call.dry_run, force=force, bound=bound, forced_by=forced_by,
                            triggered_by=triggered_by)
    except ReconcileBusy:
        log.info("a reconcile is already running; this %s trigger is dropped (the running one covers it)", call.kind)
        return None
    if call.kind == "nightly" and run is not None:
        _prune()
    if run is not None and run.status == run.Status.FAILED and call.kind in ("nightly", "drift") and not call.dry_run:
        raise self.retry(countdown=RECONCILE_RETRY_AFTER)  # e.g. Rocket.Chat was down at 03:00
    return run.pk if run is not None else None


def _prune() -> None:
    """The nightly run also deletes runs past RUNS_KEEP_DAYS; a failure there must not fail the night."""
    from django.db import DatabaseError

    from django_hooks.retention import prune_runs

    try:
        prune_runs()
    except DatabaseError as exc:
        log.warning("pruning old sync runs failed: %s", type(exc).__name__)


def _origin(request: Any) -> str:
    """Who sent the message, as far as it says: django-celery-beat names its periodic task in a header."""
    name = getattr(request, "periodic_task_name", None) or (getattr(request, "headers", None) or {}).get("periodic_task_name")
    return f"periodic task {name!r}"[:255] if name else ""
