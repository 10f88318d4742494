"""What `sync_user` does, without Celery: serialize per user, coalesce bursts, sync, retire the pending row.

The per-user Redis lock makes two workers never sync one user at once. The
pending row's `generation` makes the result safe under races: the holder
records the generation it saw before reading the user, and afterwards deletes
the row only if the generation is unchanged. A change that committed during
the sync bumps it, so the holder goes round once more (it still holds the
lock) instead of relying on another message. A burst of saves therefore costs
one sync for the first change and one after the burst has paused
(COALESCE_QUIET, see `burst_delay`), however many messages were sent.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import redis
from django.db import connections, router, transaction
from django.db.models import F
from django.utils import timezone

from django_hooks.conf import hook_settings
from django_hooks.models import PendingSync
from django_hooks.queue import batch, locks
from django_hooks.queue.pending import pending_table
from django_hooks.results import ApplyResult
from django_hooks.runs import sync_one_user

__all__ = ["Outcome", "backoff", "burst_delay", "busy_backoff", "sync_pending_user"]

log = logging.getLogger("rcsync.worker")

MAX_ROUNDS = 4  # rounds per message before handing over to a fresh message (fairness between users)


@dataclass(frozen=True)
class Outcome:
    """What the Celery task should do next."""

    status: str  # "synced", "nothing-pending", "busy", "covered", "deferred", "retry", "failed", "handed-over"
    rounds: int = 0
    retry_in: float | None = None
    #: The retry is also for other people's rows (a drain held some back, or some failed transiently, or
    #: stale locks kept some out): it must drain them even once this user's own row is gone.
    others: bool = False


Apply = Callable[..., ApplyResult]  # (user_key, reason, drift, *, attempt) -> ApplyResult


def _default_apply(user_key: str, reason: str, drift: bool, *, attempt: int = 1) -> ApplyResult:
    return sync_one_user(user_key, reason=reason, drift=drift, attempt=attempt)


def backoff(attempts: int, retry_at: float | None = None, now: float | None = None) -> float:
    """Seconds until the next try: exponential with jitter, capped, never before a rate limit's reset."""
    cfg = hook_settings()
    delay = min(cfg.retry_backoff_max, cfg.retry_backoff_base * (2 ** max(0, attempts - 1)))
    delay = delay * random.uniform(0.5, 1.0)
    if retry_at is not None:
        now = time.time() if now is None else now
        delay = max(delay, min(RATE_LIMIT_WAIT_CAP, retry_at - now) + random.uniform(0, 0.25))
    return max(0.05, delay)


def busy_backoff(retries: int) -> float:
    """Countdown for a message whose user is locked by another sync: short at first (the holder may
    be just releasing), then longer while it keeps the lock, never beyond one lock lifetime."""
    return min(hook_settings().lock_ttl, 0.25 * 2 ** min(retries, 8)) * random.uniform(0.8, 1.2)


RATE_LIMIT_WAIT_CAP = 900.0  # s: never park a retry longer than this (it must stay below the visibility timeout)


def burst_delay(row: PendingSync, now=None, previous_sync=None) -> float:
    """Seconds to hold a row back because its user is changing in a burst right now (0: sync now).

    A burst is several changes arriving faster than COALESCE_QUIET apart; it is synced once it pauses
    for that long, but never later than COALESCE_MAX_WAIT after its first change or after the last
    sync that started for this row (`previous_sync`), so a long burst costs one sync per
    COALESCE_MAX_WAIT. Steady changes (slower than that) are never delayed, so ordinary latency is
    unaffected.
    """
    cfg = hook_settings()
    if row.generation < 3:
        return 0.0
    now = now or timezone.now()
    idle = (now - row.last_requested_at).total_seconds()
    anchor = max(row.first_requested_at, previous_sync) if previous_sync else row.first_requested_at
    age = (now - anchor).total_seconds()
    span = (row.last_requested_at - row.first_requested_at).total_seconds()
    mean_gap = span / (row.generation - 1)
    if idle >= cfg.coalesce_quiet or mean_gap >= cfg.coalesce_quiet or age >= cfg.coalesce_max_wait:
        return 0.0
    return min(cfg.coalesce_quiet - idle, cfg.coalesce_max_wait - age) + 0.01


