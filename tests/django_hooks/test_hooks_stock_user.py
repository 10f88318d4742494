"""rcsync on a site with Django's stock `auth.User` (no role field): migrations, triggers and a sync.

Runs in a subprocess because the user model is fixed per process (settings/test_stock_user.py); the
subprocess creates and drops its own test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
        from django.contrib.auth.models import Group
        from django_hooks.models import PendingSync
        from django_hooks.worker import sync_pending_user
        User = get_user_model()
        boss = User.objects.create_superuser("boss", "boss@example.org", "pw")
        fan = User.objects.create_user("fan", "fan@example.org", "pw")
        fan.groups.add(Group.objects.create(name="vip"))
        pending = sorted(PendingSync.objects.values_list("user_key", flat=True))
        for user in (boss, fan):
            sync_pending_user(str(user.pk))
        print(json.dumps({
            "model": settings.AUTH_USER_MODEL,
            "pending": pending,
            "boss": list(rc.summary("boss")),
            "fan": list(rc.summary("fan")),
        }))
finally:
    runner.teardown_databases(old)
    import redis
    conn = redis.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*"))
    if keys:
        conn.delete(*keys)
"""


def test_stock_auth_user_site() -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="settings.test_stock_user", PYTHONPATH=str(ROOT))
    for key in ("RCSYNC_DB_NAME", "RCSYNC_REDIS_PREFIX"):
        env.pop(key, None)  # its own database and key prefix
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model"] == "auth.User"
    assert len(result["pending"]) == 2
    assert result["boss"] == [True, ["admin", "user"], ["general", "moderators", "vip"], False]
    assert result["fan"] == [True, ["user"], ["general", "vip"], False]
