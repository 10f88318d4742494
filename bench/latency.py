"""Commit-to-Rocket.Chat latency of rcsync: site changes at a steady rate, W Celery worker processes,
real PostgreSQL and Redis, the stand-in Rocket.Chat.

    .venv/bin/python bench/latency.py --changes 500 --rate 50 --workers 2

Each change renames one of a pool of site users inside a transaction. Its latency runs from the
moment the transaction committed (an on_commit hook registered first, so before rcsync's own) until
the stand-in announces that name or a later one for that user (`Users:NameChanged` on its event bus,
no polling). A change whose effect never shows before the deadline is lost. The machine's load
average is printed alongside: the numbers mean little on a machine busy with other work.

The changes come from G site processes (`--generators`, by default one per 50 changes/s), as a
site's web processes make them, each committing its share (every G-th change) at its scheduled time
(change i at (i - 1) / rate). A change waits for three PostgreSQL round trips and one Redis round
trip (UPDATE, the pending row's upsert, COMMIT, the message's LPUSH) on cores the workers keep busy:
made one after another in this process, beside the stand-in Rocket.Chat's thread (which also serves
the workers' calls) and its GIL, they fell behind at 107-144 changes/s; one site process of its own
kept ~190/s, still late by up to 0.7 s. The stand-in now has this process's GIL to itself.
`achieved_rate` says what rate the site processes kept; `start_lag_ms_p99` how late the changes'
transactions began after their scheduled time. Both clocks are CLOCK_MONOTONIC, one for all processes.
Last line: JSON. Target on a 2-core machine: p99 <= 1 s at 50 changes/s with 2 workers, lost = 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
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


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores (from /proc/stat)."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:8]]  # user nice system idle iowait irq softirq
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


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


def _generate(spec: dict, start: float) -> dict:
    """In a site process: commit this process's changes (spec["changes"]: [change number, user pk]), each
    at its scheduled time; returns when each committed, how late each began, and the process's CPU."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    users = get_user_model().objects.in_bulk([pk for _, pk in spec["changes"]])
    committed: dict[int, float] = {}
    lags = []
    cpu = time.process_time()
    for i, pk in spec["changes"]:
        due = start + (i - 1) / spec["rate"]
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        lags.append(max(0.0, time.monotonic() - due))
        user = users[pk]
        user.last_name = str(i)

        def mark(i: int = i) -> None:
            committed[i] = time.monotonic()

        with transaction.atomic():
            transaction.on_commit(mark)
            user.save(update_fields=["last_name"])
    return {"committed": committed, "lags": lags, "cpu": time.process_time() - cpu, "ended": time.monotonic()}


def _generator_main() -> None:
    """`latency.py --generator`: one site process. stdin: the spec (a JSON line), then the start time (a
    line, CLOCK_MONOTONIC seconds); stdout: "ready" once Django is up, then the result (a JSON line)."""
    import logging

    spec = json.loads(sys.stdin.readline())
    os.environ.update(spec["env"])  # this run's test database and key prefix (_site drops inherited ones)
    import django

    django.setup()
    logging.getLogger("rcsync").setLevel(logging.WARNING)
    from django.contrib.auth import get_user_model

    get_user_model().objects.exists()  # the database connection is open before the clock starts
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    print(json.dumps(_generate(spec, start)), flush=True)


