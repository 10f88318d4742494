"""The "Held syncs" page: people whose destructive changes the safety guard holds for review, and the
one button (an admin action: POST, CSRF, the start permission) that releases them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_hooks.admin.permissions import SyncStateAdmin, can_start
from django_hooks.holds import release


class HeldSyncAdmin(SyncStateAdmin):
    """Read-only list of held syncs; "Release selected" lets their next sync apply what was held."""

    list_display = ("user_key", "username", "state", "count", "held_operations", "reason", "held_at", "released_by")
    list_filter = ("state",)
    search_fields = ("user_key", "username")
    actions = ["release_selected"]

    def has_start_permission(self, request: Any) -> bool:
        return can_start(request.user)

    @admin.display(description=gettext_lazy("held operations"))
    def held_operations(self, obj: Any) -> str:
        ops = list(obj.operations or [])
        return ", ".join(ops[:6]) + (" …" if len(ops) > 6 else "")

    @admin.action(description=gettext_lazy("Release selected (apply the held changes)"), permissions=["start"])
    def release_selected(self, request: Any, queryset: Any) -> None:
        keys = list(queryset.values_list("user_key", flat=True))
        released = release(keys, f"admin:{request.user.get_username()}")
        if not released:
            self.message_user(request, _("Nothing to release: none of the selected syncs is held."), messages.WARNING)
            return
        self.message_user(request, _(
            "Released %(count)d held sync(s); a worker applies them now.") % {"count": len(released)}, messages.SUCCESS)
