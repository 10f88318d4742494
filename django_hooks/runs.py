"""Run the engine for the Django side and remember what happened: SyncRun, audit rows, AccountLinks.

`sync_one_user` is what a `sync_user` task does once it holds the user's lock;
`run_reconcile` is the full reconciliation (nightly, manual, drift catch-up),
one at a time across all processes (a Redis lock), and a nightly trigger that
arrives twice (two beat processes) runs once.

This is the reconciler; the queue (`django_hooks.queue`) decides *when* a user is synced and
calls `sync_one_user`, which answers with a `django_hooks.results.ApplyResult`.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any, Callable

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bridge.errors import NotFound, RateLimited, RocketChatError
from django_hooks import metrics
from django_hooks.conf import engine_config, hook_settings
from django_hooks.guard import WindowGuard
from django_hooks.links import claimed_by_others, save_links
from django_hooks.models import SyncOperation, SyncRun
from django_hooks.people import SiteDirectory, load_person
from django_hooks.queue import locks
from django_hooks.rc import cached_client, client
from django_hooks.results import ApplyResult
from django_hooks.run_rows import delete_run, finish_run, insert_operations, insert_run, on_written
from sync_tasks.bound import Key, destructive_keys
from sync_tasks.engine import reconcile_all, sync_people

log = logging.getLogger("rcsync.runs")

#: `request_sync(user, reason=SSO_LOGIN_REASON)` (django_hooks.after_sso_login): retried while the account the
#: login is creating is not there yet, at most this many tries (about a minute with the default back-off).
SSO_LOGIN_REASON = "sso-login"
SSO_LOGIN_TRIES = 7

_OUTCOME = {"ok": SyncOperation.Outcome.APPLIED, "failed": SyncOperation.Outcome.FAILED, "skipped": SyncOperation.Outcome.SKIPPED}


class ReconcileBusy(Exception):
    """Another full reconciliation is running."""


class Recorder:
    """Persists operation outcomes as audit rows (batched) and progress on the run (throttled)."""

    def __init__(self, run: SyncRun, usernames: dict[str, str], on_progress: Callable[[int, int], Any] | None = None) -> None:
        self.run = run
        self.usernames = usernames
        self.buffer: list[dict[str, Any]] = []
        self.on_progress_cb = on_progress
        self._last_progress = 0.0

    def on_operation(self, outcome: Any) -> None:
        site_id = outcome.site_id or ""
        self.buffer.append(dict(
            run_id=self.run.pk, user_key=site_id,
            username=(self.usernames.get(site_id) or outcome.rc_username or "")[:255],
            operation=outcome.kind, target=outcome.op.target[:255],
            outcome=_OUTCOME.get(outcome.status, outcome.status), error=(outcome.error or "")[:2000],
        ))
        metrics.operation_recorded(outcome.kind, self.buffer[-1]["outcome"])
        if len(self.buffer) >= 200:
            self.flush()

    def on_progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress > 0.5:
            self._last_progress = now
            self.flush()
            SyncRun.objects.filter(pk=self.run.pk).update(progress_done=done, progress_total=total)
        if self.on_progress_cb:
            self.on_progress_cb(done, total)

    def flush(self) -> None:
        """Write the buffered audit rows. Inside a transaction (or `run_rows.one_statement`) they leave the
        buffer only once it commits, so a transaction that is rolled back and retried writes them again."""
        if not self.buffer:
            return
        rows = list(self.buffer)
        insert_operations(rows)
        on_written(lambda: self._forget(len(rows)), SyncOperation)

    def _forget(self, count: int) -> None:
        del self.buffer[:count]


def _own_accounts(people: Any) -> list[str]:
    """The accounts these people's links hold (``links.claimed_by_others`` need not look those up)."""
    return [p.link.rc_user_id for p in people if p.link is not None and p.link.rc_user_id]


def _transient(report: Any) -> str | None:
    """A failure a retry may fix (Rocket.Chat down or rate limiting), as its reason; else None."""
    for result in report.results:
        for outcome in result.outcomes:
            if outcome.status == "failed" and outcome.transient:
                return outcome.error
    return None


def _run_status(report: Any) -> str:
    if report.stopped_by_safety:
        return SyncRun.Status.REFUSED
    if report.dry_run:
        return SyncRun.Status.PLANNED
    bad = sum(report.failed.values()) + sum(1 for r in report.results if r.status in ("error", "conflict"))
    if bad == 0:
        return SyncRun.Status.SUCCEEDED
    return SyncRun.Status.FAILED if not report.applied and len(report.results) <= 1 else SyncRun.Status.PARTIAL


