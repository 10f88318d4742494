"""Run the engine for a batch of pending people and remember it: one SyncRun, its audit rows, the links.

What `django_hooks.queue.batch` calls once it holds the batch's locks; the per-person counterpart
is `django_hooks.runs.sync_one_user`. The answer is one `ApplyResult` per user key, so the queue
retires, retries or gives up person by person: bad site data fails only its person, a failure a
retry may fix (Rocket.Chat unreachable, rate limited) leaves the people it touched pending.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Iterable

from django.db import DatabaseError
from django.utils import timezone

from bridge.errors import NotFound, RateLimited, RocketChatError
from django_hooks.conf import engine_config, hook_settings
from django_hooks.guard import WindowGuard
from django_hooks.links import claimed_by_others, save_links
from django_hooks.models import SyncRun
from django_hooks.people import load_people, population
from django_hooks.queue import locks
from django_hooks.rc import cached_client
from django_hooks.results import ApplyResult
from django_hooks.run_rows import insert_run
from django_hooks.runs import Recorder, _fail, _finish, _own_accounts
from sync_tasks.batch import sync_batch
from sync_tasks.engine import PersonResult, gone_under_base_id

__all__ = ["sync_users", "batch_scope", "close_interrupted_runs"]

log = logging.getLogger("rcsync.runs")

BATCH_SCOPE_PREFIX = "batch of "


def batch_scope(keys: list[str]) -> str:
    """The run's `scope`: how many, and the first user keys (the field holds 255 characters)."""
    head = f"{BATCH_SCOPE_PREFIX}{len(keys)}: "
    listed = ""
    for key in keys:
        nxt = f"{listed},{key}" if listed else key
        if len(head) + len(nxt) > 250:
            return head + listed + ",…"
        listed = nxt
    return head + listed


def sync_users(user_keys: Iterable[str], *, reason: str = "", reader: str | None = None,
               holder: locks.LockGroup | None = None) -> dict[str, ApplyResult]:
    """One engine pass over these users (call with all their locks held); one ApplyResult per key.

    `holder` (the caller's lock group) also holds a lock named after the run while it lasts, so a
    later pass can tell a run whose worker was killed from one still going (`close_interrupted_runs`).
    """
    keys = list(dict.fromkeys(str(k) for k in user_keys))
    people, bad = load_people(keys)
    answers = {k: ApplyResult(ok=True) for k in keys if k not in people and k not in bad}  # nothing to do
    answers.update({k: ApplyResult(ok=False, error=why) for k, why in bad.items()})
    unreadable = tuple(PersonResult(k, "error", error=why) for k, why in sorted(bad.items()))
    if not people:
        if unreadable:
            save_links(unreadable, {})
        return answers
    run = insert_run(kind=SyncRun.Kind.CHANGE, scope=batch_scope(list(people)), triggered_by=reason[:255])
    if holder is not None:
        holder.acquire([_run_lock(run.pk)])
    names = {p.site_id: p.username for p in people.values()}
    recorder = Recorder(run, names)
    guard = WindowGuard(run, names)  # the sliding window holds a batch as it holds single syncs (H2)
    rc = cached_client()
    try:
        report, choice = sync_batch(people.values(), rc, engine_config(), population=population,
                                    on_operation=recorder.on_operation, reader=reader,
                                    claimed=claimed_by_others(list(people), own=_own_accounts(people.values())),
                                    admit=guard.admit)
    except (RocketChatError, DatabaseError, OSError) as exc:
        if isinstance(exc, NotFound):
            rc.invalidate()
        recorder.flush()
        _fail(run, f"{type(exc).__name__}: {exc}")
        retry_at = exc.retry_at if isinstance(exc, RateLimited) else None
        answers.update({k: ApplyResult(ok=False, transient=True, retry_at=retry_at, error=f"{type(exc).__name__}: {exc}")
                        for k in people})
        return answers
    log.info("batch of %d synced with the %s reader (estimated reads: per person %d, full %d)",
             len(people), choice.reader, choice.per_person, choice.full)
    if report.failed or report.problems:
        rc.invalidate()  # a stale room or role may be the cause: read them afresh next time
    save_links(report.results + unreadable, people,
               also=lambda: (recorder.flush(), _finish(run, report), guard.settle(report)))
    answers.update(_answers(report, people))
    return answers


def _answers(report: Any, people: dict[str, Any]) -> dict[str, ApplyResult]:
    """Per person, as `runs.sync_one_user` decides for one: retry when one of their operations failed
    for a reason a retry may fix; else done, ok unless their result is an error."""
    results = {r.site_id: r for r in report.results}
    out: dict[str, ApplyResult] = {}
    for key in people:
        result = results.get(key)
        # A room or role gone under the id read first (maybe from the per-process cache, dropped by now):
        # the retry reads afresh, so the person is not given up.
        transient = next((o.error for o in (result.outcomes if result else ())
                          if o.status == "failed" and (o.transient or gone_under_base_id(o))), None)
        if transient is not None:
            out[key] = ApplyResult(ok=False, transient=True, error=transient)
            continue
        ok = result is None or result.status not in ("error", "conflict", "stopped")
        out[key] = ApplyResult(ok=ok, error="" if ok else (result.error or result.status))
    return out


def _run_lock(pk: int) -> str:
    return f"batch-run:{pk}"


def close_interrupted_runs() -> int:
    """Batch runs still marked running whose holder stopped renewing their lock: their worker was
    killed mid-pass (its people stayed pending and are being synced again). Returns how many.

    A live holder renews every third of LOCK_TTL, so its run lock never has less than about two
    thirds of a lifetime left; less than half (or none) means the renewals stopped."""
    ttl = hook_settings().lock_ttl
    young = timezone.now() - timedelta(seconds=ttl / 2)  # may not hold its lock yet
    running = list(SyncRun.objects.filter(status=SyncRun.Status.RUNNING, kind=SyncRun.Kind.CHANGE,
                                          scope__startswith=BATCH_SCOPE_PREFIX, started_at__lt=young)
                   .values_list("pk", flat=True))
    if not running:
        return 0
    pipe = locks.redis_client().pipeline(transaction=False)
    for pk in running:
        pipe.pttl(locks.key("lock", _run_lock(pk)))
    gone = [pk for pk, left in zip(running, pipe.execute()) if left == -2 or 0 <= left < ttl * 500]
    if not gone:
        return 0
    return SyncRun.objects.filter(pk__in=gone, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED, error="interrupted (worker lost); its people were synced again",
        finished_at=timezone.now())
