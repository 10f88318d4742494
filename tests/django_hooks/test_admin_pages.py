"""The admin task UI through Django's test client: real PostgreSQL, real Redis (the broker the apply
button publishes to), the stand-in Rocket.Chat for previews and desired-vs-actual reads.

No Celery worker here: "Apply" and "Resync now" are checked by what reached the broker; the browser
tests (tests/browser/) run the whole path with a worker process.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from django_hooks.admin.permissions import START, VIEW
from django_hooks.models import AccountLink, PendingSync, SyncOperation, SyncRun
from django_hooks.queue.worker import sync_pending_user

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
BASE = "/admin/django_hooks"


def staff(username: str, *perms: str) -> Client:
    # bulk_create sends no signals: the staff account itself is not something these tests sync.
    User.objects.bulk_create([User(username=username, email=f"{username}@example.org", is_staff=True)])
    user = User.objects.get(username=username)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app, codename=codename))
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_post(client: Client, url: str, data: dict | None = None, **kw):
    """A POST the way a browser sends it: with the CSRF cookie and the token from the form."""
    page = client.get(kw.pop("form_url", url))
    token = page.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    assert token is not None, "the form page set no CSRF cookie"
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token.value}, **kw)


@pytest.fixture
def people(fresh_stand_in):
    """Three site users created without signals (bulk), so only an explicit sync or reconcile sees them."""
    User.objects.bulk_create([
        User(username="olga", email="olga@example.org", role="owner"),
        User(username="mona", email="mona@example.org", role="moderator"),
        User(username="uwe", email="uwe@example.org", role="user"),
    ])
    return {u.username: u for u in User.objects.filter(username__in=["olga", "mona", "uwe"])}


def test_staff_without_the_permissions_get_403_everywhere(people) -> None:
    client = staff("nobody")
    run = SyncRun.objects.create(kind="manual", scope="all")
    urls = [
        f"{BASE}/accountlink/", f"{BASE}/accountlink/person/{people['olga'].pk}/", f"{BASE}/syncrun/",
        f"{BASE}/syncrun/{run.pk}/change/", f"{BASE}/syncrun/progress.json?ids={run.pk}",
        f"{BASE}/syncrun/{run.pk}/operations.json", f"{BASE}/syncrun/reconcile/", f"{BASE}/syncoperation/",
        f"{BASE}/pendingsync/",
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    index = client.get("/admin/")
    assert index.status_code == 200 and b"Rocket.Chat sync" not in index.content


def test_viewer_sees_pages_but_cannot_change_anything(people, broker) -> None:
    client = staff("viewer", VIEW)
    assert client.get(f"{BASE}/accountlink/").status_code == 200
    assert client.get(f"{BASE}/syncrun/reconcile/").status_code == 200
    assert csrf_post(client, f"{BASE}/syncrun/reconcile/").status_code == 403
    assert csrf_post(client, f"{BASE}/accountlink/person/{people['olga'].pk}/resync/",
                     form_url=f"{BASE}/accountlink/").status_code == 403
    response = csrf_post(client, f"{BASE}/accountlink/", {"action": "resync_now", "_selected_action": [people["olga"].pk]})
    assert not PendingSync.objects.exists() and broker.sync_user_keys() == []
    assert response.status_code in (200, 302)
    assert SyncRun.objects.count() == 0


def test_state_changes_need_post_with_csrf(people, broker) -> None:
    client = staff("operator", START)
    olga = people["olga"].pk
    # GET never changes anything.
    assert client.get(f"{BASE}/accountlink/person/{olga}/resync/").status_code == 302
    assert client.get(f"{BASE}/syncrun/reconcile/1/apply/").status_code in (404, 405)
    assert not PendingSync.objects.exists() and not SyncRun.objects.exists()
    # POST without the CSRF token is refused by Django's middleware (nothing is exempt).
    for url in (f"{BASE}/accountlink/person/{olga}/resync/", f"{BASE}/syncrun/reconcile/", f"{BASE}/accountlink/resync/",
                f"{BASE}/accountlink/"):
        assert client.post(url, {"action": "resync_now", "_selected_action": [olga]}).status_code == 403, url
    assert not PendingSync.objects.exists() and not SyncRun.objects.exists() and broker.messages() == []
    # With the token: queued (durable row + broker message after commit).
    assert csrf_post(client, f"{BASE}/accountlink/person/{olga}/resync/", form_url=f"{BASE}/accountlink/").status_code == 302
    assert PendingSync.objects.filter(user_key=str(olga), reason="admin resync by operator").exists()
    assert broker.sync_user_keys() == [str(olga)]


def test_accounts_page_lists_every_user_with_filters_and_search(people) -> None:
    from django_hooks.admin.actions import resync_people

    resync_people([str(people["olga"].pk)], "test")
    assert sync_pending_user(str(people["olga"].pk)).status == "synced"
    AccountLink.objects.create(user_key=str(people["mona"].pk), user=people["mona"], status="error",
                               last_error="Conflict: email belongs to another account")
    client = staff("viewer", VIEW)
    page = client.get(f"{BASE}/accountlink/").content.decode()
    for name in ("olga", "mona", "uwe"):
        assert f">{name}</strong>" in page
    assert "Not linked" in page and "Synced" in page and "email belongs to another account" in page
    synced = client.get(f"{BASE}/accountlink/?sync_status=synced").content.decode()
    assert ">olga</strong>" in synced and ">uwe</strong>" not in synced
    unlinked = client.get(f"{BASE}/accountlink/?sync_status=none").content.decode()
    assert ">uwe</strong>" in unlinked and ">olga</strong>" not in unlinked
    mods = client.get(f"{BASE}/accountlink/?site_role=moderator").content.decode()
    assert ">mona</strong>" in mods and ">olga</strong>" not in mods
    found = client.get(f"{BASE}/accountlink/?q=uwe@example").content.decode()
    assert ">uwe</strong>" in found and ">mona</strong>" not in found


def test_account_page_shows_desired_vs_actual_and_history(people, fresh_stand_in) -> None:
    olga = people["olga"]
    from django_hooks.admin.actions import resync_people

    resync_people([str(olga.pk)], "test")
    assert sync_pending_user(str(olga.pk)).status == "synced"
    client = staff("viewer", VIEW)
    page = client.get(f"{BASE}/accountlink/person/{olga.pk}/").content.decode()
    assert "Desired vs actual" in page and "Audit history" in page and "In line with the policy" in page
    assert re.search(r"Global roles</th><td>admin, user</td>\s*<td>admin, user", page)
    assert "create_user" in page and "invite" in page  # the audit rows of her first sync
    # The site demotes her without signals: the page shows the difference and what a sync would do.
    User.objects.filter(pk=olga.pk).update(role="user")
    page = client.get(f"{BASE}/accountlink/person/{olga.pk}/").content.decode()
    assert re.search(r"Global roles</th><td>user</td>\s*<td>admin, user", page)
    assert "differs" in page and "Take global role" in page and "Remove from room" in page
    never = client.get(f"{BASE}/accountlink/person/{people['uwe'].pk}/").content.decode()
    assert "no Rocket.Chat account" in never and "Create account" in never
    assert client.get(f"{BASE}/accountlink/person/999999/").status_code == 404


def test_preview_changes_action_is_a_dry_run(people, fresh_stand_in) -> None:
    client = staff("viewer", VIEW)
    keys = [people["olga"].pk, people["uwe"].pk]
    response = csrf_post(client, f"{BASE}/accountlink/", {"action": "preview_changes", "_selected_action": keys})
    page = response.content.decode()
    assert response.status_code == 200 and "Preview changes" in page
    assert "Create account" in page and "Add to room" in page and "moderators" in page
    assert fresh_stand_in.user("olga") is None and fresh_stand_in.user("uwe") is None  # nothing written


def test_reconcile_preview_then_apply_enqueues_once(people, fresh_stand_in, broker) -> None:
    client = staff("operator", START)
    response = csrf_post(client, f"{BASE}/syncrun/reconcile/")
    assert response.status_code == 302
    preview = SyncRun.objects.get(dry_run=True)
    assert response["Location"].endswith(f"/syncrun/reconcile/{preview.pk}/")
    assert preview.status == "planned" and preview.counts["create_user"] == 4 and fresh_stand_in.user("olga") is None
    page = client.get(response["Location"]).content.decode()
    assert "Create account" in page and "olga" in page and "Apply" in page and "Safety threshold" not in page
    kinds = [g["kind"] for g in preview.summary["plan"]]
    assert kinds.index("create_user") < kinds.index("invite")

    apply_url = f"{BASE}/syncrun/reconcile/{preview.pk}/apply/"
    assert csrf_post(client, apply_url, form_url=response["Location"]).status_code == 302
    [(task, args, kwargs)] = broker.messages()
    assert task == "rcsync.reconcile_all" and kwargs["dry_run"] is False and "force" not in kwargs
    assert kwargs["kind"] == "manual" and kwargs["triggered_by"] == f"admin:operator (preview #{preview.pk})"
    assert kwargs["preview"] == preview.pk
    csrf_post(client, apply_url, form_url=response["Location"])  # a double click
    assert len(broker.messages()) == 1
    status = client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/status.json").json()
    assert status == {"state": "queued", "message": "Waiting for a worker to pick the run up…"}
    other = SyncRun.objects.create(kind="nightly", scope="all")  # holds the one-reconcile-at-a-time slot
    blocked = client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/status.json").json()
    assert blocked["state"] == "queued" and f"Run #{other.pk}" in blocked["message"] and "dropped" in blocked["message"]
    other.delete()

    # What the worker does with that message (the task run in-process by Celery): the real run, found by its tag.
    from sync_tasks.tasks import reconcile_all

    run = SyncRun.objects.get(pk=reconcile_all.apply(kwargs=kwargs).get())
    assert run.force is False and run.status == "succeeded"
    status = client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/status.json").json()
    assert status["state"] == "finished" and status["run"]["id"] == run.pk and status["run"]["percent"] == 100
    assert {op["operation"] for op in status["operations"]} >= {"create_user", "invite", "add_room_role"}
    after = max(op["id"] for op in status["operations"])
    assert client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/status.json?after={after}").json()["operations"] == []
    progress = client.get(f"{BASE}/syncrun/progress.json?ids={run.pk},{preview.pk}&newer_than={preview.pk}").json()
    assert {r["id"] for r in progress["runs"]} == {run.pk, preview.pk} and progress["newer"] == 1
    runs_page = client.get(f"{BASE}/syncrun/").content.decode()
    assert "rcsync-progress" in runs_page and f"admin:operator (preview #{preview.pk})" in runs_page


def test_past_the_safety_threshold_apply_needs_force(fresh_stand_in, broker) -> None:
    User.objects.bulk_create([User(username=f"sam{i:02}", email=f"sam{i:02}@example.org") for i in range(12)])
    from django_hooks.runs import run_reconcile

    run_reconcile(kind="manual", triggered_by="setup")
    User.objects.filter(username__startswith="sam").update(is_active=False)
    client = staff("operator", START)
    response = csrf_post(client, f"{BASE}/syncrun/reconcile/")
    preview = SyncRun.objects.filter(dry_run=True).latest("pk")
    page = client.get(response["Location"]).content.decode()
    assert "Safety threshold crossed" in page and 'name="force"' in page and "Force apply" in page
    apply_url = f"{BASE}/syncrun/reconcile/{preview.pk}/apply/"
    csrf_post(client, apply_url, form_url=response["Location"])
    assert broker.messages() == []
    assert "crosses the safety threshold" in client.get(response["Location"]).content.decode()
    csrf_post(client, apply_url, {"force": "yes"}, form_url=response["Location"])
    [(task, _, kwargs)] = broker.messages()
    assert kwargs["preview"] == preview.pk and "force" not in kwargs  # the worker reads force from the preview


def test_run_page_streams_operations(people, fresh_stand_in) -> None:
    from django_hooks.runs import run_reconcile

    run = run_reconcile(kind="manual", triggered_by="test")
    client = staff("viewer", VIEW)
    page = client.get(f"{BASE}/syncrun/{run.pk}/change/").content.decode()
    assert f"Run #{run.pk}" in page and "rcsync-progress" in page and f"{run.pk}/operations.json" in page
    data = client.get(f"{BASE}/syncrun/{run.pk}/operations.json").json()
    assert data["run"]["finished"] and len(data["operations"]) == SyncOperation.objects.filter(run=run).count()


def test_run_selected_periodic_task_starts_a_real_reconcile(broker, db) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from django_hooks.schedule import ensure_nightly_task

    task, _ = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=3, minute=0, timezone="UTC")  # as migration 0002
    viewer = staff("beatviewer", "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask")
    csrf_post(viewer, "/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [task.pk]})
    assert broker.messages() == []  # change_periodictask alone may not start a reconcile
    operator = staff("beatop", START, "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask")
    page = operator.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert page.status_code == 200 and b"rcsync.reconcile_all" in page.content  # visible and editable
    csrf_post(operator, "/admin/django_celery_beat/periodictask/", {"action": "run_tasks", "_selected_action": [task.pk]})
    [(name, _, kwargs)] = broker.messages()
    assert name == "rcsync.reconcile_all" and kwargs["kind"] == "manual" and kwargs["dry_run"] is False
    assert kwargs["triggered_by"].startswith("admin:beatop")


def test_command_line_dry_run_shows_its_counts(people) -> None:
    from django_hooks.runs import run_reconcile

    dry = run_reconcile(kind="manual", dry_run=True, triggered_by="cli")
    client = staff("operator", START)
    assert client.get(f"{BASE}/syncrun/{dry.pk}/change/").status_code == 200
    page = client.get(f"{BASE}/syncrun/reconcile/{dry.pk}/").content.decode()
    assert "Create account" in page and "did not record who" in page
    assert f"reconcile/{dry.pk}/" not in client.get(f"{BASE}/syncrun/reconcile/").content.decode()


def test_runs_page_links_the_nightly_schedule_for_who_may_see_it(db) -> None:
    plain = staff("viewer", VIEW).get(f"{BASE}/syncrun/").content.decode()
    assert "Nightly schedule" not in plain
    page = staff("scheduler", VIEW, "django_celery_beat.view_periodictask").get(f"{BASE}/syncrun/").content.decode()
    assert "Nightly schedule" in page and "/admin/django_celery_beat/periodictask/?q=rcsync" in page
