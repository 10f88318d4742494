"""Two beat processes (a classic deployment mistake) still give one nightly reconcile per night.

The nightly periodic task is edited, as an admin could, to fire every second; both beats then send it
again and again, and the worker must run it once (the duplicate-trigger window is an hour)."""

from __future__ import annotations

import re

import pytest
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from django_hooks.models import SyncRun
from django_hooks.schedule import NIGHTLY_TASK_NAME, ensure_nightly_task
from e2e_support import celery_beat, wait_log, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SENT = "Sending due task rcsync: nightly reconcile"


def test_two_beats_one_nightly_run(stand_in, worker, worker_env, logdir) -> None:
    task, _ = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=3, minute=0, timezone="UTC")
    task.crontab = None
    task.interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    task.save()
    beats = [wait_log(celery_beat(worker_env, f"beat{i}", logdir), "beat: Starting") for i in (1, 2)]
    try:
        wait_until(lambda: all(b.log().count(SENT) >= 2 for b in beats), 30, "both beats to send the nightly task twice")
    finally:
        for b in beats:
            b.stop()
    sent = sum(b.log().count(SENT) for b in beats)
    finished = re.compile(r"Task rcsync\.reconcile_all\[[^\]]+\] (succeeded|raised)")
    wait_until(lambda: len(finished.findall(worker.log())) >= sent, 30, f"all {sent} triggers handled")
    runs = SyncRun.objects.filter(kind="nightly")
    assert runs.count() == 1, list(runs.values("status", "triggered_by", "started_at"))
    assert runs.get().status == "succeeded"
