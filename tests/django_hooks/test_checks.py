"""Django system checks (django_hooks/checks.py): each problem an id and a hint, via `manage.py check`;
a broken RCSYNC block no longer stops the site, but nothing syncs with it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

ROOT = Path(__file__).resolve().parents[2]
RC_ENV = ("RCSYNC_RC_URL", "RCSYNC_RC_USERNAME", "RCSYNC_RC_PASSWORD", "RCSYNC_RC_TOTP_SECRET", "RCSYNC_RC_USER_ID",
          "RCSYNC_RC_TOKEN", "RCSYNC_RC_VERIFY_TLS", "RCSYNC_RC_PASSWORD_FILE", "RCSYNC_RC_TOTP_SECRET_FILE")


@pytest.fixture
def no_rc_env(monkeypatch):
    for name in RC_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def service_account(no_rc_env):
    no_rc_env.setenv("RCSYNC_RC_URL", "https://chat.example.org")
    no_rc_env.setenv("RCSYNC_RC_USERNAME", "rcsync-bot")
    no_rc_env.setenv("RCSYNC_RC_PASSWORD", "very-secret-Pw-1")
    return no_rc_env


def ids(deploy: bool = False) -> dict[str, list[checks.CheckMessage]]:
    found: dict[str, list[checks.CheckMessage]] = {}
    for message in checks.run_checks(tags=["rcsync"], include_deployment_checks=deploy):
        found.setdefault(message.id, []).append(message)
    return found


def test_a_good_configuration_passes_every_check(settings, service_account) -> None:
    settings.RCSYNC = {**settings.RCSYNC}
    assert ids(deploy=True) == {}


def test_an_invalid_key_is_E001_with_a_hint(settings, service_account) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "DEPROVISION": "vaporize", "SAFETY": {"ratio": 7}}
    found = ids()
    assert set(found) == {"rcsync.E001"}
    texts = [m.msg for m in found["rcsync.E001"]]
    assert any("DEPROVISION" in t and "vaporize" in t for t in texts) and any("SAFETY.ratio" in t for t in texts)
    assert all(m.hint and m.level == checks.ERROR for m in found["rcsync.E001"])


def test_an_unknown_role_or_room_name_is_E002(settings, service_account) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "RULES": [
        {"when": {"role": ["wizard"]}, "rooms": ["lounge"], "roles": ["superstar"]}]}
    found = ids()
    assert set(found) == {"rcsync.E002"}
    text = " ".join(m.msg for m in found["rcsync.E002"])
    assert "wizard" in text and "lounge" in text and "superstar" in text
    assert "Declare the name" in found["rcsync.E002"][0].hint


def test_a_broken_tasks_block_is_E003(settings, service_account) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "NIGHTLY_TIME": "noon"}}
    found = ids()
    assert set(found) == {"rcsync.E003"} and "NIGHTLY_TIME" in found["rcsync.E003"][0].msg


def test_empty_privileged_roles_is_W005(settings, service_account) -> None:
    """Allowed, but it lets a site user matching an admin's email adopt the admin's account (issue 14 M2)."""
    settings.RCSYNC = {**settings.RCSYNC, "IDENTITY": {**settings.RCSYNC.get("IDENTITY", {}), "privileged_roles": []}}
    found = ids()
    assert set(found) == {"rcsync.W005"} and "privileged_roles" in found["rcsync.W005"][0].msg
    assert found["rcsync.W005"][0].level == checks.WARNING and "adopt_allow_ids" in found["rcsync.W005"][0].hint
    settings.RCSYNC = {**settings.RCSYNC, "IDENTITY": {**settings.RCSYNC["IDENTITY"], "privileged_roles": ["admin"]}}
    assert ids() == {}


def test_missing_secrets_are_W001(settings, no_rc_env) -> None:
    found = ids()
    assert set(found) == {"rcsync.W001"}
    assert found["rcsync.W001"][0].level == checks.WARNING
    assert "RCSYNC_RC_PASSWORD" in found["rcsync.W001"][0].hint


def test_an_unreadable_secret_file_is_W001_without_the_secret(settings, no_rc_env, tmp_path) -> None:
    no_rc_env.setenv("RCSYNC_RC_URL", "https://chat.example.org")
    no_rc_env.setenv("RCSYNC_RC_USERNAME", "rcsync-bot")
    no_rc_env.setenv("RCSYNC_RC_PASSWORD_FILE", str(tmp_path / "missing"))
    found = ids()
    assert set(found) == {"rcsync.W001"} and "RCSYNC_RC_PASSWORD_FILE" in found["rcsync.W001"][0].msg


def test_deploy_warns_about_tls_plain_http_and_secrets_in_settings(settings, service_account) -> None:
    assert ids(deploy=True) == {}
    service_account.setenv("RCSYNC_RC_VERIFY_TLS", "false")
    assert set(ids(deploy=True)) == {"rcsync.W002"}
    assert "rcsync.W002" not in ids(deploy=False)
    service_account.setenv("RCSYNC_RC_URL", "http://chat.example.org")
    assert set(ids(deploy=True)) == {"rcsync.W002", "rcsync.W003"}
    service_account.delenv("RCSYNC_RC_VERIFY_TLS")
    service_account.setenv("RCSYNC_RC_URL", "http://127.0.0.1:3000")  # loopback: the bundled demo
    assert ids(deploy=True) == {}
    for name in RC_ENV:
        service_account.delenv(name, raising=False)
    settings.RCSYNC = {**settings.RCSYNC, "SERVER": {"url": "https://chat.example.org", "username": "bot",
                                                     "password": "in-the-repo-Pw-9"}}
    found = ids(deploy=True)
    assert set(found) == {"rcsync.W004"}
    assert all("in-the-repo-Pw-9" not in str(m) for ms in found.values() for m in ms)


def test_manage_py_check_prints_ids_and_hints(settings, service_account) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "RULES": [{"when": {"role": ["wizard"]}, "rooms": ["general"]}]}
    with pytest.raises(SystemCheckError) as caught:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    assert "(rcsync.E002)" in str(caught.value) and "HINT: Declare the name" in str(caught.value)
    service_account.setenv("RCSYNC_RC_VERIFY_TLS", "0")
    settings.RCSYNC = {**settings.RCSYNC, "RULES": [{"when": "always", "rooms": ["general"]}]}
    err = io.StringIO()
    call_command("check", "--deploy", stdout=io.StringIO(), stderr=err)
    assert "(rcsync.W002)" in err.getvalue()


def test_a_site_with_a_broken_block_starts_but_refuses_to_sync(tmp_path) -> None:
    (tmp_path / "broken_settings.py").write_text(
        "from settings.test import *\nRCSYNC = {'RULES': [{'when': {'role': ['wizard']}, 'rooms': ['vip']}]}\n"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="broken_settings", PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}")
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.urls import reverse; "
                               "print(reverse('rcsync:metrics'))"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr[-2000:]
    assert started.stdout.strip() == "/rcsync/metrics"
    refused = subprocess.run([sys.executable, "manage.py", "rcsync", "sync", "nobody"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 78, refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    assert "RULES[0].when.role" in refused.stderr and "manage.py check" in refused.stderr


@pytest.mark.django_db(transaction=True)
def test_a_worker_refuses_to_sync_with_a_broken_block_and_keeps_the_change(settings, stand_in) -> None:
    from django.contrib.auth import get_user_model

    from django_hooks.models import PendingSync
    from django_hooks.queue.worker import sync_pending_user

    settings.RCSYNC = {**settings.RCSYNC, "RULES": [{"when": {"role": ["wizard"]}, "rooms": ["general"]}]}
    user = get_user_model().objects.create_user("bruno", "bruno@example.org", "pw")  # the trigger still records it
    assert PendingSync.objects.filter(user_key=str(user.pk)).exists()
    assert sync_pending_user(str(user.pk)).status == "retry"
    assert stand_in.user("bruno") is None
    assert "RULES[0].when.role" in PendingSync.objects.get(user_key=str(user.pk)).last_error
    settings.RCSYNC = {**settings.RCSYNC, "RULES": [{"when": "always", "roles": ["user"], "rooms": ["general"]}]}
    PendingSync.objects.update(next_attempt_at=None)
    assert sync_pending_user(str(user.pk)).status == "synced"
    assert stand_in.user("bruno") is not None
