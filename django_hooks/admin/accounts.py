"""The Accounts page: every site user with their Rocket.Chat link, filters, search and two actions;
and one person's page (desired vs actual side by side, audit history, "Resync now").

The list is Django's own changelist over the site's user model (any user model, custom or stock),
served by an *unregistered* ModelAdmin under the AccountLink admin's URL, so users who were never
synced appear too and the site's own user admin stays untouched.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from django_hooks.admin import actions as admin_actions  # `actions` is also a ModelAdmin attribute
from django_hooks.admin.permissions import ForbiddenPageMixin, SyncStateAdmin, can_start, can_view, require_start, require_view
from django_hooks.conf import engine_config
from django_hooks.models import AccountLink, PendingSync, SyncOperation

PREVIEW_LIMIT = 25
NOT_LINKED = "none"


def status_badge(status: str, label: str | None = None) -> str:
    return format_html('<span class="rcsync-badge rcsync-{}">{}</span>', status.replace(" ", "-"), label or status)


def link_badge(link: AccountLink | None) -> str:
    """A link's status badge; a site user rcsync has not synced yet has no link at all."""
    if link is None:
        return status_badge("none", gettext("Not linked"))
    return status_badge(link.status, link.get_status_display())


class LinkStatusFilter(admin.SimpleListFilter):
    title = _("sync status")
    parameter_name = "sync_status"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [*AccountLink.Status.choices, (NOT_LINKED, gettext("Not linked yet"))]

    def queryset(self, request: Any, queryset: Any) -> Any:
        value = self.value()
        if value == NOT_LINKED:
            return queryset.filter(rocketchat_link__isnull=True)
        if value in AccountLink.Status.values:
            return queryset.filter(rocketchat_link__status=value)
        return queryset


class SiteRoleFilter(admin.SimpleListFilter):
    """Site role, when the role lives in a model field (RCSYNC['PEOPLE']['role_attribute'])."""

    title = _("site role")
    parameter_name = "site_role"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        field = role_field()
        if field is None:
            return []
        if field.choices:
            return [(str(k), str(v)) for k, v in field.choices]
        return [(v, v) for v in engine_config().people.role_values]

    def queryset(self, request: Any, queryset: Any) -> Any:
        field = role_field()
        if field is None or self.value() is None:
            return queryset
        return queryset.filter(**{field.name: self.value()})


class GroupFilter(admin.SimpleListFilter):
    """The groups the policy looks at (e.g. `vip`)."""

    title = _("policy group")
    parameter_name = "policy_group"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [(g, g) for g in engine_config().people.groups]

    def queryset(self, request: Any, queryset: Any) -> Any:
        if self.value() is None:
            return queryset
        return queryset.filter(groups__name=self.value()).distinct()


def role_field() -> Any:
    try:
        field = get_user_model()._meta.get_field(engine_config().people.role_attribute)
    except FieldDoesNotExist:
        return None
    return field if getattr(field, "concrete", False) else None


