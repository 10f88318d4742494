"""Benchmark: the memory of a whole nightly run, Django side included: `run_reconcile` over a site of N people.

    .venv/bin/python bench/site_reconcile.py --users 100000

`bench/reconcile.py` measures the engine alone (its site people are made on the fly); this one runs what
the nightly task runs: the site's users, groups and AccountLinks in a fresh PostgreSQL test database,
`django_hooks.runs.run_reconcile` reading them, the engine, the audit rows and the links stored back.
Rocket.Chat is the stand-in in a child process, seeded directly with the same people in sync
(`bench/reconcile.py`'s scenario, no drift), so ``peak_rss_mb`` is this process's: Django, the engine
and the bridge. The run must write nothing to Rocket.Chat; the last line printed is the JSON summary.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.pop("RCSYNC_DB_NAME", None)  # settings.test picks a fresh database name and Redis prefix
os.environ.pop("RCSYNC_REDIS_PREFIX", None)

import reconcile as scenario  # noqa: E402  (bench/reconcile.py: the people, the stand-in in a child process)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed_site(n: int) -> None:
    """The site truth of `bench/reconcile.py` (person i is user{i:06d}, linked to U{i:016d}) as rows."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from django_hooks.models import AccountLink

    User = get_user_model()
    vip = Group.objects.get_or_create(name="vip")[0]
    chunk = 5000
    for start in range(1, n + 1, chunk):
        people = [scenario.SitePeople(n, {}).person(i) for i in range(start, min(n, start + chunk - 1) + 1)]
        users = User.objects.bulk_create([
            User(username=p.username, email=p.email, first_name="User", last_name=p.site_id, is_active=p.active,
                 role=p.role) for p in people])
        User.groups.through.objects.bulk_create([
            User.groups.through(user_id=u.pk, group_id=vip.pk) for u, p in zip(users, people) if p.groups])
        AccountLink.objects.bulk_create([
            AccountLink(user_key=str(u.pk), user=u, site_username=u.username, rc_user_id=p.link.rc_user_id,
                        rc_username=p.link.rc_username, created_by_bridge=True, status=AccountLink.Status.SYNCED)
            for u, p in zip(users, people)])


def run(n: int) -> dict:
    import django

    django.setup()
    import logging

    logging.getLogger("rcsync").setLevel(logging.WARNING)
    from django.test.runner import DiscoverRunner

    server = scenario.Server(n, {})
    os.environ.update({"RCSYNC_RC_URL": server.url, "RCSYNC_RC_USERNAME": scenario.SERVICE,
                       "RCSYNC_RC_PASSWORD": scenario.SERVICE_PASSWORD, "RCSYNC_RC_TOTP_SECRET": ""})
    runner = DiscoverRunner(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        started = time.monotonic()
        seed_site(n)
        seeded = time.monotonic() - started
        import gc

        gc.collect()
        from django_hooks.runs import run_reconcile

        before = _rss_mb()
        started = time.monotonic()
        cpu = time.process_time()
        first = run_reconcile(triggered_by="bench: site_reconcile")
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu
        peak = _rss_mb()
        second = run_reconcile(triggered_by="bench: site_reconcile again")
        return {"users": n, "status": first.status, "writes": sum((first.counts or {}).values()),
                "second_run_writes": sum((second.counts or {}).values()), "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu, 1), "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
                "peak_rss_after_second_mb": round(_rss_mb(), 1), "seed_seconds": round(seeded, 1)}
    finally:
        from django.db import connections

        connections.close_all()
        runner.teardown_databases(old)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10000)
    args = ap.parse_args(argv)
    if args.users < 2:
        ap.error("--users must be >= 2")
    result = run(args.users)
    print(json.dumps(result))
    return 0 if result["writes"] == 0 and result["second_run_writes"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
