"""django-celery-beat's periodic task admin, wired to rcsync's Celery app.

The stock ``PeriodicTaskAdmin`` sends "Run selected tasks" through ``celery.current_app``, which is
thread-local: in a threaded web server it is Celery's fallback app (AMQP, no rcsync tasks), so the
action answers "task not found" and the "Task (registered)" list is empty. This subclass and its
form use the app rcsync sends with (``django_hooks.dispatch``: the site's own, else the bundled one). For rcsync's
reconcile it also needs the start-resync permission and runs it as a *manual* run named after the
admin, so the nightly run's duplicate guard (one nightly per window) does not swallow a click.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_celery_beat.admin import PeriodicTaskAdmin, PeriodicTaskForm, TaskChoiceField, TaskSelectWidget

from django_hooks.admin.permissions import can_start
from django_hooks.dispatch import destination, rcsync_app

RCSYNC_TASK_PREFIX = "rcsync."
RECONCILE = "rcsync.reconcile_all"


class RcsyncTaskSelectWidget(TaskSelectWidget):
    celery_app = rcsync_app


class RcsyncTaskChoiceField(TaskChoiceField):
    widget = RcsyncTaskSelectWidget


class RcsyncPeriodicTaskForm(PeriodicTaskForm):
    regtask = RcsyncTaskChoiceField(label=_("Task (registered)"), required=False)


class RcsyncPeriodicTaskAdmin(PeriodicTaskAdmin):
    celery_app = rcsync_app
    form = RcsyncPeriodicTaskForm

    @admin.action(description=_("Run selected tasks"))
    def run_tasks(self, request: Any, queryset: Any) -> None:
        ours = [t for t in queryset if t.task.startswith(RCSYNC_TASK_PREFIX)]
        if ours and not can_start(request.user):
            self.message_user(request, gettext("Running rcsync tasks needs the “start Rocket.Chat resyncs” permission."),
                              messages.ERROR)
            return
        others = queryset.exclude(pk__in=[t.pk for t in ours])
        started = 0
        for task in ours:
            kwargs = json.loads(task.kwargs or "{}")
            if task.task == RECONCILE:
                kwargs.update(kind="manual", triggered_by=f"admin:{request.user.get_username()} (run now: {task.name})"[:255])
            self.celery_app.send_task(task.task, args=json.loads(task.args or "[]"), kwargs=kwargs,
                                      **destination({"queue": task.queue, "exchange": task.exchange,
                                                     "routing_key": task.routing_key}),
                                      headers={"periodic_task_name": task.name})
            started += 1
        if started:
            self.message_user(request, ngettext("%(count)d rcsync task started; see Sync runs for progress.",
                                                "%(count)d rcsync tasks started; see Sync runs for progress.",
                                                started) % {"count": started}, messages.SUCCESS)
        if others.exists():
            super().run_tasks(request, others)
