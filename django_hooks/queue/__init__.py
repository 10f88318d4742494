"""The queue side of rcsync's Django controller: who needs a sync, and getting it done once.

* ``pending`` — durable PendingSync rows written in the caller's transaction, and the Celery
  message sent after commit (``mark_pending``, ``enqueue``, the public ``request_sync``);
* ``locks`` — short Redis locks renewed while held (one sync per user, one full reconcile);
* ``worker`` — the ``sync_user`` loop: claim the row, coalesce bursts, apply, retire or retry;
* ``relay`` — re-send rows whose message was lost.

The reconciler (``django_hooks.runs``) does the syncing itself; the loop calls it and reads its
``django_hooks.results.ApplyResult``. Nothing here imports the admin.
"""
