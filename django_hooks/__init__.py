"""rcsync's Django app: keeps the site's people provisioned in Rocket.Chat.

Public API for site code: :func:`request_sync` ("look at this user again",
e.g. after a VIP purchase). Add ``"django_hooks"`` and ``"django_celery_beat"``
to ``INSTALLED_APPS`` and run Celery workers with ``-Q rcsync`` (the site's own app, or ``sync_tasks.celery``;
docs/install.md).
"""

from __future__ import annotations

from typing import Any

__all__ = ["request_sync"]


def request_sync(user_or_id: Any, reason: str = "requested") -> str:
    """Queue a sync of one site user (a user instance or its primary key), after the current transaction commits."""
    # In-function: Django imports this package while it loads INSTALLED_APPS, before models can be.
    from django_hooks.queue.pending import request_sync as _request_sync

    return _request_sync(user_or_id, reason)
