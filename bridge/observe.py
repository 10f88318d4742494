"""What the transport tells an optional observer about each HTTP exchange: route, status, seconds.

The bridge knows nothing of metrics libraries or Django; a caller that wants to count calls (rcsync's
Prometheus metrics, a benchmark) passes ``observer=`` to `AsyncRocketChat`/`RocketChat` and receives
one `CallObserved` per request that left the process, retries and 429s included. The values carry no
headers, bodies, query strings or tokens, so an observer cannot leak a secret it never saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

__all__ = ["CallObserved", "CallObserver", "notify"]

log = logging.getLogger("bridge.observe")


@dataclass(frozen=True)
class CallObserved:
    """One HTTP exchange with Rocket.Chat.

    `route` is the REST route without ``/api/v1/`` and without the method name of ``method.call/<name>``
    (so labels stay few); `status` is the HTTP status, or None when no answer came (connection refused,
    timeout), with `error` naming the transport exception then.
    """

    method: str
    route: str
    status: int | None
    seconds: float
    error: str = ""


CallObserver = Callable[[CallObserved], None]


def route_label(route: str) -> str:
    """`method.call/foo` -> `method.call`; everything else as sent (REST routes carry no ids)."""
    head = route.split("?", 1)[0]
    return head.split("/", 1)[0] if head.startswith(("method.call", "method.callAnon")) else head


def notify(observer: CallObserver | None, event: CallObserved) -> None:
    """Hand `event` to the observer; an observer that raises never breaks a call (it is logged)."""
    if observer is None:
        return
    try:
        observer(event)
    except Exception:  # a metrics bug must not fail a sync
        log.debug("call observer failed", exc_info=True)
