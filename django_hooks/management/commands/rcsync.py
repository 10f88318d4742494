"""`manage.py rcsync check | bootstrap | status | sync USER... | reconcile [--dry-run] [--force] [--yes] | listen`."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_hooks.drift import listen_forever
from django_hooks.models import AccountLink
from django_hooks.preflight import run_bootstrap, run_check
from django_hooks.progress import Progress
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.worker import sync_pending_user
from django_hooks.runs import ReconcileBusy, plan_summary_lines, run_reconcile
from django_hooks.status import status_lines


class Command(BaseCommand):
    help = "Keep the site's people provisioned in Rocket.Chat (rcsync)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="SUBCOMMAND")
        sub.add_parser("check", help="reach Rocket.Chat, log in, report missing permissions, rooms and roles")
        sub.add_parser("bootstrap", help="create missing managed rooms and roles, and the nightly periodic task")
        sub.add_parser("status", help="links by status, pending syncs, last runs")
        sync = sub.add_parser("sync", help="sync these site users now (usernames or primary keys)")
        sync.add_argument("users", nargs="+", metavar="USER")
        sync.add_argument("--queue", action="store_true", help="hand them to the Celery workers instead")
        rec = sub.add_parser("reconcile", help="full reconciliation of every site user")
        rec.add_argument("--dry-run", action="store_true", help="print the plan summary, change nothing")
        rec.add_argument("--force", action="store_true", help="go past the safety threshold")
        rec.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        sub.add_parser("listen", help="follow Rocket.Chat's change feed and repair drift")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        getattr(self, f"do_{action}")(**options)

    # --- check / bootstrap ------------------------------------------------------------------------

    def do_check(self, **options: Any) -> None:
        report = run_check()
        for line in report.lines():
            self.stdout.write(line)
        if not report.ok:
            raise CommandError("rcsync check found problems (see above)", returncode=2)
        self.stdout.write(self.style.SUCCESS("rcsync check: OK"))

    def do_bootstrap(self, **options: Any) -> None:
        for line in run_bootstrap():
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("rcsync bootstrap: done"))

    # --- status -----------------------------------------------------------------------------------

    def do_status(self, **options: Any) -> None:
        for line in status_lines():
            self.stdout.write(line)

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
            raise CommandError(f"no such site user(s): {', '.join(missing)}")
        return keys

    def do_sync(self, users: list[str], queue: bool = False, **options: Any) -> None:
        failed = 0
        for key in self._user_keys(users):
            mark_pending(key, "manual: rcsync sync")
            if queue:
                self.stdout.write(f"user {key}: queued")
                continue
            outcome = sync_pending_user(key)
            while outcome.status == "busy":  # a worker is on it right now: wait our turn
                time.sleep(outcome.retry_in or 0.2)
                outcome = sync_pending_user(key)
            link = AccountLink.objects.filter(user_key=key).first()
            detail = f"{link.status} as {link.rc_username or '-'}" if link else "no account"
            if link and link.last_error:
                detail += f" ({link.last_error})"
            self.stdout.write(f"user {key}: {outcome.status}, {detail}")
            if outcome.status in ("retry", "failed") or (link and link.status in ("error", "conflict")):
                failed += 1
        if failed:
            raise CommandError(f"{failed} user(s) could not be synced", returncode=1)

    # --- reconcile --------------------------------------------------------------------------------

    def do_reconcile(self, dry_run: bool = False, force: bool = False, yes: bool = False, **options: Any) -> None:
        triggered_by = "manage.py rcsync reconcile"
        try:
            preview = run_reconcile(kind="manual", dry_run=True, force=force, triggered_by=triggered_by,
                                    on_progress=Progress(self.stderr, "reading"))
        except ReconcileBusy as exc:
            raise CommandError(str(exc), returncode=3) from None
        for line in plan_summary_lines(preview):
            self.stdout.write(line)
        if preview.status == preview.Status.FAILED:
            raise CommandError(f"reconcile failed: {preview.error}", returncode=1)
        if dry_run:
            return
        if preview.status == preview.Status.REFUSED and not force:
            raise CommandError("refusing: the plan is past the safety threshold; review it and pass --force", returncode=4)
        total = sum(preview.counts.values())
        if total == 0:
            self.stdout.write("nothing to do")
            return
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("not a terminal: pass --yes to apply the plan", returncode=5)
            answer = input(f"apply {total} operation(s)? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                raise CommandError("cancelled", returncode=6)
        progress = Progress(self.stderr, "applying")
        run = run_reconcile(kind="manual", dry_run=False, force=force, triggered_by=triggered_by, on_progress=progress)
        progress.finish()
        for line in plan_summary_lines(run):
            self.stdout.write(line)
        if run.status not in (run.Status.SUCCEEDED,):
            raise CommandError(f"reconcile finished with status {run.status}", returncode=1)

    # --- listen -----------------------------------------------------------------------------------

    def do_listen(self, **options: Any) -> None:
        async def main() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await listen_forever(stop=stop, on_ready=lambda ctx: self.stdout.write("rcsync listen: ready") or self.stdout.flush())

        asyncio.run(main())
