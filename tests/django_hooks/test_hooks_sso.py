"""The Django side of the site's OAuth sign-in and workspace settings: how a site says an email is verified,
the identity its OAuth endpoint serves, the login trigger in mode wait_for_login, and what `rcsync check`,
`bootstrap` and a dry run say (secrets masked)."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from django_hooks.models import AccountLink, PendingSync
from django_hooks.people import load_person
from django_hooks.verified import EmailVerifier
from django_hooks.queue.worker import sync_pending_user
from sync_tasks.config import load_config

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "sync_tasks"))
from standin_features import oauth_login  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
SECRET = "oauth-secret-django-9Zt"


def site_identity(user):
    """What this test site's OAuth identity endpoint serves: the username lower-cased, the email as stored."""
    return {"id": user.pk, "username": user.get_username().lower(), "email": user.email, "name": user.get_full_name()}


def verified_if_example_org(user):
    return user.email.endswith("@example.org")


def rcsync(settings, **extra):
    settings.RCSYNC = {**settings.RCSYNC, **extra}


def test_email_verified_setting_forms():
    user = SimpleNamespace(pk=1, email="a@example.org", confirmed=True, email_verified=False)
    cases = {None: False, "confirmed": True, "attribute:email_verified": False, True: True, False: False,
             f"{__name__}.verified_if_example_org": True}
    for raw, want in cases.items():
        ident = load_config({"IDENTITY": {"email_verified": raw}}).identity
        assert EmailVerifier(ident)(user) is want, raw
    assert EmailVerifier(load_config({"IDENTITY": {"email_verified": True}}).identity)(
        SimpleNamespace(pk=2, email="")) is False  # no address, nothing to vouch for
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="allauth.account is not in INSTALLED_APPS"):
        EmailVerifier(load_config({"IDENTITY": {"email_verified": "allauth"}}).identity)


def test_person_carries_the_sites_oauth_identity_and_verified_flag(settings):
    rcsync(settings, SSO={"service": "besedka", "identity": f"{__name__}.site_identity"},
           IDENTITY={"email_verified": f"{__name__}.verified_if_example_org"})
    user = User.objects.create_user("Olga", "olga@example.org", "pw", first_name="Olga", last_name="K")
    person = load_person(str(user.pk))
    assert person.email_verified is True
    assert person.sso_identity == {"id": user.pk, "username": "olga", "email": "olga@example.org", "name": "Olga K"}


def test_wait_for_login_links_the_account_after_the_sign_in(settings, stand_in):
    rcsync(settings, SSO={"service": "besedka", "mode": "wait_for_login"}, IDENTITY={"email_verified": True})
    from django_hooks import after_sso_login

    user = User.objects.create_user("wanda", "wanda@example.org", "pw", first_name="Wanda")
    PendingSync.objects.all().delete()  # the save signal's own sync: only the login trigger counts here
    after_sso_login(user)
    outcome = sync_pending_user(str(user.pk))
    assert outcome.status == "retry"  # transient: retried until the account is there
    row = PendingSync.objects.get(user_key=str(user.pk))
    assert row.state == "retrying" and row.reason == "sso-login"
    assert stand_in.user("wanda") is None  # rcsync created nothing
    identity = {"id": str(user.pk), "username": "wanda", "email": "wanda@example.org", "name": "Wanda"}
    rcsync(settings, SETTINGS={"Accounts_OAuth_Custom-Besedka": True, "Accounts_OAuth_Custom-Besedka-username_field":
                               "username", "Accounts_OAuth_Custom-Besedka-email_field": "email"})
    out = io.StringIO()
    call_command("rcsync", "bootstrap", stdout=out)  # registers the service and switches it on
    assert "add_oauth_service: planned 1, applied 1" in out.getvalue(), out.getvalue()
    assert oauth_login(stand_in.server, "besedka", identity).status_code == 200
    assert sync_pending_user(str(user.pk)).status == "synced"
    link = AccountLink.objects.get(user_key=str(user.pk))
    assert link.rc_user_id == stand_in.user("wanda")["_id"] and link.created_by_bridge is False
    assert link.status == "synced"


