"""Commit-to-Rocket.Chat latency of rcsync: site changes at a steady rate, W Celery worker processes,
real PostgreSQL and Redis, the stand-in Rocket.Chat.

    .venv/bin/python bench/latency.py --changes 500 --rate 50 --workers 2

Each change renames one of a pool of site users inside a transaction; its latency runs from the
moment the transaction committed (an on_commit hook registered first) until the stand-in shows that
name or a later one for that user. A change whose effect never shows is lost. Last line: JSON.
Target on a 2-core machine: p99 <= 1 s at 50 changes/s with 2 workers, lost = 0.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

from _site import bench_site, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (one pool process each)")
    parser.add_argument("--users", type=int, default=50, help="site users the changes are spread over")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds to wait for the last change")
    args = parser.parse_args()

    with bench_site() as (rc, db_name):
        import e2e_support
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from django_hooks.models import PendingSync, SyncRun

        User = get_user_model()
        logdir = Path(tempfile.mkdtemp(prefix="rcsync-bench-"))
        env = e2e_support.make_env(db_name, rc)
        workers = [e2e_support.celery_worker(env, f"bench{i}", logdir, concurrency=1) for i in range(args.workers)]
        try:
            for w in workers:
                e2e_support.wait_ready(w, timeout=60)
            users = [User.objects.create_user(f"bench{i:04}", f"bench{i:04}@example.org", "pw", first_name="v", last_name="0")
                     for i in range(args.users)]
            names = [u.username for u in users]
            e2e_support.wait_until(lambda: all(rc.user(n) is not None for n in names), 120, "warm-up users in Rocket.Chat")
            e2e_support.wait_until(lambda: not PendingSync.objects.exists(), 120, "warm-up settled")
            runs_before = SyncRun.objects.count()

            committed: dict[int, float] = {}
            seen: dict[int, float] = {}
            latest_version = {n: 0 for n in names}  # highest change index per user (1-based)
            changes_of: dict[str, list[int]] = {n: [] for n in names}
            stop = threading.Event()
            state = rc.server.state

            def observe() -> None:
                # The stand-in lives in this process: read its state directly, every 2 ms.
                while not stop.is_set():
                    now = time.perf_counter()
                    for name in names:
                        pending = changes_of[name]
                        if not pending:
                            continue
                        doc = state.find_user_by_username(name)
                        try:
                            version = int((doc or {}).get("name", "v 0").split()[-1])
                        except ValueError:
                            continue
                        while pending and pending[0] <= version:
                            seen[pending.pop(0)] = now
                    time.sleep(0.002)

            observer = threading.Thread(target=observe, daemon=True)
            observer.start()
            lock = threading.Lock()
            started = time.perf_counter()
            for i in range(1, args.changes + 1):
                due = started + (i - 1) / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                user = users[i % len(users)]
                user.last_name = str(i)

                def mark(i: int = i) -> None:
                    committed[i] = time.perf_counter()

                with transaction.atomic():
                    transaction.on_commit(mark)  # first hook: runs right after COMMIT, before the enqueue
                    user.save(update_fields=["last_name"])
                with lock:
                    changes_of[user.username].append(i)
            produced = time.perf_counter() - started
            e2e_support.wait_until(lambda: len(seen) >= args.changes, args.deadline, "all changes in Rocket.Chat") if True else None
        except AssertionError:
            pass  # some changes never arrived: they count as lost below
        finally:
            stop_time = time.perf_counter()
            try:
                stop.set()
            except NameError:
                pass
            syncs = SyncRun.objects.count() - runs_before if "runs_before" in locals() else 0
            for w in workers:
                w.stop()

        latencies = [(seen[i] - committed[i]) * 1000 for i in committed if i in seen]
        lost = len([i for i in committed if i not in seen])
        result = {
            "changes": args.changes, "rate": args.rate, "workers": args.workers, "users": args.users,
            "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies), 1) if latencies else None,
            "lost": lost, "syncs": syncs, "achieved_rate": round(args.changes / produced, 1) if "produced" in locals() else None,
            "seconds": round(stop_time - started, 1) if "started" in locals() else None,
        }
        print(json.dumps(result))


if __name__ == "__main__":
    main()
