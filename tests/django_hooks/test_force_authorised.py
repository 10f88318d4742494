"""Force is an authorised, bounded act (issue 14, H1 and M1).

H1: a staff user with only django-celery-beat's permissions added a periodic task
``rcsync.reconcile_all`` with ``{"force": true, "dry_run": false}`` and beat applied what a dry run had
refused. M1: "Force apply" applied a fresh plan, unbounded by what the preview showed.

Real PostgreSQL, Redis and the stand-in Rocket.Chat over HTTP; the task runs through Celery
(``Task.apply`` with the arguments and headers beat's ``ModelEntry`` gives it). The same attack with
a real beat and worker process is in tests/e2e/test_e2e_beat.py.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from django_hooks.admin.permissions import START
from django_hooks.dispatch import rcsync_app
from django_hooks.models import SyncOperation, SyncRun
from django_hooks.runs import run_reconcile
from django_hooks.schedule import ensure_nightly_task
from django_hooks.task_args import TaskArgumentsError, check_task_call, reconcile_args
from sync_tasks.tasks import reconcile_all

from test_admin_pages import BASE, csrf_post, staff

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def leavers(stand_in, count: int = 12) -> list[str]:
    """`count` people synced to Rocket.Chat, then set inactive without signals: past the safety limit."""
    names = [f"sam{i:02}" for i in range(count)]
    User.objects.bulk_create([User(username=n, email=f"{n}@example.org") for n in names])
    assert run_reconcile(kind="manual", triggered_by="setup").status == "succeeded"
    User.objects.filter(username__in=names).update(is_active=False)
    assert all(stand_in.summary(n)[0] for n in names)
    return names


def as_beat_runs_it(task: PeriodicTask) -> int | None:
    """Run a periodic task the way beat sends it: ModelEntry's args, kwargs and headers, through Celery."""
    entry = ModelEntry(task, app=rcsync_app)
    return reconcile_all.apply(args=entry.args, kwargs=entry.kwargs, headers=entry.options.get("headers")).get()


# --- the rules, pure ---------------------------------------------------------------------------------


def test_task_arguments_never_carry_force() -> None:
    assert reconcile_args([], {"kind": "nightly", "dry_run": False, "triggered_by": "beat:nightly"}).kind == "nightly"
    assert reconcile_args([], {"force": False}).dry_run is False  # the nightly row of older installs carries it
    for bad, words in [
        ({"force": True}, "'force' cannot be given to a task"),
        ({"force": "yes"}, "'force' cannot be given"),
        ({"forced": True}, "does not take 'forced'"),
        ({"dry_run": "false"}, "'dry_run' must be true or false"),
        ({"kind": "change"}, "'kind' must be one of"),
        ({"preview": True}, "'preview' must be the id"),
        ({"preview": 3, "dry_run": True}, "cannot be a dry run"),
    ]:
        with pytest.raises(TaskArgumentsError, match=words):
            reconcile_args([], bad)
    with pytest.raises(TaskArgumentsError, match="no positional arguments"):
        reconcile_args([False, True], {})  # dry_run=False, force=True by position
    with pytest.raises(TaskArgumentsError, match="Apply button only"):
        check_task_call("rcsync.reconcile_all", [], {"preview": 3})  # a periodic task never applies a preview
    with pytest.raises(TaskArgumentsError, match="exactly one argument"):
        check_task_call("rcsync.sync_user", [], {"force": True})
    with pytest.raises(TaskArgumentsError, match="no arguments"):
        check_task_call("rcsync.relay_pending", [], {"x": 1})
    check_task_call("rcsync.sync_user", ["7"], {})
    check_task_call("other.task", [1], {"force": True})  # not ours: not checked


# --- H1: the scheduler cannot force -------------------------------------------------------------------


