"""`manage.py rcsync check | bootstrap | status | health | sync USER... | reconcile [--dry-run] [--force] [--yes] | listen`.

Every expected failure ends in one line on stderr and an exit code of its own (no traceback), so a
script, a probe or a cron check can tell them apart; docs/operations.md lists them:

====  ============================================================================================
0     done / healthy
1     the work ran and something failed (a user's sync, a reconcile)
2     ``check`` found problems (listed above the last line)
3     another full reconcile is running
4     the plan is past the safety threshold (review it, then ``--force``)
5     not a terminal: pass ``--yes``
6     cancelled at the prompt
8,16,32  ``health``: Rocket.Chat, pending syncs, nightly run failing (added up when several fail)
64    bad arguments (unknown subcommand or option, a USER that is no site user)
69    Rocket.Chat unreachable
75    the database or Redis unavailable (try again later)
77    Rocket.Chat refuses the service account (login, 2FA or a permission)
78    configuration: an invalid RCSYNC block or no usable service account (``manage.py check`` says more)
====  ============================================================================================
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from redis.exceptions import RedisError

from bridge.config import ConfigError as BridgeConfigError
from bridge.errors import AuthError, OutcomeUnknown, PermissionDenied, RocketChatError, TwoFactorError, Unavailable
from django_hooks.conf import engine_config, hook_settings
from django_hooks.drift import listen_forever
from django_hooks.health import check_nightly, check_pending, check_rocketchat, exit_code
from django_hooks.models import AccountLink
from django_hooks.preflight import run_bootstrap, run_check
from django_hooks.progress import Progress
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.worker import sync_pending_user
from django_hooks.runs import ReconcileBusy, plan_summary_lines, run_reconcile
from django_hooks.rc import client
from django_hooks.status import status_lines
from sync_tasks.config import ConfigError

EXIT_FAILED, EXIT_CHECK, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_SERVICE, EXIT_REFUSED, EXIT_CONFIG = 1, 2, 64, 69, 75, 77, 78


def _one_line_error(parser: CommandParser, message: str) -> None:
    """argparse prints the usage block and exits 2; from the command line, say one line and exit 64.
    Called from code (`call_command`), raise CommandError with that code instead."""
    if not getattr(parser, "called_from_command_line", False):
        raise CommandError(_("Error: %(message)s") % {"message": message}, returncode=EXIT_USAGE)
    parser.exit(EXIT_USAGE, _("%(prog)s: error: %(message)s (see --help)") % {"prog": parser.prog, "message": message} + "\n")


class _OneLineParser(CommandParser):
    """The subcommands' parser (`add_subparsers(parser_class=...)`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _one_line_error(self, message)


def as_one_line(exc: BaseException) -> CommandError:
    """An expected failure as one line with its exit code; anything else is re-raised (a bug keeps its traceback)."""
    message, code = _describe(exc)
    return CommandError(" ".join(message.split()), returncode=code)


def _describe(exc: BaseException) -> tuple[str, int]:
    if isinstance(exc, ConfigError):
        return _("invalid RCSYNC settings: %(problems)s (run manage.py check)") % {
            "problems": "; ".join(exc.problems)}, EXIT_CONFIG
    if isinstance(exc, ImproperlyConfigured):
        return _("invalid settings: %(error)s (run manage.py check)") % {"error": exc}, EXIT_CONFIG
    if isinstance(exc, BridgeConfigError):
        return _("no usable Rocket.Chat service account: %(error)s (set RCSYNC_RC_*; manage.py check says more)") % {
            "error": exc}, EXIT_CONFIG
    if isinstance(exc, (Unavailable, OutcomeUnknown)):
        return _("Rocket.Chat unreachable: %(error)s") % {"error": exc}, EXIT_UNAVAILABLE
    if isinstance(exc, (AuthError, TwoFactorError, PermissionDenied)):
        return _("Rocket.Chat refuses the service account: %(kind)s: %(error)s") % {
            "kind": type(exc).__name__, "error": exc}, EXIT_REFUSED
    if isinstance(exc, (DatabaseError, RedisError)):
        first = (str(exc).strip().splitlines() or [""])[0]
        service = _("the database") if isinstance(exc, DatabaseError) else _("Redis")
        return _("%(service)s unavailable: %(kind)s: %(error)s") % {
            "service": service, "kind": type(exc).__name__, "error": first}, EXIT_SERVICE
    if isinstance(exc, RocketChatError):
        return _("Rocket.Chat error: %(kind)s: %(error)s") % {"kind": type(exc).__name__, "error": exc}, EXIT_FAILED
    raise exc


