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
    # A beat logs "Sending due task" before it publishes, so the send of a beat stopped at that moment
    # may never reach the broker (seen under a parallel `make test`): each beat may lose its last one.
    received = re.compile(r"Task rcsync\.reconcile_all\[([^\]]+)\] received")
    finished = re.compile(r"Task rcsync\.reconcile_all\[([^\]]+)\] (?:succeeded|raised)")

    def all_handled() -> bool:
        log = worker.log()
        got = set(received.findall(log))
        return len(got) >= sent - len(beats) and got <= set(finished.findall(log))

    wait_until(all_handled, 30, lambda: f"the {sent} triggers handled:\n{worker.log()[-3000:]}")
    runs = SyncRun.objects.filter(kind="nightly")
    assert runs.count() == 1, list(runs.values("status", "triggered_by", "started_at"))
    assert runs.get().status == "succeeded"


def test_a_hand_made_periodic_task_cannot_force(stand_in, worker, worker_env, logdir) -> None:
    """Issue 14, H1, with a real beat and worker: a periodic task `{"force": true, "dry_run": false}` (as a
    staff user with only beat's permissions could add) runs, is refused and recorded, and changes nothing."""
    import json

    from django.contrib.auth import get_user_model

    from django_hooks.runs import run_reconcile

    User = get_user_model()
    names = [f"h1sam{i:02}" for i in range(12)]
    User.objects.bulk_create([User(username=n, email=f"{n}@example.org") for n in names])
    assert run_reconcile(kind="manual", triggered_by="setup").status == "succeeded"
    User.objects.filter(username__in=names).update(is_active=False)  # past the safety limit (24 > 10)
    PeriodicTask.objects.create(name="cleanup", task="rcsync.reconcile_all", kwargs=json.dumps({"force": True, "dry_run": False}),
                                interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS))
    beat = wait_log(celery_beat(worker_env, "beat-h1", logdir), "beat: Starting")
    try:
        wait_until(lambda: SyncRun.objects.filter(triggered_by="periodic task 'cleanup'").exists(), 60,
                   lambda: f"the worker to handle the periodic task:\n{worker.log()[-3000:]}")
    finally:
        beat.stop()
    refused = SyncRun.objects.filter(triggered_by="periodic task 'cleanup'")
    assert {r.status for r in refused} == {"failed"} and not any(r.force for r in refused)
    assert all("'force' cannot be given to a task" in r.error for r in refused)
    assert all(stand_in.summary(n)[0] for n in names)  # nobody deactivated
