"""A staff user in headless Chromium: log in, preview a reconcile, apply it, watch the progress bar
reach 100 % without reloading, see the audit rows; a staff user without the permissions is refused.

Everything is real: the Django live server, a Celery worker process, PostgreSQL, Redis and the
stand-in Rocket.Chat (account creations held half-way so progress is visible).
Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission

from django_hooks.models import SyncOperation, SyncRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
User = get_user_model()
PASSWORD = "browser-pw-1"


def make_staff(username: str, *codenames: str) -> Any:
    # bulk_create sends no signals: staff accounts are not part of what is being synced here.
    User.objects.bulk_create([User(username=username, email=f"{username}@example.org", is_staff=True,
                                   password=make_password(PASSWORD), role="user")])
    user = User.objects.get(username=username)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="django_hooks", codename=codename))
    return user


def community(n: int = 20) -> None:
    """Site people Rocket.Chat does not know yet (no signals: only a reconcile will see them)."""
    roles = ["owner", "moderator", "store_owner", "store_admin"] + ["user"] * (n - 4)
    User.objects.bulk_create([User(username=f"member{i:02}", email=f"member{i:02}@example.org", role=roles[i],
                                   first_name=f"Member {i}") for i in range(n)])
    vip = Group.objects.create(name="vip")
    for user in User.objects.filter(username__in=["member05", "member06"]):
        User.groups.through.objects.create(user_id=user.pk, group_id=vip.pk)


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_preview_apply_and_watch_the_reconcile(browser, live_server, stand_in, worker, artifacts, support) -> None:
    community()
    make_staff("operator", "start_resync")
    # Five accounts are created, the rest wait until the runs page has seen the bar move: the page sees
    # a partial run however loaded the machine is (a 400 ms latency let the run finish before the page
    # opened under a load average of 30).
    stand_in.server.faults.hold("users.create", after=5)
    try:
        page = browser.new_page()
        base = live_server.url
        login(page, base, "operator")
        assert page.locator("text=Rocket.Chat sync").first.is_visible()

        page.goto(f"{base}/admin/django_hooks/syncrun/")
        page.click("text=Reconcile everything…")
        page.click("input[value='Compute preview']")
        page.wait_for_url(re.compile(r".*/syncrun/reconcile/\d+/$"))
        assert "Reconcile preview" in page.inner_text("h1")
        create = page.locator("details[data-kind=create_user]")
        assert create.locator("summary").inner_text().startswith("21 ")  # 20 members + the operator
        assert create.locator(".rcsync-chip", has_text="member00").first.is_visible()
        assert page.locator("details[data-kind=invite]").is_visible()
        assert stand_in.user("member00") is None  # a preview changes nothing
        page.screenshot(path=str(artifacts / "reconcile-preview.png"), full_page=True)

        page.click("#rcsync-apply-form input[type=submit]")
        page.wait_for_selector("#rcsync-live")

        # The runs page, opened once the worker has started the run: its bar moves without a reload.
        support.wait_until(lambda: SyncRun.objects.filter(dry_run=False, kind="manual").exists(), 20,
                                 "the worker to start the applied run")
        runs = browser.new_page()
        runs.goto(f"{base}/admin/django_hooks/syncrun/")
        bar = runs.locator(".rcsync-progress").first  # the newest run: the one just applied
        bar.wait_for()
        seen, shot = set(), False
        deadline = time.monotonic() + 120  # sample the bar as the page updates it
        while time.monotonic() < deadline:
            finished, percent = bar.get_attribute("data-finished"), int(bar.get_attribute("data-percent") or 0)
            seen.add((finished, percent))
            if finished == "1":
                break
            if not shot and 0 < percent < 100:
                runs.wait_for_timeout(450)  # let the bar's width transition finish
                runs.screenshot(path=str(artifacts / "runs-progress.png"), clip={"x": 0, "y": 0, "width": 1440, "height": 460})
                shot = True
                stand_in.server.faults.release("users.create")  # seen moving: let it finish
            runs.wait_for_timeout(50)
        runs.wait_for_selector(".rcsync-progress[data-finished='1'][data-percent='100']")
        assert "100%" in bar.inner_text()
        assert any(finished == "0" and 0 < percent < 100 for finished, percent in seen), seen
        runs.screenshot(path=str(artifacts / "runs-finished.png"))
        assert runs.locator(".rcsync-run-status .rcsync-badge").first.inner_text() == "Succeeded"

        # The preview page followed the same run live: bar at 100 %, operations appended as applied.
        page.wait_for_selector("#rcsync-live .rcsync-progress[data-finished='1'][data-percent='100']")
        page.wait_for_selector("#rcsync-ops tr")
        rows = page.locator("#rcsync-ops tr")
        run = SyncRun.objects.get(dry_run=False, kind="manual")
        assert run.status == "succeeded" and run.triggered_by.startswith("admin:operator (preview #")
        page.wait_for_function(f"document.querySelectorAll('#rcsync-ops tr').length === {SyncOperation.objects.filter(run=run).count()}")
        texts = rows.all_inner_texts()
        assert any("create_user" in t and "member00" in t for t in texts)
        assert any("invite" in t and "vip" in t for t in texts)
        page.screenshot(path=str(artifacts / "reconcile-applied.png"), full_page=True)

        # One person's page: desired = actual now, and the audit rows of what was done.
        owner = User.objects.get(username="member00")
        page.goto(f"{base}/admin/django_hooks/accountlink/person/{owner.pk}/")
        assert "In line with the policy" in page.inner_text("#content-main")
        history = page.locator("table.rcsync-wide tbody tr").all_inner_texts()
        assert any("create_user" in t for t in history) and any("moderators" in t for t in history)
        page.screenshot(path=str(artifacts / "account-detail.png"), full_page=True)
        page.goto(f"{base}/admin/django_hooks/accountlink/")
        page.screenshot(path=str(artifacts / "accounts.png"), full_page=True)
        assert stand_in.summary("member00") == (True, ("admin", "user"), ("general", "moderators", "vip"), False)

        # Twelve people leave at once (no signals): past the safety threshold the page asks for force.
        User.objects.filter(username__in=[f"member{i:02}" for i in range(8, 20)]).update(is_active=False)
        page.goto(f"{base}/admin/django_hooks/syncrun/reconcile/")
        page.click("input[value='Compute preview']")
        page.wait_for_selector("#rcsync-safety")
        assert "Safety threshold crossed" in page.inner_text("#rcsync-safety")
        page.screenshot(path=str(artifacts / "reconcile-force.png"), full_page=True)
        submit = page.locator("#rcsync-apply-form input[type=submit]")
        assert submit.get_attribute("value").startswith("Force apply")
        submit.click()  # the unticked confirmation keeps the form from being sent
        assert page.locator("#rcsync-live").count() == 0
        assert not SyncRun.objects.filter(dry_run=False, force=True).exists()
        page.check("#rcsync-force")
        submit.click()
        page.wait_for_selector("#rcsync-live .rcsync-progress[data-finished='1'][data-percent='100']")
        forced = SyncRun.objects.get(dry_run=False, force=True)
        assert forced.status == "succeeded" and forced.counts.get("deactivate") == 12
        assert stand_in.summary("member19")[0] is False and stand_in.summary("member07")[0] is True
    finally:
        stand_in.server.faults.release("users.create")


def test_staff_without_permission_is_refused(browser, live_server, artifacts) -> None:
    make_staff("intern")
    page = browser.new_page()
    login(page, live_server.url, "intern")
    assert page.locator("text=Rocket.Chat sync").count() == 0
    for url in ("/admin/django_hooks/syncrun/", "/admin/django_hooks/accountlink/", "/admin/django_hooks/syncrun/reconcile/"):
        response = page.goto(live_server.url + url)
        assert response.status == 403, url
        assert "Permission needed" in page.inner_text("h1") and "django_hooks.start_resync" in page.content()
    page.screenshot(path=str(artifacts / "forbidden.png"))


def test_nightly_schedule_is_editable_and_runs_a_real_reconcile(browser, live_server, stand_in, worker, artifacts,
                                                                support) -> None:
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    from django_hooks.schedule import ensure_nightly_task

    task, _ = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=3, minute=0, timezone="Europe/Berlin")
    user = make_staff("scheduler", "start_resync")
    for codename in ("view_periodictask", "change_periodictask"):
        user.user_permissions.add(Permission.objects.get(content_type__app_label="django_celery_beat", codename=codename))
    User.objects.bulk_create([User(username="nightowl", email="nightowl@example.org")])
    page = browser.new_page()
    base = live_server.url
    login(page, base, "scheduler")
    page.goto(f"{base}/admin/django_hooks/syncrun/")
    page.click("text=Nightly schedule")
    page.click(f"text={task.name}")
    assert page.locator("#id_task").input_value() == "rcsync.reconcile_all"
    registered = page.locator("#id_regtask option").all_inner_texts()
    assert "rcsync.reconcile_all" in registered and "rcsync.sync_user" in registered  # rcsync's app, not Celery's default
    page.screenshot(path=str(artifacts / "nightly-schedule.png"), full_page=True)
    watcher = browser.new_page()  # the runs page, drawn before the run exists
    watcher.goto(f"{base}/admin/django_hooks/syncrun/")
    assert watcher.locator("#rcsync-newer").is_hidden()
    page.go_back()
    page.check(f"input[name=_selected_action][value='{task.pk}']")
    page.select_option("select[name=action]", "run_tasks")
    page.click("button[name=index]")
    assert "started" in page.inner_text(".messagelist")
    run = support.wait_until(lambda: SyncRun.objects.filter(kind="manual", dry_run=False, finished_at__isnull=False).first(),
                             20, "the reconcile started from the schedule to finish")
    assert run.status == "succeeded" and run.triggered_by == f"admin:scheduler (run now: {task.name})"
    assert stand_in.summary("nightowl")[0] is True
    watcher.wait_for_selector("#rcsync-newer:not([hidden])")
    assert "1 new run has started" in watcher.inner_text("#rcsync-newer")
