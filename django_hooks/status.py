"""`rcsync status`: what the site's sync looks like right now, as plain lines (also used by the admin later)."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_hooks.models import AccountLink, PendingSync, SyncRun


def status_lines(last_runs: int = 5) -> list[str]:
    lines = [_("accounts by status:")]
    counts = dict(AccountLink.objects.values_list("status").annotate(n=Count("id")))
    for status, label in AccountLink.Status.choices:
        lines.append(f"  {label.lower():12} {counts.get(status, 0)}")
    pending = PendingSync.objects.aggregate(n=Count("id"), oldest=Min("first_requested_at"))
    lines.append(_("pending syncs: %(n)s") % {"n": pending["n"]})
    if pending["oldest"] is not None:
        age = (timezone.now() - pending["oldest"]).total_seconds()
        lines.append("  " + _("oldest pending: %(age)d s ago") % {"age": age})
        by_state = dict(PendingSync.objects.values_list("state").annotate(n=Count("id")))
        labels = dict(PendingSync.State.choices)
        lines.append("  " + ", ".join(f"{str(labels.get(k, k)).lower()}: {v}" for k, v in sorted(by_state.items())))
    lines.append(_("last runs:"))
    runs = SyncRun.objects.exclude(kind=SyncRun.Kind.CHANGE).order_by("-started_at")[:last_runs]
    for run in runs:
        took = _("%(seconds).1f s") % {"seconds": run.duration_seconds} if run.duration_seconds is not None else _("running")
        ops = sum(run.counts.values()) if isinstance(run.counts, dict) else 0
        dry = " " + _("dry-run") if run.dry_run else ""
        started = timezone.localtime(run.started_at)
        lines.append(f"  #{run.pk} {run.kind}{dry} {run.status} {started:%Y-%m-%d %H:%M:%S} ({took}), "
                     + ngettext("%(n)d op", "%(n)d ops", ops) % {"n": ops})
    if not runs:
        lines.append("  " + _("(none)"))
    last_change = SyncRun.objects.filter(kind=SyncRun.Kind.CHANGE).order_by("-started_at").first()
    if last_change:
        lines.append(_("last change sync: %(when)s (%(status)s)") % {
            "when": f"{timezone.localtime(last_change.started_at):%Y-%m-%d %H:%M:%S %Z}", "status": last_change.status})
    return lines
