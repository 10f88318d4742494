"""The sync_user loop: per-user lock, generation check, burst coalescing, transient retry, relay.

The engine is the edge here (its own tests live in tests/sync_tasks/): `apply` stands in for one real
sync and records what it was asked. Locks, rows and the broker are real (Redis, PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from django_hooks.models import PendingSync
from django_hooks.queue import locks
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.relay import relay_pending
from django_hooks.queue.worker import backoff, busy_backoff, sync_pending_user
from django_hooks.results import ApplyResult

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    def __init__(self, result: ApplyResult = ApplyResult(ok=True), during=None) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        self.result = result
        self.during = during

    def __call__(self, user_key: str, reason: str, drift: bool, attempt: int = 1) -> ApplyResult:
        self.calls.append((user_key, reason, drift))
        if self.during:
            self.during(len(self.calls))
        return self.result


def test_nothing_pending_does_nothing() -> None:
    apply = Recorder()
    assert sync_pending_user("1", apply).status == "nothing-pending"
    assert apply.calls == []


def test_sync_retires_the_row() -> None:
    mark_pending("7", "created")
    apply = Recorder()
    outcome = sync_pending_user("7", apply)
    assert outcome.status == "synced" and apply.calls == [("7", "created", False)]
    assert not PendingSync.objects.exists()
    assert sync_pending_user("7", apply).status == "nothing-pending"  # idempotent: a duplicate message is free
    assert len(apply.calls) == 1


def test_change_during_sync_goes_round_again() -> None:
    mark_pending("8", "created")

    def change_once(n: int) -> None:
        if n == 1:
            mark_pending("8", "saved")

    apply = Recorder(during=change_once)
    outcome = sync_pending_user("8", apply)
    assert [c[1] for c in apply.calls] == ["created", "saved"]
    assert outcome.rounds == 2 and not PendingSync.objects.exists()


def test_burst_is_deferred_until_it_pauses() -> None:
    for _ in range(5):
        mark_pending("9", "saved")  # five changes within milliseconds: a burst
    apply = Recorder()
    outcome = sync_pending_user("9", apply)
    assert outcome.status == "deferred" and 0 < outcome.retry_in <= 0.2
    assert apply.calls == [] and PendingSync.objects.get(user_key="9").state == "queued"
    time.sleep(outcome.retry_in)  # the Celery retry countdown
    assert sync_pending_user("9", apply).status == "synced" and len(apply.calls) == 1


def test_steady_changes_are_not_delayed() -> None:
    old = timezone.now() - timedelta(seconds=10)
    PendingSync.objects.create(user_key="15", generation=5, first_requested_at=old, last_requested_at=timezone.now())
    apply = Recorder()
    assert sync_pending_user("15", apply).status == "synced"  # 4 gaps over 10 s: not a burst


def test_a_burst_is_not_held_back_forever() -> None:
    now = timezone.now()
    PendingSync.objects.create(user_key="16", generation=500, first_requested_at=now - timedelta(seconds=6),
                               last_requested_at=now)
    assert sync_pending_user("16", Recorder()).status == "synced"  # past COALESCE_MAX_WAIT


def test_a_long_burst_costs_one_sync_per_max_wait() -> None:
    now = timezone.now()
    PendingSync.objects.create(user_key="17", generation=900, first_requested_at=now - timedelta(seconds=60),
                               last_requested_at=now, started_at=now - timedelta(seconds=1))
    outcome = sync_pending_user("17", Recorder())  # synced 1 s ago and still bursting: wait
    assert outcome.status == "deferred"
    row = PendingSync.objects.get(user_key="17")
    assert row.attempts == 0 and (now - row.started_at).total_seconds() >= 0.99  # the claim was undone


def test_busy_user_is_retried_not_dropped() -> None:
    mark_pending("10", "created")
    with locks.held("user:10"):
        outcome = sync_pending_user("10", Recorder())
    assert outcome.status == "busy" and 0 < outcome.retry_in < 1
    assert PendingSync.objects.filter(user_key="10").exists()


def test_transient_failure_keeps_row_and_honours_retry_at() -> None:
    mark_pending("11", "created")
    retry_at = time.time() + 5
    outcome = sync_pending_user("11", Recorder(ApplyResult(ok=False, transient=True, retry_at=retry_at, error="rate limited")))
    assert outcome.status == "retry" and outcome.retry_in >= 4.9
    row = PendingSync.objects.get(user_key="11")
    assert row.state == "retrying" and row.last_error == "rate limited" and row.attempts == 1


def test_new_change_to_a_retrying_row_enqueues_again(broker) -> None:
    mark_pending("12", "created")
    sync_pending_user("12", Recorder(ApplyResult(ok=False, transient=True, retry_at=time.time() + 60, error="down")))
    before = len(broker.sync_user_keys())
    mark_pending("12", "saved")
    assert len(broker.sync_user_keys()) == before + 1


def test_permanent_failure_retires_the_row() -> None:
    mark_pending("13", "created")
    outcome = sync_pending_user("13", Recorder(ApplyResult(ok=False, error="invalid username")))
    assert outcome.status == "failed" and not PendingSync.objects.exists()


def test_backoff_grows_and_caps() -> None:
    delays = [backoff(n) for n in range(1, 12)]
    assert all(d > 0 for d in delays)
    assert max(delays) <= 2.0  # RETRY_BACKOFF_MAX in settings/test.py
    assert backoff(1, retry_at=time.time() + 30) >= 29.9
    assert backoff(1, retry_at=time.time() + 86400) <= 900.3  # a silly reset time is capped
    busy = [busy_backoff(n) for n in range(12)]
    assert busy[0] < 0.5 and max(busy) <= 3.0 * 1.2  # LOCK_TTL in settings/test.py


def test_relay_resends_lost_enqueues_only(broker) -> None:
    now = timezone.now()
    old = now - timedelta(seconds=300)
    PendingSync.objects.create(user_key="lost", first_requested_at=old, last_requested_at=old, enqueued_at=None)
    PendingSync.objects.create(user_key="stale", first_requested_at=old, last_requested_at=old, enqueued_at=old)
    PendingSync.objects.create(user_key="fresh", first_requested_at=now, last_requested_at=now, enqueued_at=None)
    PendingSync.objects.create(user_key="sent", first_requested_at=old, last_requested_at=now, enqueued_at=now)
    PendingSync.objects.create(
        user_key="retry-lost", state="retrying", first_requested_at=old, last_requested_at=old, enqueued_at=old,
        next_attempt_at=old,
    )
    PendingSync.objects.create(
        user_key="retry-later", state="retrying", first_requested_at=old, last_requested_at=old, enqueued_at=old,
        next_attempt_at=now + timedelta(seconds=60),
    )
    assert relay_pending() == 3
    assert sorted(broker.sync_user_keys()) == ["lost", "retry-lost", "stale"]
    assert relay_pending() == 0  # just re-sent: not stale any more


def test_lock_is_renewed_while_held_and_freed_after(redis_conn) -> None:
    with locks.held("renew-me", ttl=0.3) as lock:
        time.sleep(0.8)
        assert redis_conn.exists(lock.name)
        with pytest.raises(locks.LockBusy):
            with locks.held("renew-me", ttl=0.3):
                pass
    assert not redis_conn.exists(lock.name)


def test_one_renewer_thread_serves_every_held_lock(redis_conn) -> None:
    """A thread started and joined per held lock was part of every single-person sync's CPU: however many
    locks come and go, the process has one renewer, and it keeps each held lock alive."""
    with locks.held("warm-up", ttl=0.3):
        pass
    before = {t.ident for t in threading.enumerate()}
    with locks.held("a", ttl=0.3) as a, locks.held("b", ttl=0.6) as b:
        for i in range(20):
            with locks.held(f"short-{i}", ttl=5):
                pass
        time.sleep(0.9)  # three lifetimes of `a`: only renewal keeps it
        assert redis_conn.exists(a.name) and redis_conn.exists(b.name)
        assert {t.ident for t in threading.enumerate()} == before
    assert [t.name for t in threading.enumerate()].count("rcsync-lock-renewer") == 1
    assert not redis_conn.exists(a.name) and not redis_conn.exists(b.name)


def test_a_lock_taken_without_waking_the_renewer_is_renewed_all_the_same(redis_conn) -> None:
    """Taking a lock wakes the renewer only when that lock is due before the renewer's own next wake-up
    (a third of the last TTL, even with nothing held): a lock due later is picked up by that wake-up."""
    with locks.held("warm-up", ttl=0.6):
        pass
    time.sleep(0.3)  # nothing held: the renewer idles, for a third of that TTL
    with locks.held("later", ttl=0.6) as lock:
        time.sleep(1.5)  # 2.5 lifetimes: only renewal keeps it
        assert redis_conn.exists(lock.name)
    assert not redis_conn.exists(lock.name)


def test_unexpected_exception_keeps_the_row_for_a_retry() -> None:
    mark_pending("14", "created")

    def explode(user_key: str, reason: str, drift: bool, attempt: int = 1) -> ApplyResult:
        raise KeyError("engine bug")

    outcome = sync_pending_user("14", explode)
    assert outcome.status == "retry" and outcome.retry_in > 0
    row = PendingSync.objects.get(user_key="14")
    assert row.state == "retrying" and "KeyError" in row.last_error
