"""One call of the async client run in the calling thread, its HTTP exchange on a blocking httpx client.

The blocking facade (`client.RocketChat`) used to hand every call to the bridge's event-loop thread.
For a single-person sync, the two or three calls it makes were most of the bridge's CPU: httpx's async
stack (httpcore over anyio) costs about twice what its blocking client costs per request, and each
hand-over wakes two threads. A facade call now drives the endpoint coroutine itself (`run`), with no
event loop: the same code (2FA, re-login, retries, 429 waits, error mapping) runs, and `_Core._send`
makes the exchange on `httpx.Client` while `active()` says so.

Nothing in such a call may wait on the event loop in this thread (there is none). What needs the
loop's objects (the Redis token store and pacer, a fresh login) is awaited there through `on_loop`,
the calling thread blocking meanwhile, and sleeps are `pause`: both are how the core awaits anything
but an exchange. A coroutine that still suspends on a future is a bug, reported as such (`run`).

Bulk listings stay on the loop thread: their pages are read ahead concurrently, which is what the
loop is for.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Awaitable, Callable, Coroutine, TypeVar

__all__ = ["DirectCallSuspended", "active", "on_loop", "pause", "run"]

T = TypeVar("T")

_state = threading.local()


class DirectCallSuspended(RuntimeError):
    """A coroutine run by `run` awaited something only an event loop can finish (a bridge bug)."""


def active() -> bool:
    """Is this thread running a call with `run` right now?"""
    return getattr(_state, "active", False)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to its end in this thread, without an event loop; its result or its exception."""
    before = active()
    _state.active = True
    try:
        while True:
            waited = coro.send(None)
            if waited is not None:  # a bare yield (asyncio.sleep(0)) just goes on
                coro.close()
                raise DirectCallSuspended(f"a direct bridge call awaited {waited!r}, which needs an event loop")
    except StopIteration as done:
        return done.value
    finally:
        _state.active = before


async def on_loop(loop: asyncio.AbstractEventLoop | None, step: Callable[..., Awaitable[T]], *args: Any,
                  **kwargs: Any) -> T:
    """Await `step(*args, **kwargs)`: here when not in a direct call, else on `loop` (its thread)."""
    if not active():
        return await step(*args, **kwargs)
    if loop is None:
        raise DirectCallSuspended("a direct bridge call needs the client's event loop, and it has none")

    async def on_the_loop() -> T:
        return await step(*args, **kwargs)

    return asyncio.run_coroutine_threadsafe(on_the_loop(), loop).result()


async def pause(seconds: float) -> None:
    """Sleep: blocking in a direct call, else on the event loop."""
    if active():
        time.sleep(max(0.0, seconds))
    else:
        await asyncio.sleep(seconds)
