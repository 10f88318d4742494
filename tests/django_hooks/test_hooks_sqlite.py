"""rcsync on SQLite, the demo's fallback when no PostgreSQL is reachable: the pending-row upsert, the
worker's claim and a real sync against the stand-in.

Runs in a subprocess because the database engine is fixed per process (settings/demo.py with
RCSYNC_DEMO_DB=sqlite); the subprocess uses its own SQLite file and Redis key prefix."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from site_subprocess import run_site

SCRIPT = r"""
from django.contrib.auth import get_user_model
from django_hooks.models import AccountLink, PendingSync
from django_hooks.queue.worker import sync_pending_user
User = get_user_model()
mod = User.objects.create_user("mia", "mia@example.org", "pw", role="moderator")
mod.first_name = "Mia"
mod.save()  # a second change to the same user bumps the one pending row
rows = list(PendingSync.objects.values_list("user_key", "generation"))
outcome = sync_pending_user(str(mod.pk))
print(json.dumps({
    "vendor": __import__("django.db").db.connection.vendor,
    "pending_before": rows,
    "pending_after": PendingSync.objects.count(),
    "outcome": outcome.status,
    "link": AccountLink.objects.get(user_key=str(mod.pk)).status,
    "mia": list(rc.summary("mia")),
}))
"""


def test_sqlite_site_records_claims_and_syncs(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="settings.demo",
        RCSYNC_DEMO_DB="sqlite",
        RCSYNC_DEMO_SQLITE=str(tmp_path / "site.sqlite3"),
        RCSYNC_DEMO_DIR=str(tmp_path),
        RCSYNC_REDIS_URL="redis://127.0.0.1:6379/0",
        RCSYNC_REDIS_PREFIX=f"rcsync-sqlite-test-{uuid.uuid4().hex[:8]}:",
    )
    result = run_site(SCRIPT, env)
    assert result["vendor"] == "sqlite"
    [(key, generation)] = result["pending_before"]
    assert generation >= 2
    assert result["outcome"] == "synced"
    assert result["pending_after"] == 0
    assert result["link"] == "synced"
    active, roles, rooms, moderator_in_general = result["mia"]
    assert active and "user" in roles
    assert set(rooms) == {"general", "moderators"}
    assert moderator_in_general
