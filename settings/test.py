"""Settings for the test suite.

Each pytest process (each pytest-xdist worker of `make test` too) gets its own
PostgreSQL database (pytest-django prefixes the name with `test_`) and its own
Redis key prefix, so parallel runs on one machine never meet. Celery worker subprocesses started by the tests receive
the real test database name and the prefix through the environment
(RCSYNC_DB_NAME, RCSYNC_REDIS_PREFIX) and load this same module.
"""

from __future__ import annotations

import os
import uuid

# A pytest-xdist worker inherits the environment of the pytest process that started it, names included,
# so the names are drawn again when they were drawn for another pytest process (RCSYNC_TEST_OWNER says
# which); the worker's own subprocesses (Celery workers, benchmarks) keep the names it hands them.
_OWNER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("RCSYNC_TEST_OWNER", _OWNER) != _OWNER:
    os.environ.pop("RCSYNC_DB_NAME", None)
    os.environ.pop("RCSYNC_REDIS_PREFIX", None)
os.environ["RCSYNC_TEST_OWNER"] = _OWNER
os.environ.setdefault("RCSYNC_DB_NAME", f"rcsync_{os.getpid()}_{uuid.uuid4().hex[:8]}")
os.environ.setdefault("RCSYNC_REDIS_PREFIX", f"rcsync-test-{uuid.uuid4().hex[:12]}:")
os.environ.setdefault("RCSYNC_VISIBILITY_TIMEOUT", "60")

from settings.base import *  # noqa: E402,F401,F403
from settings.base import RCSYNC  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The tests read English unless they switch (tests/django_hooks/test_translations.py, the Russian browser
# walk-through), whatever RCSYNC_DEMO_LANGUAGE the shell that runs them has set.
LANGUAGE_CODE = "en-us"

RCSYNC = {
    **RCSYNC,
    "TASKS": {
        **RCSYNC["TASKS"],
        # Tests want fast feedback: short locks, a quick relay, short back-off.
        "LOCK_TTL": float(os.environ.get("RCSYNC_LOCK_TTL", "3")),
        "RELAY_INTERVAL": float(os.environ.get("RCSYNC_RELAY_INTERVAL", "30")),
        "RELAY_STALE_AFTER": float(os.environ.get("RCSYNC_RELAY_STALE_AFTER", "20")),
        "RETRY_BACKOFF_BASE": 0.2,
        "RETRY_BACKOFF_MAX": float(os.environ.get("RCSYNC_RETRY_BACKOFF_MAX", "2")),
        "NIGHTLY_MIN_INTERVAL": float(os.environ.get("RCSYNC_NIGHTLY_MIN_INTERVAL", "3600")),
        # A test on a shared broker without a vhost of its own uses a queue of its own.
        "QUEUE": os.environ.get("RCSYNC_QUEUE", "rcsync"),
        "BATCH_SIZE": int(os.environ.get("RCSYNC_BATCH_SIZE", "5000")),
        # A test of the listener's reconnect shortens it, so the second catch-up is not owed for ten minutes.
        "DRIFT_CATCH_UP_WINDOW": float(os.environ.get("RCSYNC_DRIFT_CATCH_UP_WINDOW", "600")),
    },
    # The safety window's defaults, unless a benchmark that churns on purpose (bench/faults.py) lifts them.
    "SAFETY": {
        **RCSYNC.get("SAFETY", {}),
        "min_changes": int(os.environ.get("RCSYNC_SAFETY_MIN_CHANGES", "10")),
        "window": float(os.environ.get("RCSYNC_SAFETY_WINDOW", "3600")),
    },
}
