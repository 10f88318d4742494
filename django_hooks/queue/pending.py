"""Durable "please look at user X again" records, and their hand-off to Celery after commit.

A trigger upserts one `PendingSync` row per user inside the caller's
transaction, so the intent commits or rolls back with the change itself. The
Celery message is sent by `transaction.on_commit`, and only when no message is
already waiting for that row: a burst of changes to one user sends one message,
and a change during a running sync is picked up by that sync's own re-check
(see `django_hooks.queue.worker`). If the broker is down at commit, the row keeps
`enqueued_at = NULL` and the relay sends it later. Nothing is lost either way.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone

from django_hooks.models import PendingSync
from django_hooks.dispatch import send_task
from django_hooks.run_rows import write_returning

log = logging.getLogger("rcsync.pending")

SYNC_USER_TASK = "rcsync.sync_user"
ENQUEUE_MANY_TASK = "rcsync.enqueue_pending"

_UPSERT = """
INSERT INTO {table}
    (user_key, reason, generation, state, first_requested_at, last_requested_at,
     enqueued_at, started_at, attempts, next_attempt_at, last_error, drift)
VALUES (%s, %s, 1, 'queued', %s, %s, %s, NULL, 0, NULL, '', %s)
ON CONFLICT (user_key) DO UPDATE SET
    generation = {table}.generation + 1,
    last_requested_at = EXCLUDED.last_requested_at,
    reason = EXCLUDED.reason,
    drift = {table}.drift OR EXCLUDED.drift
RETURNING generation, state, enqueued_at
"""


def pending_table(connection: Any) -> str:
    """PendingSync's table as `connection` quotes it: the queue's raw SQL follows the model's `db_table`."""
    return connection.ops.quote_name(PendingSync._meta.db_table)


_RETIRE = "DELETE FROM {table} WHERE id = %s AND generation = %s RETURNING id"


def retire(pk: int, generation: int, done: Callable[[bool], Any]) -> None:
    """Delete the row if no newer change arrived (its generation is unchanged), as the last part of a
    sync's own write (`run_rows.one_statement`, or its transaction): `done(retired)` once that is durable."""
    connection = connections[router.db_for_write(PendingSync)]
    write_returning(PendingSync, _RETIRE.format(table=pending_table(connection)), [pk, generation],
                    lambda rows: done(bool(rows)))


def user_key_of(user_or_id: Any) -> str:
    """The text key rcsync uses for a site user (its primary key)."""
    pk = getattr(user_or_id, "pk", user_or_id)
    if pk is None or pk == "":
        raise ValueError("the user has no primary key (not saved yet?)")
    return str(pk)


def _upsert(user_key: str, reason: str, drift: bool) -> tuple[int, str, Any]:
    """One row per user: insert, or bump its generation. Returns (generation, state, enqueued_at)."""
    using = router.db_for_write(PendingSync)
    connection = connections[using]
    now = timezone.now()
    reason = reason[:200]
    if connection.vendor in ("postgresql", "sqlite"):
        with connection.cursor() as cursor:
            # A new row counts as sent: its message goes out at commit (a failed send clears this).
            cursor.execute(_UPSERT.format(table=pending_table(connection)), [user_key, reason, now, now, now, drift])
            generation, state, enqueued_at = cursor.fetchone()
        return generation, state, enqueued_at
    # Other databases: lock the row and update in Python; a concurrent first insert loses the race
    # on the unique key and becomes an update.
    for _ in range(3):
        try:
            with transaction.atomic(using=using):
                return _upsert_portable(using, user_key, reason, drift, now)
        except IntegrityError:
            continue
    raise RuntimeError(f"could not record a pending sync for user {user_key}")


def _upsert_portable(using: str, user_key: str, reason: str, drift: bool, now: Any) -> tuple[int, str, Any]:
    row = PendingSync.objects.using(using).select_for_update().filter(user_key=user_key).first()
    if row is None:
        row = PendingSync.objects.using(using).create(
            user_key=user_key, reason=reason, first_requested_at=now, last_requested_at=now, drift=drift,
            enqueued_at=now,
        )
    else:
        row.generation += 1
        row.last_requested_at = now
        row.reason = reason
        row.drift = row.drift or drift
        row.save(update_fields=["generation", "last_requested_at", "reason", "drift"])
    return row.generation, row.state, row.enqueued_at


