"""Draining a burst: the worker that holds one user's message syncs up to BATCH_SIZE pending people
in one engine pass (`django_hooks.runs_batch.sync_users`), instead of one sync per person.

Guarantees are the one-user loop's (`django_hooks.queue.worker`), per person:

* serialization — every person in a batch is under their own per-user lock (`locks.LockGroup`, the
  same keys as `locks.held`), taken before their row is claimed; people someone else holds are left
  to them;
* a change during the pass — each row is retired only if its generation is unchanged; the others
  go round again (still locked) with their current state, unless that person is changing in a burst
  right now (`worker.burst_delay`, as the one-user loop decides): then their row waits, queued, until
  the burst pauses, and the message's retry drains it then — one more pass, not one per round;
* one person alone — the message's claim also says whether anyone else is waiting, so a lone
  person's message costs the one-user loop's statements and calls (`runs.sync_one_user`);
* transient failure — the people it touched become `retrying` with a back-off, and the message's own
  retry (or the relay) drains them again when due;
* bad data — one person's unreadable record or failed operation fails that person only;
* a killed worker — claimed rows stay `running` in PostgreSQL and the locks expire within LOCK_TTL;
  the message is redelivered (acks_late) and its drain takes rows whose lock is free again, and the
  relay re-sends stale `running` rows too. Nothing is lost, at worst synced twice.

PostgreSQL only (multi-row claims with RETURNING); elsewhere the worker syncs one person per message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Callable

from django.db import connections, router
from django.utils import timezone

from django_hooks.conf import hook_settings
from django_hooks.holds import RELEASE_REASON_PREFIX
from django_hooks.models import PendingSync
from django_hooks.queue import locks
from django_hooks.queue.pending import pending_table, retire
from django_hooks.results import ApplyResult
from django_hooks.runs import SSO_LOGIN_REASON, sync_one_user  # SSO-login rows are synced one by one
from django_hooks.runs_batch import close_interrupted_runs, sync_users

__all__ = ["Claimed", "DrainResult", "drain", "one_by_one", "others_waiting_sql", "supported"]

log = logging.getLogger("rcsync.worker")


ApplyMany = Callable[[list["Claimed"], str, locks.LockGroup], dict[str, ApplyResult]]  # -> result per user key


@dataclass(frozen=True)
class Claimed:
    """One claimed pending row: enough to retire it (id, generation) or schedule its retry."""

    pk: int
    user_key: str
    generation: int
    reason: str
    attempts: int
    drift: bool = False
    first_requested_at: Any = None  # what `worker.burst_delay` needs (None: not known, never held back)
    last_requested_at: Any = None
    previous: Any = None  # when the previous sync of this row started


@dataclass(frozen=True)
class DrainResult:
    """How the message's own user fared, and how many people the drain synced (for logs)."""

    status: str  # "synced", "failed", "retry", "deferred", "handed-over"
    rounds: int
    retry_in: float | None = None
    people: int = 0


def supported() -> bool:
    return connections[router.db_for_write(PendingSync)].vendor == "postgresql"


def one_by_one(reason: str) -> bool:
    """Rows synced on their own, never in a batch: an SSO sign-in's (retried until the sign-in made
    the account) and a released hold's (each release is one reviewed person's own sync and run)."""
    return reason == SSO_LOGIN_REASON or reason.startswith(RELEASE_REASON_PREFIX)


def _default_apply_many(rows: list[Claimed], reason: str, group: locks.LockGroup) -> dict[str, ApplyResult]:
    """One person: the per-person sync (its run is scoped to the user); more: one batch pass."""
    if any(r.attempts > 1 for r in rows):
        close_interrupted_runs()  # an earlier try of theirs may have been a pass whose worker was killed
    if len(rows) == 1:
        row = rows[0]
        retired: list[bool] = []  # the sync retires the row in its own final write (one statement for both)
        result = sync_one_user(row.user_key, reason=row.reason, drift=row.drift, attempt=row.attempts,
                               finish_with=lambda: retire(row.pk, row.generation, retired.append))
        return {row.user_key: replace(result, retired=retired[0]) if retired else result}
    return sync_users([r.user_key for r in rows], reason=reason, holder=group)


# Rows another message may take into its batch: waiting, due for their retry, or running under a
# holder that has stopped renewing (its lock, checked next, says so for certain); not the one-by-one
# ones. Parameters: `_eligible_params()`.
_ELIGIBLE = """reason <> %s AND reason NOT LIKE %s
  AND (state = 'queued' OR (state = 'retrying' AND next_attempt_at <= %s)
       OR (state = 'running' AND started_at < %s))"""
