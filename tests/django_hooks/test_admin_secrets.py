"""No secret in any admin page or JSON response: every rcsync page is rendered with known secrets
configured (the service account's password and TOTP secret in the environment and in RCSYNC, the
Django SECRET_KEY), once with working credentials and once with a wrong password, so error paths
that show Rocket.Chat's answer are covered too."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from django_hooks.models import SyncRun
from django_hooks.rc import reset_client

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
BASE = "/admin/django_hooks"
WRONG = "wrong-pw-Q7x9!secret"


def pages(client: Client, user_key: str) -> dict[str, str]:
    """Every rcsync page and JSON response, after computing a preview and applying-as-worker."""
    from django_hooks.runs import run_reconcile

    out: dict[str, str] = {}
    response = client.post(f"{BASE}/syncrun/reconcile/")
    out["reconcile POST"] = response.content.decode()
    preview = SyncRun.objects.filter(dry_run=True).latest("pk")
    client.post(f"{BASE}/syncrun/reconcile/{preview.pk}/apply/")
    run = run_reconcile(kind="manual", triggered_by=preview.summary.get("applied", {}).get("tag", "t"))
    urls = [
        "/admin/", f"{BASE}/", f"{BASE}/accountlink/", f"{BASE}/accountlink/person/{user_key}/", f"{BASE}/syncrun/",
        f"{BASE}/syncrun/reconcile/", f"{BASE}/syncrun/reconcile/{preview.pk}/",
        f"{BASE}/syncrun/reconcile/{preview.pk}/status.json", f"{BASE}/syncrun/progress.json?ids={run.pk},{preview.pk}",
        f"{BASE}/syncoperation/", f"{BASE}/pendingsync/",
        "/admin/django_celery_beat/periodictask/",
    ]
    if run is not None:
        urls += [f"{BASE}/syncrun/{run.pk}/change/", f"{BASE}/syncrun/{run.pk}/operations.json"]
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        out[url] = response.content.decode()
    action = client.post(f"{BASE}/accountlink/", {"action": "preview_changes", "_selected_action": [user_key]}, follow=True)
    out["preview action"] = action.content.decode()
    return out


def assert_clean(rendered: dict[str, str], secrets: list[str]) -> None:
    for where, text in rendered.items():
        for secret in secrets:
            assert secret not in text, f"a secret shows in {where}"


@pytest.fixture
def admin_client(fresh_stand_in) -> tuple[Client, str]:
    User.objects.bulk_create([User(username="boss", email="boss@example.org", is_staff=True, is_superuser=True),
                              User(username="olga", email="olga@example.org", role="owner")])
    client = Client()
    client.force_login(User.objects.get(username="boss"))
    return client, str(User.objects.get(username="olga").pk)


def test_pages_hold_no_secret_with_working_credentials(admin_client, fresh_stand_in, settings) -> None:
    client, key = admin_client
    settings.RCSYNC = {**settings.RCSYNC, "SERVER": {**settings.RCSYNC["SERVER"], "password": "rcsync-cfg-pw-1234",
                                                     "totp_secret": "JBSWY3DPEHPK3PXP"}}
    rendered = pages(client, key)
    assert "Create account" in rendered[f"{BASE}/syncrun/reconcile/{SyncRun.objects.filter(dry_run=True).latest('pk').pk}/"]
    assert_clean(rendered, [*fresh_stand_in.secrets, "rcsync-cfg-pw-1234", "JBSWY3DPEHPK3PXP", settings.SECRET_KEY])


def test_pages_hold_no_declared_setting_secret(admin_client, fresh_stand_in, settings, monkeypatch) -> None:
    """Issue 12: a workspace setting whose value comes from the environment (the OAuth client secret, say)
    shows in the admin preview as a change with its value masked, and in no page, JSON or stored run."""
    client, key = admin_client
    secret = "oauth-client-secret-Adm1n-7q"
    monkeypatch.setenv("SITE_NAME_SECRET_FOR_ADMIN", secret)
    settings.RCSYNC = {**settings.RCSYNC, "SETTINGS": {"Site_Url": "https://chat.example.org",
                                                       "Site_Name": {"env": "SITE_NAME_SECRET_FOR_ADMIN"}}}
    rendered = pages(client, key)
    preview = rendered[f"{BASE}/syncrun/reconcile/{SyncRun.objects.filter(dry_run=True).earliest('pk').pk}/"]
    assert "Site_Name" in preview and "Site_Url" in preview and "https://chat.example.org" in preview
    assert fresh_stand_in.server.state.settings.get("Site_Name") == secret  # applied by the run
    stored = repr(list(SyncRun.objects.values()))
    from django_hooks.models import SyncOperation

    stored += repr(list(SyncOperation.objects.values()))
    assert_clean({**rendered, "stored runs": stored}, [secret, *fresh_stand_in.secrets])


def test_error_pages_hold_no_secret(admin_client, fresh_stand_in, monkeypatch) -> None:
    client, key = admin_client
    monkeypatch.setenv("RCSYNC_RC_PASSWORD", WRONG)
    reset_client()
    try:
        detail = client.get(f"{BASE}/accountlink/person/{key}/").content.decode()
        assert "Rocket.Chat could not be read" in detail
        response = client.post(f"{BASE}/syncrun/reconcile/", follow=True)
        failed = response.content.decode()
        assert "The preview failed" in failed
        action = client.post(f"{BASE}/accountlink/", {"action": "preview_changes", "_selected_action": [key]}, follow=True)
        texts = {"detail": detail, "failed preview": failed, "action": action.content.decode(),
                 "runs": client.get(f"{BASE}/syncrun/").content.decode(),
                 "progress": client.get(f"{BASE}/syncrun/progress.json?ids="
                                        f"{SyncRun.objects.latest('pk').pk}").content.decode()}
        assert_clean(texts, [WRONG, *fresh_stand_in.secrets])
    finally:
        reset_client()
