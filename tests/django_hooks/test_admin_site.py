"""rcsync's admin on a site's own AdminSite (DESIGN.md's site runs one per staff role), registered
with `django_hooks.admin.sites.register`; this module is also the URLconf of its tests."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import path

from django_hooks.admin.permissions import START
from django_hooks.admin.sites import register
from django_hooks.models import SyncRun

staff_site = register(AdminSite(name="staffadmin"))
# The default site is mounted too, so a link that forgot its site would point to /admin/ and fail.
urlpatterns = [path("admin/", admin.site.urls), path("staff/", staff_site.urls)]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.urls(__name__)]
User = get_user_model()


def operator() -> Client:
    User.objects.bulk_create([User(username="op", email="op@example.org", is_staff=True)])
    user = User.objects.get(username="op")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="django_hooks", codename=START.split(".")[1]))
    client = Client()
    client.force_login(user)
    return client


def test_custom_site_serves_every_page_with_its_own_urls(fresh_stand_in) -> None:
    client = operator()
    index = client.get("/staff/").content.decode()
    assert "Rocket.Chat sync" in index and "/staff/django_hooks/syncrun/" in index
    accounts = client.get("/staff/django_hooks/accountlink/")
    assert accounts.status_code == 200
    body = accounts.content.decode()
    assert "/staff/django_hooks/accountlink/person/" in body and "\"/admin/" not in body
    runs = client.get("/staff/django_hooks/syncrun/").content.decode()
    assert "/staff/django_hooks/syncrun/reconcile/" in runs and "\"/admin/" not in runs
    response = client.post("/staff/django_hooks/syncrun/reconcile/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/django_hooks/syncrun/reconcile/")
    preview = client.get(response["Location"]).content.decode()
    assert "/staff/django_hooks/syncrun/reconcile/" in preview and "\"/admin/" not in preview
    assert SyncRun.objects.filter(dry_run=True, status="planned").count() == 1
    key = User.objects.get(username="op").pk
    detail = client.get(f"/staff/django_hooks/accountlink/person/{key}/").content.decode()
    assert "Desired vs actual" in detail and "\"/admin/" not in detail
    assert client.get("/staff/django_celery_beat/periodictask/").status_code in (200, 403)


def test_register_is_idempotent_and_keeps_the_sites_own_registrations() -> None:
    from django_hooks.models import PendingSync

    site = AdminSite(name="other")

    class Mine(admin.ModelAdmin):
        pass

    site.register(PendingSync, Mine)
    register(site)
    register(site)
    assert type(site._registry[PendingSync]) is Mine
    from django_celery_beat.models import PeriodicTask

    from django_hooks.admin.beat import RcsyncPeriodicTaskAdmin

    assert isinstance(site._registry[PeriodicTask], RcsyncPeriodicTaskAdmin)
    assert isinstance(admin.site._registry[PeriodicTask], RcsyncPeriodicTaskAdmin)
