"""rcsync's admin task UI on Django's default admin site.

Accounts (every site user's link, desired vs actual, audit), Sync runs (live progress, "Reconcile
everything" with a dry-run preview first), the audit trail, pending syncs, and the nightly schedule
(django-celery-beat). A site with its own AdminSite calls :func:`register` on it as well (or instead).
The pieces live in ``admin_accounts``, ``admin_runs``, ``admin_beat``, ``admin_actions``,
``admin_plan`` and ``admin_perms``; permissions are ``django_hooks.view_sync_state`` and
``django_hooks.start_resync``.
"""

from django.contrib import admin

from django_hooks.admin_site import register

__all__ = ["register"]

register(admin.site)
