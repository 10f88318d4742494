"""Bursts end to end: one transaction changes many people, real Celery workers drain them in batches
(RCSYNC["TASKS"]["BATCH_SIZE"]) against the stand-in, and nobody is lost, not even when the worker
running a batch is SIGKILLed mid-pass."""

from __future__ import annotations

import os
import signal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from django_hooks.models import SyncRun
from e2e_support import celery_worker, children_of, settled, wait_ready, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
DEADLINE = 90


#: These workers drain up to 5,000 at a time (RCSYNC["TASKS"]["BATCH_SIZE"], the default since issue 13).
WORKER_ENV = {"RCSYNC_BATCH_SIZE": "5000"}


def make_people(prefix: str, n: int) -> list:
    with transaction.atomic():
        users = [User.objects.create_user(f"{prefix}{i:03d}", f"{prefix}{i:03d}@example.org", "pw") for i in range(n)]
    return users


def in_vip(stand_in, users) -> int:
    state = stand_in.server.state
    rid = stand_in.room_id("vip")
    if rid is None:
        return 0
    return sum(1 for u in users if (acct := stand_in.user(u.username)) and state.subscription_doc(rid, acct["_id"]))


def move(users, into: bool) -> None:
    vip = Group.objects.get_or_create(name="vip")[0]
    with transaction.atomic():
        (vip.user_set.add if into else vip.user_set.remove)(*users)


@pytest.fixture
def burst_worker(worker_env, logdir):
    """This test's own worker, stopped when it ends: the killed-worker test below must be the only one
    consuming (conftest's module-wide `worker` stayed up, took that test's batch, and the SIGKILL hit
    an idle pool process: the pass then succeeded and no run was interrupted)."""
    proc = wait_ready(celery_worker(worker_env, "burst", logdir, concurrency=2))
    yield proc
    proc.stop()


def test_a_burst_into_vip_and_out_again_is_batched(stand_in, burst_worker) -> None:
    worker = burst_worker
    users = make_people("burst", 40)
    wait_until(lambda: all(stand_in.user(u.username) for u in users) and settled(), DEADLINE, "the accounts")
    first = SyncRun.objects.order_by("-id").values_list("id", flat=True).first()
    log = stand_in.server.request_log
    log.clear()
    move(users, into=True)
    wait_until(lambda: in_vip(stand_in, users) == 40 and settled(), DEADLINE,
               lambda: f"everyone in vip (log: {worker.log()[-3000:]})")
    runs = SyncRun.objects.filter(id__gt=first)
    assert runs.count() < 10, list(runs.values_list("scope", flat=True))  # not one run per person
    assert log.count(route="groups.invite") <= 4 and log.count(route="users.info") < 40
    # rcsync's lines reach the worker's log once, in Celery's format (settings/base.py LOGGING: a
    # handler of rcsync's own wrote each of them a second time, in its plain format)
    assert "synced with the" in worker.log() and " INFO rcsync." not in worker.log()
    move(users, into=False)
    wait_until(lambda: in_vip(stand_in, users) == 0 and settled(), DEADLINE, "nobody in vip")
    assert log.count(route="groups.kick") == 40  # Rocket.Chat kicks one user per call


@pytest.fixture
def solo_worker(worker_env, logdir):
    proc = wait_ready(celery_worker(worker_env, "burst-solo", logdir, concurrency=1))
    yield proc
    proc.stop()


def test_a_worker_killed_mid_batch_loses_no_one(stand_in, solo_worker) -> None:
    users = make_people("killed", 30)
    wait_until(lambda: all(stand_in.user(u.username) for u in users) and settled(), DEADLINE, "the accounts")
    faults = stand_in.server.faults
    # The pass waits in groups.invite until released, however loaded the machine is (a latency of a
    # few seconds let a slow test kill the worker after the pass had finished: nothing was killed
    # mid-pass then, and the next single sync's run was the one marked interrupted).
    faults.hold("groups.invite")
    try:
        move(users, into=True)
        wait_until(lambda: SyncRun.objects.filter(scope__startswith="batch of", status="running",
                                                  triggered_by__contains="vip").exists(),
                   DEADLINE, "a batch to start")
        killed = SyncRun.objects.get(scope__startswith="batch of", status="running", triggered_by__contains="vip")
        children = children_of(solo_worker.pid)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)  # the pool process running the pass (it cannot finish: invites wait)
    finally:
        faults.release("groups.invite")
    wait_until(lambda: in_vip(stand_in, users) == 30 and settled(), DEADLINE,
               lambda: f"everyone in vip after the kill (log: {solo_worker.log()[-3000:]})")
    assert not SyncRun.objects.filter(status="running").exists()
    # The killed pass's run is closed as interrupted by the pass that took its people over.
    killed.refresh_from_db()
    assert killed.status == "failed" and "interrupted" in killed.error, (
        killed.error, list(SyncRun.objects.values_list("scope", "status", "error")))


# bench/burst.py's own small run is tests/test_readme.py's (the README's command, scaled down).
