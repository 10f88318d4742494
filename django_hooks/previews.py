"""The one way a queued reconcile gets ``force``: an admin applied a reviewed preview with force.

The admin's Apply button (``django_hooks.admin.actions.apply_preview``, start permission required)
records on the preview who applied it and whether they forced, and queues ``rcsync.reconcile_all``
with the preview's id, never with ``force``. The worker *claims* that record here: once (a replayed or
hand-copied message finds it claimed), and forced only if the preview crossed the safety threshold and
the admin confirmed. A forced run is bounded by the destructive operations the preview showed
(``sync_tasks.bound``): what a beat-only staff user could copy into a periodic task is at most one
run of what an authorised admin already approved.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from django_hooks.models import SyncRun
from sync_tasks.bound import Key, as_bound


class PreviewRefused(Exception):
    """The preview a task names cannot be carried out (missing, never applied, already carried out).
    ``replay``: it was carried out already, so the refusal is not that preview's outcome."""

    def __init__(self, message: str, *, replay: bool = False) -> None:
        super().__init__(message)
        self.replay = replay


@dataclass(frozen=True)
class Authorisation:
    """What the admin who applied a preview allowed: ``bound`` is set when they forced."""

    preview: int
    by: str
    tag: str
    force: bool
    bound: frozenset[Key] | None


def claim(preview_pk: int) -> Authorisation:
    """Take the apply record of preview ``preview_pk`` (once) and say what it allows."""
    with transaction.atomic():
        preview = SyncRun.objects.select_for_update().filter(pk=preview_pk, dry_run=True, scope="all").first()
        if preview is None:
            raise PreviewRefused(_("preview #%(pk)d does not exist") % {"pk": preview_pk})
        summary = dict(preview.summary or {})
        applied = dict(summary.get("applied") or {})
        if not applied:
            raise PreviewRefused(_("preview #%(pk)d was not applied in the admin") % {"pk": preview_pk})
        if applied.get("claimed_at"):
            raise PreviewRefused(_("preview #%(pk)d was already carried out (%(at)s); compute a new preview") % {
                "pk": preview_pk, "at": applied["claimed_at"]}, replay=True)
        force = bool(applied.get("force")) and bool(summary.get("stopped_by_safety"))
        if force and "destructive_ops" not in summary:
            raise PreviewRefused(_("preview #%(pk)d does not list its destructive operations, so a forced apply "
                                   "cannot be bounded by it; compute a new preview") % {"pk": preview_pk})
        applied["claimed_at"] = timezone.now().isoformat()
        summary["applied"] = applied
        preview.summary = summary
        preview.save(update_fields=["summary"])
    bound = as_bound(summary["destructive_ops"]) if force else None
    return Authorisation(preview=preview_pk, by=str(applied.get("by", "")), tag=str(applied.get("tag", "")),
                         force=force, bound=bound)
