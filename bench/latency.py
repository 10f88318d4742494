"""Commit-to-Rocket.Chat latency of rcsync: site changes at a steady rate, W Celery worker processes,
real PostgreSQL and Redis, the stand-in Rocket.Chat.

    .venv/bin/python bench/latency.py --changes 500 --rate 50 --workers 2

Each change renames one of a pool of site users inside a transaction. Its latency runs from the
moment the transaction committed (an on_commit hook registered first, so before rcsync's own) until
the stand-in announces that name or a later one for that user (`Users:NameChanged` on its event bus,
no polling). A change whose effect never shows before the deadline is lost. The machine's load
average is printed alongside: the numbers mean little on a machine busy with other work.
Last line: JSON. Target on a 2-core machine: p99 <= 1 s at 50 changes/s with 2 workers, lost = 0.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from _site import bench_site, percentile


def _cpu_seconds(pids: list[int]) -> float:
    """User+system CPU of these processes and their children (from /proc), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        for p in [pid, *_children(pid)]:
            try:
                with open(f"/proc/{p}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
    return total / ticks


def _children(pid: int) -> list[int]:
    import e2e_support

    return e2e_support.children_of(pid)


def _wait_for_empty_queue(deadline: float) -> bool:
    """Wait until rcsync's queue is empty and no message is unacknowledged (kombu's Redis transport keeps
    those, retries waiting for their countdown included, in the "unacked" hash); False at the deadline."""
    import redis
    from django.conf import settings

    from django_hooks.conf import hook_settings

    prefix = settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"]
    conn = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    end = time.monotonic() + deadline
    quiet = 0
    while time.monotonic() < end:
        busy = conn.llen(prefix + hook_settings().queue) or conn.hlen(prefix + "unacked")
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:  # three looks in a row: nothing between a delivery and its acknowledgement
            return True
        time.sleep(0.1)
    return False


def _people_in(run) -> int:
    """How many people one run synced (a batch pass covers many, a single sync one)."""
    people = (run.summary or {}).get("people")
    if isinstance(people, int):
        return people
    scope = run.scope or ""
    if scope.startswith("batch of "):
        return int(scope[len("batch of "):].split(":", 1)[0])
    return 1


def run(args: argparse.Namespace) -> dict:
    with bench_site() as (rc, db_name):
        import e2e_support
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from django_hooks.models import PendingSync, SyncRun

        User = get_user_model()
        state = rc.server.state
        state.set_setting("UI_Use_Real_Name", True)  # so the stand-in announces name changes
        env = e2e_support.make_env(db_name, rc)
        logdir = Path(tempfile.mkdtemp(prefix="rcsync-bench-"))
        workers = [e2e_support.celery_worker(env, f"bench{i}", logdir, concurrency=args.concurrency)
                   for i in range(args.workers)]
        committed: dict[int, float] = {}
        seen: dict[int, float] = {}
        lock = threading.Lock()
        try:
            for w in workers:
                e2e_support.wait_ready(w, timeout=60)
            users = [User.objects.create_user(f"bench{i:04}", f"bench{i:04}@example.org", "pw", first_name="v",
                                              last_name="0") for i in range(args.users)]
            warm_up = max(120.0, args.users * 0.2)  # creating thousands of accounts on a busy machine takes a while
            e2e_support.wait_until(lambda: all(rc.user(u.username) for u in users), warm_up, "warm-up users")
            e2e_support.wait_until(lambda: not PendingSync.objects.exists(), warm_up, "warm-up settled")
            _wait_for_empty_queue(warm_up)  # the warm-up's retries are not the changes' cost
            first_run = SyncRun.objects.order_by("-id").values_list("id", flat=True).first() or 0
            waiting: dict[str, list[int]] = {u.username: [] for u in users}

            def on_event(event) -> None:  # runs in the stand-in's thread: record and return
                if event.event_name != "Users:NameChanged" or not event.args:
                    return
                now = time.perf_counter()
                doc = event.args[0]
                try:
                    version = int(str(doc.get("name", "v 0")).split()[-1])
                except ValueError:
                    return
                with lock:
                    pending = waiting.get(doc.get("username"), [])
                    while pending and pending[0] <= version:
                        seen[pending.pop(0)] = now

            unsubscribe = state.events.subscribe(on_event)
            worker_cpu = _cpu_seconds([w.pid for w in workers])
            own_cpu = time.process_time()
            started = time.perf_counter()
            for i in range(1, args.changes + 1):
                delay = started + (i - 1) / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                user = users[i % len(users)]
                user.last_name = str(i)
                with lock:
                    waiting[user.username].append(i)

                def mark(i: int = i) -> None:
                    committed[i] = time.perf_counter()

                with transaction.atomic():
                    transaction.on_commit(mark)
                    user.save(update_fields=["last_name"])
            produced = time.perf_counter() - started
            try:
                e2e_support.wait_until(lambda: len(seen) >= args.changes, args.deadline, "every change in Rocket.Chat")
            except AssertionError:
                pass  # whatever is missing now is lost
            elapsed = time.perf_counter() - started
            cpu_now = _cpu_seconds([w.pid for w in workers])
            # Messages the changes caused may still wait in the queue (or, as retries with a countdown, in a
            # worker's memory, unacknowledged) when the last change shows: a worker that falls behind would
            # look cheaper. Also measure once every one of them has been handled.
            drained = _wait_for_empty_queue(args.deadline)
            worker_cpu_drained = _cpu_seconds([w.pid for w in workers]) - worker_cpu if drained else None
            worker_cpu = cpu_now - worker_cpu
            own_cpu = time.process_time() - own_cpu
            unsubscribe()
            runs = list(SyncRun.objects.filter(id__gt=first_run))
            durations = [(r.finished_at - r.started_at).total_seconds() * 1000 for r in runs if r.finished_at]
            # One engine pass (one run) may sync many people (BATCH_SIZE): count the people each pass
            # synced, which is what a "sync" costs per person. Every pass here renames someone, so
            # none is a no-op whose run row is dropped (issue 14); a run without a summary (it failed
            # before planning) counts its people from its scope.
            person_syncs = sum(_people_in(r) for r in runs)
        finally:
            for w in workers:
                w.stop()
    latencies = [(seen[i] - committed[i]) * 1000 for i in committed if i in seen]
    return {
        "changes": args.changes, "rate": args.rate, "workers": args.workers, "concurrency": args.concurrency,
        "users": args.users,
        "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies), 1) if latencies else None,
        "lost": len([i for i in committed if i not in seen]) + (args.changes - len(committed)),
        # passes: engine passes (runs); syncs: people synced over all passes (a batch pass of 30 is 30)
        "passes": len(runs), "syncs": person_syncs, "pass_ms_p50": round(percentile(durations, 50), 1),
        "pass_ms_p95": round(percentile(durations, 95), 1), "achieved_rate": round(args.changes / produced, 1),
        "seconds": round(elapsed, 1), "loadavg_1m": round(os.getloadavg()[0], 2),
        # CPU spent by the worker processes (parents and pool children, from /proc) per change and per
        # person synced (bursts to one person coalesce, so there may be fewer syncs than changes; a
        # batch pass is one sync per person in it, not one in all), and by this process (site +
        # stand-in Rocket.Chat) per change.
        "worker_cpu_ms_per_change": round(worker_cpu * 1000 / args.changes, 2),
        "worker_cpu_ms_per_sync": round(worker_cpu * 1000 / person_syncs, 2) if person_syncs else None,
        # the same once the broker held no message any more (every message the changes caused was handled)
        "worker_cpu_ms_per_sync_drained": (round(worker_cpu_drained * 1000 / person_syncs, 2)
                                           if person_syncs and worker_cpu_drained is not None else None),
        "site_and_stand_in_cpu_ms_per_change": round(own_cpu * 1000 / args.changes, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker (prefork pool)")
    parser.add_argument("--users", type=int, default=50, help="site users the changes are spread over")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds to wait for the last change")
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
