"""H2 (b) with real processes: 27 `user.save()` deactivations in a row through the signal path, synced
by a Celery worker process on this run's database and Redis. Before the window guard each single sync
passed the per-run limit (22 of 27 were deactivated); now at most the window's limit of destructive
operations is applied, the rest is held, and `rcsync release --all` lets the worker apply them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from django_hooks.models import HeldSync, SyncOperation
from e2e_support import settled, wait_until
from sync_tasks.ops import DESTRUCTIVE_KINDS

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
DEADLINE = 90
LIMIT = 10  # max(SAFETY.min_changes=10, 0.10 x 27 linked accounts)
#: The real window for these workers (tests/e2e/conftest.py lifts it for every other module).
WORKER_ENV = {"RCSYNC_SAFETY_MIN_CHANGES": str(LIMIT)}


def state() -> str:
    """What the database says, for a failure message: pending rows, runs by status, holds."""
    from django_hooks.models import PendingSync, SyncRun

    runs = list(SyncRun.objects.order_by("pk").values_list("kind", "scope", "status", "error"))
    return (f"pending {list(PendingSync.objects.values_list('user_key', flat=True))}; "
            f"holds {list(HeldSync.objects.values_list('user_key', 'state'))}; runs {runs}")


def test_guard_save_loop_is_held_past_the_window_and_released_by_the_command(stand_in, worker) -> None:
    users = [User.objects.create_user(f"g{i:02}", f"g{i:02}@example.org", "pw") for i in range(27)]
    wait_until(lambda: settled() and all(stand_in.summary(u.username) == (True, ("user",), ("general",), False)
                                         for u in users), DEADLINE, lambda: f"accounts created:\n{worker.log()[-2000:]}")
    for user in users:
        user.is_active = False
        user.save()

    def inactive() -> list[str]:
        return [u.username for u in users if stand_in.summary(u.username)[0] is False]

    wait_until(lambda: settled() and len(inactive()) + HeldSync.objects.count() == len(users), DEADLINE,
               lambda: f"{len(inactive())} deactivated, {HeldSync.objects.count()} held; {state()}\n{worker.log()[-2000:]}")
    applied = SyncOperation.objects.filter(operation__in=DESTRUCTIVE_KINDS, outcome="applied").count()
    assert applied <= LIMIT and 0 < len(inactive()) <= LIMIT // 2  # a kick from general + a deactivation each
    assert HeldSync.objects.filter(state="held").count() == len(users) - len(inactive())

    out = StringIO()
    call_command("rcsync", "release", "--all", stdout=out)
    assert f"{HeldSync.objects.count()} sync(s) released" in out.getvalue()
    wait_until(lambda: settled() and len(inactive()) == len(users) and not HeldSync.objects.exists(), DEADLINE,
               lambda: f"released syncs applied ({len(inactive())} deactivated):\n{worker.log()[-2000:]}")
    for secret in stand_in.secrets:
        assert secret not in worker.log()
