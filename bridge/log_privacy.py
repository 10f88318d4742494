"""Keep the query strings of rcsync's own requests out of httpx's log lines.

httpx writes one INFO line per request with the whole URL (``HTTP Request: GET https://chat/...?...``),
and a lookup's query string holds a username or an email (``users.info?username=dora``). A Celery
worker started with ``-l INFO`` lets those lines through unless the site's ``LOGGING`` quiets the
``httpx`` logger. So the bridge puts a filter on that logger which, for requests to a Rocket.Chat
server a client was made for, logs the URL without its query; the site's other httpx requests, and a
level the site chose, are left as they are.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx

__all__ = ["quiet_queries"]


class _OwnQueries(logging.Filter):
    """Drops the query from the URL argument of httpx's request line when it is one of our servers'."""

    def __init__(self) -> None:
        super().__init__()
        self.prefixes: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if (self.prefixes and isinstance(args, tuple) and len(args) >= 2 and isinstance(args[1], httpx.URL)
                and args[1].query and str(args[1]).startswith(self.prefixes)):
            record.args = (args[0], args[1].copy_with(query=None), *args[2:])
        return True


_filter = _OwnQueries()
_guard = threading.Lock()


def quiet_queries(base_url: str) -> None:
    """Log requests under `base_url` without their query strings (idempotent, any thread)."""
    if not base_url:
        return
    prefix = str(httpx.URL(base_url)).rstrip("/") + "/"  # the client's base URL: its routes all lie under it
    with _guard:
        if prefix not in _filter.prefixes:
            _filter.prefixes = (*_filter.prefixes, prefix)
        logger = logging.getLogger("httpx")
        if _filter not in logger.filters:
            logger.addFilter(_filter)
