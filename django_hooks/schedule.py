"""The nightly reconcile as a django_celery_beat periodic task, so admins can see and edit it.

Created once (by migration 0002 or `rcsync bootstrap`) and then left alone:
an admin's edit of the time or an `enabled=False` survives later migrations
and bootstraps.
"""

from __future__ import annotations

import json
from typing import Any

NIGHTLY_TASK_NAME = "rcsync: nightly reconcile"
NIGHTLY_TASK = "rcsync.reconcile_all"
NIGHTLY_KWARGS = {"kind": "nightly", "dry_run": False, "triggered_by": "beat:nightly"}  # never "force" (task_args)


def ensure_nightly_task(periodic_task_model: Any, crontab_model: Any, *, hour: int, minute: int, timezone: str) -> tuple[Any, bool]:
    """Create the nightly PeriodicTask if it does not exist (models passed in: works with migration state)."""
    existing = periodic_task_model.objects.filter(name=NIGHTLY_TASK_NAME).first()
    if existing is not None:
        return existing, False
    crontab, _ = crontab_model.objects.get_or_create(
        minute=str(minute), hour=str(hour), day_of_week="*", day_of_month="*", month_of_year="*", timezone=timezone
    )
    task = periodic_task_model.objects.create(
        name=NIGHTLY_TASK_NAME,
        task=NIGHTLY_TASK,
        crontab=crontab,
        kwargs=json.dumps(NIGHTLY_KWARGS),
        description="Full reconciliation of every site user with Rocket.Chat (rcsync).",
        enabled=True,
    )
    return task, True