def report_summary(report: Any) -> dict[str, Any]:
    """A run's JSON summary; a dry run's also holds the destructive operations it showed, which bound
    a forced apply of it (sync_tasks.bound)."""
    summary = report.summary()
    if report.dry_run:
        summary["destructive_ops"] = [list(k) for k in destructive_keys(report.plan)]
    return summary


def _finish(run: SyncRun, report: Any, error: str = "", forced_by: str = "") -> SyncRun:
    run.status = _run_status(report)
    run.counts = dict(report.counts)
    summary = report_summary(report)
    if forced_by:
        summary["forced_by"] = forced_by
    if report.safety is not None:
        summary["safety_limit"] = report.safety.limit
        summary["destructive"] = report.safety.destructive
    summary["unmanaged"] = [list(pair) for pair in report.unmanaged[:50]]
    touched = sorted({op.site_id for op in report.plan if getattr(op, "site_id", None) is not None})
    summary["people_with_changes"] = len(touched)
    summary["planned_people"] = touched[:200]
    run.summary = summary
    run.error = error or (report.safety_reason if report.stopped_by_safety else "") or ""
    run.progress_total = max(run.progress_total, len(report.plan) if not report.dry_run else 0)
    run.progress_done = sum(report.applied.values()) + sum(report.failed.values())
    run.finished_at = timezone.now()
    finish_run(run)
    kind, status = run.kind, run.status
    on_written(lambda: metrics.run_finished(kind, status), SyncRun)  # once, however often the writes are tried
    return run


def _nothing_to_record(report: Any) -> bool:
    """A targeted sync that planned nothing and found nothing wrong: the AccountLink's last sync time
    says it happened; a SyncRun per such save would only grow the table (issue 14)."""
    return (not report.plan and not report.problems and not report.stopped_by_safety and not report.failed
            and all(r.status not in ("error", "conflict", "stopped") for r in report.results))


def _forget(run: SyncRun) -> None:
    """Drop the row of a run that did nothing (counted in the metrics as a successful run)."""
    delete_run(run.pk)  # as the ORM's delete, in fixed statements (held with the link's by run_rows.one_statement)
    kind = run.kind
    on_written(lambda: metrics.run_finished(kind, SyncRun.Status.SUCCEEDED), SyncRun)


def _fail(run: SyncRun, error: str) -> SyncRun:
    run.status = SyncRun.Status.FAILED
    run.error = error[:4000]
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    metrics.run_finished(run.kind, run.status)
    return run


