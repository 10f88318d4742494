"""`rcsync health`: three yes/no checks for a liveness probe or a cron check, one line each.

* Rocket.Chat answers and the service account is logged in (one `me` call, no retries, short timeout);
* no pending sync is older than a threshold (a stuck worker, a dead broker, a Rocket.Chat outage);
* the nightly reconcile succeeded within the last 24 h plus a grace period.

Each failing check sets its bit in the exit code (`EXIT_BITS`), so one run tells a probe *what* is
wrong; the thresholds default to ``RCSYNC["TASKS"]["HEALTH_*"]``. It reads and never writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Min
from django.utils import timezone
from django.utils.translation import gettext as _

__all__ = ["HealthCheck", "EXIT_BITS", "check_rocketchat", "check_pending", "check_nightly", "exit_code"]

EXIT_BITS = {"rocketchat": 8, "pending": 16, "nightly": 32}
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class HealthCheck:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        # "<name>: ok|FAIL:" stays English in every language (probes and cron checks grep it); the detail is translated.
        return f"{self.name}: {'ok' if self.ok else 'FAIL'}: {self.detail}"


def exit_code(results: list[HealthCheck]) -> int:
    """Pure: the OR of the failing checks' bits (0 when all pass)."""
    code = 0
    for result in results:
        if not result.ok:
            code |= EXIT_BITS[result.name]
    return code


def check_rocketchat(timeout: float) -> HealthCheck:
    """One `me` call through a client of its own: no retries, `timeout` seconds, the shared login token."""
    from bridge.client import RocketChat
    from bridge.errors import AuthError, RocketChatError, TwoFactorError
    from django_hooks.metrics import observe_call
    from django_hooks.rc import bridge_config

    config = bridge_config().with_(max_retries=0, timeout=timeout, connect_timeout=timeout,
                                   max_rate_limit_wait=timeout)
    rc = RocketChat(config, observer=observe_call)
    try:
        me = rc.me()
    except (AuthError, TwoFactorError) as exc:
        return HealthCheck("rocketchat", False, _("%(url)s answers but refuses the service account: %(error)s")
                           % {"url": config.url, "error": type(exc).__name__})
    except RocketChatError as exc:
        return HealthCheck("rocketchat", False, _("%(url)s unreachable (%(error)s)")
                           % {"url": config.url, "error": type(exc).__name__})
    finally:
        rc.close()
    return HealthCheck("rocketchat", True, _("%(url)s answers, logged in as %(user)s")
                       % {"url": config.url, "user": me.username})


def check_pending(max_age: float, now: datetime | None = None) -> HealthCheck:
    from django_hooks.models import PendingSync

    now = now or timezone.now()
    found = PendingSync.objects.aggregate(n=Count("id"), oldest=Min("first_requested_at"))
    if not found["n"]:
        return HealthCheck("pending", True, _("no pending sync"))
    age = (now - found["oldest"]).total_seconds()
    detail = _("%(n)d pending, the oldest %(age).0f s old (limit %(limit).0f s)") % {
        "n": found["n"], "age": age, "limit": max_age}
    return HealthCheck("pending", age <= max_age, detail)


def check_nightly(grace: float, now: datetime | None = None) -> HealthCheck:
    """Overdue: no nightly run succeeded (fully or partly) in the last 24 h + grace. A site that has not
    synced anyone for that long yet (a new install) is not overdue."""
    from django_hooks.models import AccountLink, SyncRun

    now = now or timezone.now()
    limit = DAY + timedelta(seconds=grace)
    nightly = SyncRun.objects.filter(kind=SyncRun.Kind.NIGHTLY, dry_run=False, finished_at__isnull=False)
    good = nightly.filter(status__in=[SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL]).order_by("-started_at").first()
    if good is not None:
        age = now - good.started_at
        detail = _("last nightly run #%(pk)s %(status)s %(hours).1f h ago (limit %(limit).1f h)") % {
            "pk": good.pk, "status": good.status, "hours": age.total_seconds() / 3600,
            "limit": limit.total_seconds() / 3600}
        return HealthCheck("nightly", age <= limit, detail)
    since = AccountLink.objects.aggregate(first=Min("created_at"))["first"]
    if since is None or now - since <= limit:
        return HealthCheck("nightly", True, _("no nightly run yet (nothing synced long enough for one to be due)"))
    last = nightly.order_by("-started_at").first()
    if last is not None:
        return HealthCheck("nightly", False, _("no nightly run succeeded; the last one, #%(pk)s, %(status)s")
                           % {"pk": last.pk, "status": last.status})
    return HealthCheck("nightly", False, _("no nightly run ever, although accounts are synced since %(since)s")
                       % {"since": f"{timezone.localtime(since):%Y-%m-%d %H:%M}"})
