"""The two permissions of rcsync's admin task UI, and the checks every admin view makes.

* ``django_hooks.view_sync_state`` — see accounts, runs, plans, audit rows and progress.
* ``django_hooks.start_resync`` — change Rocket.Chat: resync people, compute and apply a reconcile,
  run the nightly task now.

They are declared on ``SyncRun.Meta.permissions`` (migration 0003), so Django's own ``migrate``
creates them like any model permission, whether or not the admin is imported; SyncRun's content
type is where the earlier ``post_migrate`` hook put them, so existing rows stay. Superusers hold
both, as with every Django permission. Staff without them get 403 on every rcsync page.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext

from django_hooks.models import START_RESYNC as START_CODENAME
from django_hooks.models import VIEW_SYNC_STATE as VIEW_CODENAME


APP_LABEL = "django_hooks"
VIEW = f"{APP_LABEL}.{VIEW_CODENAME}"
START = f"{APP_LABEL}.{START_CODENAME}"


def _active_staff(user: Any) -> bool:
    return bool(user is not None and user.is_active and user.is_staff)


def can_view(user: Any) -> bool:
    """May see sync state. Starting resyncs implies seeing what they do."""
    return _active_staff(user) and (user.has_perm(VIEW) or user.has_perm(START))


def can_start(user: Any) -> bool:
    """May make rcsync write to Rocket.Chat (or enqueue work that will)."""
    return _active_staff(user) and user.has_perm(START)


def require_view(request: Any) -> None:
    if not can_view(request.user):
        raise PermissionDenied(gettext("You need the “view Rocket.Chat sync state” permission."))


def require_start(request: Any) -> None:
    if not can_start(request.user):
        raise PermissionDenied(gettext("You need the “start Rocket.Chat resyncs” permission."))


def forbidden(request: Any, admin_site: Any, message: str = "") -> Any:
    """A 403 in the admin's look (the site's bare 403 page tells a staff user nothing)."""
    request.current_app = admin_site.name
    context = {**admin_site.each_context(request), "title": gettext("Permission needed"),
               "message": message or gettext("You do not have permission to see Rocket.Chat sync state."),
               "view_perm": VIEW, "start_perm": START}
    response = TemplateResponse(request, "admin/django_hooks/forbidden.html", context, status=403)
    return response.render()


class ForbiddenPageMixin:
    """ModelAdmin mixin: PermissionDenied from the standard views becomes the admin-styled 403."""

    def changelist_view(self, request: Any, extra_context: Any = None) -> Any:
        try:
            return super().changelist_view(request, extra_context)  # type: ignore[misc]
        except PermissionDenied as exc:
            return forbidden(request, self.admin_site, str(exc))  # type: ignore[attr-defined]

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        try:
            return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
        except PermissionDenied as exc:
            return forbidden(request, self.admin_site, str(exc))  # type: ignore[attr-defined]

    def guarded(self, view: Any) -> Any:
        """Wrap a custom admin view: admin_view (login, CSRF) + the admin-styled 403."""
        @wraps(view)
        def inner(request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, self.admin_site, str(exc))  # type: ignore[attr-defined]

        return self.admin_site.admin_view(inner)  # type: ignore[attr-defined]


class SyncStateAdmin(ForbiddenPageMixin, admin.ModelAdmin):
    """Base of rcsync's registered admins: sync state is a record, so it is seen (with the view
    permission) and never edited by hand; changes go through resync/reconcile actions."""

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return can_view(request.user)

    def has_module_permission(self, request: Any) -> bool:
        return can_view(request.user)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