def sync_one_user(user_key: str, *, reason: str = "", drift: bool = False, attempt: int = 1,
                  finish_with: Callable[[], Any] | None = None) -> ApplyResult:
    """Targeted sync of one site user (call with the user's lock held); records a change/drift run.

    `attempt` > 1 means an earlier try of this pending change did not finish cleanly (a transient
    failure, or a worker killed mid-sync whose run is still marked running).

    `finish_with` is a write of the caller's (the queue retiring the pending row) made part of the sync's
    own final write, last, when the sync is done with this change (not a failure a retry may fix): one
    statement, or one transaction, for both (``links.save_links``'s `then`).
    """
    person = load_person(user_key)
    if person is None:
        return ApplyResult(ok=True)  # never existed here and no account to deprovision
    if attempt > 1:
        # We hold this user's lock: a run of theirs still marked running was cut off (a killed worker).
        SyncRun.objects.filter(scope=user_key, status=SyncRun.Status.RUNNING,
                               kind__in=[SyncRun.Kind.CHANGE, SyncRun.Kind.DRIFT]).update(
            status=SyncRun.Status.FAILED, error="interrupted (worker lost); the sync was redelivered",
            finished_at=timezone.now())
    run = insert_run(kind=SyncRun.Kind.DRIFT if drift else SyncRun.Kind.CHANGE, scope=user_key,
                     triggered_by=reason[:255])
    recorder = Recorder(run, {person.site_id: person.username})
    guard = WindowGuard(run, {person.site_id: person.username})
    rc = cached_client()
    try:
        report = sync_people([person], rc, engine_config(), on_operation=recorder.on_operation,
                             claimed=claimed_by_others([person.site_id], own=_own_accounts([person])),
                             admit=guard.admit)
    except RateLimited as exc:
        recorder.flush()
        _fail(run, f"{type(exc).__name__}: {exc}")
        return ApplyResult(ok=False, transient=True, retry_at=exc.retry_at, error=str(exc))
    except (RocketChatError, DatabaseError, OSError) as exc:
        if isinstance(exc, NotFound):
            rc.invalidate()
        recorder.flush()
        _fail(run, f"{type(exc).__name__}: {exc}")
        return ApplyResult(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
    if report.failed or report.problems:
        rc.invalidate()  # a stale room or role may be the cause: read them afresh next time
    result = report.result_for(user_key)
    sso_wait = (result is not None and result.status == "waiting" and reason == SSO_LOGIN_REASON
                and attempt < SSO_LOGIN_TRIES)
    then = finish_with if not (_transient(report) or sso_wait) else None
    noop = _nothing_to_record(report)  # most saves change nothing in Rocket.Chat: keep no run row for them
    if noop:
        lost = save_links(report.results, {person.site_id: person}, also=lambda: (_forget(run), guard.settle(report)),
                          then=then)
    else:
        lost = save_links(report.results, {person.site_id: person},
                          also=lambda: (recorder.flush(), _finish(run, report), guard.settle(report)), then=then)
    if user_key in lost:  # a concurrent sync linked this account to someone else first
        if noop:  # its row was dropped with the no-op: this outcome is worth one
            SyncRun.objects.create(kind=run.kind, scope=user_key, triggered_by=run.triggered_by, status=SyncRun.Status.PARTIAL,
                                   error=lost[user_key][:4000], finished_at=timezone.now())
        else:
            SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.PARTIAL, error=lost[user_key][:4000])
        return ApplyResult(ok=False, error=lost[user_key])
    transient = _transient(report)
    if transient:
        return ApplyResult(ok=False, transient=True, error=transient)
    if sso_wait:
        # Triggered from the site's OAuth identity view: Rocket.Chat creates the account just after that
        # view answers, so look again shortly (the worker's back-off: 1, 2, 4 ... s) until it is there.
        return ApplyResult(ok=False, transient=True, error="waiting for the sign-in to create the account")
    ok = result is None or result.status not in ("error", "conflict", "stopped")  # "held": recorded, not failed
    return ApplyResult(ok=ok, error="" if ok else (result.error or result.status))


def run_reconcile(*, kind: str = SyncRun.Kind.MANUAL, dry_run: bool = False, force: bool = False,
                  triggered_by: str = "", on_progress: Callable[[int, int], Any] | None = None,
                  bound: frozenset[Key] | None = None, forced_by: str = "") -> SyncRun | None:
    """Full reconciliation, recorded as a SyncRun. None when it was a duplicate nightly trigger.

    ``force`` is for the two authorised callers only, each naming ``forced_by`` (recorded in the run's
    summary) and passing ``bound``, the destructive operations of the preview that was reviewed: the
    admin's forced apply (through ``django_hooks.previews``) and ``manage.py rcsync reconcile --force``.
    The Celery task never takes ``force`` from its arguments (``django_hooks.task_args``).

    Raises ReconcileBusy if another reconcile holds the lock.
    """
    try:
        with locks.held("reconcile"):
            return _reconcile_locked(kind, dry_run, force, triggered_by, on_progress, bound, forced_by)
    except locks.LockBusy:
        raise ReconcileBusy(_("another full reconciliation is running; try again when it has finished")) from None


def record_refused_task(reason: str, *, kind: str = SyncRun.Kind.MANUAL, triggered_by: str = "") -> SyncRun:
    """A reconcile task whose arguments were refused (e.g. a periodic task asking for ``force``):
    recorded as a failed run saying why, so the admin's Runs page and ``rcsync health`` show it."""
    log.warning("reconcile task refused: %s", reason)
    run = SyncRun.objects.create(kind=kind, scope="all", triggered_by=triggered_by[:255], status=SyncRun.Status.FAILED,
                                 error=reason[:4000], finished_at=timezone.now())
    metrics.run_finished(run.kind, run.status)
    return run


