"""The Django side driving the real engine against the stand-in, in-process (no Celery): what a
`sync_user` task and `rcsync reconcile` record — runs, audit rows, links — and the run-level guards."""

from __future__ import annotations

import io
import logging
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from django_hooks.queue import locks
from django_hooks.models import AccountLink, PendingSync, SyncOperation, SyncRun
from django_hooks.runs import ReconcileBusy, run_reconcile
from django_hooks.queue.worker import sync_pending_user

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def sync(user) -> str:
    return sync_pending_user(str(user.pk)).status


def test_change_sync_records_run_audit_and_link(stand_in) -> None:
    owner = User.objects.create_user("olga", "olga@example.org", "pw", role="owner", first_name="Olga")
    assert sync(owner) == "synced"
    assert stand_in.summary("olga") == (True, ("admin", "user"), ("general", "moderators", "vip"), False)
    link = AccountLink.objects.get(user_key=str(owner.pk))
    assert link.status == "synced" and link.created_by_bridge and link.rc_user_id == stand_in.user("olga")["_id"]
    assert link.user_id == owner.pk and link.last_synced_at is not None
    run = SyncRun.objects.get(kind="change", scope=str(owner.pk))
    assert run.status == "succeeded" and run.counts.get("create_user") == 1 and run.finished_at
    ops = set(SyncOperation.objects.filter(run=run).values_list("operation", "target", "outcome"))
    assert ("invite", "vip", "applied") in ops and ("create_user", "olga", "applied") in ops
    assert not PendingSync.objects.exists()

    owner.role = "moderator"
    owner.save()
    assert sync(owner) == "synced"
    assert stand_in.summary("olga") == (True, ("user",), ("general", "moderators"), True)
    assert sync(owner) == "nothing-pending"


def test_vip_group_deactivate_and_delete(stand_in) -> None:
    user = User.objects.create_user("victor", "victor@example.org", "pw")
    sync(user)
    user.groups.add(Group.objects.get_or_create(name="vip")[0])
    sync(user)
    assert stand_in.summary("victor")[2] == ("general", "vip")
    user.is_active = False
    user.save()
    sync(user)
    assert stand_in.summary("victor")[0] is False
    assert AccountLink.objects.get(user_key=str(user.pk)).status == "deactivated"
    user.is_active = True
    user.save()
    sync(user)
    assert stand_in.summary("victor") == (True, ("user",), ("general", "vip"), False)
    key = str(user.pk)
    user.delete()
    assert sync_pending_user(key).status == "synced"
    assert stand_in.summary("victor")[0] is False
    link = AccountLink.objects.get(user_key=key)
    assert link.status == "deactivated" and link.user_id is None


def test_rocketchat_outage_is_retried_then_converges(stand_in) -> None:
    user = User.objects.create_user("ursula", "ursula@example.org", "pw")
    stand_in.server.faults.outage(30, "503")
    try:
        outcome = sync_pending_user(str(user.pk))
    finally:
        stand_in.server.faults.clear()
    assert outcome.status == "retry" and outcome.retry_in > 0
    row = PendingSync.objects.get(user_key=str(user.pk))
    assert row.state == "retrying" and "Unavailable" in row.last_error
    assert SyncRun.objects.get(scope=str(user.pk)).status == "failed"
    assert sync(user) == "synced"
    assert stand_in.summary("ursula")[0] is True


def test_interrupted_run_is_closed_by_the_next_sync(stand_in) -> None:
    user = User.objects.create_user("ivy", "ivy@example.org", "pw")
    stale = SyncRun.objects.create(kind="change", scope=str(user.pk), triggered_by="killed worker")
    PendingSync.objects.filter(user_key=str(user.pk)).update(attempts=1, state="running")  # claimed, then killed
    sync(user)
    stale.refresh_from_db()
    assert stale.status == "failed" and "interrupted" in stale.error


def test_reconcile_dry_run_lock_and_nightly_dedupe(stand_in) -> None:
    user = User.objects.create_user("rita", "rita@example.org", "pw")
    PendingSync.objects.all().delete()  # only the reconcile may touch her
    preview = run_reconcile(kind="manual", dry_run=True, triggered_by="test")
    assert preview.status == "planned" and preview.counts.get("create_user", 0) >= 1
    assert stand_in.user("rita") is None
    with locks.held("reconcile"):
        with pytest.raises(ReconcileBusy):
            run_reconcile(kind="nightly")
    first = run_reconcile(kind="nightly", triggered_by="beat")
    assert first is not None and first.status == "succeeded"
    assert stand_in.summary("rita")[0] is True
    assert run_reconcile(kind="nightly", triggered_by="beat") is None  # the second beat's trigger
    assert SyncRun.objects.filter(kind="nightly").count() == 1
    first.status = "failed"
    first.save()
    again = run_reconcile(kind="nightly", triggered_by="beat retry")  # a failed night may be tried again
    assert again is not None and again.status == "succeeded"