class Command(BaseCommand):
    help = gettext_lazy("Keep the site's people provisioned in Rocket.Chat (rcsync).")
    # The checks' warnings (e.g. no secrets in a build step) would precede every run; configuration
    # errors still stop each subcommand, as one line with exit code 78 (`as_one_line`).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.error = lambda message: _one_line_error(parser, message)  # type: ignore[method-assign]
        sub = parser.add_subparsers(dest="action", required=True, metavar="SUBCOMMAND", parser_class=_OneLineParser)
        sub.add_parser("check", help=_("reach Rocket.Chat, log in, report missing permissions, rooms and roles"))
        sub.add_parser("bootstrap", help=_("create missing managed rooms and roles, and the nightly periodic task"))
        sub.add_parser("status", help=_("links by status, pending syncs, last runs"))
        health = sub.add_parser("health", help=_("is Rocket.Chat reachable, is a pending sync stuck, is the nightly run overdue"))
        health.add_argument("--max-pending-age", type=float, metavar="SECONDS",
                            help=_("fail when a pending sync is older (default RCSYNC TASKS HEALTH_PENDING_MAX_AGE)"))
        health.add_argument("--nightly-grace", type=float, metavar="SECONDS",
                            help=_("fail when no nightly run succeeded for 24 h + this (default HEALTH_NIGHTLY_GRACE)"))
        health.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                            help=_("how long to wait for Rocket.Chat (default 5)"))
        sync = sub.add_parser("sync", help=_("sync these site users now (usernames or primary keys)"))
        sync.add_argument("users", nargs="+", metavar="USER")
        sync.add_argument("--queue", action="store_true", help=_("hand them to the Celery workers instead"))
        rec = sub.add_parser("reconcile", help=_("full reconciliation of every site user"))
        rec.add_argument("--dry-run", action="store_true", help=_("print the plan summary, change nothing"))
        rec.add_argument("--force", action="store_true", help=_("go past the safety threshold"))
        rec.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
        sub.add_parser("listen", help=_("follow Rocket.Chat's change feed and repair drift"))

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            hook_settings()  # a broken RCSYNC block refuses every subcommand but `status`, as one line
            if action != "status":
                engine_config()
            getattr(self, f"do_{action}")(**options)
        except CommandError:
            raise
        except (ConfigError, ImproperlyConfigured, BridgeConfigError, RocketChatError, DatabaseError,
                RedisError) as exc:
            raise as_one_line(exc) from None

    # --- check / bootstrap ------------------------------------------------------------------------

    def do_check(self, **options: Any) -> None:
        client().me()  # unreachable (69) or refused (77) is its own exit code, not a problem line
        report = run_check()
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(_("rcsync check found problems (see above)"), returncode=EXIT_CHECK)
        self.stdout.write(self.style.SUCCESS(_("rcsync check: OK")))

    def do_bootstrap(self, **options: Any) -> None:
        for line in run_bootstrap():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(_("rcsync bootstrap: done")))

    # --- status -----------------------------------------------------------------------------------

    def do_status(self, **options: Any) -> None:
        for line in status_lines():
            self.stdout.write(line)

    # --- health -----------------------------------------------------------------------------------

    def do_health(self, max_pending_age: float | None = None, nightly_grace: float | None = None,
                  timeout: float = 5.0, **options: Any) -> None:
        cfg = hook_settings()
        results = [
            check_rocketchat(timeout),
            check_pending(cfg.health_pending_max_age if max_pending_age is None else max_pending_age),
            check_nightly(cfg.health_nightly_grace if nightly_grace is None else nightly_grace),
        ]
        for result in results:
            self.stdout.write(result.line())
        code = exit_code(results)
        if code:
            failed = ", ".join(r.name for r in results if not r.ok)
            raise CommandError(_("rcsync health: failing: %(checks)s") % {"checks": failed}, returncode=code)

    # --- sync USER... -----------------------------------------------------------------------------

    def _user_keys(self, names: list[str]) -> list[str]:
        User = get_user_model()
        keys, missing = [], []
        for name in names:
            user = User._default_manager.filter(**{User.USERNAME_FIELD: name}).first()
            if user is None:
                try:
                    user = User._default_manager.filter(pk=User._meta.pk.to_python(name)).first()
                except Exception:
                    user = None
            if user is None:
                missing.append(name)
            else:
                keys.append(str(user.pk))
        if missing:
            raise CommandError(ngettext("no such site user: %(names)s", "no such site users: %(names)s", len(missing))
                               % {"names": ", ".join(missing)}, returncode=EXIT_USAGE)
        return keys

    def do_sync(self, users: list[str], queue: bool = False, **options: Any) -> None:
        failed = 0
        for key in self._user_keys(users):
            mark_pending(key, "manual: rcsync sync")
            if queue:
                self.stdout.write(_("user %(key)s: queued") % {"key": key})
                continue
            outcome = sync_pending_user(key)
            while outcome.status == "busy":  # a worker is on it right now: wait our turn
                time.sleep(outcome.retry_in or 0.2)
                outcome = sync_pending_user(key)
            link = AccountLink.objects.filter(user_key=key).first()
            detail = (_("%(status)s as %(username)s") % {"status": str(link.get_status_display()).lower(), "username": link.rc_username or "-"}
                      if link else _("no account"))
            if link and link.last_error:
                detail += f" ({link.last_error})"
            self.stdout.write(_("user %(key)s: %(outcome)s, %(detail)s") % {"key": key, "outcome": outcome.status, "detail": detail})
            if outcome.status in ("retry", "failed") or (link and link.status in ("error", "conflict")):
                failed += 1
        if failed:
            raise CommandError(ngettext("%(count)d user could not be synced", "%(count)d users could not be synced", failed)
                               % {"count": failed}, returncode=1)

    # --- reconcile --------------------------------------------------------------------------------

    def do_reconcile(self, dry_run: bool = False, force: bool = False, yes: bool = False, **options: Any) -> None:
        triggered_by = "manage.py rcsync reconcile"
        try:
            preview = run_reconcile(kind="manual", dry_run=True, force=force, triggered_by=triggered_by,
                                    on_progress=Progress(self.stderr, _("reading")))
        except ReconcileBusy as exc:
            raise CommandError(str(exc), returncode=3) from None
        for line in plan_summary_lines(preview):
            self.stdout.write(line)
        if preview.status == preview.Status.FAILED:
            unreachable = preview.error.startswith(("Unavailable", "OutcomeUnknown"))
            raise CommandError(" ".join((_("reconcile failed: %(error)s") % {"error": preview.error}).split()),
                               returncode=EXIT_UNAVAILABLE if unreachable else EXIT_FAILED)
        if dry_run:
            return
        if preview.status == preview.Status.REFUSED and not force:
            raise CommandError(_("refusing: the plan is past the safety threshold; review it and pass --force"), returncode=4)
        total = sum(preview.counts.values())
        if total == 0:
            self.stdout.write(_("nothing to do"))
            return
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError(_("not a terminal: pass --yes to apply the plan"), returncode=5)
            answer = input(ngettext("apply %(count)d operation? [y/N] ", "apply %(count)d operations? [y/N] ", total)
                           % {"count": total}).strip().lower()
            # "y"/"yes" in any language, plus the translated answer ("д", "да" in Russian).
            if answer not in ("y", "yes", _("y"), _("yes")):
                raise CommandError(_("cancelled"), returncode=6)
        progress = Progress(self.stderr, _("applying"))
        run = run_reconcile(kind="manual", dry_run=False, force=force, triggered_by=triggered_by, on_progress=progress)
        progress.finish()
        for line in plan_summary_lines(run):
            self.stdout.write(line)
        if run.status not in (run.Status.SUCCEEDED,):
            raise CommandError(_("reconcile finished with status %(status)s") % {"status": run.status}, returncode=1)

    # --- listen -----------------------------------------------------------------------------------

    def do_listen(self, **options: Any) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            # Not translated: scripts and tests wait for this exact line (scripts/demo_run.py, tests/e2e).
            await listen_forever(stop=stop, on_ready=lambda ctx: self.stdout.write("rcsync listen: ready") or self.stdout.flush())

        asyncio.run(main())