def mark_pending(user_key: str, reason: str, *, drift: bool = False) -> None:
    """Record that `user_key` needs a sync, in the current transaction; enqueue it after commit."""
    generation, state, enqueued_at = _upsert(user_key, reason, drift)
    new_row = generation == 1
    if new_row or enqueued_at is None or state == PendingSync.State.RETRYING:
        using = router.db_for_write(PendingSync)
        transaction.on_commit(lambda: enqueue(user_key, note_sent=not new_row), using=using)


def enqueue(user_key: str, *, note_sent: bool = True) -> bool:
    """Send `sync_user(user_key)`; on broker failure mark the row unsent so the relay resends it soon.

    `note_sent=False` for a new row, which already carries its send time (one statement fewer on
    the site's request path).
    """
    try:
        send_task(SYNC_USER_TASK, args=[user_key])
    except Exception as exc:  # broker down: the row is durable, the relay resends it
        log.warning("could not enqueue sync of user %s (%s); the relay will retry", user_key, type(exc).__name__)
        PendingSync.objects.filter(user_key=user_key).update(enqueued_at=None)
        return False
    if note_sent:
        PendingSync.objects.filter(user_key=user_key).update(enqueued_at=timezone.now())
    return True


_UPSERT_MANY = """
INSERT INTO {table}
    (user_key, reason, generation, state, first_requested_at, last_requested_at,
     enqueued_at, started_at, attempts, next_attempt_at, last_error, drift)
VALUES {rows}
ON CONFLICT (user_key) DO UPDATE SET
    generation = {table}.generation + 1,
    last_requested_at = EXCLUDED.last_requested_at,
    reason = EXCLUDED.reason
RETURNING user_key, generation, state, enqueued_at
"""
_ROW = "(%s, %s, 1, 'queued', %s, %s, %s, NULL, 0, NULL, '', FALSE)"


def mark_pending_many(user_keys: list[str], reason: str) -> int:
    """`mark_pending` for a selection (the admin's "Resync now", ``rcsync release``): one statement
    upserts every row and, after commit, one message asks a worker to send their syncs, so the
    request does one write and one send however many people it names. Returns how many were marked."""
    keys = list(dict.fromkeys(str(k) for k in user_keys))
    if not keys:
        return 0
    using = router.db_for_write(PendingSync)
    connection = connections[using]
    reason = reason[:200]
    now = timezone.now()
    if connection.vendor not in ("postgresql", "sqlite"):
        for key in keys:
            mark_pending(key, reason)
        return len(keys)
    to_send: list[str] = []
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            params: list[Any] = []
            for key in chunk:
                params += [key, reason, now, now, now]
            cursor.execute(_UPSERT_MANY.format(table=pending_table(connection), rows=", ".join([_ROW] * len(chunk))),
                           params)
            for key, generation, state, enqueued_at in cursor.fetchall():
                if generation == 1 or enqueued_at is None or state == PendingSync.State.RETRYING:
                    to_send.append(key)
    if len(to_send) == 1:  # one person (the person page's button): their own message, as mark_pending sends
        transaction.on_commit(lambda: enqueue(to_send[0]), using=using)
    elif to_send:
        transaction.on_commit(lambda: enqueue_many(to_send), using=using)
    return len(keys)


def enqueue_many(user_keys: list[str]) -> bool:
    """One message that makes a worker send each user's `sync_user` (`rcsync.enqueue_pending`); on
    broker failure the rows are marked unsent and the relay sends them."""
    try:
        send_task(ENQUEUE_MANY_TASK, args=[list(user_keys)])
    except Exception as exc:  # broker down: the rows are durable, the relay resends them
        log.warning("could not enqueue %d sync(s) (%s); the relay will retry", len(user_keys), type(exc).__name__)
        PendingSync.objects.filter(user_key__in=list(user_keys)).update(enqueued_at=None)
        return False
    return True


def request_sync(user_or_id: Any, reason: str = "requested", *, drift: bool = False) -> str:
    """Public API: ask rcsync to bring this site user's Rocket.Chat account in line (e.g. after a VIP purchase).

    Call it inside or outside a transaction; the sync runs after commit. A user id of a
    deleted user is fine: the sync then deprovisions the account. Returns the user key.
    """
    user_key = user_key_of(user_or_id)
    if not isinstance(reason, str):
        raise TypeError("reason must be a string")
    mark_pending(user_key, reason or "requested", drift=drift)
    return user_key