def sync_pending_user(user_key: str, apply: Apply | None = None, *,
                      apply_many: batch.ApplyMany | None = None, message_id: str | None = None,
                      others: bool = False) -> Outcome:
    """Sync one user if a pending row asks for it; safe to call any number of times, from any worker.

    With ``BATCH_SIZE`` > 1 (and PostgreSQL) the sync drains other pending people into the same
    engine pass (`django_hooks.queue.batch`, through `apply_many`); a custom `apply` always syncs
    this user alone. `message_id` (the Celery task id) is what the user's lock is held under.

    A message whose user has no pending row (another pass synced them: in a burst nearly every
    message) ends after one indexed SELECT, without the lock, the claim or the look for other
    people: every other row has a message of its own, or the retry of the drain that left it
    (`others`, see `Outcome.others`), or the relay. `others` (that retry, or a redelivered message
    that may have been a drain cut off mid-pass) keeps the drain going when this user's row is gone.
    """
    state = _pending_state(user_key)
    if state is None and not others:
        return Outcome("nothing-pending")
    if state == PendingSync.State.RUNNING:
        # Claimed by a running sync (in a burst, most messages find their row in someone's pass): ask
        # who holds the lock before trying to take it, one Redis call instead of three.
        holder = _claimed_by_holder(user_key, message_id, state)
        if holder is not None:
            return _covered(holder, others)
    size = hook_settings().batch_size
    batched = apply is None and size > 1 and batch.supported()
    apply = apply or _default_apply
    try:
        with locks.held(f"user:{user_key}", token=message_id):
            return _drain(user_key, size, apply_many) if batched else _rounds(user_key, apply)
    except locks.LockBusy:
        holder = _claimed_by_holder(user_key, message_id, state)
        if holder is not None:
            return _covered(holder, others)
        # Someone is syncing this user; they re-check the row when done, but they may be
        # just releasing, so come back shortly instead of dropping the request.
        return Outcome("busy", retry_in=random.uniform(0.2, 0.6), others=others)


def _covered(holder: str, others: bool) -> Outcome:
    """The row is in `holder`'s sync, which retires it only if nothing changed meanwhile, else goes round
    again: this message adds nothing (a burst sends thousands of them). The holder may also be dead (a
    killed worker's lock lives until LOCK_TTL): one message per holder looks once more after that
    (`_watches`), which finds nothing pending when the holder did its job, and otherwise takes this row
    and drains the dead pass's others with it."""
    if others or _watches(holder):
        return Outcome("covered", retry_in=hook_settings().lock_ttl + random.uniform(0.2, 0.6), others=others)
    return Outcome("covered")


_PENDING_STATE = "SELECT state FROM {table} WHERE user_key = %s"


def _pending_state(user_key: str) -> str | None:
    """The state of the user's pending row (None: no row), from the database rows are written to (a
    replica's lag must not make a pending row look gone); one fixed statement, no query building."""
    connection = connections[router.db_for_write(PendingSync)]
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_STATE.format(table=pending_table(connection)), [user_key])
        found = cursor.fetchone()
    return found[0] if found else None


def _claimed_by_holder(user_key: str, message_id: str | None, state: str | None) -> str | None:
    """The token of the holder the row is running under, or None when it is not claimed by another.
    (`state` is the row's state the caller read just before: a claim that raced that read makes this
    message "busy" once, and it looks again within a second. None also when the lock is free: then
    the caller tries to take it.)

    Not when the lock is held under this very message's id: that holder was this message's first
    delivery, killed mid-sync (a redelivery of a message still running waits as well). It must not
    drop itself; it waits for the lock to expire and takes the rows of the pass it had claimed."""
    if state != PendingSync.State.RUNNING:
        return None
    holder = locks.holder(f"user:{user_key}")
    if holder is None or (message_id is not None and holder == message_id):
        return None  # released meanwhile (look again shortly), or this message's own killed delivery
    return holder


