"""The sync_user loop draining a burst (django_hooks.queue.batch): many pending people in one pass,
with the one-user loop's guarantees per person. Locks, rows and the broker are real (Redis,
PostgreSQL); `apply_many` stands in for the engine pass and records what it was asked (the pass
itself is tested in tests/sync_tasks/test_batch_engine.py and end to end in tests/e2e/test_e2e_burst.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from django_hooks.models import PendingSync
from django_hooks.queue import locks
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.worker import sync_pending_user
from django_hooks.results import ApplyResult

pytestmark = pytest.mark.django_db(transaction=True)


class Passes:
    """Records each pass: the user keys and attempts it was given; answers per key."""

    def __init__(self, answer=None, during=None) -> None:
        self.passes: list[list[tuple[str, int]]] = []
        self.answer = answer or (lambda key, n: ApplyResult(ok=True))
        self.during = during

    def __call__(self, rows, reason, group) -> dict[str, ApplyResult]:
        self.passes.append([(r.user_key, r.attempts) for r in rows])
        n = len(self.passes)
        if self.during:
            self.during(n, rows)
        return {r.user_key: self.answer(r.user_key, n) for r in rows}

    def keys(self, n: int) -> list[str]:
        return sorted((k for k, _ in self.passes[n]), key=int)


@pytest.fixture
def batch_size(settings):
    def set_size(size: int) -> None:
        settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "BATCH_SIZE": size}}
    set_size(50)
    return set_size


def burst(n: int, start: int = 1) -> list[str]:
    keys = [str(i) for i in range(start, start + n)]
    with transaction.atomic():
        for key in keys:
            mark_pending(key, "group vip changed (add)")
    return keys


def test_one_message_drains_the_burst_in_one_pass(batch_size) -> None:
    keys = burst(30)
    passes = Passes()
    outcome = sync_pending_user("1", apply_many=passes)
    assert outcome.status == "synced" and len(passes.passes) == 1 and passes.keys(0) == keys
    assert not PendingSync.objects.exists()
    assert all(sync_pending_user(k, apply_many=passes).status == "nothing-pending" for k in keys[1:])
    assert len(passes.passes) == 1


def test_batch_size_bounds_a_pass(batch_size) -> None:
    batch_size(10)
    burst(25)
    passes = Passes()
    sync_pending_user("1", apply_many=passes)
    assert len(passes.passes[0]) == 10 and PendingSync.objects.count() == 15
    sync_pending_user("20", apply_many=passes)
    assert len(passes.passes[1]) == 10 and "20" in passes.keys(1) and PendingSync.objects.count() == 5


def test_batch_size_one_syncs_one_person_per_message(batch_size) -> None:
    batch_size(1)
    burst(3)
    calls = []

    def apply(key, reason, drift, attempt=1):
        calls.append(key)
        return ApplyResult(ok=True)

    sync_pending_user("2", apply)
    assert calls == ["2"] and PendingSync.objects.count() == 2


def test_a_person_changed_during_the_pass_is_synced_again_alone(batch_size) -> None:
    burst(20)

    def change(n, rows):
        if n == 1:
            mark_pending("5", "changed again during the pass")

    passes = Passes(during=change)
    assert sync_pending_user("1", apply_many=passes).status == "synced"
    assert len(passes.passes) == 2 and passes.keys(1) == ["5"]
    assert not PendingSync.objects.exists()


def test_a_transient_failure_leaves_the_batch_pending_and_the_retry_drains_it(batch_size) -> None:
    keys = burst(12)
    down = Passes(answer=lambda key, n: ApplyResult(ok=False, transient=True, error="Unavailable: 503"))
    outcome = sync_pending_user("1", apply_many=down)
    assert outcome.status == "retry" and outcome.retry_in > 0
    rows = list(PendingSync.objects.order_by("id").values_list("user_key", "state", "last_error"))
    assert [r[0] for r in rows] == keys and {r[1] for r in rows} == {"retrying"} and rows[0][2] == "Unavailable: 503"
    # Not before the back-off: another person's message leaves them be ...
    PendingSync.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert sync_pending_user("99", apply_many=Passes()).status == "nothing-pending"
    # ... and once due, the message's retry takes all of them again.
    PendingSync.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    up = Passes()
    assert sync_pending_user("1", apply_many=up).status == "synced"
    assert up.keys(0) == keys and {a for _, a in up.passes[0]} == {2}
    assert not PendingSync.objects.exists()


def test_one_bad_person_fails_alone_and_the_rest_are_done(batch_size) -> None:
    burst(10)
    passes = Passes(answer=lambda key, n: ApplyResult(ok=key != "4", error="" if key != "4" else "bad email"))
    assert sync_pending_user("1", apply_many=passes).status == "synced"
    assert not PendingSync.objects.exists() and len(passes.passes) == 1  # a retry cannot fix bad data


def test_people_someone_else_holds_are_left_to_them(batch_size) -> None:
    burst(8)
    passes = Passes()
    with locks.held("user:4"):
        sync_pending_user("1", apply_many=passes)
    assert "4" not in passes.keys(0) and len(passes.passes[0]) == 7
    assert list(PendingSync.objects.values_list("user_key", "state")) == [("4", "queued")]


def test_a_message_for_someone_in_a_running_pass_is_covered(batch_size) -> None:
    burst(6)
    seen = []

    def meanwhile(n, rows):
        if n == 1:
            seen.append(sync_pending_user("3", apply_many=Passes()))

    sync_pending_user("1", apply_many=Passes(during=meanwhile))
    # Covered, but it looks once more after LOCK_TTL: the holder might be a killed worker
    # (tests/e2e/test_e2e_faults.py::test_whole_worker_killed_relay_resends); then nothing is pending.
    from django_hooks.conf import hook_settings

    assert seen[0].status == "covered" and hook_settings().lock_ttl < seen[0].retry_in < hook_settings().lock_ttl + 1
    assert not PendingSync.objects.exists()
    assert sync_pending_user("3", apply_many=Passes()).status == "nothing-pending"


def test_one_covered_message_per_holder_comes_back(batch_size) -> None:
    """A pass of N people made every one of their N messages come back after LOCK_TTL (as many Celery
    messages again as people synced); one per holder is enough to find a dead holder, the rest end."""
    burst(6)
    seen = []

    def meanwhile(n, rows):
        if n == 1:
            seen.extend(sync_pending_user(k, apply_many=Passes(), message_id=f"m-{k}") for k in ("3", "4", "5"))

    sync_pending_user("1", apply_many=Passes(during=meanwhile), message_id="m-1")
    assert [o.status for o in seen] == ["covered"] * 3
    assert seen[0].retry_in is not None and [o.retry_in for o in seen[1:]] == [None, None]
    assert not PendingSync.objects.exists()


def test_a_watcher_finds_a_dead_holder_and_takes_its_pass_over(batch_size, settings) -> None:
    """The one covered message that comes back finds the holder's locks expired (a killed worker) and drains
    every row of the dead pass with its own."""
    from django_hooks.conf import hook_settings

    burst(5)
    with locks.LockGroup(ttl=0.3) as dead:  # a pass that claimed them all, then its worker was SIGKILLed
        dead.acquire([f"user:{k}" for k in ("1", "2", "3", "4", "5")])
        PendingSync.objects.update(state="running", attempts=1, started_at=timezone.now())
        watcher = sync_pending_user("2", apply_many=Passes(), message_id="m-2")
        assert watcher.status == "covered" and watcher.retry_in is not None
        assert sync_pending_user("3", apply_many=Passes(), message_id="m-3").retry_in is None
        dead._stop.set()  # killed: no more renewals; its locks expire
    PendingSync.objects.update(started_at=timezone.now() - timedelta(seconds=hook_settings().lock_ttl + 1))
    passes = Passes()
    assert sync_pending_user("2", apply_many=passes, message_id="m-2").status == "synced"
    assert passes.keys(0) == ["1", "2", "3", "4", "5"]
    assert not PendingSync.objects.exists()


def test_a_drain_that_leaves_others_to_its_retry_drains_them_after_its_own_row_is_gone(batch_size) -> None:
    """A message whose row is gone ends at once, unless it is the retry of a drain that left other people's
    rows to it (Outcome.others): that one still drains them."""
    burst(4)
    flaky = Passes(answer=lambda key, n: ApplyResult(ok=key != "3", transient=key == "3", error="Unavailable: 503"))
    outcome = sync_pending_user("1", apply_many=flaky)
    assert outcome.status == "synced" and outcome.retry_in is not None and outcome.others
    assert list(PendingSync.objects.values_list("user_key", "state")) == [("3", "retrying")]
    PendingSync.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    passes = Passes()
    assert sync_pending_user("1", apply_many=passes).status == "nothing-pending" and passes.passes == []
    assert sync_pending_user("1", apply_many=passes, others=True).status == "nothing-pending"
    assert passes.keys(0) == ["3"] and not PendingSync.objects.exists()


def test_a_killed_holders_rows_are_taken_over_once_its_locks_expire(batch_size) -> None:
    burst(5)
    # A worker claimed them and was SIGKILLed: rows still `running`, started long ago, no locks left.
    PendingSync.objects.update(state="running", attempts=1, started_at=timezone.now() - timedelta(minutes=5))
    passes = Passes()
    assert sync_pending_user("2", apply_many=passes).status == "synced"
    assert passes.keys(0) == ["1", "2", "3", "4", "5"] and {a for _, a in passes.passes[0]} == {2}
    assert not PendingSync.objects.exists()


def test_an_unexpected_exception_keeps_every_row(batch_size) -> None:
    burst(4)

    def explode(rows, reason, group):
        raise RuntimeError("bug")

    assert sync_pending_user("1", apply_many=explode).status == "retry"
    assert PendingSync.objects.filter(state="retrying").count() == 4


def test_sso_login_rows_stay_one_by_one(batch_size) -> None:
    burst(3)
    mark_pending("50", "sso-login")
    passes = Passes()
    sync_pending_user("1", apply_many=passes)
    assert "50" not in passes.keys(0)
    assert PendingSync.objects.filter(user_key="50", state="queued").exists()


def test_a_drain_that_loses_the_lock_race_looks_further_down_the_queue(batch_size) -> None:
    batch_size(10)
    burst(40)
    passes = Passes()
    with locks.LockGroup() as rival:  # another drain that started at the same moment took the oldest rows
        rival.acquire([f"user:{i}" for i in range(2, 20)])
        sync_pending_user("1", apply_many=passes)
    assert len(passes.passes[0]) == 10 and set(passes.keys(0)) - {"1"} <= {str(i) for i in range(20, 41)}


def test_released_rows_stay_one_by_one(batch_size) -> None:
    """A released hold is that person's own reviewed sync (django_hooks.holds): never in another's pass."""
    burst(3)
    mark_pending("60", "released by ops")
    passes = Passes()
    sync_pending_user("1", apply_many=passes)
    assert passes.keys(0) == ["1", "2", "3"]
    assert PendingSync.objects.filter(user_key="60", state="queued").exists()


def test_people_still_changing_in_a_burst_wait_for_the_pause_then_take_one_more_pass(batch_size, settings) -> None:
    """Saves that keep coming during a pass are not synced round after round (each round was a run:
    100 saves of one person made 5): the row waits, queued, until the burst pauses (COALESCE_QUIET),
    and the message's retry syncs everyone then, in one more pass."""
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "COALESCE_QUIET": 30.0,
                                                   "COALESCE_MAX_WAIT": 60.0}}
    burst(10)

    def keep_changing(n, rows):
        if n == 1:
            for _ in range(5):
                mark_pending("1", "saved")
                mark_pending("5", "saved")

    passes = Passes(during=keep_changing)
    outcome = sync_pending_user("1", apply_many=passes)
    assert outcome.status == "deferred" and 0 < outcome.retry_in <= 30.01
    assert len(passes.passes) == 1
    assert sorted(PendingSync.objects.filter(state="queued").values_list("user_key", flat=True)) == ["1", "5"]
    assert set(PendingSync.objects.values_list("attempts", flat=True)) == {1}  # the undone claim is not a try
    # The burst pauses (as if COALESCE_QUIET had passed since the last save): the retry takes both.
    PendingSync.objects.update(first_requested_at=timezone.now() - timedelta(seconds=40),
                               last_requested_at=timezone.now() - timedelta(seconds=35))
    assert sync_pending_user("1", apply_many=passes).status == "synced"
    assert len(passes.passes) == 2 and passes.keys(1) == ["1", "5"]
    assert not PendingSync.objects.exists()
