"""`manage.py rcsync health`: one line per check, the failing checks' bits as the exit code
(8 Rocket.Chat, 16 pending, 32 nightly), thresholds from options or RCSYNC["TASKS"]["HEALTH_*"]."""

from __future__ import annotations

import io
import os
import socket
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_hooks.models import AccountLink, PendingSync, SyncRun
from django_hooks.queue.pending import mark_pending
from django_hooks.rc import reset_client

pytestmark = pytest.mark.django_db(transaction=True)


def health(*args: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    try:
        call_command("rcsync", "health", *args, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        assert "\n" not in str(exc)
    return code, out.getvalue().splitlines()


def test_all_healthy_exits_0_with_one_line_per_check(stand_in) -> None:
    code, lines = health()
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == ["rocketchat", "pending", "nightly"]
    assert lines[0].startswith("rocketchat: ok:") and "logged in as rcsync-bot" in lines[0]
    assert lines[1] == "pending: ok: no pending sync"


def test_a_stuck_pending_sync_sets_16(stand_in, settings) -> None:
    mark_pending("777", "test")
    PendingSync.objects.update(first_requested_at=timezone.now() - timedelta(seconds=120))
    assert health()[0] == 0  # default limit (HEALTH_PENDING_MAX_AGE 900 s)
    code, lines = health("--max-pending-age", "60")
    assert code == 16 and lines[1].startswith("pending: FAIL: 1 pending, the oldest 12")
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "HEALTH_PENDING_MAX_AGE": 30}}
    assert health()[0] == 16


def test_an_overdue_nightly_run_sets_32(stand_in) -> None:
    link = AccountLink.objects.create(user_key="1", site_username="old", status="synced")
    assert health()[0] == 0  # a new install: nothing synced for a day yet
    AccountLink.objects.filter(pk=link.pk).update(created_at=timezone.now() - timedelta(days=3))
    code, lines = health()
    assert code == 32 and lines[2].startswith("nightly: FAIL: no nightly run ever")
    failed = SyncRun.objects.create(kind="nightly", scope="all", status="failed", finished_at=timezone.now())
    code, lines = health()
    assert code == 32 and f"#{failed.pk}, failed" in lines[2]
    good = SyncRun.objects.create(kind="nightly", scope="all", status="succeeded", finished_at=timezone.now())
    SyncRun.objects.filter(pk=good.pk).update(started_at=timezone.now() - timedelta(hours=25))
    assert health()[0] == 0  # within 24 h + the default grace of 2 h
    assert health("--nightly-grace", "1800")[0] == 32


def test_rocketchat_unreachable_sets_8_and_adds_up(stand_in, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("RCSYNC_RC_URL", f"http://127.0.0.1:{port}")
    reset_client()
    try:
        code, lines = health("--timeout", "1")
        assert code == 8 and lines[0].startswith("rocketchat: FAIL:") and "unreachable" in lines[0]
        mark_pending("778", "test")
        PendingSync.objects.update(first_requested_at=timezone.now() - timedelta(hours=1))
        assert health("--timeout", "1")[0] == 8 | 16
    finally:
        monkeypatch.undo()
        reset_client()


def test_a_refused_login_is_a_failing_rocketchat_check(stand_in, monkeypatch) -> None:
    monkeypatch.setenv("RCSYNC_RC_PASSWORD", "not-the-Pw-3")
    monkeypatch.setenv("RCSYNC_RC_KEY_PREFIX", "rcsync-health-test-no-shared-token")
    reset_client()
    try:
        code, lines = health()
        assert code == 8 and "refuses the service account" in lines[0]
        assert "not-the-Pw-3" not in "\n".join(lines)
    finally:
        monkeypatch.undo()
        reset_client()
