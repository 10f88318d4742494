"""One safety guard over every path (issue 14, H2): destructive operations add up across runs in a
sliding window kept in PostgreSQL; past its limit a person's destructive changes are held (visible in
the admin and `rcsync status`, released by one button or `rcsync release`) while additive ones go.

Real PostgreSQL, Redis (the broker the admin publishes to) and the stand-in Rocket.Chat over HTTP; the
worker's part is `sync_pending_user`, what a `sync_user` task runs (tests/e2e/test_e2e_guard.py runs
the same with a Celery worker process)."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from django_hooks.admin import actions as admin_actions
from django_hooks.admin.permissions import START, VIEW
from django_hooks.guard import WindowGuard, window_state
from django_hooks.holds import held_destructive_operations
from django_hooks.models import AccountLink, DestructiveSpend, HeldSync, PendingSync, SyncOperation, SyncRun
from django_hooks.queue.worker import sync_pending_user
from django_hooks.runs import plan_summary_lines, run_reconcile
from django_hooks.status import status_lines
from sync_tasks.ops import DESTRUCTIVE_KINDS, KickFromRoom, SetActive

from test_admin_pages import BASE, csrf_post, staff

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
LIMIT = 10  # max(SAFETY.min_changes=10, 0.10 x 30 linked accounts)


def members(n: int = 30) -> list:
    User.objects.bulk_create([User(username=f"m{i:02}", email=f"m{i:02}@example.org") for i in range(n)])
    run_reconcile(kind="manual", triggered_by="setup")  # accounts for all, nothing destructive
    return list(User.objects.filter(username__startswith="m").order_by("username"))


def applied_destructive() -> int:
    return SyncOperation.objects.filter(operation__in=DESTRUCTIVE_KINDS, outcome="applied").count()


def drain(broker) -> None:
    """What a worker does with the queue: the bulk message fans out, each sync_user runs."""
    from django_hooks.queue.pending import enqueue

    for task, args, _ in broker.messages():
        if task == "rcsync.enqueue_pending":
            for key in args[0]:
                assert enqueue(key)
    for key in sorted(set(broker.sync_user_keys())):
        sync_pending_user(key)


def test_guard_bulk_resync_of_everyone_set_inactive_applies_at_most_the_limit(fresh_stand_in, broker) -> None:
    """H2 (a): everyone set inactive by QuerySet.update() (no signal), then "Resync now" on all accounts.
    Before the window each single sync passed the per-run guard: 26 of 30 were deactivated."""
    people = members()
    User.objects.filter(username__startswith="m").update(is_active=False)
    operator = staff("operator", START)
    keys = [u.pk for u in User.objects.all()]
    response = csrf_post(operator, f"{BASE}/accountlink/", {"action": "resync_now", "_selected_action": keys})
    assert response.status_code == 302
    # One bulk upsert and one message for the whole selection (not one write and one send per person).
    [(task, args, _)] = broker.messages()
    assert task == "rcsync.enqueue_pending" and sorted(args[0]) == sorted(str(k) for k in keys)
    assert PendingSync.objects.count() == len(keys)
    drain(broker)
    assert applied_destructive() <= LIMIT
    deactivated = [u.username for u in people if fresh_stand_in.summary(u.username)[0] is False]
    assert 0 < len(deactivated) <= LIMIT // 2  # each costs a kick from general and a deactivation
    held = HeldSync.objects.filter(state="held")
    assert held.count() == len(people) - len(deactivated)
    assert held_destructive_operations() == 2 * held.count()
    assert set(AccountLink.objects.filter(status="held").values_list("user_key", flat=True)) == set(
        held.values_list("user_key", flat=True))
    assert window_state()[0] == applied_destructive()
    assert fresh_stand_in.user("operator") is not None  # an additive sync in the same selection went through
    # The nightly path does not walk around it either: its plan is past the per-run limit, refused.
    run = run_reconcile(kind="nightly", triggered_by="test")
    assert run.status == "refused"
    assert len([u for u in people if fresh_stand_in.summary(u.username)[0] is False]) == len(deactivated)
    lines = "\n".join(status_lines())
    assert f"held syncs: {held.count()} person(s), {2 * held.count()} destructive change(s)" in lines
    assert "safety window: 10 destructive change(s) in the last 3600 s (limit 10)" in lines


def test_guard_hold_keeps_additive_changes_of_the_same_sync(fresh_stand_in) -> None:
    User.objects.bulk_create([User(username="otto", email="otto@example.org", role="owner")])
    otto = User.objects.get(username="otto")
    members(12)
    DestructiveSpend.objects.create(at=SyncRun.objects.latest("pk").started_at, count=LIMIT)  # the window is spent
    otto.role = "moderator"  # loses admin and vip (destructive), gains the moderator room role (additive)
    otto.save()
    assert sync_pending_user(str(otto.pk)).status == "synced"
    rc = fresh_stand_in.summary("otto")
    assert rc[1] == ("admin", "user") and "vip" in rc[2]  # held
    assert rc[3] is True  # moderator in general: applied
    hold = HeldSync.objects.get(user_key=str(otto.pk))
    assert hold.state == "held" and set(hold.operations) == {"kick vip", "remove_role admin"}
    assert AccountLink.objects.get(user_key=str(otto.pk)).status == "held"
    metrics = Client().get("/rcsync/metrics").content.decode()  # the gauge counts what is held
    assert "\nrcsync_held_destructive_operations 2.0\n" in metrics
    # A change taken back: the next sync plans nothing destructive for ida, and her hold goes.
    ida = User.objects.get(username="m00")
    ida.is_active = False
    ida.save()
    sync_pending_user(str(ida.pk))
    assert HeldSync.objects.filter(user_key=str(ida.pk)).exists()
    ida.is_active = True
    ida.save()
    sync_pending_user(str(ida.pk))
    assert not HeldSync.objects.filter(user_key=str(ida.pk)).exists()
    assert AccountLink.objects.get(user_key=str(ida.pk)).status == "synced"


def test_guard_release_command_applies_the_held_changes(fresh_stand_in) -> None:
    people = members(14)
    for user in people:
        user.is_active = False
        user.save()
        sync_pending_user(str(user.pk))
    held = list(HeldSync.objects.values_list("user_key", flat=True))
    assert applied_destructive() <= LIMIT and len(held) == len(people) - LIMIT // 2
    with pytest.raises(CommandError) as usage:
        call_command("rcsync", "release")
    assert usage.value.returncode == 64
    out = StringIO()
    call_command("rcsync", "release", people[-1].username, stdout=out)
    assert f"released {people[-1].pk} {people[-1].username}: deactivate" in out.getvalue()
    assert HeldSync.objects.get(user_key=str(people[-1].pk)).state == "released"
    out = StringIO()
    call_command("rcsync", "release", "--all", stdout=out)
    assert "rcsync release: %d sync(s) released" % (len(held) - 1) in out.getvalue()
    for key in held:
        assert sync_pending_user(key).status == "synced"
    assert all(fresh_stand_in.summary(u.username)[0] is False for u in people)
    assert not HeldSync.objects.exists() and held_destructive_operations() == 0
    assert window_state()[0] == 2 * len(people)  # released changes are counted too
    with pytest.raises(CommandError) as nothing:
        call_command("rcsync", "release", "--all", stderr=StringIO())
    assert nothing.value.returncode == 7


def test_guard_release_button_needs_the_start_permission_and_csrf(fresh_stand_in, broker) -> None:
    people = members(12)
    DestructiveSpend.objects.create(at=SyncRun.objects.latest("pk").started_at, count=LIMIT)
    victim = people[0]
    victim.is_active = False
    victim.save()
    sync_pending_user(str(victim.pk))
    hold = HeldSync.objects.get(user_key=str(victim.pk))
    url = f"{BASE}/heldsync/"
    viewer = staff("viewer", VIEW)
    page = viewer.get(url)
    assert page.status_code == 200 and victim.username in page.content.decode()
    csrf_post(viewer, url, {"action": "release_selected", "_selected_action": [hold.pk]})
    assert HeldSync.objects.get(pk=hold.pk).state == "held"  # the viewer has no such action
    operator = staff("operator", START)
    assert operator.post(url, {"action": "release_selected", "_selected_action": [hold.pk]}).status_code == 403  # no CSRF
    assert broker.sync_user_keys().count(str(victim.pk)) == 1  # the save's own message
    response = csrf_post(operator, url, {"action": "release_selected", "_selected_action": [hold.pk]})
    assert response.status_code == 302 and HeldSync.objects.get(pk=hold.pk).state == "released"
    assert broker.sync_user_keys().count(str(victim.pk)) == 2  # one person released: one message of their own
    assert sync_pending_user(str(victim.pk)).status == "synced"
    assert fresh_stand_in.summary(victim.username)[0] is False and not HeldSync.objects.exists()


def test_guard_release_applies_at_most_what_was_held(fresh_stand_in) -> None:
    User.objects.bulk_create([User(username="vera", email="vera@example.org", role="owner")])
    vera = User.objects.get(username="vera")
    members(12)
    DestructiveSpend.objects.create(at=SyncRun.objects.latest("pk").started_at, count=LIMIT)
    vera.role = "user"  # loses admin, vip and moderators: held
    vera.save()
    sync_pending_user(str(vera.pk))
    call_command("rcsync", "release", "vera", stdout=StringIO())
    vera.is_active = False  # after the review the plan grows (a deactivation): held again, nothing applied
    vera.save()
    sync_pending_user(str(vera.pk))
    hold = HeldSync.objects.get(user_key=str(vera.pk))
    assert hold.state == "held" and "the plan changed" in hold.reason and "deactivate" in " ".join(hold.operations)
    assert fresh_stand_in.summary("vera")[0] is True and "admin" in fresh_stand_in.summary("vera")[1]


def test_guard_full_reconcile_obeys_the_window(fresh_stand_in) -> None:
    people = members(12)
    DestructiveSpend.objects.create(at=SyncRun.objects.latest("pk").started_at, count=LIMIT - 2)
    User.objects.filter(pk__in=[u.pk for u in people[:3]]).update(is_active=False)
    User.objects.bulk_create([User(username="late", email="late@example.org")])
    run = run_reconcile(kind="nightly", triggered_by="test")
    # Budget 2: one deactivation (kick + deactivate) fits, the other two people are held; the newcomer is created.
    assert run.summary["held"] == 4 and HeldSync.objects.count() == 2
    assert [fresh_stand_in.summary(u.username)[0] for u in people[:3]].count(False) == 1
    assert fresh_stand_in.user("late") is not None
    assert "held for review: 4 destructive change(s)" in "\n".join(plan_summary_lines(run))
    # A person held earlier stays held in the next full reconcile, budget or not.
    DestructiveSpend.objects.all().delete()
    run_reconcile(kind="manual", triggered_by="test")
    assert [fresh_stand_in.summary(u.username)[0] for u in people[:3]].count(False) == 1


def test_guard_window_is_shared_by_concurrent_workers(fresh_stand_in) -> None:
    """Two workers admitting at once cannot both take the last of the budget (a transaction-level
    PostgreSQL advisory lock orders them); each thread has its own database connection."""
    members(12)
    DestructiveSpend.objects.create(at=SyncRun.objects.latest("pk").started_at, count=LIMIT - 6)
    answers: dict[str, frozenset] = {}
    barrier = threading.Barrier(2)

    def worker(site_id: str) -> None:
        try:
            guard = WindowGuard(SyncRun.objects.create(kind="change", scope=site_id), {})
            ops = tuple(KickFromRoom(site_id, f"u{site_id}", f"r{i}") for i in range(5)) + (SetActive(site_id, f"u{site_id}", False),)
            barrier.wait()
            answers[site_id] = guard.admit(ops, False).held
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in ("901", "902")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(len(h) for h in answers.values()) == [0, 1]  # one admitted (6 of 6 left), one held
    assert window_state()[0] == LIMIT


def test_guard_bulk_resync_is_capped(fresh_stand_in, broker, monkeypatch) -> None:
    members(5)
    monkeypatch.setattr(admin_actions, "RESYNC_LIMIT", 3)
    operator = staff("operator", START)
    keys = [u.pk for u in User.objects.all()]
    response = csrf_post(operator, f"{BASE}/accountlink/", {"action": "resync_now", "_selected_action": keys})
    page = operator.get(response["Location"]).content.decode()
    assert "takes at most 3 accounts at once; nothing was queued" in page
    assert broker.messages() == [] and not PendingSync.objects.exists()
