"""A burst: one transaction moves N site people into the `vip` group, a second moves them out again.
Real PostgreSQL, Redis and Celery workers, the stand-in Rocket.Chat.

    .venv/bin/python bench/burst.py --people 2000

The site starts in sync (N linked accounts, seeded straight into the stand-in and the database, checked
by a dry-run reconcile that plans nothing). Each burst is timed from its commit until the stand-in's
`vip` room has every mover in it (move-in) or none of them (move-out) and no pending sync is left;
`calls` are the REST requests the stand-in served meanwhile. The same two bursts then run again with
workers syncing one person per message (`BATCH_SIZE` 1, rcsync before batching) over the first
`--naive-sample` movers (all of them by default); a naive sync costs the same calls whoever it is for,
so `naive_calls` is that run's calls per person times N (the sample size is in the details line).
`lost` counts movers whose final room membership is wrong after either burst, in either mode.
Move-in is the headline: invites go 100 user ids per `groups.invite` call. A kick is one user per
call in Rocket.Chat, so move-out costs about one call per person however it is batched; its figures
are on the line before the last. Rocket.Chat has no bulk removal for a room: `groups.kick`
(apps/meteor/app/api/server/v1/groups.ts, commit acf7dd00) and `channels.kick` (channels.ts, commit
062f17bf) read one user (`getUserFromParams`) and call `removeUserFromRoomMethod` once, while their
`*.invite` read a list (`getUserListFromParams`); rooms.ts (commit 0013cdd5) has no kick or
member-removal route at all (only `rooms.leave`, the caller itself).
Each phase's wall time, the engine passes of each burst (when they started after the commit, how long
they took) and its calls per route go to stderr as the run goes.
Last line: JSON {"people", "seconds", "calls", "calls_per_person", "lost", "naive_calls"} (move-in).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RCSYNC_LOCK_TTL", "30")  # the in-sync check is a reconcile of N people: keep its lock
# The move-out burst kicks N people at once: the safety window (issue 14) would hold it for review, as it
# should on a site; the bench measures the drain, so its workers lift the window's limit.
os.environ.setdefault("RCSYNC_SAFETY_MIN_CHANGES", "100000000")
from _site import bench_site  # noqa: E402


def _seed(state, n: int) -> list[tuple[str, str]]:
    """N active accounts in `general` with the `user` role, plus the managed private rooms, seeded in
    bulk (`State.bulk_create_users`: the documents one-by-one seeding stores, no events)."""
    from fake_rocketchat.backend.helpers import BulkUser

    for name in ("vip", "moderators"):
        if state.find_room_by_name(name) is None:
            state.create_room(name, "p", owner=_service(state))
    out = [(f"bu{i:06d}", f"burst{i:06d}") for i in range(n)]
    general = (("GENERAL", ()),)
    state.bulk_create_users(BulkUser(uid, username, f"Burst {i}", f"{username}@example.org", ("user",), True, False,
                                     general) for i, (uid, username) in enumerate(out))
    return out


class _Phases:
    """Wall time of the set-up and measured phases, on stderr as each ends."""

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def done(self, what: str) -> None:
        now = time.perf_counter()
        print(f"{what}: {now - self.t:.1f} s (load average {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        self.t = now


def _service(state) -> str:
    import e2e_support

    return e2e_support.SERVICE_USERNAME


def _vip_members(state, rid: str, user_ids: set[str]) -> int:
    return sum(1 for uid in user_ids if state.subscription_doc(rid, uid))


def _runs_since(since, commit, routes: dict[str, int], seconds: float) -> None:
    """The burst's engine passes (SyncRun rows) and calls per route, on stderr: where its time went."""
    from django_hooks.models import SyncRun

    runs = list(SyncRun.objects.filter(started_at__gte=since).order_by("started_at"))
    passes = [r for r in runs if r.scope.startswith("batch of ")]
    singles = len(runs) - len(passes)
    for r in passes:
        took = (r.finished_at - r.started_at).total_seconds() if r.finished_at else None
        at = (r.started_at - commit).total_seconds()
        print(f"  pass {r.scope.split(':')[0]}: started {at:.1f} s after the commit, {r.status}, "
              f"{took and round(took, 1)} s, {r.counts}", file=sys.stderr, flush=True)
    top = sorted(routes.items(), key=lambda kv: -kv[1])[:6]
    print(f"  {singles} single-person runs; settled {seconds:.1f} s after the commit; calls by route: {dict(top)}",
          file=sys.stderr, flush=True)


