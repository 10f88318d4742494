"""One safety guard over every path: destructive operations add up across all runs in a sliding window.

The engine's per-run guard (``sync_tasks.safety.check_safety``) stops one run that takes too much
away. It cannot see a thousand single-person syncs of one deactivation each: a ``QuerySet.update()``
that sets everyone inactive followed by "Resync now" on all accounts, or a loop of ``user.save()``
calls, would deprovision the whole site one person at a time. So every run (single-person syncs
from signals, the admin, the CLI and drift, and full reconciles) is given :meth:`WindowGuard.admit`,
which counts the destructive operations it admits in :class:`~django_hooks.models.DestructiveSpend`
(PostgreSQL: shared by every worker, kept across restarts) and, past
``max(SAFETY.min_changes, SAFETY.ratio x linked accounts)`` in the last ``SAFETY.window`` seconds,
holds the person's destructive operations (a :class:`~django_hooks.models.HeldSync` row, shown in the
admin and ``rcsync status``) while their additive ones and everyone else's changes go on. A person
with a hold stays held on every path until an admin releases it (``django_hooks.holds.release``).

A forced run (an admin confirmed the preview) is admitted past the window, but still counted, and it
does not release anyone held: only a release does.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connections, router, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from django_hooks.conf import engine_config
from django_hooks.models import AccountLink, DestructiveSpend, HeldSync, SyncRun
from django_hooks.run_rows import delete_holds
from sync_tasks.ops import DESTRUCTIVE_KINDS, Operation, is_destructive, op_kind
from sync_tasks.person import site_sort_key
from sync_tasks.safety import Admission

__all__ = ["WindowGuard", "window_state", "describe_op"]

#: pg_advisory_xact_lock key of the window ("rcsync" in ASCII): admissions of all workers queue on it.
_LOCK_KEY = 0x7263_7379_6E63


def describe_op(op: Operation) -> str:
    """An operation as a held row shows it ("kick vip", "deactivate <id>")."""
    return f"{op_kind(op)} {op.target}"


def managed_people() -> int:
    """People rcsync manages for the window's limit: accounts linked to a site user."""
    return AccountLink.objects.exclude(rc_user_id="").count()


def window_state(now: Any = None) -> tuple[int, int, float]:
    """(destructive operations in the window, its limit, the window's seconds), for status and pages."""
    safety = engine_config().safety
    now = now or timezone.now()
    spent = DestructiveSpend.objects.filter(at__gte=now - timedelta(seconds=safety.window)).aggregate(
        n=Sum("count"))["n"] or 0
    return spent, safety.limit(managed_people()), safety.window


def _lock_window() -> None:
    """Serialize admissions across processes for the rest of the transaction. On PostgreSQL an advisory
    lock; SQLite (the demo's fallback) serializes writing transactions itself, and the admission writes
    before it reads the total."""
    connection = connections[router.db_for_write(DestructiveSpend)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


class WindowGuard:
    """The ``admit`` callback of one run, and what it settles afterwards (see the module docstring)."""

    def __init__(self, run: SyncRun, usernames: dict[str, str]) -> None:
        self.run = run
        self.usernames = usernames
        self.spend_ids: list[int] = []
        self.released: set[str] = set()

    def admit(self, ops: tuple[Operation, ...], force: bool) -> Admission:
        """Which people's destructive operations wait for a review. Called by the engine before any write."""
        by_person: dict[str, list[Operation]] = {}
        for op in ops:
            by_person.setdefault(op.site_id or "", []).append(op)
        safety = engine_config().safety
        now = timezone.now()
        held: set[str] = set()
        with transaction.atomic():
            _lock_window()
            reservation = DestructiveSpend.objects.create(at=now, count=0, run=self.run, forced=force)
            self.spend_ids.append(reservation.pk)
            start = now - timedelta(seconds=safety.window)
            DestructiveSpend.objects.filter(at__lt=start).delete()  # out of the window: the ledger stays small
            spent = DestructiveSpend.objects.filter(at__gte=start).aggregate(n=Sum("count"))["n"] or 0
            limit = safety.limit(managed_people())
            holds = {h.user_key: h for h in HeldSync.objects.select_for_update().filter(user_key__in=list(by_person))}
            admitted = 0
            for site_id in sorted(by_person, key=site_sort_key):
                mine = by_person[site_id]
                described = sorted(describe_op(op) for op in mine)
                hold = holds.get(site_id)
                if hold is not None and hold.state == HeldSync.State.RELEASED and set(described) <= set(hold.operations):
                    admitted += len(mine)  # reviewed: applied whatever the window says, and counted
                    self.released.add(site_id)
                    continue
                if hold is None and (force or spent + admitted + len(mine) <= limit):
                    admitted += len(mine)
                    continue
                held.add(site_id)
                if hold is None:
                    why = _("%(spent)d destructive change(s) in the last %(window)s s; limit %(limit)d = "
                            "max(%(min)d, %(ratio)s x linked accounts)") % {
                        "spent": spent + admitted, "window": f"{safety.window:g}", "limit": limit,
                        "min": safety.min_changes, "ratio": f"{safety.ratio:g}"}
                elif hold.state == HeldSync.State.HELD:
                    why = hold.reason or _("held earlier; waiting for a release")
                else:
                    why = _("the plan changed after the release: review it again")
                self._hold(site_id, described, why, hold, now)
            DestructiveSpend.objects.filter(pk=reservation.pk).update(count=admitted)
        return Admission(held=frozenset(held))

    def _hold(self, site_id: str, described: list[str], why: str, hold: HeldSync | None, now: Any) -> None:
        values = dict(username=self.usernames.get(site_id, "")[:255], state=HeldSync.State.HELD,
                      operations=described, count=len(described), reason=why[:2000], run=self.run,
                      released_at=None, released_by="")
        if hold is None:
            HeldSync.objects.create(user_key=site_id, held_at=now, **values)
        else:
            HeldSync.objects.filter(pk=hold.pk).update(updated_at=now, **values)

    def settle(self, report: Any) -> None:
        """After the run: count what was applied rather than what was admitted (a failed or retried
        operation must not use the window up twice), and drop the holds that are done or no longer
        wanted. Call inside the transaction that records the run."""
        applied = sum(n for kind, n in report.applied.items() if kind in DESTRUCTIVE_KINDS)
        if self.spend_ids:
            DestructiveSpend.objects.filter(pk=self.spend_ids[0]).update(count=applied)
            DestructiveSpend.objects.filter(pk__in=self.spend_ids[1:]).delete()
        if report.stopped_by_safety or report.dry_run:
            return
        held = {op.site_id for op in report.held}
        done = [r.site_id for r in report.results if r.site_id not in held and _finished(r)]
        if done:
            delete_holds(done)  # one fixed DELETE (django_hooks.run_rows), not the ORM's collector


def _finished(result: Any) -> bool:
    """The person's sync left nothing destructive undone (then a hold of theirs is obsolete)."""
    if result.status not in ("synced", "deactivated", "deleted", "skipped"):
        return False
    return not any(is_destructive(o.op) and not o.ok for o in result.outcomes)
