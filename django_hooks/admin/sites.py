"""`register(admin_site)`: put rcsync's task UI on any AdminSite (the default one, or a site's own).

    from django_hooks.admin.sites import register
    staff_site = AdminSite(name="staff")
    register(staff_site)

Registers the Accounts page (AccountLink), Sync runs (with "Reconcile everything"), the audit
trail, pending syncs, held syncs (with their release) and, when django-celery-beat is installed, its schedule models with a
"Run selected tasks" that reaches rcsync's Celery app. Models a site already registered on that
admin site are left as they are (except the stock PeriodicTask admin, replaced by its fixed subclass).
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin

from django_hooks.admin.accounts import AccountLinkAdmin
from django_hooks.admin.holds import HeldSyncAdmin
from django_hooks.admin.runs import PendingSyncAdmin, SyncOperationAdmin, SyncRunAdmin
from django_hooks.models import AccountLink, HeldSync, PendingSync, SyncOperation, SyncRun

__all__ = ["register"]


def _register(site: admin.AdminSite, model: Any, model_admin: Any) -> None:
    if not site.is_registered(model):
        site.register(model, model_admin)


def register(site: admin.AdminSite, *, schedule: bool = True) -> admin.AdminSite:
    """Register rcsync's admin on `site`; `schedule=False` leaves django-celery-beat's models out."""
    _register(site, AccountLink, AccountLinkAdmin)
    _register(site, SyncRun, SyncRunAdmin)
    _register(site, SyncOperation, SyncOperationAdmin)
    _register(site, PendingSync, PendingSyncAdmin)
    _register(site, HeldSync, HeldSyncAdmin)
    if schedule and apps.is_installed("django_celery_beat"):
        _register_schedule(site)
    return site


def _register_schedule(site: admin.AdminSite) -> None:
    # In-function: django-celery-beat is optional, and its models import only when it is installed.
    from django_celery_beat import admin as beat_admin
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

    from django_hooks.admin.beat import RcsyncPeriodicTaskAdmin

    current = site._registry.get(PeriodicTask)
    if current is not None and type(current) is beat_admin.PeriodicTaskAdmin:
        site.unregister(PeriodicTask)
    _register(site, PeriodicTask, RcsyncPeriodicTaskAdmin)
    _register(site, CrontabSchedule, beat_admin.CrontabScheduleAdmin)
    _register(site, IntervalSchedule, beat_admin.IntervalScheduleAdmin)
    _register(site, ClockedSchedule, beat_admin.ClockedScheduleAdmin)
    _register(site, SolarSchedule, beat_admin.SolarScheduleAdmin)
