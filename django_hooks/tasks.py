"""rcsync's Celery tasks where ``app.autodiscover_tasks()`` looks for them (``<installed app>.tasks``).

A site's own Celery app set up the usual Django way finds them with ``django_hooks`` in INSTALLED_APPS;
the tasks themselves live in :mod:`sync_tasks.tasks` (``shared_task``, so they join whichever app loads them).
"""

from sync_tasks.tasks import enqueue_pending, reconcile_all, relay_pending, sync_user

__all__ = ["enqueue_pending", "reconcile_all", "relay_pending", "sync_user"]
