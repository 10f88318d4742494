"""Settings for `make demo` (scripts/demo.sh): the bundled site, on whatever this machine offers.

The demo runner (scripts/demo_run.py) probes the machine once and passes its
choices to every process it starts (site, worker, beat, listener) through the
environment, so they all agree:

- RCSYNC_DEMO_DB = "postgresql" (database RCSYNC_DB_NAME, default rcsync_demo)
  or "sqlite" (file RCSYNC_DEMO_SQLITE);
- RCSYNC_DEMO_BROKER = "redis" (RCSYNC_REDIS_URL, a DB number the tests do not
  use) or "filesystem" (kombu's filesystem transport in RCSYNC_DEMO_BROKER_DIR,
  shared by worker and beat; the locks then live in the runner's embedded
  Redis stand-in at RCSYNC_REDIS_URL).

Secrets are not here either: the service account comes from RCSYNC_RC_*_FILE.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("RCSYNC_DB_NAME", "rcsync_demo")
os.environ.setdefault("RCSYNC_REDIS_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("RCSYNC_REDIS_PREFIX", "rcsync-demo:")

from settings.base import *  # noqa: E402,F401,F403
from settings.base import DATABASES, RCSYNC  # noqa: E402

# The runner's default working directory, so `manage.py ... --settings=settings.demo` by hand finds
# the same SQLite file and broker folder while a demo runs.
DEMO_DIR = Path(os.environ.get("RCSYNC_DEMO_DIR") or Path(tempfile.gettempdir()) / f"rcsync-demo-{os.getuid()}")

# The demo serves the admin's CSS with `runserver --insecure`; DEBUG stays off so
# error pages look like production's.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"

if os.environ.get("RCSYNC_DEMO_DB", "postgresql") == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("RCSYNC_DEMO_SQLITE", str(DEMO_DIR / "demo.sqlite3")),
            # Site, worker, beat and listener write at once: wait for the lock instead of failing, and
            # take the write lock when a transaction starts (IMMEDIATE) so a read-then-write
            # transaction never hits SQLite's instant "database is locked" on lock upgrade.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {"default": {**DATABASES["default"], "CONN_MAX_AGE": 0}}

if os.environ.get("RCSYNC_DEMO_BROKER", "redis") == "filesystem":
    _queue = Path(os.environ.get("RCSYNC_DEMO_BROKER_DIR", DEMO_DIR / "broker"))
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue / "queue"),
        "data_folder_out": str(_queue / "queue"),
        "processed_folder": str(_queue / "processed"),
        # Without it kombu writes its broadcast exchanges to ./control in the working directory.
        "control_folder": str(_queue / "control"),
        "store_processed": False,
        "polling_interval": 0.1,  # s; kombu's default (1 s) would be most of a change's latency
    }

RCSYNC = {
    **RCSYNC,
    "TASKS": {
        **RCSYNC["TASKS"],
        # A demo shows the relay within a minute rather than after half of one.
        "RELAY_INTERVAL": 10.0,
        "RELAY_STALE_AFTER": 20.0,
    },
}
