"""Short Redis locks that stay alive while their holder works.

A lock with a long TTL would block a user for that long after a worker is
SIGKILLed; one with a short TTL could expire under a slow sync and let a second
worker in. So the TTL is short and a daemon thread renews it while the holder
runs: a dead holder frees the lock within one TTL.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import redis
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


@contextmanager
def held(name: str, ttl: float | None = None) -> Iterator[Lock]:
    """Hold lock `name` (non-blocking: LockBusy if taken), renewed every ttl/3 until the block ends."""
    ttl = ttl or hook_settings().lock_ttl
    lock = redis_client().lock(key("lock", name), timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False):
        raise LockBusy(name)
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl / 3):
            try:
                if not lock.reacquire():
                    log.warning("lock %s was lost while held", name)
                    return
            except redis.RedisError as exc:  # keep trying; the TTL covers short blips
                log.warning("could not renew lock %s: %s", name, exc.__class__.__name__)

    renewer = threading.Thread(target=renew, name=f"renew-{name}", daemon=True)
    renewer.start()
    try:
        yield lock
    finally:
        stop.set()
        renewer.join(timeout=1)
        try:
            lock.release()
        except redis.RedisError:  # expired or Redis gone: the TTL frees it
            pass
