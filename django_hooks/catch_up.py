"""When the drift listener may ask for a catch-up reconcile: at most once per window, only while connected.

A disconnected feed may have missed changes, so after it is back the listener asks for a full (drift)
reconcile. Asking on every reconnect turned a flapping or absent Rocket.Chat into a flood: each retry of
the listener queued a `reconcile_all` that read the whole site (95 s unreachable → 6 queued runs, ~120 an
hour, issue 14 M4). The rules here:

* a catch-up is requested only by a listener that is connected and logged in again (the caller's job:
  it calls :meth:`CatchUp.request` after a successful reconnect, never from its retry loop);
* at most one is sent per ``window`` seconds; a request inside the window is *owed*, not dropped, and is
  sent by :meth:`CatchUp.flush` once the window has passed and the feed is connected, so a second
  outage inside the window is still caught up, just later.

:class:`CatchUpGate` is the pure rule (time is passed in); :class:`CatchUp` puts it in front of the
blocking sender.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["CatchUpGate", "CatchUp"]


@dataclass
class CatchUpGate:
    """At most one catch-up per ``window`` seconds; a request inside the window is remembered as owed."""

    window: float
    last: float | None = None
    owed: bool = False

    def request(self, now: float) -> bool:
        """A catch-up is wanted now: True if it may be sent at once, else it becomes owed."""
        if self.last is None or now - self.last >= self.window:
            self.last, self.owed = now, False
            return True
        self.owed = True
        return False

    def due(self, now: float) -> bool:
        """True (once) when an owed catch-up's window has passed: send it now."""
        if self.owed and self.last is not None and now - self.last >= self.window:
            self.last, self.owed = now, False
            return True
        return False


class CatchUp:
    """The gate in front of ``send`` (blocking: a broker publish), run off the event loop."""

    def __init__(self, window: float, send: Callable[[], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.gate = CatchUpGate(window)
        self._send = send
        self._clock = clock

    async def request(self) -> None:
        """Called only once the feed is connected and logged in again."""
        if self.gate.request(self._clock()):
            await asyncio.to_thread(self._send)

    async def flush(self, connected: bool) -> None:
        """Send an owed catch-up whose window has passed, if the feed is connected now."""
        if connected and self.gate.due(self._clock()):
            await asyncio.to_thread(self._send)