def test_hand_made_periodic_task_with_force_changes_nothing(fresh_stand_in) -> None:
    names = leavers(fresh_stand_in)
    before = SyncOperation.objects.count()
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    # Written the way the attacker did it (the admin form refuses it now: see the next test).
    task = PeriodicTask.objects.create(name="cleanup", task="rcsync.reconcile_all", interval=every_minute,
                                       kwargs=json.dumps({"force": True, "dry_run": False}))
    pk = as_beat_runs_it(task)
    run = SyncRun.objects.get(pk=pk)
    assert run.status == "failed" and run.force is False and not run.dry_run
    assert "'force' cannot be given to a task" in run.error and run.triggered_by == "periodic task 'cleanup'"
    assert SyncOperation.objects.count() == before
    assert all(fresh_stand_in.summary(n)[0] for n in names)  # nobody was deactivated
    # Positional arguments cannot smuggle it either (reconcile_all(dry_run, force) by position).
    task.kwargs, task.args = "{}", json.dumps([False, True])
    task.save()
    assert "no positional arguments" in SyncRun.objects.get(pk=as_beat_runs_it(task)).error
    # A periodic task naming a preview (a one-time admin act) is refused too, even a real forced one.
    task.args, task.kwargs = "[]", json.dumps({"preview": 1})
    task.save()
    assert "does not exist" in SyncRun.objects.get(pk=as_beat_runs_it(task)).error
    assert all(fresh_stand_in.summary(n)[0] for n in names)
    # The nightly task as the migration creates it still runs (and stays refused at the threshold).
    nightly, _ = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=3, minute=0, timezone="UTC")
    assert "force" not in json.loads(nightly.kwargs)
    assert SyncRun.objects.get(pk=as_beat_runs_it(nightly)).status == "refused"
    assert all(fresh_stand_in.summary(n)[0] for n in names)


def test_beat_admin_refuses_to_save_a_forcing_task(db) -> None:
    beat_only = staff("scheduler", "django_celery_beat.add_periodictask", "django_celery_beat.change_periodictask",
                      "django_celery_beat.view_periodictask")
    every_minute = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.MINUTES)
    add = "/admin/django_celery_beat/periodictask/add/"
    form = {"name": "cleanup", "regtask": "rcsync.reconcile_all", "task": "", "enabled": "on", "interval": every_minute.pk,
            "args": "[]", "kwargs": json.dumps({"force": True, "dry_run": False}), "priority": "", "queue": "",
            "exchange": "", "routing_key": "", "headers": "{}", "description": "", "expire_seconds": "",
            "start_time_0": "", "start_time_1": "", "one_off": ""}
    response = csrf_post(beat_only, add, form)
    assert response.status_code == 200 and "cannot be given to a task" in response.content.decode()
    for kwargs, words in [({"forced": 1}, "does not take"), ({"preview": 4}, "Apply button only")]:
        page = csrf_post(beat_only, add, {**form, "kwargs": json.dumps(kwargs)}).content.decode()
        assert words in page
    assert "no positional arguments" in csrf_post(beat_only, add, {**form, "kwargs": "{}", "args": "[false, true]"}).content.decode()
    assert not PeriodicTask.objects.filter(name="cleanup").exists()
    saved = csrf_post(beat_only, add, {**form, "kwargs": json.dumps({"dry_run": True})})
    assert saved.status_code == 302 and PeriodicTask.objects.filter(name="cleanup").exists()
    # "Run selected tasks" checks the same rules (a row written some other way), with the start permission.
    bad = PeriodicTask.objects.create(name="old", task="rcsync.reconcile_all", interval=every_minute,
                                      kwargs=json.dumps({"force": True}))
    operator = staff("beatop", START, "django_celery_beat.view_periodictask", "django_celery_beat.change_periodictask")
    page = csrf_post(operator, "/admin/django_celery_beat/periodictask/",
                     {"action": "run_tasks", "_selected_action": [bad.pk]}, follow=True).content.decode()
    assert "cannot be given to a task" in page and not SyncRun.objects.exists()


# --- M1: a forced apply is bounded by its preview ------------------------------------------------------


def _preview_and_force(client) -> tuple[SyncRun, dict]:
    response = csrf_post(client, f"{BASE}/syncrun/reconcile/")
    preview = SyncRun.objects.filter(dry_run=True).latest("pk")
    csrf_post(client, f"{BASE}/syncrun/reconcile/{preview.pk}/apply/", {"force": "yes"}, form_url=response["Location"])
    preview.refresh_from_db()
    assert preview.summary["applied"]["force"] is True
    return preview, {"dry_run": False, "kind": "manual", "triggered_by": preview.summary["applied"]["tag"],
                     "preview": preview.pk}


