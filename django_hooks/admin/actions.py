"""What the admin's buttons do (I/O): compute a reconcile preview, apply it, preview or resync people,
read one person's desired and actual state. Views call these; these never see a request.

A preview is recorded as a dry-run SyncRun (status ``planned``) whose ``summary["plan"]`` holds the plan
grouped by kind, so the page can be reloaded, shared and applied later. Applying enqueues the real
``rcsync.reconcile_all`` task with the preview's id: the worker re-reads both sides and plans again
(level-triggered) and re-checks the safety threshold. A forced apply is bounded by the preview: if the
fresh plan holds a destructive operation the preview did not show, the run stops before writing and
the preview page asks for a new preview (``django_hooks.previews``, ``sync_tasks.bound``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from bridge.errors import RocketChatError
from django_hooks.admin.presenters import compare_account, group_plan
from django_hooks.conf import engine_config
from django_hooks.links import claimed_by_others
from django_hooks.models import SyncRun
from django_hooks.people import SiteDirectory, load_person, people_for
from django_hooks.queue import locks
from django_hooks.queue.pending import mark_pending_many
from django_hooks.rc import cached_client, client
from django_hooks.runs import report_summary
from django_hooks.dispatch import send_task
from sync_tasks.decide import desire_all, plan_prepared, prepare
from sync_tasks.engine import note_claimed, reconcile_all, sync_people
from sync_tasks.observe import observe_people

log = logging.getLogger("rcsync.admin")

RECONCILE_TASK = "rcsync.reconcile_all"
PREVIEW_TAG = "(preview #{pk})"


class PreviewError(Exception):
    """A preview could not be computed (Rocket.Chat unreachable, bad config); the message is safe to show."""


class PreviewBusy(PreviewError):
    """Another preview or a full reconcile holds the reconcile lock: one full read at a time."""


class ApplyError(Exception):
    """A preview cannot be applied (already applied, force missing, broker down); safe to show."""


def safe_error(exc: Exception) -> str:
    """An error as shown on a page: bridge errors are secret-free by contract (tests/bridge) and say
    what Rocket.Chat answered; anything else shows only its type (its text might quote config)."""
    if isinstance(exc, RocketChatError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def compute_preview(triggered_by: str) -> SyncRun:
    """Dry-run of a full reconcile, recorded as a planned SyncRun with the grouped plan.

    It reads the whole site and Rocket.Chat, so it holds the reconcile lock like a reconcile does: a
    second click (or a second admin) while one runs gets PreviewBusy instead of another full read.
    """
    try:
        with locks.held("reconcile"):
            return _compute_preview_locked(triggered_by)
    except locks.LockBusy:
        raise PreviewBusy(gettext("a preview or reconcile is already running; compute the preview again when it "
                                  "has finished")) from None


def _compute_preview_locked(triggered_by: str) -> SyncRun:
    run = SyncRun.objects.create(kind=SyncRun.Kind.MANUAL, scope="all", dry_run=True, triggered_by=triggered_by[:255])
    try:
        people = SiteDirectory()  # read as planned, not listed (everyone is in the run: nobody else claims)
        report = reconcile_all(people, client(), engine_config(), dry_run=True)
    except Exception as exc:
        log.warning("reconcile preview #%s failed: %s", run.pk, type(exc).__name__)
        run.status, run.error, run.finished_at = SyncRun.Status.FAILED, safe_error(exc)[:2000], timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise PreviewError(run.error) from exc
    usernames = people.usernames
    summary = report_summary(report)
    if report.safety is not None:
        summary["safety_limit"] = report.safety.limit
        summary["destructive"] = report.safety.destructive
    summary["plan"] = group_plan(report.plan, usernames)
    summary["people_affected"] = len({op.site_id for op in report.plan if getattr(op, "site_id", None)})
    summary["issues"] = [
        {"user_key": r.site_id, "person": usernames.get(r.site_id, r.site_id), "status": r.status, "error": r.error or ""}
        for r in report.results if r.status in ("error", "conflict")
    ][:200]
    run.status = SyncRun.Status.PLANNED
    run.counts = dict(report.counts)
    run.summary = summary
    run.error = report.safety_reason or "" if report.stopped_by_safety else ""
    run.finished_at = timezone.now()
    run.save()
    return run


def needs_force(preview: SyncRun) -> bool:
    """The preview crossed the safety threshold: applying it needs an explicit force confirmation."""
    return bool((preview.summary or {}).get("stopped_by_safety"))


def apply_preview(preview: SyncRun, *, by: str, force: bool) -> str:
    """Enqueue the real reconcile for a preview; returns the `triggered_by` the run will carry.

    One apply per preview (a double click must not queue two runs); a preview past the safety
    threshold needs `force`.
    """
    if not preview.dry_run or preview.status != SyncRun.Status.PLANNED:
        raise ApplyError(gettext("Only a computed preview can be applied."))
    if needs_force(preview) and not force:
        raise ApplyError(gettext("This plan crosses the safety threshold: confirm with “force” to apply it."))
    tag = f"admin:{by} " + PREVIEW_TAG.format(pk=preview.pk)
    with transaction.atomic():
        locked = SyncRun.objects.select_for_update().get(pk=preview.pk)
        summary = dict(locked.summary or {})
        if summary.get("applied"):
            raise ApplyError(gettext("Preview #%(pk)s was already applied by %(by)s.")
                             % {"pk": preview.pk, "by": summary["applied"].get("by", "?")})
        try:
            # No "force" here: the worker reads it from this preview's apply record (django_hooks.previews).
            send_task(RECONCILE_TASK, kwargs={
                "dry_run": False, "kind": SyncRun.Kind.MANUAL, "triggered_by": tag[:255], "preview": preview.pk,
            })
        except Exception as exc:  # broker down: nothing was queued, say so and keep the preview usable
            raise ApplyError(gettext("Could not queue the run (%(error)s); is the broker reachable?")
                             % {"error": type(exc).__name__}) from exc
        summary["applied"] = {"by": by, "at": timezone.now().isoformat(), "force": bool(force), "tag": tag[:255]}
        locked.summary = summary
        locked.save(update_fields=["summary"])
    preview.summary = summary
    return tag


def applied_run(preview: SyncRun) -> SyncRun | None:
    """The real run that applying `preview` started (None while it waits in the queue)."""
    applied = (preview.summary or {}).get("applied")
    if not applied:
        return None
    return (SyncRun.objects.filter(dry_run=False, triggered_by=applied.get("tag", ""), started_at__gte=preview.started_at)
            .order_by("-started_at").first())


def queued_message(preview: SyncRun) -> str:
    """Why an applied preview has no run yet, in words an admin can act on."""
    applied = (preview.summary or {}).get("applied") or {}
    try:
        waited = (timezone.now() - datetime.fromisoformat(applied["at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        waited = 0.0
    other = SyncRun.objects.filter(status=SyncRun.Status.RUNNING, scope="all", dry_run=False).exclude(
        triggered_by=applied.get("tag", "")).first()
    if other is not None:
        return gettext("Run #%(pk)s (another full reconcile) is running; one reconcile runs at a time, so this "
                       "request will be dropped. When it has finished, compute a new preview.") % {"pk": other.pk}
    if waited > 20:
        return gettext("Still waiting after %(seconds)d s: is a Celery worker running for this site?") % {"seconds": waited}
    return gettext("Waiting for a worker to pick the run up…")


# --- people -----------------------------------------------------------------------------------------


@dataclass
class PersonView:
    """One person's desired vs actual state, ready for the template."""

    rows: list[dict[str, Any]]
    planned: list[dict[str, Any]]
    status: str
    error: str
    read_error: str = ""