_CANDIDATES = """
SELECT user_key, state FROM {table}
WHERE user_key <> ALL(%s) AND """ + _ELIGIBLE + """
ORDER BY state = 'running', first_requested_at
LIMIT %s
"""
# The FROM subquery sees the rows as they were, so each previous sync's start comes back too.
_CLAIM_MANY = """
UPDATE {table} AS p SET state = 'running', started_at = %s, attempts = p.attempts + 1
FROM (SELECT id, started_at AS previous FROM {table} WHERE user_key = ANY(%s)) AS o
WHERE p.id = o.id
RETURNING p.id, p.user_key, p.generation, p.reason, p.attempts, p.drift, p.first_requested_at,
          p.last_requested_at, o.previous
"""
# Undo claims that synced nothing (a burst still going): queued again (counted as sent), attempts
# and the previous sync's start as they were.
_UNCLAIM_MANY = """
UPDATE {table} AS p SET state = 'queued', enqueued_at = %s, attempts = p.attempts - 1, started_at = d.previous
FROM unnest(%s::bigint[], %s::timestamptz[]) AS d(id, previous)
WHERE p.id = d.id
"""
_RETIRE_MANY = """
DELETE FROM {table} AS p USING unnest(%s::bigint[], %s::int[]) AS d(id, generation)
WHERE p.id = d.id AND p.generation = d.generation
RETURNING p.id
"""


LOCK_RACE_ROUNDS = 3


def _cursor() -> Any:
    return connections[router.db_for_write(PendingSync)].cursor()


def _table() -> str:
    return pending_table(connections[router.db_for_write(PendingSync)])


def _eligible_params() -> list[Any]:
    now = timezone.now()
    return [SSO_LOGIN_REASON, RELEASE_REASON_PREFIX + "%", now, now - timedelta(seconds=hook_settings().lock_ttl)]


def others_waiting_sql(table: str) -> tuple[str, list[Any]]:
    """An SQL expression (and its parameters, after one user key) that is true when some row other
    than that user's could join a batch: what the worker's claim returns beside the row, so that a
    lone person's message does not look for others in a statement of its own."""
    return f"EXISTS (SELECT 1 FROM {table} WHERE user_key <> %s AND {_ELIGIBLE})", _eligible_params()


def _candidates(skip: list[str], limit: int) -> dict[str, str]:
    """user key -> state of rows this drain may take (waiting ones first, oldest first)."""
    with _cursor() as cursor:
        cursor.execute(_CANDIDATES.format(table=_table()), [skip, *_eligible_params(), limit])
        return dict(cursor.fetchall())


def _lock_candidates(group: locks.LockGroup, own_key: str, want: int) -> tuple[list[str], bool]:
    """Lock up to `want` candidates' users; returns (their keys, whether a stale running row was
    locked by someone else). Drains that start together see the same oldest rows and split them in
    the lock race, so the loser looks further down the queue (a few times) instead of giving up."""
    tried, got, stale_locked = [own_key], [], False
    for _ in range(LOCK_RACE_ROUNDS):
        if len(got) >= want:
            break
        asked = want - len(got)
        wanted = _candidates(tried, asked)
        held = group.acquire([f"user:{k}" for k in wanted])
        got += [k for k in wanted if f"user:{k}" in held]
        stale_locked |= any(state == "running" and f"user:{k}" not in held for k, state in wanted.items())
        tried += list(wanted)
        if len(wanted) < asked or len(held) == len(wanted):
            break  # the queue is exhausted, or nobody raced us
    return got, stale_locked


def _claim_many(keys: list[str]) -> list[Claimed]:
    """Mark these users' rows running (the caller holds their locks); rows already gone are skipped."""
    if not keys:
        return []
    with _cursor() as cursor:
        cursor.execute(_CLAIM_MANY.format(table=_table()), [timezone.now(), keys])
        return [Claimed(*row) for row in cursor.fetchall()]


def _unclaim_many(rows: list[Claimed]) -> None:
    with _cursor() as cursor:
        cursor.execute(_UNCLAIM_MANY.format(table=_table()),
                       [timezone.now(), [r.pk for r in rows], [r.previous for r in rows]])


def _retire_many(rows: list[Claimed]) -> set[int]:
    """Delete the rows whose generation is unchanged; returns the ids deleted."""
    if not rows:
        return set()
    with _cursor() as cursor:
        cursor.execute(_RETIRE_MANY.format(table=_table()), [[r.pk for r in rows], [r.generation for r in rows]])
        return {pk for (pk,) in cursor.fetchall()}


def _schedule_retries(rows: list[tuple[Claimed, ApplyResult]], backoff: Callable[..., float]) -> float:
    """Park transiently failed rows as `retrying`; returns the shortest delay (for the message's retry)."""
    shortest = None
    now = timezone.now()
    for row, result in rows:
        delay = backoff(row.attempts, result.retry_at)
        shortest = delay if shortest is None else min(shortest, delay)
        PendingSync.objects.filter(pk=row.pk).update(
            state=PendingSync.State.RETRYING, next_attempt_at=now + timedelta(seconds=delay),
            last_error=result.error[:2000])
    return shortest or 0.0


