"""Short Redis locks that stay alive while their holder works.

A lock with a long TTL would block a user for that long after a worker is
SIGKILLed; one with a short TTL could expire under a slow sync and let a second
worker in. So the TTL is short and a daemon thread renews it while the holder
runs: a dead holder frees the lock within one TTL. One renewer thread per process serves every
lock it holds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from django_hooks.conf import hook_settings

log = logging.getLogger("rcsync.locks")


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=15)


def redis_client() -> redis.Redis:
    """This process's Redis connection pool for locks and counters."""
    return _client(hook_settings().redis_url)


def key(*parts: str) -> str:
    """A Redis key under the configured prefix."""
    return hook_settings().redis_key_prefix + ":".join(parts)


class LockBusy(Exception):
    """Someone else holds the lock."""


class _Renewer:
    """One daemon thread per process renews every lock this process holds, each every ttl/3.

    A thread per held lock cost a thread start and join on every single-person sync; one shared thread
    costs nothing while no lock is due. Rebuilt after a fork (Celery prefork children).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: dict[int, tuple[Lock, str, float, float]] = {}  # token -> (lock, name, ttl, next due)
        self._next_token = 0
        self._pid = -1
        self._thread: threading.Thread | None = None

    def add(self, lock: Lock, name: str, ttl: float) -> int:
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._held = {}  # a forked child inherits the parent's entries, not its thread
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="rcsync-lock-renewer", daemon=True)
                self._thread.start()
            self._next_token += 1
            self._held[self._next_token] = (lock, name, ttl, time.monotonic() + ttl / 3)
            self._cond.notify()
            return self._next_token

    def remove(self, token: int) -> None:
        with self._cond:
            self._held.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [(t, entry) for t, entry in self._held.items() if entry[3] <= now]
                if not due:
                    nearest = min((entry[3] for entry in self._held.values()), default=now + 60.0)
                    self._cond.wait(max(0.0, nearest - now))
                    continue
                for t, (lock, name, ttl, _) in due:
                    self._held[t] = (lock, name, ttl, now + ttl / 3)
            for t, (lock, name, ttl, _) in due:  # Redis calls outside the condition: holders come and go
                self._renew(t, lock, name)

    def _renew(self, token: int, lock: Lock, name: str) -> None:
        try:
            renewed = lock.reacquire()
            error = None
        except LockNotOwnedError:  # expired (a long stall) and perhaps taken by another worker
            renewed, error = False, None
        except redis.RedisError as exc:  # keep trying; the TTL covers short blips
            renewed, error = None, exc
        with self._cond:
            if token not in self._held:
                return  # released meanwhile: nothing was lost
            if renewed is False:
                self._held.pop(token, None)
        if renewed is False:
            log.warning("lock %s was lost while held", name)
        elif error is not None:
            log.warning("could not renew lock %s: %s", name, error.__class__.__name__)


_renewer = _Renewer()


@contextmanager
def held(name: str, ttl: float | None = None) -> Iterator[Lock]:
    """Hold lock `name` (non-blocking: LockBusy if taken), renewed every ttl/3 until the block ends."""
    ttl = ttl or hook_settings().lock_ttl
    lock = redis_client().lock(key("lock", name), timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False):
        raise LockBusy(name)
    token = _renewer.add(lock, name, ttl)
    try:
        yield lock
    finally:
        _renewer.remove(token)
        try:
            lock.release()
        except redis.RedisError:  # expired or Redis gone: the TTL frees it
            pass
