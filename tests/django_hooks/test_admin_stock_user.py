"""The admin task UI on a site with Django's stock `auth.User` (no role field: no role filter, roles
from groups and flags). A subprocess, because the user model is fixed per process
(settings/test_stock_user.py); it creates and drops its own test database and key prefix."""

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
        from django.test import Client
        User = get_user_model()
        User.objects.bulk_create([User(username="boss", email="boss@example.org", is_staff=True, is_superuser=True),
                                  User(username="fan", email="fan@example.org")])
        fan = User.objects.get(username="fan")
        fan.groups.add(Group.objects.create(name="vip"))
        client = Client()
        client.force_login(User.objects.get(username="boss"))
        accounts = client.get("/admin/django_hooks/accountlink/")
        vip = client.get("/admin/django_hooks/accountlink/?policy_group=vip")
        detail = client.get(f"/admin/django_hooks/accountlink/person/{fan.pk}/")
        preview = client.post("/admin/django_hooks/syncrun/reconcile/", follow=True)
        print(json.dumps({
            "model": settings.AUTH_USER_MODEL,
            "accounts": accounts.status_code, "role_filter": "site_role=" in accounts.content.decode(),
            "vip_lists_fan": f"/person/{fan.pk}/" in vip.content.decode(),
            "vip_lists_boss": f"/person/{User.objects.get(username='boss').pk}/" in vip.content.decode(),
            "detail": detail.status_code, "wants_vip": "general, vip" in detail.content.decode(),
            "preview": preview.status_code, "plans_accounts": "Create account" in preview.content.decode(),
        }))
finally:
    runner.teardown_databases(old)
    import redis
    conn = redis.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*"))
    if keys:
        conn.delete(*keys)
"""


def test_admin_pages_on_a_stock_auth_user_site() -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="settings.test_stock_user", PYTHONPATH=str(ROOT))
    for key in ("RCSYNC_DB_NAME", "RCSYNC_REDIS_PREFIX"):
        env.pop(key, None)  # its own database and key prefix
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {
        "model": "auth.User", "accounts": 200, "role_filter": False, "vip_lists_fan": True, "vip_lists_boss": False,
        "detail": 200, "wants_vip": True, "preview": 200, "plans_accounts": True,
    }