def test_reconcile_command_safety_threshold(stand_in) -> None:
    users = [User.objects.create_user(f"sam{i:02}", f"sam{i:02}@example.org", "pw") for i in range(12)]
    call_command("rcsync", "reconcile", "--yes", stdout=io.StringIO(), stderr=io.StringIO())
    assert all(stand_in.summary(u.username)[0] for u in users)
    User.objects.filter(username__startswith="sam").update(is_active=False)  # no signals: only a reconcile sees it
    out = io.StringIO()
    with pytest.raises(CommandError, match="safety threshold"):
        call_command("rcsync", "reconcile", "--yes", stdout=out, stderr=io.StringIO())
    assert "limit 10" in out.getvalue()
    assert all(stand_in.summary(u.username)[0] for u in users)  # nothing was written
    out = io.StringIO()
    call_command("rcsync", "reconcile", "--yes", "--force", stdout=out, stderr=io.StringIO())
    assert not any(stand_in.summary(u.username)[0] for u in users)
    forced = SyncRun.objects.get(dry_run=False, force=True)  # recorded with who forced, bounded by the plan shown
    assert forced.summary["forced_by"].startswith("cli:") and "forced by cli:" in out.getvalue()


def test_forced_command_applies_at_most_the_plan_it_printed(stand_in, monkeypatch) -> None:
    """Issue 14, M1 on the command line: the site changes while the prompt waits; --force stops."""
    users = [User.objects.create_user(f"kim{i:02}", f"kim{i:02}@example.org", "pw") for i in range(15)]
    call_command("rcsync", "reconcile", "--yes", stdout=io.StringIO(), stderr=io.StringIO())
    User.objects.filter(username__in=[u.username for u in users[:12]]).update(is_active=False)

    def answer_after_more_leave(prompt: str) -> str:
        User.objects.filter(username__startswith="kim").update(is_active=False)  # three more, unreviewed
        return "y"

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    monkeypatch.setattr("builtins.input", answer_after_more_leave)
    out = io.StringIO()
    with pytest.raises(CommandError, match="changed since its preview") as caught:
        call_command("rcsync", "reconcile", "--force", stdout=out, stderr=io.StringIO())
    assert caught.value.returncode == 4
    assert all(stand_in.summary(u.username)[0] for u in users)  # nothing was written


def test_reconcile_needs_yes_when_not_interactive(stand_in, monkeypatch) -> None:
    User.objects.create_user("nina", "nina@example.org", "pw")
    PendingSync.objects.all().delete()
    monkeypatch.setattr("sys.stdin", io.StringIO())
    with pytest.raises(CommandError, match="--yes"):
        call_command("rcsync", "reconcile", stdout=io.StringIO(), stderr=io.StringIO())
    assert stand_in.user("nina") is None


def test_sync_and_status_commands(stand_in) -> None:
    User.objects.create_user("carl", "carl@example.org", "pw")
    out = io.StringIO()
    call_command("rcsync", "sync", "carl", stdout=out)
    assert "synced" in out.getvalue() and stand_in.user("carl") is not None
    with pytest.raises(CommandError, match="no such site user"):
        call_command("rcsync", "sync", "nobody-here", stdout=io.StringIO())
    out = io.StringIO()
    call_command("rcsync", "status", stdout=out)
    text = out.getvalue()
    assert "synced" in text and "pending syncs: 0" in text


def test_no_secret_in_logs_runs_or_audit(stand_in, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    user = User.objects.create_user("sid", "sid@example.org", "pw", role="owner")
    stand_in.server.faults.fail_next("users.info", 1, 500)
    sync(user)
    sync(user)
    stored = " ".join(
        [r.error + repr(r.summary) for r in SyncRun.objects.all()]
        + [o.error for o in SyncOperation.objects.all()]
        + [link.last_error for link in AccountLink.objects.all()]
    )
    for secret in stand_in.secrets:
        assert secret not in caplog.text
        assert secret not in stored


def test_check_reports_missing_rooms_then_bootstrap_creates_them(fresh_stand_in) -> None:
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.all().delete()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("rcsync", "check", stdout=out)
    text = out.getvalue()
    assert "managed room 'vip' does not exist" in text and "managed room 'moderators' does not exist" in text
    assert "logged in as rcsync-bot" in text
    out = io.StringIO()
    call_command("rcsync", "bootstrap", stdout=out)
    assert "create_room: planned 2, applied 2" in out.getvalue()
    assert PeriodicTask.objects.filter(task="rcsync.reconcile_all").exists()
    out = io.StringIO()
    call_command("rcsync", "check", stdout=out)  # rooms now exist and the service account owns them
    assert "MISSING" not in out.getvalue(), out.getvalue()


def test_check_names_missing_permissions(fresh_stand_in) -> None:
    state = fresh_stand_in.server.state
    state.revoke_permission("remove-user", "admin")
    state.create_room("vip", "p", owner="rcsync-bot")
    state.create_room("moderators", "p", owner=None)  # exists, but the service account is not in it
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("rcsync", "check", stdout=out)
    text = out.getvalue()
    assert "permission 'remove-user'" in text
    assert "private room 'moderators' exists but the service account is not a member" in text
    assert "permission 'add-user-to-any-p-room'" in text