def _watches(holder: str) -> bool:
    """Is this the message that looks again after LOCK_TTL for everyone `holder` covers? One per holder and
    lock lifetime: a pass of thousands of people made every one of their messages come back once, as many
    Celery messages again as people synced, where one finds a dead holder as well (and it comes back
    while the holder's lock lives on, so a pass longer than LOCK_TTL keeps one watcher)."""
    ttl_ms = int(hook_settings().lock_ttl * 1000)
    try:
        return bool(locks.redis_client().set(locks.key("watch", holder), b"1", nx=True, px=ttl_ms))
    except redis.RedisError:  # Redis hiccup: look again, as every covered message did
        return True


def _claimed_burst_delay(row: batch.Claimed) -> float:
    """`burst_delay` of a row a batch claimed (0 when the claim did not say when it was requested)."""
    if row.first_requested_at is None or row.last_requested_at is None:
        return 0.0
    pending = PendingSync(pk=row.pk, user_key=row.user_key, generation=row.generation,
                          first_requested_at=row.first_requested_at, last_requested_at=row.last_requested_at)
    return burst_delay(pending, previous_sync=row.previous)


def _drain(user_key: str, size: int, apply_many: batch.ApplyMany | None) -> Outcome:
    """This user's row, and other pending people's, in one pass (see django_hooks.queue.batch)."""
    row, previous_sync, others_waiting = _claim(user_key, others=True)
    own = None
    if row is not None:
        delay = burst_delay(row, previous_sync=previous_sync)
        if delay > 0 or batch.one_by_one(row.reason):
            _unclaim(row, previous_sync)
            if delay > 0:
                return Outcome("deferred", 0, retry_in=delay)
            # An SSO sign-in's row is retried until the sign-in made the account; a released hold is
            # that person's own reviewed sync (see batch.one_by_one).
            return _rounds(user_key, _default_apply)
        own = batch.Claimed(row.pk, user_key, row.generation, row.reason, row.attempts, row.drift,
                            row.first_requested_at, row.last_requested_at, previous_sync)
    result = batch.drain(own, user_key, size=size, backoff=backoff, max_rounds=MAX_ROUNDS, apply_many=apply_many,
                         burst=_claimed_burst_delay, others_waiting=others_waiting)
    if result is None:
        return Outcome("nothing-pending")
    status = result.status if own is not None else "nothing-pending"
    return Outcome(status, result.rounds, retry_in=result.retry_in, others=result.retry_in is not None)


# The FROM subquery sees the row as it was, so the previous sync's start comes back too.
_CLAIM = """
UPDATE {table} AS p SET state = 'running', started_at = %s, attempts = p.attempts + 1
FROM (SELECT id, started_at AS previous FROM {table} WHERE user_key = %s) AS o
WHERE p.id = o.id
RETURNING p.id, p.generation, p.reason, p.drift, p.first_requested_at, p.last_requested_at, p.attempts, o.previous
"""


def _claim(user_key: str, others: bool = False) -> Any:
    """Mark the user's row running and read it (and when its previous sync started), in one statement
    where the database allows: (row or None, previous start). With `others` (the batched path, on
    PostgreSQL) a third item says whether anyone else's row could join this user's batch (True when
    the row is gone: then the drain looks for itself)."""
    if others:
        return _claim_with_others(user_key)
    alias = router.db_for_write(PendingSync)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        # SQLite (the demo's fallback) cannot qualify RETURNING columns or read the FROM subquery
        # there ("no such column: p.id"): the same claim in three statements, one transaction.
        with transaction.atomic(using=alias):
            before = PendingSync.objects.filter(user_key=user_key).values_list("started_at", flat=True).first()
            PendingSync.objects.filter(user_key=user_key).update(
                state=PendingSync.State.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1
            )
            return PendingSync.objects.filter(user_key=user_key).first(), before
    with connection.cursor() as cursor:
        cursor.execute(_CLAIM.format(table=pending_table(connection)), [timezone.now(), user_key])
        found = cursor.fetchone()
    if found is None:
        return None, None
    return _row(user_key, found)


