"""`rcsync status`: what the site's sync looks like right now, as plain lines (also used by the admin later)."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone

from django_hooks.models import AccountLink, PendingSync, SyncRun


def status_lines(last_runs: int = 5) -> list[str]:
    lines = ["accounts by status:"]
    counts = dict(AccountLink.objects.values_list("status").annotate(n=Count("id")))
    for status, label in AccountLink.Status.choices:
        lines.append(f"  {label.lower():12} {counts.get(status, 0)}")
    pending = PendingSync.objects.aggregate(n=Count("id"), oldest=Min("first_requested_at"))
    lines.append(f"pending syncs: {pending['n']}")
    if pending["oldest"] is not None:
        age = (timezone.now() - pending["oldest"]).total_seconds()
        lines.append(f"  oldest pending: {age:.0f} s ago")
        by_state = dict(PendingSync.objects.values_list("state").annotate(n=Count("id")))
        lines.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(by_state.items())))
    lines.append("last runs:")
    runs = SyncRun.objects.exclude(kind=SyncRun.Kind.CHANGE).order_by("-started_at")[:last_runs]
    for run in runs:
        took = f"{run.duration_seconds:.1f} s" if run.duration_seconds is not None else "running"
        ops = sum(run.counts.values()) if isinstance(run.counts, dict) else 0
        dry = " dry-run" if run.dry_run else ""
        started = timezone.localtime(run.started_at)
        lines.append(f"  #{run.pk} {run.kind}{dry} {run.status} {started:%Y-%m-%d %H:%M:%S} ({took}), {ops} op(s)")
    if not runs:
        lines.append("  (none)")
    last_change = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGE).order_by("-started_at").first()
    if last_change:
        lines.append(f"last change sync: {timezone.localtime(last_change.started_at):%Y-%m-%d %H:%M:%S %Z} ({last_change.status})")
    return lines
