"""The result of one sync of one user: what the reconciler (`runs.sync_one_user`) hands back to
the queue's worker loop (`queue.worker`), and all the loop needs to decide retire, retry or give up.

It lives on its own so both sides import it and neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ApplyResult"]


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of one sync of one user, as far as the task loop cares."""

    ok: bool
    transient: bool = False  # a retry may fix it (Rocket.Chat down, rate limited)
    retry_at: float | None = None  # epoch seconds before which a retry is pointless (rate limit reset)
    error: str = ""
    #: The sync retired the pending row itself, in its own write (True), or found it changed meanwhile
    #: (False: go round again); None when it left that to the queue.
    retired: bool | None = None
