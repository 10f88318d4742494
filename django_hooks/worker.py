"""Compatibility path for `sync_tasks.tasks`, which imports the worker loop from here.

The loop is `django_hooks.queue.worker` and the relay `django_hooks.queue.relay`; this module only
re-exports what the Celery tasks call, until they import the queue package directly.
"""

from django_hooks.queue.relay import relay_pending
from django_hooks.queue.worker import busy_backoff, sync_pending_user

__all__ = ["busy_backoff", "relay_pending", "sync_pending_user"]
