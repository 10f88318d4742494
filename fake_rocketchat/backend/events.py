"""In-process event bus between the stand-in's state and its realtime (DDP) side.

The state publishes what Rocket.Chat would broadcast (role changes, renames,
deletions, room system messages, a user's own subscription changes, role
definition changes); the DDP module turns each event into the exact
`{"msg":"changed","collection":"stream-<name>",...}` frames for the
subscriptions allowed to see it. Keeping this a plain synchronous bus lets
tests and the REST side publish without knowing about websockets.

Stream names follow Rocket.Chat's publication names without the `stream-`
prefix being optional: always pass the full name, e.g. `stream-notify-logged`.
The internal stream `_fake` carries stand-in control events (e.g.
`drop-websockets`) that never reach clients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

CONTROL_STREAM = "_fake"


@dataclass(frozen=True)
class Event:
    """One broadcast: `args` is exactly what Rocket.Chat puts in `fields.args`."""

    stream: str
    event_name: str
    args: list[Any]


Listener = Callable[[Event], None]


class EventBus:
    """Thread-safe fan-out; listeners must not block (hand off to their own loop)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, stream: str, event_name: str, args: list[Any]) -> None:
        event = Event(stream, event_name, list(args))
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)