class AccountsListAdmin(ForbiddenPageMixin, admin.ModelAdmin):
    """The Accounts changelist (site users × AccountLink). Instantiated per admin site, never registered."""

    change_list_template = "admin/django_hooks/accounts/change_list.html"
    list_display_links = None
    list_per_page = 50
    actions = ["resync_now", "preview_changes"]

    def __init__(self, model: Any, admin_site: Any) -> None:
        super().__init__(model, admin_site)
        user_model = model
        self.username_field = user_model.USERNAME_FIELD
        fields = {f.name for f in user_model._meta.get_fields()}
        search = [self.username_field] + [f for f in ("email", "first_name", "last_name") if f in fields]
        self.search_fields = [*search, "rocketchat_link__rc_username", "rocketchat_link__rc_user_id"]
        filters: list[Any] = [LinkStatusFilter]
        if role_field() is not None:
            filters.append(SiteRoleFilter)
        if "groups" in fields:
            filters.append(GroupFilter)
        if "is_active" in fields:
            filters.append("is_active")
        self.list_filter = filters
        self.ordering = [self.username_field]
        type(self).person.admin_order_field = self.username_field  # one user model per project
        self.list_display = ["person", "site_role", "link_status", "rc_username", "last_sync", "last_error"]

    # permissions: the rcsync ones, not the user model's
    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return can_view(request.user)

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_start_permission(self, request: Any) -> bool:
        return can_start(request.user)

    def get_queryset(self, request: Any) -> Any:
        pending = PendingSync.objects.filter(user_key=Cast(OuterRef("pk"), output_field=CharField()))
        return (super().get_queryset(request).select_related("rocketchat_link")
                .annotate(rcsync_pending=Exists(pending)))

    def _link(self, obj: Any) -> AccountLink | None:
        try:
            return obj.rocketchat_link
        except AccountLink.DoesNotExist:
            return None

    @admin.display(description=_("site user"), ordering="username")
    def person(self, obj: Any) -> str:
        url = reverse(f"{self.admin_site.name}:django_hooks_account_detail", args=[str(obj.pk)])
        inactive = "" if getattr(obj, "is_active", True) else " " + gettext("(inactive)")
        return format_html('<a href="{}"><strong>{}</strong></a>{}', url, obj.get_username(), inactive)

    @admin.display(description=_("site role"))
    def site_role(self, obj: Any) -> str:
        field = role_field()
        if field is not None:
            value = getattr(obj, f"get_{field.name}_display", lambda: getattr(obj, field.name, ""))()
        else:
            value = getattr(obj, engine_config().people.role_attribute, "") or ""
        flags = [gettext("superuser")] if getattr(obj, "is_superuser", False) else []
        return ", ".join([str(value), *flags]) if value else ", ".join(flags) or "—"

    @admin.display(description=_("status"), ordering="rocketchat_link__status")
    def link_status(self, obj: Any) -> str:
        link = self._link(obj)
        badge = link_badge(link)
        if getattr(obj, "rcsync_pending", False):
            badge = format_html('{} <span class="rcsync-queued" title="{}">{}</span>', badge,
                                gettext("A change is waiting to be synced"), gettext("queued"))
        return badge

    @admin.display(description=_("Rocket.Chat username"), ordering="rocketchat_link__rc_username")
    def rc_username(self, obj: Any) -> str:
        link = self._link(obj)
        return link.rc_username if link and link.rc_username else "—"

    @admin.display(description=_("last sync"), ordering="rocketchat_link__last_synced_at")
    def last_sync(self, obj: Any) -> Any:
        link = self._link(obj)
        return link.last_synced_at if link and link.last_synced_at else "—"

    @admin.display(description=_("last error"))
    def last_error(self, obj: Any) -> str:
        link = self._link(obj)
        if not link or not link.last_error:
            return ""
        text = link.last_error
        return format_html('<span class="rcsync-error" title="{}">{}</span>', text, text[:80] + ("…" if len(text) > 80 else ""))

    # actions (POST + CSRF via the changelist form)
    @admin.action(description=_("Resync now"), permissions=["start"])
    def resync_now(self, request: Any, queryset: Any) -> None:
        keys = [str(pk) for pk in queryset.values_list("pk", flat=True)]
        count = admin_actions.resync_people(keys, request.user.get_username())
        self.message_user(request, ngettext(
            "Queued a sync of %(count)d account; the status updates as the worker finishes.",
            "Queued a sync of %(count)d accounts; the status updates as the worker finishes.", count) % {"count": count},
            messages.SUCCESS)

    @admin.action(description=_("Preview changes"), permissions=["view"])
    def preview_changes(self, request: Any, queryset: Any) -> Any:
        keys = [str(pk) for pk in queryset.values_list("pk", flat=True)[: PREVIEW_LIMIT + 1]]
        if len(keys) > PREVIEW_LIMIT:
            self.message_user(request, gettext("Preview at most %(limit)d people at once, or use “Reconcile everything”.")
                              % {"limit": PREVIEW_LIMIT}, messages.WARNING)
            return None
        try:
            people = admin_actions.preview_people(keys)
        except Exception as exc:
            self.message_user(request, gettext("Rocket.Chat could not be read: %(error)s")
                              % {"error": admin_actions.safe_error(exc)}, messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request), "title": gettext("Preview changes"), "people": people,
            "opts": AccountLink._meta, "can_start": can_start(request.user), "keys": keys,
            "accounts_url": reverse(f"{self.admin_site.name}:django_hooks_accountlink_changelist"),
            "resync_url": reverse(f"{self.admin_site.name}:django_hooks_accounts_resync"),
        }
        return TemplateResponse(request, "admin/django_hooks/accounts/preview.html", context)

    def changelist_view(self, request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        extra = {"title": gettext("Rocket.Chat accounts"), "link_opts": AccountLink._meta, **(extra_context or {})}
        return super().changelist_view(request, extra)


class AccountLinkAdmin(SyncStateAdmin):
    """Registered for AccountLink: its changelist *is* the Accounts page, plus one page per person."""

    list_display = ("user_key", "site_username", "rc_username", "status", "last_synced_at")
    readonly_fields = [f.name for f in AccountLink._meta.fields]

    def accounts_admin(self) -> AccountsListAdmin:
        return AccountsListAdmin(get_user_model(), self.admin_site)

    def changelist_view(self, request: Any, extra_context: dict[str, Any] | None = None) -> Any:
        return self.accounts_admin().changelist_view(request, extra_context)

    def change_view(self, request: Any, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        link = AccountLink.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if link is None:
            raise Http404(gettext("No such account link."))
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:django_hooks_account_detail", args=[link.user_key]))

    def get_urls(self) -> list[Any]:
        wrap = self.guarded
        return [
            path("person/<str:user_key>/", wrap(self.detail_view), name="django_hooks_account_detail"),
            path("person/<str:user_key>/resync/", wrap(self.resync_view), name="django_hooks_account_resync"),
            path("resync/", wrap(self.resync_many_view), name="django_hooks_accounts_resync"),
            *super().get_urls(),
        ]

    def detail_view(self, request: Any, user_key: str) -> Any:
        require_view(request)
        request.current_app = self.admin_site.name
        user = None
        User = get_user_model()
        try:
            user = User._default_manager.filter(pk=User._meta.pk.to_python(user_key)).first()
        except Exception:
            user = None
        link = AccountLink.objects.filter(user_key=user_key).first()
        if user is None and link is None:
            raise Http404(gettext("No such site user."))
        view = admin_actions.person_view(user_key)
        history = SyncOperation.objects.filter(user_key=user_key).select_related("run")[:100]
        pending = PendingSync.objects.filter(user_key=user_key).first()
        name = user.get_username() if user is not None else (link.site_username or user_key)
        context = {
            **self.admin_site.each_context(request), "opts": AccountLink._meta, "title": gettext("Account of %(name)s") % {"name": name},
            "subtitle": None, "person_name": name, "site_user": user, "link": link, "view": view,
            "history": history, "pending": pending, "user_key": user_key, "can_start": can_start(request.user),
            "status_badge": link_badge(link),
            "accounts_url": reverse(f"{self.admin_site.name}:django_hooks_accountlink_changelist"),
            "resync_url": reverse(f"{self.admin_site.name}:django_hooks_account_resync", args=[user_key]),
            "run_url_prefix": reverse(f"{self.admin_site.name}:django_hooks_syncrun_changelist"),
        }
        return TemplateResponse(request, "admin/django_hooks/accounts/detail.html", context)

    def resync_view(self, request: Any, user_key: str) -> Any:
        require_start(request)
        if request.method != "POST":
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:django_hooks_account_detail", args=[user_key]))
        admin_actions.resync_people([user_key], request.user.get_username())
        messages.success(request, gettext("Queued a sync of this account."))
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:django_hooks_account_detail", args=[user_key]))

    def resync_many_view(self, request: Any) -> Any:
        """"Resync these" from the preview page (POST with the previewed keys)."""
        require_start(request)
        target = reverse(f"{self.admin_site.name}:django_hooks_accountlink_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(target)
        keys = [k for k in request.POST.getlist("user_key") if k][:PREVIEW_LIMIT]
        count = admin_actions.resync_people(keys, request.user.get_username())
        messages.success(request, ngettext("Queued a sync of %(count)d account.",
                                             "Queued a sync of %(count)d accounts.", count) % {"count": count})
        return HttpResponseRedirect(target)
