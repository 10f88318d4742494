"""The admin task UI on a site with Django's stock `auth.User` (no role field: no role filter, roles
from groups and flags). A subprocess, because the user model is fixed per process
(settings/test_stock_user.py); it creates and drops its own test database and key prefix."""

from __future__ import annotations

from site_subprocess import run_site, stock_user_env

SCRIPT = r"""
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
"""


def test_admin_pages_on_a_stock_auth_user_site() -> None:
    result = run_site(SCRIPT, stock_user_env())
    assert result == {
        "model": "auth.User", "accounts": 200, "role_filter": False, "vip_lists_fan": True, "vip_lists_boss": False,
        "detail": 200, "wants_vip": True, "preview": 200, "plans_accounts": True,
    }
