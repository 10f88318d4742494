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
    costs a wake-up per third of a TTL, and taking a lock wakes it only when that lock is due before the
    thread's next wake-up. Rebuilt after a fork (Celery prefork children).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: dict[int, tuple[Lock, str, float, float]] = {}  # token -> (lock, name, ttl, next due)
        self._next_token = 0
        self._pid = -1
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread's wait ends (monotonic): an add due later need not wake it
        self._idle = 10.0  # s: the wait with nothing held, a third of the last lock's TTL

    def add(self, lock: Lock, name: str, ttl: float) -> int:
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._held = {}  # a forked child inherits the parent's entries, not its thread
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="rcsync-lock-renewer", daemon=True)
                self._thread.start()
            self._next_token += 1
            due = time.monotonic() + ttl / 3
            self._held[self._next_token] = (lock, name, ttl, due)
            self._idle = ttl / 3
            # The thread wakes by itself before this is due (it waits at most a third of a TTL, even with
            # nothing held): waking it now only for a lock due sooner spares a thread switch per lone sync,
            # whose lock is released long before it is due.
            if due < self._wakes_at:
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
                    self._wakes_at = min((entry[3] for entry in self._held.values()), default=now + self._idle)
                    self._cond.wait(max(0.0, self._wakes_at - now))
                    self._wakes_at = 0.0  # awake: every add until the next wait leaves it to this pass
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
def held(name: str, ttl: float | None = None, token: str | None = None) -> Iterator[Lock]:
    """Hold lock `name` (non-blocking: LockBusy if taken), renewed every ttl/3 until the block ends.

    `token` is the value stored under the lock (random by default); a caller that passes its own
    (a Celery task id) can later tell its own lock from another's (`holder`)."""
    ttl = ttl or hook_settings().lock_ttl
    lock = redis_client().lock(key("lock", name), timeout=ttl, blocking=False, thread_local=False)
    if not lock.acquire(blocking=False, token=token):
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


_RENEW = """
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('get', k) == ARGV[1] then redis.call('pexpire', k, ARGV[2]); n = n + 1 end
end
return n
"""
_RELEASE = """
local n = 0
for i, k in ipairs(KEYS) do
  if redis.call('get', k) == ARGV[1] then redis.call('del', k); n = n + 1 end
end
return n
"""
_CHUNK = 1000  # keys per script call / pipeline: bounded Redis work per round trip


def holder(name: str) -> str | None:
    """The token lock `name` is held under now (None: free)."""
    value = redis_client().get(key("lock", name))
    return value.decode() if isinstance(value, bytes) else value


class LockGroup:
    """Many of the same short locks at once (a batch of users), under one token and one renewer.

    The keys are those `held` uses, so a batch and a one-user sync exclude each other. Acquiring is
    non-blocking per name (a taken one is simply not acquired); one daemon thread renews every held
    lock each ttl/3 in a few script calls, so a SIGKILLed holder frees them all within one TTL.
    """

    def __init__(self, ttl: float | None = None) -> None:
        import uuid

        self.ttl = ttl or hook_settings().lock_ttl
        self.token = uuid.uuid4().hex.encode()
        self.names: set[str] = set()
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> "LockGroup":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=1)
        self.release(list(self.names))

    def acquire(self, names: list[str]) -> set[str]:
        """Take those of `names` that are free; returns the ones now held."""
        conn, got = redis_client(), set()
        ms = int(self.ttl * 1000)
        for i in range(0, len(names), _CHUNK):
            chunk = names[i:i + _CHUNK]
            pipe = conn.pipeline(transaction=False)
            for name in chunk:
                pipe.set(key("lock", name), self.token, nx=True, px=ms)
            got.update(name for name, ok in zip(chunk, pipe.execute()) if ok)
        with self._guard:
            self.names |= got
        if got and self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="renew-lock-group", daemon=True)
            self._renewer.start()
        return got

    def release(self, names: list[str]) -> None:
        """Free these locks (only where this group still holds them)."""
        with self._guard:
            names = [n for n in names if n in self.names]
            self.names -= set(names)
        try:
            script = redis_client().register_script(_RELEASE)
            for i in range(0, len(names), _CHUNK):
                script(keys=[key("lock", n) for n in names[i:i + _CHUNK]], args=[self.token])
        except redis.RedisError:  # Redis gone: the TTL frees them
            pass

    def _renew(self) -> None:
        script = redis_client().register_script(_RENEW)
        while not self._stop.wait(self.ttl / 3):
            with self._guard:
                names = sorted(self.names)
            try:
                kept = 0
                for i in range(0, len(names), _CHUNK):
                    kept += script(keys=[key("lock", n) for n in names[i:i + _CHUNK]],
                                   args=[self.token, int(self.ttl * 1000)])
                if kept < len(names):
                    log.warning("%d of %d batch locks were lost while held", len(names) - kept, len(names))
            except redis.RedisError as exc:  # keep trying; the TTL covers short blips
                log.warning("could not renew batch locks: %s", exc.__class__.__name__)
