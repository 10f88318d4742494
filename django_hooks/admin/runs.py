"""The Runs page (every SyncRun with live progress), a run's page (its operations as they are applied),
the small JSON progress endpoints, and "Reconcile everything" (preview → apply, with the safety guard).

Progress is polled (a few hundred bytes per second per open page) rather than pushed: it works behind
any proxy, needs no channel layer, and a worker writes its counters to the database anyway.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from django_hooks.admin import actions as admin_actions  # `actions` is also a ModelAdmin attribute
from django_hooks.admin.accounts import status_badge
from django_hooks.admin.jscatalog import javascript_catalog
from django_hooks.admin.params import BadParameter, ascii_id, ascii_ids, bad_request, optional_id
from django_hooks.admin.permissions import SyncStateAdmin, can_start, forbidden, can_view, require_start, require_view
from django_hooks.admin.presenters import duration_text, kind_label, operation_row, run_progress
from django_hooks.models import PendingSync, SyncOperation, SyncRun

MAX_IDS = 100
OPS_PAGE = 200


def progress_bar(run: SyncRun, url: str = "") -> str:
    """The progress bar markup; `url` (a JSON endpoint) makes static/django_hooks/rcsync-admin.js poll it."""
    data = run_progress(run)
    return format_html(
        '<div class="rcsync-progress{}" data-run="{}" data-url="{}" data-finished="{}" data-percent="{}">'
        '<div class="rcsync-progress-track"><div class="rcsync-progress-fill" style="width: {}%"></div></div>'
        '<span class="rcsync-progress-text">{}% · {}/{}</span></div>',
        "" if data["finished"] else " rcsync-live", run.pk, url, "1" if data["finished"] else "0",
        data["percent"], data["percent"], data["percent"], data["done"], data["total"],
    )


def counts_text(counts: dict[str, int] | None) -> str:
    """Total operations, with the kinds underneath (planned counts; set when a run finishes)."""
    if not counts:
        return "—"
    kinds = format_html_join(", ", '<span title="{}">{} {}</span>', ((kind_label(k), k, v) for k, v in sorted(counts.items())))
    return format_html('<span class="rcsync-ops-total">{}</span><span class="rcsync-ops-kinds">{}</span>',
                       sum(counts.values()), kinds)


class SyncRunAdmin(SyncStateAdmin):
    """Runs, read-only: they are records of what rcsync did."""

    change_list_template = "admin/django_hooks/syncrun/change_list.html"
    list_display = ("run", "kind_display", "triggered_by", "status_display", "progress", "operations", "started_at", "duration")
    list_display_links = None
    list_filter = ("kind", "status", "dry_run")
    search_fields = ("scope", "triggered_by")
    list_per_page = 50

    def _url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.admin_site.name}:django_hooks_syncrun_{name}", args=args)

    @admin.display(description=_("run"), ordering="id")
    def run(self, obj: SyncRun) -> str:
        return format_html('<a href="{}">#{}</a>', self._url("change", obj.pk), obj.pk)

    @admin.display(description=_("kind"), ordering="kind")
    def kind_display(self, obj: SyncRun) -> str:
        scope = "" if obj.scope == "all" else " · " + gettext("user %(keys)s") % {"keys": obj.scope}
        return format_html("{}{}{}", obj.get_kind_display(), " " + gettext("(dry run)") if obj.dry_run else "", scope)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, obj: SyncRun) -> str:
        return format_html('<span class="rcsync-run-status" data-run="{}">{}</span>', obj.pk,
                           status_badge(obj.status, obj.get_status_display()))

    @admin.display(description=_("progress"))
    def progress(self, obj: SyncRun) -> str:
        if obj.dry_run:
            return "—"
        return progress_bar(obj)

    @admin.display(description=_("operations"))
    def operations(self, obj: SyncRun) -> str:
        if not obj.counts and obj.finished_at is None and obj.progress_total:
            return format_html('<span class="rcsync-ops-total">{}</span><span class="rcsync-ops-kinds">{}</span>',
                               obj.progress_total, gettext("planned"))
        return counts_text(obj.counts)

    @admin.display(description=_("duration"))
    def duration(self, obj: SyncRun) -> str:
        seconds = obj.duration_seconds
        text = gettext("running") if seconds is None else duration_text(seconds)
        return format_html('<span class="rcsync-duration" data-run="{}">{}</span>', obj.pk, text)

    def _schedule_url(self, request: Any) -> str:
        """The nightly schedule in django-celery-beat's admin on this site, if the user may see it."""
        try:  # in-function: django-celery-beat is optional
            from django_celery_beat.models import PeriodicTask
        except ImportError:
            return ""
        if not self.admin_site.is_registered(PeriodicTask) or not request.user.has_perm("django_celery_beat.view_periodictask"):
            return ""
        return reverse(f"{self.admin_site.name}:django_celery_beat_periodictask_changelist") + "?q=rcsync"

    def changelist_view(self, request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        latest = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first()
        extra = {
            "title": gettext("Sync runs"), "latest_run": latest or 0, "progress_url": self._url("progress"), "reconcile_url": self._url("reconcile"),
            "can_start": can_start(request.user), "schedule_url": self._schedule_url(request), **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    def get_urls(self) -> list[Any]:
        wrap = self.guarded
        return [
            # The progress script's strings (djangojs catalog of django_hooks), for every page of the task UI.
            path("jsi18n/", self.admin_site.admin_view(self.javascript_catalog, cacheable=True), name="django_hooks_jsi18n"),
            path("progress.json", wrap(self.progress_json), name="django_hooks_syncrun_progress"),
            path("<int:pk>/operations.json", wrap(self.operations_json), name="django_hooks_syncrun_operations"),
            path("reconcile/", wrap(self.reconcile_view), name="django_hooks_syncrun_reconcile"),
            path("reconcile/<int:pk>/", wrap(self.preview_view), name="django_hooks_syncrun_preview"),
            path("reconcile/<int:pk>/apply/", wrap(self.apply_view), name="django_hooks_syncrun_apply"),
            path("reconcile/<int:pk>/status.json", wrap(self.apply_status_json), name="django_hooks_syncrun_apply_status"),
            *super().get_urls(),
        ]

    def javascript_catalog(self, request: Any) -> Any:
        """rcsync-admin.js's gettext()/ngettext() catalog in the request's language (Django's own view),
        built once per language: every task page loads it before the progress script starts polling."""
        return javascript_catalog(request)

    # --- JSON ---------------------------------------------------------------------------------------

    def progress_json(self, request: Any) -> JsonResponse:
        """`?ids=1,2,3` → the progress of those runs (the runs page polls it for its running rows)."""
        require_view(request)
        try:
            ids = ascii_ids(request.GET.get("ids", ""), "ids", MAX_IDS)
            newer = optional_id(request.GET, "newer_than")
        except BadParameter as exc:
            return bad_request(exc, as_json=True)
        runs = SyncRun.objects.filter(pk__in=ids)
        payload: dict[str, Any] = {"runs": [run_progress(r) for r in runs]}
        if newer is not None:  # runs started since the page was drawn: the page offers to show them
            payload["newer"] = SyncRun.objects.filter(pk__gt=newer).count()
        return JsonResponse(payload)

    def operations_json(self, request: Any, pk: int) -> JsonResponse:
        """One run's progress plus its audit rows after `?after=<op id>` (the run page appends them)."""
        require_view(request)
        run = get_object_or_404(SyncRun, pk=pk)
        try:
            return JsonResponse(self._run_payload(run, optional_id(request.GET, "after", 0) or 0))
        except BadParameter as exc:
            return bad_request(exc, as_json=True)

    def _run_payload(self, run: SyncRun, after_id: int) -> dict[str, Any]:
        ops = SyncOperation.objects.filter(run=run, pk__gt=after_id).order_by("pk")[:OPS_PAGE]
        return {"run": run_progress(run), "operations": [operation_row(op) for op in ops],
                "run_url": self._url("change", run.pk)}

    # --- one run ------------------------------------------------------------------------------------

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        if not can_view(request.user):
            return forbidden(request, self.admin_site)
        request.current_app = self.admin_site.name
        try:
            run = get_object_or_404(SyncRun, pk=ascii_id(object_id, "run"))
        except BadParameter:
            raise Http404(gettext("No such run.")) from None
        if run.dry_run and (run.summary or {}).get("plan") is not None:
            return HttpResponseRedirect(self._url("preview", run.pk))
        context = {
            **self.admin_site.each_context(request), "opts": SyncRun._meta, "title": gettext("Run #%(pk)s") % {"pk": run.pk},
            "run": run, "progress": progress_bar(run, self._url("operations", run.pk)),
            "operations_url": self._url("operations", run.pk), "status": status_badge(run.status, run.get_status_display()),
            "counts": sorted((run.counts or {}).items()), "summary": run.summary or {},
            "runs_url": self._url("changelist"),
            "accounts_url": reverse(f"{self.admin_site.name}:django_hooks_accountlink_changelist"),
        }
        return TemplateResponse(request, "admin/django_hooks/syncrun/run.html", context)

    # --- reconcile everything -----------------------------------------------------------------------

    def reconcile_view(self, request: Any) -> Any:
        """GET: what a reconcile does, recent previews. POST: compute a new preview (a dry run)."""
        require_view(request)
        request.current_app = self.admin_site.name
        if request.method == "POST":
            require_start(request)
            try:
                preview = admin_actions.compute_preview(f"admin:{request.user.get_username()}")
            except admin_actions.PreviewBusy as exc:
                messages.warning(request, gettext("Not started: %(reason)s.") % {"reason": exc})
                return HttpResponseRedirect(self._url("reconcile"))
            except admin_actions.PreviewError as exc:
                messages.error(request, gettext("The preview failed: %(error)s") % {"error": exc})
                return HttpResponseRedirect(self._url("reconcile"))
            return HttpResponseRedirect(self._url("preview", preview.pk))
        recent = SyncRun.objects.filter(dry_run=True, scope="all", summary__has_key="plan")[:10]
        context = {
            **self.admin_site.each_context(request), "opts": SyncRun._meta, "title": gettext("Reconcile everything"),
            "can_start": can_start(request.user), "recent": recent, "runs_url": self._url("changelist"),
            "preview_url_prefix": self._url("reconcile"),
            "pending": PendingSync.objects.count(),
            "running": SyncRun.objects.filter(status=SyncRun.Status.RUNNING, scope="all", dry_run=False).first(),
        }
        return TemplateResponse(request, "admin/django_hooks/syncrun/reconcile.html", context)

    def preview_view(self, request: Any, pk: int) -> Any:
        require_view(request)
        request.current_app = self.admin_site.name
        preview = get_object_or_404(SyncRun, pk=pk, dry_run=True)
        summary = preview.summary or {}
        run = admin_actions.applied_run(preview)
        plan = summary.get("plan")
        if plan is None:  # a dry run recorded elsewhere (`rcsync reconcile --dry-run`): counts only
            plan = [{"kind": k, "label": kind_label(k), "count": v, "items": [], "by_target": [], "more": v,
                     "per_person": True, "server_side": False, "destructive": k in ("deactivate", "delete_user", "kick")}
                    for k, v in sorted((preview.counts or {}).items())]
        context = {
            **self.admin_site.each_context(request), "opts": SyncRun._meta, "title": gettext("Reconcile preview #%(pk)s") % {"pk": preview.pk},
            "preview": preview, "summary": summary, "plan": plan,
            "total": sum((preview.counts or {}).values()), "needs_force": admin_actions.needs_force(preview),
            "applied": summary.get("applied"), "run": run, "can_start": can_start(request.user),
            "apply_url": self._url("apply", preview.pk), "status_url": self._url("apply_status", preview.pk),
            "runs_url": self._url("changelist"), "reconcile_url": self._url("reconcile"),
            "run_progress": progress_bar(run, self._url("apply_status", preview.pk)) if run else "",
            "accounts_url": reverse(f"{self.admin_site.name}:django_hooks_accountlink_changelist"),
        }
        return TemplateResponse(request, "admin/django_hooks/syncrun/preview.html", context)

    def apply_view(self, request: Any, pk: int) -> Any:
        require_start(request)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        preview = get_object_or_404(SyncRun, pk=pk, dry_run=True)
        force = request.POST.get("force") == "yes"
        try:
            admin_actions.apply_preview(preview, by=request.user.get_username(), force=force)
        except admin_actions.ApplyError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, gettext("The reconcile was queued; its progress shows below."))
        return HttpResponseRedirect(self._url("preview", preview.pk))

    def apply_status_json(self, request: Any, pk: int) -> JsonResponse:
        """The run an applied preview started: queued (no run yet), then its progress and operations."""
        require_view(request)
        preview = get_object_or_404(SyncRun, pk=pk, dry_run=True)
        if not (preview.summary or {}).get("applied"):
            # "state" values are read by rcsync-admin.js, not shown: they stay English in every language.
            return JsonResponse({"state": "not applied"})
        run = admin_actions.applied_run(preview)
        if run is None:
            return JsonResponse({"state": "queued", "message": admin_actions.queued_message(preview)})
        try:
            payload = self._run_payload(run, optional_id(request.GET, "after", 0) or 0)
        except BadParameter as exc:
            return bad_request(exc, as_json=True)
        payload["state"] = "finished" if run.finished_at else "running"
        return JsonResponse(payload)


class SyncOperationAdmin(SyncStateAdmin):
    """The audit trail, read-only."""

    list_display = ("at", "run_link", "username", "operation", "target", "outcome_display", "error")
    list_filter = ("outcome", "operation")
    search_fields = ("user_key", "username", "target", "error")
    list_display_links = None
    list_select_related = ("run",)
    list_per_page = 100

    @admin.display(description=_("run"), ordering="run")
    def run_link(self, obj: SyncOperation) -> str:
        url = reverse(f"{self.admin_site.name}:django_hooks_syncrun_change", args=[obj.run_id])
        return format_html('<a href="{}">#{}</a>', url, obj.run_id)

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_display(self, obj: SyncOperation) -> str:
        return status_badge(obj.outcome, obj.get_outcome_display())


class PendingSyncAdmin(SyncStateAdmin):
    """Changes waiting for a worker, read-only."""

    list_display = ("user_key", "state", "generation", "reason", "first_requested_at", "attempts", "next_attempt_at", "last_error")
    list_filter = ("state", "drift")
    search_fields = ("user_key", "reason")

