"""The two permissions of rcsync's admin task UI, and the checks every admin view makes.

* ``django_hooks.view_sync_state`` — see accounts, runs, plans, audit rows and progress.
* ``django_hooks.start_resync`` — change Rocket.Chat: resync people, compute and apply a reconcile,
  run the nightly task now.

They are created after every ``migrate`` (and every test-database flush) by a ``post_migrate``
receiver, as Django creates its own model permissions, attached to SyncRun's content type: no
``Meta.permissions`` change, so the sync layer's models and migrations stay as they are. Superusers
hold both, as with every Django permission. Staff without them get 403 on every rcsync page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models.signals import post_migrate

APP_LABEL = "django_hooks"
VIEW_CODENAME = "view_sync_state"
START_CODENAME = "start_resync"
VIEW = f"{APP_LABEL}.{VIEW_CODENAME}"
START = f"{APP_LABEL}.{START_CODENAME}"

#: (codename, human name) pairs the migration creates.
PERMISSIONS = (
    (VIEW_CODENAME, "Can view Rocket.Chat sync state (accounts, runs, plans, audit)"),
    (START_CODENAME, "Can start Rocket.Chat resyncs and reconciles"),
)


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
        raise PermissionDenied("You need the 'view Rocket.Chat sync state' permission.")


def require_start(request: Any) -> None:
    if not can_start(request.user):
        raise PermissionDenied("You need the 'start Rocket.Chat resyncs' permission.")


def ensure_permissions(using: str = "default", **_: Any) -> None:
    """Create the two Permission rows if missing (idempotent)."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from django_hooks.models import SyncRun

    ct = ContentType.objects.db_manager(using).get_for_model(SyncRun)
    for codename, name in PERMISSIONS:
        Permission.objects.using(using).get_or_create(content_type=ct, codename=codename, defaults={"name": name})


def _on_post_migrate(sender: Any, using: str = "default", apps: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", None) != APP_LABEL:
        return
    if apps is not None:  # the migration state may lack the tables on a partial migrate
        try:
            apps.get_model("auth", "Permission")
            apps.get_model(APP_LABEL, "SyncRun")
        except LookupError:
            return
    ensure_permissions(using)


post_migrate.connect(_on_post_migrate, dispatch_uid="rcsync-admin-permissions")


def forbidden(request: Any, admin_site: Any, message: str = "") -> Any:
    """A 403 in the admin's look (the site's bare 403 page tells a staff user nothing)."""
    from django.template.response import TemplateResponse

    request.current_app = admin_site.name
    context = {**admin_site.each_context(request), "title": "Permission needed",
               "message": message or "You do not have permission to see Rocket.Chat sync state.",
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
        from functools import wraps

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
