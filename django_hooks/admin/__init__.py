"""rcsync's admin task UI, registered on Django's default admin site (``admin.autodiscover`` imports this).

Accounts (every site user's link, desired vs actual, audit), Sync runs (live progress, "Reconcile
everything" with a dry-run preview first), the audit trail, pending syncs, and the nightly schedule
(django-celery-beat). A site with its own AdminSite calls :func:`register` on it as well (or instead).

The package, like ``django.contrib.gis.admin``, keeps one job per module:

* ``sites`` — :func:`register` puts the task UI on any AdminSite;
* ``permissions`` — the view/start checks every page makes and the admin-styled 403;
* ``accounts`` — the Accounts list and one person's page;
* ``runs`` — the Runs pages, progress JSON and "Reconcile everything";
* ``holds`` — the held syncs and their release;
* ``beat`` — django-celery-beat's task admin wired to rcsync's Celery app;
* ``actions`` — what the buttons do (I/O, never a request);
* ``presenters`` — pure shaping of plans, comparisons and progress for the templates.

The permissions (``django_hooks.view_sync_state``, ``django_hooks.start_resync``) are declared on
``SyncRun.Meta.permissions``, so ``migrate`` creates them whether or not this package is imported.
"""

from django.contrib import admin

from django_hooks.admin.sites import register

__all__ = ["register"]

register(admin.site)