def _reconcile_locked(kind: str, dry_run: bool, force: bool, triggered_by: str,
                      on_progress: Callable[[int, int], Any] | None, bound: frozenset[Key] | None,
                      forced_by: str) -> SyncRun | None:
    if kind == SyncRun.Kind.NIGHTLY and not dry_run:
        window = timezone.now() - timedelta(seconds=hook_settings().nightly_min_interval)
        done = SyncRun.objects.filter(kind=SyncRun.Kind.NIGHTLY, dry_run=False, started_at__gte=window)
        if done.exclude(status=SyncRun.Status.FAILED).exists():
            log.info("nightly reconcile already ran in the last %.0f s: skipping this duplicate trigger", hook_settings().nightly_min_interval)
            return None
    run = SyncRun.objects.create(kind=kind, scope="all", dry_run=dry_run, force=force, triggered_by=triggered_by[:255],
                                 summary={"forced_by": forced_by} if forced_by else {})
    try:
        # Every person is in this run (users, and deleted ones by their links), so no account is
        # claimed by someone outside it; the people are read as the engine plans them, not listed.
        people = SiteDirectory()
        recorder = Recorder(run, people.usernames, on_progress)
        guard = WindowGuard(run, people.usernames)
        report = reconcile_all(people, client(), engine_config(), dry_run=dry_run, force=force, bound=bound,
                               on_operation=recorder.on_operation, on_progress=recorder.on_progress,
                               admit=guard.admit)
    except Exception as exc:
        log.warning("reconcile #%s failed: %s: %s", run.pk, type(exc).__name__, exc)
        return _fail(run, f"{type(exc).__name__}: {exc}")
    if dry_run:
        with transaction.atomic():
            recorder.flush()
            _finish(run, report)
    else:
        lost = save_links(report.results, people, also=lambda: (recorder.flush(), _finish(run, report, forced_by=forced_by),
                                                                guard.settle(report)))
        if lost:
            run.status, run.error = SyncRun.Status.PARTIAL, "; ".join(f"{k}: {v}" for k, v in sorted(lost.items()))[:4000]
            run.save(update_fields=["status", "error"])
    return run


def plan_summary_lines(run: SyncRun) -> list[str]:
    """The plan/outcome of a run as a few readable lines (CLI)."""
    summary = run.summary or {}
    planned = summary.get("planned", run.counts) or {}
    total = sum(planned.values())
    # Kinds, statuses and operation kinds stay codes: they are what `--dry-run` output is grepped for.
    head = _("plan #%(pk)s") if run.dry_run else _("run #%(pk)s")
    kind = _("%(kind)s, dry run") % {"kind": run.kind} if run.dry_run else run.kind
    lines = [f"{head % {'pk': run.pk}} ({kind}): {run.status}"]
    lines.append("  " + _("people: %(n)s") % {"n": summary.get("people", 0)} + " "
                 + ", ".join(f"{k} {v}" for k, v in (summary.get("statuses") or {}).items()))
    lines.append("  " + _("operations planned: %(n)s") % {"n": total}
                 + (": " + ", ".join(f"{k} {v}" for k, v in sorted(planned.items())) if total else ""))
    if not run.dry_run and (summary.get("applied") or summary.get("failed")):
        lines.append("  " + _("applied: %(kinds)s") % {"kinds": ", ".join(f"{k} {v}" for k, v in sorted((summary.get("applied") or {}).items()))})
        if summary.get("failed"):
            lines.append("  " + _("FAILED: %(kinds)s") % {"kinds": ", ".join(f"{k} {v}" for k, v in sorted(summary["failed"].items()))})
    for service in summary.get("oauth_services") or []:
        lines.append("  " + _("register OAuth service: %(service)s") % {"service": service})
    for change in summary.get("settings") or []:
        lines.append("  " + _("setting %(change)s") % {"change": change})  # secret values are already masked
    if "safety_limit" in summary:
        lines.append("  " + _("destructive changes: %(n)s (limit %(limit)s)") % {
            "n": summary.get("destructive", 0), "limit": summary["safety_limit"]})
    if summary.get("forced_by"):
        lines.append("  " + _("forced by %(who)s") % {"who": summary["forced_by"]})
    if summary.get("held"):
        lines.append("  " + _("held for review: %(count)d destructive change(s) (past the safety window's limit; "
                              "rcsync release)") % {"count": summary["held"]})
    if summary.get("safety_reason"):
        lines.append("  " + _("safety: %(reason)s") % {"reason": summary["safety_reason"]})
    if summary.get("unmanaged_accounts"):
        lines.append("  " + _("unmanaged Rocket.Chat accounts left alone: %(n)s") % {"n": summary["unmanaged_accounts"]})
    for problem in summary.get("problems") or []:
        lines.append("  " + _("problem: %(problem)s") % {"problem": problem})
    if run.error and run.status == SyncRun.Status.FAILED:
        lines.append("  " + _("error: %(error)s") % {"error": run.error})
    return lines
