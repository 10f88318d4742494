"""rcsync on SQLite, the demo's fallback when no PostgreSQL is reachable: the pending-row upsert, the
worker's claim and a real sync against the stand-in.

Runs in a subprocess because the database engine is fixed per process (settings/demo.py with
RCSYNC_DEMO_DB=sqlite); the subprocess uses its own SQLite file and Redis key prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
sys.path.insert(0, "tests/e2e")
import django
django.setup()
from django.conf import settings
from django.test.runner import DiscoverRunner
runner = DiscoverRunner(verbosity=0, interactive=False)
old = runner.setup_databases()
try:
    import e2e_support
    with e2e_support.StandIn() as rc:
        import os
        os.environ.update(rc.env())
        from django.contrib.auth import get_user_model
        from django_hooks.models import AccountLink, PendingSync
        from django_hooks.worker import sync_pending_user
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
finally:
    runner.teardown_databases(old)
    import redis
    conn = redis.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*"))
    if keys:
        conn.delete(*keys)
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
        PYTHONPATH=str(ROOT),
    )
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
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
