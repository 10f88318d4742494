"""The Celery app a site imports: ``from sync_tasks.celery import app`` (``celery -A sync_tasks.celery worker``).

Configuration comes from Django settings with the ``CELERY_`` prefix. The
guarantees rcsync relies on are set on the tasks themselves (``acks_late``,
``reject_on_worker_lost``), so a site's global Celery settings cannot switch
them off; what only works app-wide (one message prefetched per process, a
Redis visibility timeout longer than the longest task, publishing that gives
up quickly when the broker is down, because the pending row is durable) is
filled in here unless the site chose otherwise.
"""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.base")

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
    options = dict(sender.conf.broker_transport_options or {})
    options.setdefault("visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT)
    sender.conf.broker_transport_options = options
    from django_hooks.conf import hook_settings

    schedule = dict(sender.conf.beat_schedule or {})
    schedule.setdefault(
        "rcsync: relay pending syncs",
        {"task": "rcsync.relay_pending", "schedule": timedelta(seconds=hook_settings().relay_interval)},
    )
    sender.conf.beat_schedule = schedule