def _claim_with_others(user_key: str) -> tuple[PendingSync | None, Any, bool]:
    connection = connections[router.db_for_write(PendingSync)]
    table = pending_table(connection)
    waiting, params = batch.others_waiting_sql(table)
    sql = _CLAIM.format(table=table).rstrip() + f", {waiting}\n"
    with connection.cursor() as cursor:
        cursor.execute(sql, [timezone.now(), user_key, user_key, *params])
        found = cursor.fetchone()
    if found is None:
        return None, None, True
    return _row(user_key, found[:-1]) + (bool(found[-1]),)


def _row(user_key: str, found: Any) -> tuple[PendingSync, Any]:
    pk, generation, reason, drift, first, last, attempts, previous = found
    row = PendingSync(pk=pk, user_key=user_key, generation=generation, reason=reason, drift=drift,
                      first_requested_at=first, last_requested_at=last, attempts=attempts,
                      state=PendingSync.State.RUNNING)
    return row, previous


def _unclaim(row: PendingSync, previous_sync: Any) -> None:
    """Undo a claim that synced nothing: queued again (counted as sent), attempts as they were."""
    PendingSync.objects.filter(pk=row.pk).update(
        state=PendingSync.State.QUEUED, enqueued_at=timezone.now(), attempts=F("attempts") - 1,
        started_at=previous_sync,
    )


def _retire(pk: int, generation: int) -> bool:
    """Delete the row if no newer change arrived (one statement; nothing cascades from it)."""
    connection = connections[router.db_for_write(PendingSync)]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {pending_table(connection)} WHERE id = %s AND generation = %s", [pk, generation])
        return cursor.rowcount > 0


def _rounds(user_key: str, apply: Apply) -> Outcome:
    for rounds in range(1, MAX_ROUNDS + 1):
        row, previous_sync = _claim(user_key)
        if row is None:
            return Outcome("synced" if rounds > 1 else "nothing-pending", rounds - 1)
        delay = burst_delay(row, previous_sync=previous_sync)
        if delay > 0:
            # Come back when the burst has paused; the row stays queued, so no trigger sends another
            # message meanwhile and the relay leaves it alone. Nothing was synced: undo the claim.
            _unclaim(row, previous_sync)
            return Outcome("deferred", rounds - 1, retry_in=delay)
        generation = row.generation
        try:
            result = apply(user_key, row.reason, row.drift, attempt=row.attempts)
        except Exception as exc:  # a bug or an outage we did not foresee: keep the row, retry later
            log.exception("sync of user %s raised; it will be retried", user_key)
            result = ApplyResult(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
        if not result.ok and result.transient:
            delay = backoff(row.attempts, result.retry_at)
            PendingSync.objects.filter(pk=row.pk).update(
                state=PendingSync.State.RETRYING,
                next_attempt_at=timezone.now() + timedelta(seconds=delay),
                last_error=result.error[:2000],
            )
            log.info("sync of user %s failed transiently (%s); retry in %.1fs", user_key, result.error, delay)
            return Outcome("retry", rounds, retry_in=delay)
        # Done (or failed for a reason a retry cannot fix; the link and run record say why).
        if _retire(row.pk, generation):
            return Outcome("synced" if result.ok else "failed", rounds)
        # A newer change arrived while we synced: go round again.
    PendingSync.objects.filter(user_key=user_key).update(state=PendingSync.State.QUEUED, enqueued_at=None)
    return Outcome("handed-over", MAX_ROUNDS, retry_in=0.0)