def person_view(user_key: str) -> PersonView | None:
    """Desired state (the engine's policy) beside the account as Rocket.Chat has it (one per-user read)."""
    person = load_person(user_key)
    if person is None:
        return None
    config = engine_config()
    wanted = desire_all([person], config)  # the policy once: read and plan with the same value
    if wanted.issues:
        return PersonView([], [], "error", wanted.issues[0].reason)
    desired = wanted.pairs[0][1]
    managed_rooms = [r.key for r in config.rooms]
    try:
        obs = observe_people(cached_client(), config, wanted)
        note_claimed(obs, claimed_by_others([person.site_id]))
    except Exception as exc:
        rows = compare_account(desired, None, config.managed_roles, managed_rooms)
        return PersonView(rows, [], "unknown", "", read_error=safe_error(exc))
    decision = plan_prepared(prepare(wanted, obs.state, config), obs.state, config)
    actual = None
    status, error = "synced", ""
    for issue in decision.issues:
        if issue.site_id == person.site_id:
            status, error = issue.status, issue.reason
    for target in decision.targets:
        if target.desired.site_id == person.site_id and target.user_id:
            actual = obs.state.accounts.get(target.user_id)
    rows = compare_account(desired, actual, config.managed_roles, managed_rooms)
    planned = group_plan(decision.ops, {person.site_id: person.username})
    if planned and status == "synced":
        status = "out of date"
    return PersonView(rows, planned, status, error)


def preview_people(user_keys: list[str]) -> list[dict[str, Any]]:
    """Dry-run of a targeted sync for a few people: per person, the operations it would apply."""
    people = people_for(user_keys)
    names = {p.site_id: p.username for p in people}
    report = sync_people(people, cached_client(), engine_config(), dry_run=True,
                         claimed=claimed_by_others(p.site_id for p in people))
    out = []
    for result in report.results:
        out.append({
            "user_key": result.site_id, "person": names.get(result.site_id, result.site_id),
            "status": result.status, "error": result.error or "",
            "plan": group_plan(result.planned, names),
        })
    return out


#: "Resync now" on more people than this is refused: a whole-site change is a full reconcile's job
#: (previewed first). Each sync it queues still passes the safety guard's window (django_hooks.guard).
RESYNC_LIMIT = 500


class TooMany(Exception):
    """A selection over RESYNC_LIMIT; nothing was queued."""


def resync_people(user_keys: list[str], by: str) -> int:
    """Queue a targeted sync of each person: one bulk upsert of their PendingSync rows and, after commit,
    one message that makes a worker send the syncs (the request never does one write and one send per
    person). Raises TooMany past RESYNC_LIMIT."""
    if len(user_keys) > RESYNC_LIMIT:
        raise TooMany(len(user_keys))
    with transaction.atomic():
        return mark_pending_many(user_keys, f"admin resync by {by}"[:200])
