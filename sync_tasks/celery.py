"""The bundled Celery app, for the demo and for a site without a Celery app of its own.

A site that has one (``proj/celery.py``, the usual Django layout) does not use this module: rcsync's
tasks are ``shared_task``s and join the site's app through ``app.autodiscover_tasks()`` (with
``django_hooks`` in INSTALLED_APPS) or ``include=["sync_tasks.tasks"]``; see docs/install.md.

``celery -A sync_tasks.celery worker -Q rcsync`` needs ``DJANGO_SETTINGS_MODULE`` set to the site's
settings: this module deliberately has no default (a default pointing at this repository's bundled
site fails in any other with "No module named 'settings'").

Configuration comes from Django settings with the ``CELERY_`` prefix. The guarantees rcsync relies
on are set on the tasks themselves (``acks_late``, ``reject_on_worker_lost``), so a site's global
Celery settings cannot switch them off; what only works app-wide (one message prefetched per process,
a Redis visibility timeout longer than the longest task, publishing that gives up quickly when the
broker is down, because the pending row is durable, and rcsync's queue as this app's default queue)
is filled in here unless the site chose otherwise.
"""

from __future__ import annotations

import os

from celery import Celery

if not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise RuntimeError(
        "sync_tasks.celery: set DJANGO_SETTINGS_MODULE to your site's settings module "
        "(e.g. DJANGO_SETTINGS_MODULE=mysite.settings celery -A sync_tasks.celery worker -Q rcsync)"
    )

app = Celery("rcsync", include=["sync_tasks.tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")

# Lower precedence than the site's CELERY_* settings.
app.add_defaults(
    {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "broker_connection_retry_on_startup": True,
        # A commit hook must not hang a web request while Redis is away: the
        # PendingSync row is already durable and the relay will send it.
        "broker_connection_timeout": 2,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
    }
)

DEFAULT_VISIBILITY_TIMEOUT = 7200  # s; above the longest task (a full reconcile of a large site)


@app.on_after_configure.connect
def _fill_in(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    options = dict(sender.conf.broker_transport_options or {})
    options.setdefault("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)
    sender.conf.broker_transport_options = options
    if not hasattr(settings, "CELERY_TASK_DEFAULT_QUEUE"):
        # This app exists for rcsync: a worker started without -Q still consumes rcsync's queue.
        from django_hooks.conf import hook_settings

        sender.conf.task_default_queue = hook_settings().queue
