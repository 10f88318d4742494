"""Failures on the way to Rocket.Chat only delay a change: a worker killed mid-sync, Rocket.Chat
answering 503 for a while, or 429. One worker process with one pool process, so the test knows which
process is running the sync."""

from __future__ import annotations

import signal
import time

import pytest
from django.contrib.auth import get_user_model

from django_hooks.models import SyncRun
from e2e_support import BROKERS, celery_worker, children_of, settled, wait_ready, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
DEADLINE = 30


@pytest.fixture(scope="module")
def solo_worker(worker_env, logdir):
    proc = wait_ready(celery_worker(worker_env, "solo", logdir, concurrency=1))
    yield proc
    proc.stop()


@pytest.mark.parametrize("broker", BROKERS, indirect=True, scope="module")
def test_worker_killed_mid_sync_task_is_redelivered(stand_in, solo_worker) -> None:
    # The sync waits in users.info until released, however loaded the machine is (a fixed latency let a
    # slow test kill the pool process after the sync had finished).
    stand_in.server.faults.hold("users.info")
    try:
        user = User.objects.create_user("kim", "kim@example.org", "pw", role="moderator")
        key = str(user.pk)
        wait_until(lambda: SyncRun.objects.filter(scope=key, status="running").exists(), DEADLINE, "the sync to start")
        children = children_of(solo_worker.pid)
        assert len(children) == 1, children
        import os

        os.kill(children[0], signal.SIGKILL)  # the pool process running the task (it cannot finish: reads wait)
    finally:
        stand_in.server.faults.release("users.info")
    wait_until(lambda: stand_in.summary("kim") == (True, ("user",), ("general", "moderators"), True), DEADLINE,
               f"kim converged after the kill (log: {solo_worker.log()[-2000:]})")
    wait_until(settled, DEADLINE, "nothing pending")
    runs = list(SyncRun.objects.filter(scope=key).order_by("started_at").values_list("status", "error"))
    assert runs[0][0] == "failed" and "interrupted" in runs[0][1]
    assert runs[-1][0] == "succeeded"
    assert "WorkerLostError" in solo_worker.log() or "exited prematurely" in solo_worker.log()


def test_rocketchat_503_for_a_while_then_converges(stand_in, solo_worker) -> None:
    # Longer than the bridge's own retries (≤ 3.75 s with the default policy), so the task's retry path runs.
    stand_in.server.faults.outage(5, "503")
    started = time.monotonic()
    user = User.objects.create_user("otto", "otto@example.org", "pw")
    wait_until(lambda: stand_in.summary("otto") == (True, ("user",), ("general",), False), DEADLINE, "otto after the outage")
    assert time.monotonic() - started >= 4.5  # it really had to wait the outage out
    wait_until(settled, DEADLINE, "nothing pending")
    statuses = set(SyncRun.objects.filter(scope=str(user.pk)).values_list("status", flat=True))
    assert statuses >= {"failed", "succeeded"}


def test_rate_limited_then_converges(stand_in, solo_worker) -> None:
    body = {
        "success": False,
        "error": "Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]",
    }
    stand_in.server.faults.fail_next("users.info", 3, 429, body=body)
    User.objects.create_user("rudi", "rudi@example.org", "pw")
    wait_until(lambda: stand_in.summary("rudi") == (True, ("user",), ("general",), False), DEADLINE, "rudi after 429s")
    assert stand_in.server.request_log.count("users.info", status=429) == 3
    wait_until(settled, DEADLINE, "nothing pending")


def test_whole_worker_killed_relay_resends(stand_in, solo_worker, worker_env, logdir, settings) -> None:
    """`kill -9` of the whole worker (main process and pool): its message sits unacknowledged in Redis
    until the visibility timeout; the relay (beat's job, called here directly) re-sends the pending
    row long before that, and a fresh worker converges."""
    from django_hooks.queue.relay import relay_pending

    stand_in.server.faults.hold("users.info")  # the sync cannot finish before the kill
    try:
        User.objects.create_user("walt", "walt@example.org", "pw")
        wait_until(lambda: SyncRun.objects.filter(triggered_by="created", status="running",
                                                  scope=str(User.objects.get(username="walt").pk)).exists(),
                   DEADLINE, "the sync to start")
        solo_worker.kill(signal.SIGKILL)
    finally:
        stand_in.server.faults.release("users.info")
    replacement = wait_ready(celery_worker(worker_env, "replacement", logdir, concurrency=1))
    try:
        settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "RELAY_STALE_AFTER": 0.5}}
        wait_until(lambda: relay_pending() >= 1, DEADLINE, "the relay to re-send walt's pending sync")
        wait_until(lambda: stand_in.summary("walt") == (True, ("user",), ("general",), False), DEADLINE,
                   lambda: f"walt converged ({replacement.log()[-2000:]})")
        wait_until(settled, DEADLINE, "nothing pending")
    finally:
        replacement.stop()