def test_check_names_the_sso_problem_and_the_permissions(settings, fresh_stand_in):
    rcsync(settings, SSO={"service": "besedka"}, SETTINGS={"Site_Url": "https://chat.example.org",
                                                           "No_Such_Setting_Xyz": 1})
    state = fresh_stand_in.server.state
    for perm in ("edit-privileged-setting", "add-oauth-service"):
        if perm in state.permissions:
            state.revoke_permission(perm, "admin")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("rcsync", "check", stdout=out)
    text = out.getvalue()
    assert "setting 'No_Such_Setting_Xyz' (RCSYNC['SETTINGS']) does not exist in Rocket.Chat" in text
    assert "permission 'edit-privileged-setting': needed to write the declared workspace settings" in text
    if "add-oauth-service" in state.permissions:
        assert "permission 'add-oauth-service': needed to register the Custom OAuth service" in text
    assert "OAuth service Besedka is not registered yet" in text
    # judged as bootstrap will leave it: registered with Rocket.Chat's defaults (off, merge settings off)
    assert "Accounts_OAuth_Custom-Besedka is false: the besedka sign-in is switched off" in text
    assert "Accounts_OAuth_Custom-Besedka-merge_users is off: every account rcsync pre-creates" in text
    assert "1 declared setting differs and will be written: Site_Url" in text


def test_check_says_when_settings_cannot_be_read(settings, fresh_stand_in):
    rcsync(settings, SSO={"service": "besedka"})
    fresh_stand_in.server.state.revoke_permission("view-privileged-setting", "admin")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("rcsync", "check", stdout=out)
    text = out.getvalue()
    assert "cannot read workspace settings: the service account lacks 'view-privileged-setting'" in text
    assert "permission 'view-privileged-setting': needed to read the declared workspace settings" in text


def test_bootstrap_and_dry_run_show_settings_masked(settings, fresh_stand_in, monkeypatch, caplog):
    monkeypatch.setenv("SITE_NAME_FILE_SECRET", SECRET)
    rcsync(settings, SETTINGS={"Site_Url": "https://chat.example.org", "Site_Name": {"env": "SITE_NAME_FILE_SECRET"}})
    out = io.StringIO()
    call_command("rcsync", "reconcile", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "setting Site_Url: 'http://localhost:3000' → 'https://chat.example.org'" in text
    assert "setting Site_Name: '***' → '***'" in text and SECRET not in text
    out = io.StringIO()
    call_command("rcsync", "bootstrap", stdout=out)
    text = out.getvalue()
    assert "set_setting: planned 2, applied 2, failed 0" in text and SECRET not in text
    assert fresh_stand_in.server.state.settings.get("Site_Name") == SECRET
    from django_hooks.models import SyncOperation, SyncRun

    stored = repr(list(SyncRun.objects.values())) + repr(list(SyncOperation.objects.values()))
    assert SECRET not in stored and SECRET not in caplog.text


def other_identity(user):
    return {"id": user.pk, "username": f"x-{user.get_username()}", "email": user.email}


def test_drift_feed_sees_a_first_sign_in(settings):
    from django_hooks.drift import DriftHit, record_drift

    user = User.objects.create_user("Wanda", "wanda@example.org", "pw")
    PendingSync.objects.all().delete()
    hit = DriftHit(None, "wanda", "drift: wanda added general")
    assert record_drift(hit) is None  # no SSO: an unlinked account is not rcsync's business
    rcsync(settings, SSO={"service": "besedka", "mode": "wait_for_login"})
    assert record_drift(hit) == str(user.pk)
    assert PendingSync.objects.get(user_key=str(user.pk)).reason == "sso: the first sign-in created the account"
    PendingSync.objects.all().delete()
    rcsync(settings, SSO={"service": "besedka", "identity": f"{__name__}.other_identity"})
    assert record_drift(hit) is None and not PendingSync.objects.exists()  # her login presents another name
