"""Shared set-up for the Django/Celery benchmarks: a throw-away test database, the stand-in Rocket.Chat
(in this process), Celery worker processes, and helpers. Not a benchmark itself."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.pop("RCSYNC_DB_NAME", None)  # settings.test picks a fresh name (and a fresh Redis key prefix)
os.environ.pop("RCSYNC_REDIS_PREFIX", None)


@contextmanager
def bench_site(**stand_in_options: object) -> Iterator[tuple[object, str]]:
    """Yields (stand_in, test database name) with Django set up on a fresh, migrated database."""
    import logging

    import django

    django.setup()
    logging.getLogger("rcsync").setLevel(logging.WARNING)
    from django.db import connection
    from django.test.runner import DiscoverRunner

    import e2e_support

    runner = DiscoverRunner(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        with e2e_support.StandIn(**stand_in_options) as rc:
            os.environ.update(rc.env())
            yield rc, connection.settings_dict["NAME"]
    finally:
        from django.db import connections

        connections.close_all()
        runner.teardown_databases(old)
        _wipe_prefix()


def _wipe_prefix() -> None:
    import redis
    from django.conf import settings

    conn = redis.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*", count=1000))
    for i in range(0, len(keys), 1000):
        conn.delete(*keys[i:i + 1000])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))
    return ordered[index]