def _burst(rc, users, vip_group, rid: str, user_ids: set[str], *, into: bool, deadline: float) -> dict:
    import e2e_support
    from django.db import transaction
    from django.utils import timezone

    from django_hooks.models import PendingSync

    state = rc.server.state
    rc.server.request_log.clear()
    started_at = timezone.now()
    started = {}
    with transaction.atomic():
        transaction.on_commit(lambda: started.update(t=time.perf_counter(), wall=timezone.now()))
        (vip_group.user_set.add if into else vip_group.user_set.remove)(*users)
        # Runs after rcsync's own callbacks (registered by the signals above): their sends are done.
        transaction.on_commit(lambda: started.setdefault("sent", time.perf_counter()))
    sent = started["sent"] - started["t"]
    print(f"  the commit's callbacks (rcsync's sends) took {sent:.1f} s", file=sys.stderr, flush=True)
    want = len(user_ids) if into else 0

    def settled() -> bool:
        return _vip_members(state, rid, user_ids) == want and not PendingSync.objects.exists()

    try:
        e2e_support.wait_until(settled, deadline, "the burst to reach Rocket.Chat", interval=0.2)
    except AssertionError:
        pass  # whatever is wrong now is lost
    seconds = time.perf_counter() - started["t"]
    entries = [e for e in rc.server.request_log.entries() if e.path.startswith("/api/")]
    calls = len(entries)
    routes: dict[str, int] = {}
    for e in entries:
        routes[e.path] = routes.get(e.path, 0) + 1
    _runs_since(started_at, started["wall"], routes, seconds)
    wrong = abs(_vip_members(state, rid, user_ids) - want)
    return {"seconds": round(seconds, 2), "calls": calls, "calls_per_person": round(calls / len(user_ids), 4),
            "lost": wrong}


def run(args: argparse.Namespace) -> tuple[dict, dict]:
    with bench_site() as (rc, db_name):
        import e2e_support
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from django_hooks.models import AccountLink
        from django_hooks.runs import run_reconcile

        User = get_user_model()
        state = rc.server.state
        clock = _Phases()
        accounts = _seed(state, args.people)
        clock.done("seed the stand-in")
        users = User.objects.bulk_create([
            User(username=username, email=f"{username}@example.org", first_name="Burst", last_name=str(i))
            for i, (_, username) in enumerate(accounts)], batch_size=2000)
        AccountLink.objects.bulk_create([
            AccountLink(user_key=str(u.pk), user=u, site_username=u.username, rc_user_id=uid, rc_username=username,
                        created_by_bridge=True, status=AccountLink.Status.SYNCED)
            for u, (uid, username) in zip(users, accounts)], batch_size=2000)
        clock.done("seed the site's users and links")
        check = run_reconcile(dry_run=True, triggered_by="bench: in sync?")
        if sum((check.counts or {}).values()):
            raise SystemExit(f"the seeded site is not in sync: {check.counts}")
        clock.done("in-sync check (dry-run reconcile)")
        vip = Group.objects.get_or_create(name="vip")[0]
        rid = state.find_room_by_name("vip")["_id"]
        user_ids = {uid for uid, _ in accounts}
        logdir = Path(tempfile.mkdtemp(prefix="rcsync-bench-burst-"))
        figures = {}
        sample = min(args.people, args.naive_sample or args.people)
        for mode, size in (("batched", args.batch_size), ("naive", 1)):
            movers = users if mode == "batched" else users[:sample]
            mover_ids = user_ids if mode == "batched" else {uid for uid, _ in accounts[:sample]}
            env = e2e_support.make_env(db_name, rc, RCSYNC_BATCH_SIZE=str(size), RCSYNC_LOG_LEVEL="WARNING",
                                       RCSYNC_LOCK_TTL="30")
            workers = [e2e_support.celery_worker(env, f"burst-{mode}{i}", logdir, concurrency=args.concurrency)
                       for i in range(args.workers)]
            try:
                for w in workers:
                    e2e_support.wait_ready(w, timeout=120)
                clock.done(f"{mode}: start workers")
                figures[mode] = {
                    "in": _burst(rc, movers, vip, rid, mover_ids, into=True, deadline=args.deadline),
                    "out": _burst(rc, movers, vip, rid, mover_ids, into=False, deadline=args.deadline),
                }
                clock.done(f"{mode}: both bursts")
            finally:
                for w in workers:
                    w.stop()
            print(f"{mode}: {json.dumps(figures[mode])}", file=sys.stderr, flush=True)
    batched, naive = figures["batched"], figures["naive"]
    lost = sum(figures[m][d]["lost"] for m in figures for d in ("in", "out"))
    details = {"batch_size": args.batch_size, "workers": args.workers, "concurrency": args.concurrency,
               "move_in": batched["in"], "move_out": batched["out"], "naive_move_in": naive["in"],
               "naive_move_out": naive["out"], "naive_sample": sample, "loadavg_1m": round(os.getloadavg()[0], 2)}
    summary = {"people": args.people, "seconds": batched["in"]["seconds"], "calls": batched["in"]["calls"],
               "calls_per_person": batched["in"]["calls_per_person"], "lost": lost,
               "naive_calls": round(naive["in"]["calls"] * args.people / sample)}
    return details, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=5000, help="RCSYNC['TASKS']['BATCH_SIZE'] of the batched run")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker (prefork pool)")
    parser.add_argument("--naive-sample", type=int, default=0,
                        help="movers of the naive run (0: all); its calls are scaled to --people")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds to wait for a burst to settle")
    details, summary = run(parser.parse_args())
    print(json.dumps(details))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