def test_forced_apply_refuses_a_plan_that_grew_since_the_preview(fresh_stand_in, broker) -> None:
    client = staff("operator", START)
    names = leavers(fresh_stand_in, 15)
    User.objects.filter(username__in=names[7:]).update(is_active=True)  # the preview sees 7 of them leave ...
    User.objects.filter(username=names[14]).update(email="sam14@example.net")  # ... and one new address
    preview, kwargs = _preview_and_force(client)
    assert preview.counts == {"deactivate": 7, "kick": 7, "update_profile": 1} and preview.summary["stopped_by_safety"]
    assert sum(preview.counts.values()) == 15 and len(preview.summary["destructive_ops"]) == 14
    [(_, _, sent)] = broker.messages()
    assert sent == kwargs
    User.objects.filter(username__in=names).update(is_active=False)  # the site changes: all 15 leave
    before = SyncOperation.objects.count()
    run = SyncRun.objects.get(pk=reconcile_all.apply(kwargs=kwargs).get())
    assert run.status == "refused" and run.force is True
    assert run.summary["beyond_preview_count"] == 16 and "changed since its preview" in run.error
    assert run.summary["forced_by"] == f"admin:operator (preview #{preview.pk})"
    assert SyncOperation.objects.count() == before
    assert all(fresh_stand_in.summary(n)[0] for n in names)  # nothing was written
    page = client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/").content.decode()
    assert 'id="rcsync-beyond-preview"' in page and "16 destructive operations this preview did not show" in page
    assert "Compute a new preview" in page
    # The same message again (a replay, or copied into a periodic task) is refused: the preview was used.
    again = SyncRun.objects.get(pk=reconcile_all.apply(kwargs=kwargs).get())
    assert again.status == "failed" and "already carried out" in again.error and again.triggered_by == "celery"
    assert 'id="rcsync-beyond-preview"' in client.get(f"{BASE}/syncrun/reconcile/{preview.pk}/").content.decode()
    assert all(fresh_stand_in.summary(n)[0] for n in names)


def test_forced_apply_may_do_less_than_its_preview(fresh_stand_in, broker) -> None:
    client = staff("operator", START)
    names = leavers(fresh_stand_in, 12)
    preview, kwargs = _preview_and_force(client)
    assert preview.counts == {"deactivate": 12, "kick": 12}
    User.objects.filter(username=names[0]).update(is_active=True)  # one came back: a subset of the preview
    run = SyncRun.objects.get(pk=reconcile_all.apply(kwargs=kwargs).get())
    assert run.status == "succeeded" and run.force is True and run.counts == {"deactivate": 11, "kick": 11}
    assert run.summary["forced_by"] == f"admin:operator (preview #{preview.pk})"
    assert fresh_stand_in.summary(names[0])[0] is True and not any(fresh_stand_in.summary(n)[0] for n in names[1:])


def test_unforced_apply_of_a_preview_does_not_force(fresh_stand_in, broker) -> None:
    """A preview under the threshold applied, then the site changes past it: the guard refuses as usual."""
    client = staff("operator", START)
    names = leavers(fresh_stand_in, 12)
    User.objects.filter(username__in=names[2:]).update(is_active=True)  # the preview: 2 leave (4 changes)
    response = csrf_post(client, f"{BASE}/syncrun/reconcile/")
    preview = SyncRun.objects.filter(dry_run=True).latest("pk")
    assert not preview.summary["stopped_by_safety"]
    csrf_post(client, f"{BASE}/syncrun/reconcile/{preview.pk}/apply/", {"force": "yes"}, form_url=response["Location"])
    [(_, _, kwargs)] = broker.messages()
    User.objects.filter(username__in=names).update(is_active=False)
    run = SyncRun.objects.get(pk=reconcile_all.apply(kwargs=kwargs).get())
    assert run.status == "refused" and run.force is False and "forced_by" not in run.summary
    assert all(fresh_stand_in.summary(n)[0] for n in names)
