"""rcsync on a site with Django's stock `auth.User` (no role field): migrations, triggers and a sync.

Runs in a subprocess because the user model is fixed per process (settings/test_stock_user.py); the
subprocess creates and drops its own test database."""

from __future__ import annotations

from site_subprocess import run_site, stock_user_env

SCRIPT = r"""
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django_hooks.models import PendingSync
from django_hooks.queue.worker import sync_pending_user
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
"""


def test_stock_auth_user_site() -> None:
    result = run_site(SCRIPT, stock_user_env())
    assert result["model"] == "auth.User"
    assert len(result["pending"]) == 2
    assert result["boss"] == [True, ["admin", "user"], ["general", "moderators", "vip"], False]
    assert result["fan"] == [True, ["user"], ["general", "vip"], False]
