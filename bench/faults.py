"""Soak test of rcsync under faults: site changes keep coming while workers are killed, the broker (a
private redis-server) restarts empty, the site's database (a private PostgreSQL cluster) restarts,
Rocket.Chat answers 503 and 429, is partitioned away (connections refused, then black-holed until the
client times out), fails half of the writes with 500, comes back empty (a lost MongoDB volume), its
clock runs one TOTP step ahead, its websockets drop, people change things by hand in Rocket.Chat, a
task is delivered twice (as past the broker's visibility timeout) and a second beat starts. Then: does
everything converge, and how fast?

    .venv/bin/python bench/faults.py --seconds 60 --rate 5

Convergence is judged by the engine itself: a dry-run full reconcile planning zero operations means
Rocket.Chat matches the site. `drift` is the number of operations still planned when the deadline
passed, `lost` the number of site users they concern (a change that never arrived); `converge_seconds`
counts from the last change, `converge_seconds_after_last_fault` from the last fault. Last line: JSON.
Target: lost = 0 and drift = 0 within 2 minutes of the last fault.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import e2e_support  # noqa: E402

RATE_LIMITED = {
    "success": False,
    "error": "Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long changes keep coming")
    parser.add_argument("--rate", type=float, default=5.0, help="site changes per second")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds allowed to converge after the last fault")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rnd = random.Random(args.seed)

    broker = e2e_support.RedisServer().start()
    os.environ["RCSYNC_REDIS_URL"] = broker.url  # this process publishes on commit too
    os.environ["RCSYNC_RELAY_INTERVAL"] = "1"
    os.environ["RCSYNC_RELAY_STALE_AFTER"] = "3"
    try:
        database = e2e_support.PostgresServer().init().start()
    except RuntimeError as exc:
        broker.close()
        sys.exit(f"bench/faults.py: cannot start a private PostgreSQL cluster to restart: {exc}")
    os.environ.update(database.env())  # the site, its workers and beats all use the private cluster
    from _site import bench_site

    result: dict = {}
    try:
        with bench_site() as (rc, db_name):
            result = soak(args, rnd, rc, db_name, broker, database)
    finally:
        broker.close()
        database.close()
    print(json.dumps(result))


def soak(args, rnd: random.Random, rc, db_name: str, broker, database) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import OperationalError, InterfaceError, connections

    from django_hooks.dispatch import send_task
    from django_hooks.queue.pending import SYNC_USER_TASK

    from django_hooks.models import PendingSync
    from django_hooks.runs import ReconcileBusy, run_reconcile

    User = get_user_model()
    server = rc.server
    env = e2e_support.make_env(db_name, rc)
    logdir = Path(tempfile.mkdtemp(prefix="rcsync-faults-"))
    procs: dict[str, e2e_support.Proc] = {}

    def start_worker(name: str) -> None:
        procs[name] = e2e_support.wait_ready(e2e_support.celery_worker(env, name, logdir, concurrency=2), 60)

    for i in range(args.workers):
        start_worker(f"w{i}")
    procs["beat"] = e2e_support.wait_log(e2e_support.celery_beat(env, "beat", logdir), "beat: Starting")
    vip = Group.objects.get_or_create(name="vip")[0]
    roles = ["owner", "moderator", "store_owner", "store_admin", "user", "user", "user"]
    users = []
    for i in range(args.users):
        u = User.objects.create_user(f"soak{i:03}", f"soak{i:03}@example.org", "pw", role=rnd.choice(roles))
        if rnd.random() < 0.3:
            u.groups.add(vip)
        users.append(u)
    e2e_support.wait_until(lambda: not PendingSync.objects.exists(), 120, "initial sync")
    procs["listen"] = e2e_support.wait_log(
        e2e_support.Proc([e2e_support.PYTHON, "manage.py", "rcsync", "listen"], env, "listen", logdir), "rcsync listen: ready"
    )
    def make_human() -> None:
        server.state.create_user("soak-human", password="pw-human", roles=["admin", "user"])
        for room in ("vip", "moderators"):
            if rc.room_id(room):
                server.state.add_member(rc.room_id(room), "soak-human")

    make_human()

    faults: list[str] = []
    duration = args.seconds
    # Outages scale with short smoke runs (README's --seconds 4) but stay realistic in a real soak.
    outage_s = min(8.0, max(1.0, 0.05 * duration))

    def fault_kill_child() -> None:
        victim = procs["w0"]
        children = e2e_support.children_of(victim.pid)
        if children:
            os.kill(rnd.choice(children), signal.SIGKILL)
        faults.append("kill worker pool process")

    def fault_kill_worker() -> None:
        procs["w1" if args.workers > 1 else "w0"].kill(signal.SIGKILL)
        faults.append("kill whole worker (restarted)")
        start_worker(f"w1-restarted-{len(faults)}" if args.workers > 1 else "w0-restarted")

    def fault_redis_restart() -> None:
        broker.stop()
        time.sleep(2.0)  # the outage itself: changes keep committing meanwhile
        broker.start()
        faults.append("broker restart (empty)")

    def fault_outage() -> None:
        server.faults.outage(5, "503")
        faults.append("Rocket.Chat 503 for 5 s")

    def fault_429() -> None:
        for route in ("users.info", "users.update"):
            server.faults.fail_next(route, 10, 429, body=RATE_LIMITED)
        faults.append("429 bursts")

    def fault_drop_ws() -> None:
        server.faults.drop_websockets()
        faults.append("websockets dropped")

    def fault_pg_restart() -> None:
        database.restart(down_seconds=min(3.0, outage_s))
        connections.close_all()  # this process's own (now dead) connections; workers find out themselves
        faults.append("PostgreSQL restart")

    def fault_partition_refused() -> None:
        server.faults.outage(outage_s, "refuse")
        faults.append(f"partition to Rocket.Chat: connections refused for {outage_s:g} s")

    def fault_partition_blackhole() -> None:
        server.faults.outage(outage_s, "blackhole")
        faults.append(f"partition to Rocket.Chat: black-holed (timeouts) for {outage_s:g} s")

    def fault_half_writes() -> None:
        server.faults.fail_writes(0.5, 2 * outage_s, 500, seed=rnd.randrange(10**6))
        faults.append(f"half of the writes fail with 500 for {2 * outage_s:g} s")

    def fault_back_empty() -> None:
        server.restart_empty()
        make_human()  # the person who changes things by hand signs up again
        faults.append("Rocket.Chat back empty")

    def fault_clock_skew() -> None:
        server.faults.shift_clock(30)  # one TOTP step ahead of the workers, and it stays there
        faults.append("TOTP clock skew: Rocket.Chat one step (30 s) ahead")

    def fault_duplicate_delivery() -> None:
        # A redelivery past the visibility timeout is the same message again: same task id, same args.
        for user in rnd.sample(users, min(5, len(users))):
            task_id = f"soak-dup-{user.pk}-{len(faults)}"
            for _ in range(2):
                send_task(SYNC_USER_TASK, args=[str(user.pk)], task_id=task_id)
        faults.append("duplicate delivery of tasks")

    def fault_second_beat() -> None:
        procs["beat2"] = e2e_support.wait_log(e2e_support.celery_beat(env, "beat2", logdir), "beat: Starting")
        faults.append("two beats")

    def fault_by_hand() -> None:
        import httpx

        headers = server.headers_for("soak-human")
        victim = rc.user(rnd.choice(users).username) if users else None
        if victim:
            httpx.post(f"{server.url}/api/v1/groups.invite", headers=headers,
                       json={"roomId": rc.room_id("vip"), "userId": victim["_id"]}, timeout=10)
            httpx.post(f"{server.url}/api/v1/roles.addUserToRole", headers=headers,
                       json={"roleId": "admin", "username": victim["username"]}, timeout=10)
        faults.append("hand-made change in Rocket.Chat")

    schedule = sorted([
        (0.04 * duration, fault_second_beat), (0.08 * duration, fault_kill_child), (0.14 * duration, fault_by_hand),
        (0.20 * duration, fault_redis_restart), (0.26 * duration, fault_pg_restart), (0.32 * duration, fault_outage),
        (0.38 * duration, fault_partition_refused), (0.44 * duration, fault_429), (0.50 * duration, fault_drop_ws),
        (0.56 * duration, fault_partition_blackhole), (0.62 * duration, fault_half_writes),
        (0.68 * duration, fault_duplicate_delivery), (0.74 * duration, fault_back_empty),
        (0.80 * duration, fault_by_hand), (0.86 * duration, fault_clock_skew), (0.95 * duration, fault_kill_worker),
    ], key=lambda item: item[0])

    changes = site_errors = 0
    started = last_fault_at = time.monotonic()
    next_change = started
    while time.monotonic() - started < duration or schedule:
        now = time.monotonic() - started
        while schedule and schedule[0][0] <= now:
            schedule.pop(0)[1]()
            last_fault_at = time.monotonic()
        if now >= duration:
            continue
        if time.monotonic() < next_change:
            time.sleep(min(0.05, next_change - time.monotonic()))
            continue
        next_change += 1 / args.rate
        try:
            mutate(rnd, users, vip, roles, User)
        except (OperationalError, InterfaceError):  # the site's database is restarting: that request failed
            site_errors += 1
            connections.close_all()
            continue
        changes += 1
    last_fault = time.monotonic()  # end of the soak: last change (the last fault is a little earlier)

    def drift() -> tuple[int, int]:
        try:
            preview = run_reconcile(kind="manual", dry_run=True, triggered_by="bench/faults.py")
        except ReconcileBusy:
            return -1, -1
        if preview is None or preview.status == "failed":
            return -1, -1
        planned = sum(preview.counts.values())
        # People whose planned state is not reached yet (a change of theirs has not arrived).
        return planned, (preview.summary or {}).get("people_with_changes", 0)

    converged_at = None
    planned, unsettled = -1, -1
    while time.monotonic() - last_fault < args.deadline:
        if not PendingSync.objects.exists():
            planned, unsettled = drift()
            if planned == 0:
                converged_at = time.monotonic()
                break
        time.sleep(1.0)
    else:
        planned, unsettled = drift()
    for proc in procs.values():
        proc.stop()
    return {
        "changes": changes, "site_errors": site_errors, "faults": len(faults), "fault_kinds": faults,
        "lost": max(unsettled, 0) if converged_at is None else 0,
        "drift": planned if converged_at is None else 0,
        "pending_left": PendingSync.objects.count(),
        "converge_seconds": round(converged_at - last_fault, 1) if converged_at else None,
        "converge_seconds_after_last_fault": round(converged_at - last_fault_at, 1) if converged_at else None,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def mutate(rnd: random.Random, users: list, vip, roles: list[str], User) -> None:
    """One random site change: role, VIP, active flag, name, a new user, or a deletion."""
    pick = rnd.random()
    if pick < 0.05 and len(users) > 5:
        users.pop(rnd.randrange(len(users))).delete()
        return
    if pick < 0.10:
        n = len(users) + 1000 + rnd.randrange(10**6)
        users.append(User.objects.create_user(f"soaknew{n}", f"soaknew{n}@example.org", "pw", role=rnd.choice(roles)))
        return
    user = rnd.choice(users)
    if pick < 0.35:
        user.role = rnd.choice(roles)
        user.save()
    elif pick < 0.55:
        (user.groups.remove if user.groups.filter(pk=vip.pk).exists() else user.groups.add)(vip)
    elif pick < 0.70:
        user.is_active = not user.is_active
        user.save()
    else:
        user.first_name = f"N{rnd.randrange(10**6)}"
        user.save()


if __name__ == "__main__":
    main()
