"""The low findings of issue 14's review, each pinned by a test that failed before its fix.

Unicode digits and over-long or malformed user keys in admin requests (500s before), "Compute preview"
reading everything without the reconcile lock, SyncRun/SyncOperation growing forever, and
`/accountlink/<id>/change/` telling a staff user without permissions whether an id exists.
Real PostgreSQL and Redis; the stand-in Rocket.Chat where a sync runs.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from django_hooks.admin.params import BadParameter, ascii_id, ascii_ids, user_key
from django_hooks.admin.permissions import START, VIEW
from django_hooks.conf import parse_hook_settings
from django_hooks.models import AccountLink, PendingSync, SyncOperation, SyncRun
from django_hooks.queue import locks
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.worker import sync_pending_user
from django_hooks.retention import prune_runs

from test_admin_pages import BASE, csrf_post, staff

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
HOSTILE_DIGITS = ["²", "٣", "３", "1²", "-1", "1e3", " 1 2 ", "9" * 19]


def test_ids_are_ascii_digits_only() -> None:
    assert ascii_id("42", "id") == 42 and ascii_id(" 7 ", "id") == 7 and ascii_ids("1,,2, 3", "ids", 5) == [1, 2, 3]
    for bad in HOSTILE_DIGITS:
        with pytest.raises(BadParameter, match="digits 0-9"):
            ascii_id(bad, "id")
    with pytest.raises(BadParameter, match="at most 2"):
        ascii_ids("1,2,3", "ids", 2)


def test_user_keys_are_what_rcsync_writes() -> None:
    assert user_key("12") == "12"
    for bad, words in [("", "empty"), ("1" * 65, "at most 64 characters, this one has 65"),
                       ("1\x00", "control characters"), ("1 2", "spaces"), ("\u202e12", "control characters"),
                       ("٣", "not a site user key"), ("007", "not a site user key"), ("abc", "not a site user key")]:
        with pytest.raises(BadParameter, match=words):
            user_key(bad)


def test_unicode_digits_in_admin_json_views_are_400_not_500(db) -> None:
    client = staff("viewer", VIEW)
    client.raise_request_exception = False  # a 500 is an answer here, not an exception in the test
    run = SyncRun.objects.create(kind="manual", scope="all")
    preview = SyncRun.objects.create(kind="manual", scope="all", dry_run=True, status="planned",
                                     summary={"plan": [], "applied": {"by": "x", "tag": "t", "at": timezone.now().isoformat()}})
    SyncRun.objects.create(kind="manual", scope="all", triggered_by="t")  # the run that preview started
    for bad in ("²", "٣"):
        for url in (f"{BASE}/syncrun/progress.json?ids={run.pk},{bad}", f"{BASE}/syncrun/progress.json?newer_than={bad}",
                    f"{BASE}/syncrun/{run.pk}/operations.json?after={bad}",
                    f"{BASE}/syncrun/reconcile/{preview.pk}/status.json?after={bad}"):
            response = client.get(url)
            assert response.status_code == 400, (url, response.status_code)
            assert "digits 0-9" in response.json()["error"]
        for url in (f"{BASE}/syncrun/{bad}/change/", f"{BASE}/accountlink/{bad}/change/"):
            assert client.get(url).status_code == 404, url
    good = client.get(f"{BASE}/syncrun/progress.json?ids={run.pk}&newer_than=0").json()
    assert [r["id"] for r in good["runs"]] == [run.pk] and good["newer"] == 3


def test_malformed_user_keys_posted_to_resync_are_400(db, broker) -> None:
    client = staff("operator", START)
    client.raise_request_exception = False
    long_key = "1" * 65
    for key, words in [(long_key, "at most 64 characters"), ("%00", "control characters"), ("%D9%A3", "not a site user key")]:
        response = csrf_post(client, f"{BASE}/accountlink/person/{key}/resync/", form_url=f"{BASE}/accountlink/")
        assert response.status_code == 400 and words in response.content.decode(), key
        assert response["Content-Type"].startswith("text/plain")  # the key is quoted, never rendered as HTML
        assert client.get(f"{BASE}/accountlink/person/{key}/").status_code == 400
    response = csrf_post(client, f"{BASE}/accountlink/resync/", {"user_key": ["3", long_key]}, form_url=f"{BASE}/accountlink/")
    assert response.status_code == 400 and "at most 64 characters" in response.content.decode()
    assert not PendingSync.objects.exists() and broker.messages() == []  # nothing half-queued


def test_compute_preview_takes_the_reconcile_lock(db) -> None:
    client = staff("operator", START)
    with locks.held("reconcile"):  # a reconcile (or another preview) is reading everything
        response = csrf_post(client, f"{BASE}/syncrun/reconcile/")
        assert response.status_code == 302 and response["Location"].endswith("/syncrun/reconcile/")
        page = client.get(response["Location"]).content.decode()
    assert "a preview or reconcile is already running" in page
    assert not SyncRun.objects.exists()  # no full read was started, no half-made preview recorded


def unmasked(page: bytes) -> bytes:
    """A page without its CSRF token (masked afresh for every response)."""
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", page)


def test_accountlink_change_view_says_nothing_without_permission(db) -> None:
    link = AccountLink.objects.create(user_key="5", site_username="eve")
    nobody = staff("nobody")
    existing, missing = nobody.get(f"{BASE}/accountlink/{link.pk}/change/"), nobody.get(f"{BASE}/accountlink/999999/change/")
    assert existing.status_code == missing.status_code == 403
    assert unmasked(existing.content) == unmasked(missing.content) and "Location" not in existing
    viewer = staff("viewer", VIEW)  # who may see sync state is sent to the person's page as before
    assert viewer.get(f"{BASE}/accountlink/{link.pk}/change/").status_code == 302
    assert viewer.get(f"{BASE}/accountlink/999999/change/").status_code == 404


# --- retention ----------------------------------------------------------------------------------------


def test_a_single_sync_that_changes_nothing_leaves_no_run(stand_in) -> None:
    user = User.objects.create_user("ruth", "ruth@example.org", "pw")  # the signal marks her pending
    assert sync_pending_user(str(user.pk)).status == "synced"
    assert SyncRun.objects.filter(scope=str(user.pk)).count() == 1  # her account was created: a run
    for _ in range(3):
        mark_pending(str(user.pk), "saved")
        assert sync_pending_user(str(user.pk)).status == "synced"
    assert SyncRun.objects.filter(scope=str(user.pk)).count() == 1  # three saves that changed nothing: no rows
    assert AccountLink.objects.get(user_key=str(user.pk)).status == "synced"


def test_the_nightly_task_prunes_old_runs(stand_in, settings) -> None:
    from sync_tasks.tasks import reconcile_all

    def run_aged(days: float) -> SyncRun:
        run = SyncRun.objects.create(kind="change", scope="1", status="succeeded")
        SyncOperation.objects.create(run=run, operation="invite", target="general", outcome="applied")
        SyncRun.objects.filter(pk=run.pk).update(started_at=timezone.now() - timedelta(days=days))
        return run

    old, recent = run_aged(91), run_aged(89)
    nightly = reconcile_all.apply(kwargs={"kind": "nightly", "dry_run": False, "triggered_by": "beat:nightly"}).get()
    left = set(SyncRun.objects.values_list("pk", flat=True))
    assert left == {recent.pk, nightly} and not SyncOperation.objects.filter(run_id=old.pk).exists()
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "RUNS_KEEP_DAYS": 0}}
    run_aged(400)
    assert prune_runs() == 0 and SyncRun.objects.count() == 3  # 0 keeps everything
    assert prune_runs(30) == 2  # the 89-day and the 400-day run


def test_runs_keep_days_is_validated() -> None:
    assert parse_hook_settings({}).runs_keep_days == 90
    assert parse_hook_settings({"RUNS_KEEP_DAYS": 0}).runs_keep_days == 0
    for bad in (-1, "90", True):
        with pytest.raises(ImproperlyConfigured, match="RUNS_KEEP_DAYS"):
            parse_hook_settings({"RUNS_KEEP_DAYS": bad})