def drain(own: Claimed | None, own_key: str, *, size: int, backoff: Callable[..., float], max_rounds: int,
          apply_many: ApplyMany | None = None, burst: Callable[[Claimed], float] | None = None,
          others_waiting: bool = True) -> DrainResult | None:
    """Sync `own` (claimed, `own_key`'s lock held by the caller; None when its row is gone) together
    with up to `size - 1` other pending people whose locks are free; go round while some changed
    during the pass (at most `max_rounds`). `burst` (`worker.burst_delay` of a claimed row) holds back
    people changing in a burst right now, as the one-user loop does; `others_waiting` False (the
    caller's claim found nobody else eligible) skips the look for others. None when there was
    nothing to do at all."""
    apply_many = apply_many or _default_apply_many
    status: str | None = None
    retry_in: float | None = None
    synced = 0
    missing = ApplyResult(ok=False, transient=True, error="no result for this person")
    with locks.LockGroup() as group:

        def hold_back(rows: list[Claimed]) -> list[Claimed]:
            """The rows to sync now; those in a burst go back to the queue until it pauses, and this
            message comes back for them then (one more pass however long the burst, as one person's
            own loop defers), the relay being the slower net."""
            nonlocal status, retry_in
            later = {r.user_key: d for r in rows if burst is not None and (d := burst(r)) > 0}
            if not later:
                return rows
            _unclaim_many([r for r in rows if r.user_key in later])
            group.release([f"user:{k}" for k in later])
            if own_key in later:
                status = "deferred"
            shortest = min(later.values())
            retry_in = shortest if retry_in is None else min(retry_in, shortest)
            return [r for r in rows if r.user_key not in later]

        locked: list[str] = []
        if others_waiting:
            locked, stale_locked = _lock_candidates(group, own_key, size - (own is not None))
            if stale_locked:
                # Claimed long ago and still locked: a long pass, or one whose worker was killed and whose
                # locks have not expired yet. Come back once they may have (nobody else may, their
                # messages were dropped as covered; the relay is the slower net).
                retry_in = hook_settings().lock_ttl
        taken = _claim_many(sorted(locked))
        # Locks taken for rows someone retired meanwhile are of no use: free them at once.
        claimed = {r.user_key for r in taken}
        group.release([f"user:{k}" for k in locked if k not in claimed])
        others = hold_back(taken)
        batch = ([own] if own is not None else []) + others
        if not batch:
            return None if retry_in is None else DrainResult(status or "synced", 0, retry_in, 0)
        for rounds in range(1, max_rounds + 1):
            reason = batch[0].reason if len(batch) == 1 else f"batch of {len(batch)}: {batch[0].reason}"
            keys = [r.user_key for r in batch]
            try:
                results = apply_many(batch, reason, group)
            except Exception as exc:  # a bug or an outage we did not foresee: keep the rows, retry later
                log.exception("batch sync of %d people raised; they will be retried", len(batch))
                failure = ApplyResult(ok=False, transient=True, error=f"{type(exc).__name__}: {exc}")
                results = {k: failure for k in keys}
            synced += len(batch)
            outcome = {r.user_key: results.get(r.user_key, missing) for r in batch}
            transient = [(r, outcome[r.user_key]) for r in batch
                         if not outcome[r.user_key].ok and outcome[r.user_key].transient]
            failed_keys = {r.user_key for r, _ in transient}
            if transient:
                # The message comes back for them with its retry (the relay covers its loss).
                delay = _schedule_retries(transient, backoff)
                retry_in = delay if retry_in is None else min(retry_in, delay)
            done = [r for r in batch if r.user_key not in failed_keys]
            # a person's own sync may have retired their row in its final write (ApplyResult.retired)
            retired = _retire_many([r for r in done if outcome[r.user_key].retired is None])
            retired |= {r.pk for r in done if outcome[r.user_key].retired}
            if own_key in failed_keys:
                status = "retry"
            elif any(r.user_key == own_key and r.pk in retired for r in done):
                status = "synced" if outcome[own_key].ok else "failed"
            again = [r.user_key for r in done if r.pk not in retired]  # changed during the pass
            group.release([f"user:{r.user_key}" for r in batch if r.user_key not in again])
            if not again:
                return DrainResult(status or "synced", rounds, retry_in, synced)
            batch = hold_back(_claim_many(again))
            if not batch:
                return DrainResult(status or "synced", rounds, retry_in, synced)
        # Still changing after max_rounds: hand the rest to fresh messages (fairness between users).
        PendingSync.objects.filter(user_key__in=[r.user_key for r in batch]).update(
            state=PendingSync.State.QUEUED, enqueued_at=None)
        if any(r.user_key == own_key for r in batch):
            status = "handed-over"
        return DrainResult(status or "synced", max_rounds, 0.0, synced)
