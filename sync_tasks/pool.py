"""This process's worker threads for the engine's concurrent calls (reads of a batch's people, a phase's
writes): made once per process and size, kept between runs, rebuilt in a forked child.

A pool per pass started and joined its threads every time, for calls that mostly wait on Rocket.Chat
(each thread makes its own exchange: bridge/direct.py): on a worker that runs passes of a few people
all day, that was CPU for nothing."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["executor"]

_pools: dict[tuple[int, str, int], ThreadPoolExecutor] = {}  # (pid, name, workers) -> pool
_lock = threading.Lock()


def executor(name: str, workers: int) -> ThreadPoolExecutor:
    """The process's pool `name` of `workers` threads. Callers wait for what they submit themselves."""
    key = (os.getpid(), name, workers)
    with _lock:
        pool = _pools.get(key)
        if pool is None:
            for old in [k for k in _pools if k[0] != key[0]]:
                del _pools[old]  # a parent's pool: its threads are not in this process
            pool = _pools[key] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        return pool