class _Generators:
    """G site processes (`_generator_main`), change i made by process i % G."""

    def __init__(self, count: int, plan: list[tuple[int, int]], rate: float, env: dict, logdir: Path) -> None:
        import e2e_support
        from django.conf import settings

        child_env = {"RCSYNC_DB_NAME": env["RCSYNC_DB_NAME"],
                     "RCSYNC_REDIS_PREFIX": settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"]}
        self.procs = []
        try:
            for k in range(count):
                proc = e2e_support.piped_python([os.path.abspath(__file__), "--generator"], env, f"site{k}", logdir)
                self.procs.append(proc)
                share = [(i, pk) for i, pk in plan if i % count == k]
                proc.stdin.write(json.dumps({"env": child_env, "rate": rate, "changes": share}) + "\n")
            for proc in self.procs:
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"a site process did not start (see {logdir}/site*.log)")
        except BaseException:
            self.stop()
            raise

    def run(self, start: float) -> list[dict]:
        for proc in self.procs:
            proc.stdin.write(f"{start!r}\n")
        results = []
        for proc in self.procs:
            line = proc.stdout.readline()
            proc.wait(60)
            if not line:
                raise RuntimeError("a site process died while making its changes")
            results.append(json.loads(line))
        return results

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def _split(plan: list[tuple[int, int]], committed: dict[int, float], seen: dict[int, float], runs: list,
           wall_minus_monotonic: float) -> dict[str, float]:
    """Where a change's latency went: from commit until the engine pass that synced it began (its run row:
    queueing, the claim, the locks, reading the batch's people) and from then until Rocket.Chat showed it
    (the pass's reads, then the writes before it). The pass is the last of the person's (their audit rows
    name them; one person's passes never overlap) that began before the change showed; it may have begun
    before the change committed (it read the person after), so the first part may be below 0."""
    from django_hooks.models import SyncOperation

    started = {r.pk: r.started_at.timestamp() - wall_minus_monotonic for r in runs}
    passes_of: dict[str, set[float]] = {}
    for key, run_id in SyncOperation.objects.filter(run_id__in=list(started)).values_list("user_key", "run_id"):
        passes_of.setdefault(key, set()).add(started[run_id])
    to_pass, in_pass = [], []
    for i, pk in plan:
        if i not in committed or i not in seen:
            continue
        begun = max((t for t in passes_of.get(str(pk), ()) if t <= seen[i]), default=None)
        if begun is None:
            continue
        to_pass.append((begun - committed[i]) * 1000)
        in_pass.append((seen[i] - begun) * 1000)
    return {"split_changes": len(to_pass),
            "to_pass_ms_p50": round(percentile(to_pass, 50), 1), "to_pass_ms_p99": round(percentile(to_pass, 99), 1),
            "in_pass_ms_p50": round(percentile(in_pass, 50), 1), "in_pass_ms_p99": round(percentile(in_pass, 99), 1)}


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
        generators = None
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
            # Change i renames users[i % len(users)] to version i: known before any is made.
            plan = [(i, users[i % len(users)].pk) for i in range(1, args.changes + 1)]
            waiting: dict[str, list[int]] = {u.username: [] for u in users}
            for i in range(1, args.changes + 1):
                waiting[users[i % len(users)].username].append(i)
            count = args.generators or max(1, math.ceil(args.rate / 50))
            generators = _Generators(count, plan, args.rate, env, logdir)

            def on_event(event) -> None:  # runs in the stand-in's thread: record and return
                if event.event_name != "Users:NameChanged" or not event.args:
                    return
                now = time.monotonic()
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
            machine = _machine_cpu()
            started = time.monotonic() + 0.2  # every site process is waiting for it
            made = generators.run(started)
            for result in made:
                committed.update({int(i): t for i, t in result["committed"].items()})
            produced = max(r["ended"] for r in made) - started
            lags = [lag * 1000 for r in made for lag in r["lags"]]
            site_cpu = sum(r["cpu"] for r in made)
            try:
                e2e_support.wait_until(lambda: len(seen) >= args.changes, args.deadline, "every change in Rocket.Chat")
            except AssertionError:
                pass  # whatever is missing now is lost
            elapsed = time.monotonic() - started
            machine = tuple(now - then for now, then in zip(_machine_cpu(), machine))
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
            split = _split(plan, committed, seen, runs, time.time() - time.monotonic())
        finally:
            if generators is not None:
                generators.stop()
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
        # the site processes making the changes, and how late (ms) a change's transaction began after its time
        "generators": count, "start_lag_ms_p99": round(percentile(lags, 99), 1),
        "seconds": round(elapsed, 1), "loadavg_1m": round(os.getloadavg()[0], 2),
        # the largest pass (people), and how busy the machine's cores were (all processes, PostgreSQL
        # and Redis too) from the first change until the last showed in Rocket.Chat: 1.0 is saturated
        "pass_people_max": max((_people_in(r) for r in runs), default=0),
        "cpu_busy_share": round(machine[0] / machine[1], 2) if machine[1] else None,
        "machine_cpu_ms_per_change": round(machine[0] * 1000 / args.changes, 2),
        # the latency's two parts (see _split): until the pass that synced the change began, then in it
        **split,
        # CPU spent by the worker processes (parents and pool children, from /proc) per change and per
        # person synced (bursts to one person coalesce, so there may be fewer syncs than changes; a
        # batch pass is one sync per person in it, not one in all), and by the site (its processes'
        # change loops) + the stand-in Rocket.Chat (this process) per change.
        "worker_cpu_ms_per_change": round(worker_cpu * 1000 / args.changes, 2),
        "worker_cpu_ms_per_sync": round(worker_cpu * 1000 / person_syncs, 2) if person_syncs else None,
        # the same once the broker held no message any more (every message the changes caused was handled)
        "worker_cpu_ms_per_sync_drained": (round(worker_cpu_drained * 1000 / person_syncs, 2)
                                           if person_syncs and worker_cpu_drained is not None else None),
        "site_and_stand_in_cpu_ms_per_change": round((own_cpu + site_cpu) * 1000 / args.changes, 2),
        "site_cpu_ms_per_change": round(site_cpu * 1000 / args.changes, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="changes per second")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker (prefork pool)")
    parser.add_argument("--users", type=int, default=50, help="site users the changes are spread over")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds to wait for the last change")
    parser.add_argument("--generators", type=int, default=0,
                        help="site processes making the changes (default: one per 50 changes/s)")
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)  # one of them (internal)
    args = parser.parse_args()
    if args.generator:
        _generator_main()
        return
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
