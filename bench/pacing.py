"""Benchmark: how much of a rate-limited account's allowance rcsync spends, and how many 429s it draws,
with one worker and with several sharing the budget through Redis.

    .venv/bin/python bench/pacing.py --people 200 --drift 0.1

The stand-in runs in a child process with its REST limiter on and a short window (``--limit`` calls per
``--window`` seconds per route, through ``API_Enable_Rate_Limiter_Limit_Calls_Default`` /
``..._Time_Default``), and the service account lacks ``api-bypass-rate-limit`` (revoked from the admin
role, as an administrator would on the Permissions page). N site people of whom a fraction D has
drifted (the scenario of bench/reconcile.py) are repaired by targeted syncs (``sync_people``, what a
worker runs for pending people) of ``--chunk`` people each, handed out from one queue to W worker
processes. Each worker has its own client; with Redis (the default) their pacers share one budget per
route, as Celery workers behind one IP do. Each W in ``--workers`` gets a freshly seeded stand-in.

Per run, counted by the stand-in: ``calls`` (every REST request, 429s included), ``calls_429`` and
``share_429``; ``allowance_utilisation`` is the calls made on the busiest route divided by what its
windows allowed during the run, ``limit * ceil(seconds / window)`` (Meteor's fixed windows open at the
first call after the previous one ended, so no schedule fits more calls into ``seconds``);
``min_seconds`` is the theoretical minimum for that route, ``(ceil(calls / limit) - 1) * window``.
``seconds`` runs from the workers' start signal to the last one finishing. After each run a dry-run
reconcile by a bypass account checks that nothing is left to do (``converged``). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import reconcile as scenario  # noqa: E402  (bench/reconcile.py: people, drift, seeding)

AUDITOR = "auditor"
AUDITOR_PASSWORD = "bench-auditor-password"
REDIS_URL = os.environ.get("RCSYNC_REDIS_URL", "redis://127.0.0.1:6379/0")


# ----------------------------------------------------------------------------------------- server
def _limited_state(n: int, drifts: dict[int, str], limit: int, window_ms: int) -> Any:
    """The drifted scenario, then the limiter on with a short window, the bypass taken from admins, and
    an auditor (admin + bot: bot keeps the bypass) for the convergence check."""
    state = scenario._seed_state(n, drifts)
    state.set_setting("API_Enable_Rate_Limiter", True)
    state.set_setting("API_Enable_Rate_Limiter_Limit_Calls_Default", limit)
    state.set_setting("API_Enable_Rate_Limiter_Limit_Time_Default", window_ms)
    state.revoke_permission("api-bypass-rate-limit", "admin")
    state.create_user(AUDITOR, name=AUDITOR, email="auditor@example.invalid", password=AUDITOR_PASSWORD,
                      roles=["admin", "bot"], verified=True)
    return state


def _serve(n: int, drifts: dict[int, str], limit: int, window_ms: int, port_pipe: Any, stats_pipe: Any) -> None:
    import asyncio
    import socket

    import uvicorn

    from fake_rocketchat.harness.app import create_app
    from fake_rocketchat.harness.faults import RequestLog

    state = _limited_state(n, drifts, limit, window_ms)
    log = RequestLog()
    app = create_app(state, request_log=log)

    def answer() -> None:  # the parent asks for the request counts over a pipe
        while True:
            try:
                what = stats_pipe.recv()
            except EOFError:
                return
            if what == "clear":
                log.clear()
                stats_pipe.send(True)
            else:
                stats_pipe.send([(e.method, e.route, e.status) for e in log.entries() if e.route != "/api/info"])

    threading.Thread(target=answer, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY, see reconcile.py
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port_pipe.send(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    asyncio.run(server.serve(sockets=[sock]))


class LimitedServer:
    """The rate-limited stand-in in a child process; `requests()` are (method, route, status) as served."""

    def __init__(self, n: int, drifts: dict[int, str], limit: int, window: float) -> None:
        ctx = mp.get_context("fork")
        port_parent, port_child = ctx.Pipe()
        self._stats, stats_child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(n, drifts, limit, int(window * 1000), port_child, stats_child),
                                daemon=True)
        self.proc.start()
        if not port_parent.poll(600):
            raise RuntimeError("stand-in did not start")
        self.url = f"http://127.0.0.1:{port_parent.recv()}"
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(self.url + "/api/info", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def requests(self) -> list[tuple[str, str, int]]:
        self._stats.send("requests")
        return self._stats.recv()

    def clear(self) -> None:
        self._stats.send("clear")
        self._stats.recv()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


# ----------------------------------------------------------------------------------------- workers
def _worker(url: str, redis_url: str | None, prefix: str, chunks: Any, results: Any, ready: Any, go: Any) -> None:
    """One worker process: its own paced client; targeted syncs of the chunks it takes from the queue."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bridge import BridgeConfig
    from bridge.client import RocketChat
    from sync_tasks.config import load_config
    from sync_tasks.engine import sync_people

    config = load_config({})
    client = RocketChat(BridgeConfig(url=url, username=scenario.SERVICE, password=scenario.SERVICE_PASSWORD,
                                     pacing=True, redis_url=redis_url, key_prefix=prefix, max_rate_limit_wait=600))
    failed: Counter[str] = Counter()
    synced = stopped = 0
    ready.release()
    go.wait()
    try:
        while True:
            chunk = chunks.get()
            if chunk is None:
                break
            report = sync_people(chunk, client, config)
            failed.update(report.failed)
            synced += len(chunk)
            stopped += report.stopped_by_safety
    finally:
        client.close()
        results.put({"synced": synced, "failed": dict(failed), "stopped_by_safety": stopped})


def _converged(url: str, people: list[Any]) -> dict[str, int]:
    """What a full reconcile would still do (dry run, bypass account): {} when the repair is complete."""
    from bridge import BridgeConfig
    from bridge.client import RocketChat
    from sync_tasks.config import load_config
    from sync_tasks.engine import reconcile_all

    client = RocketChat(BridgeConfig(url=url, username=AUDITOR, password=AUDITOR_PASSWORD, pacing=False))
    try:
        return reconcile_all(people, client, load_config({}), dry_run=True).summary()["planned"]
    finally:
        client.close()


def measure(requests: list[tuple[str, str, int]], seconds: float, limit: int, window: float) -> dict[str, Any]:
    """The run's figures from what the stand-in served (pure: the smoke test checks the arithmetic)."""
    per_route = Counter(f"{method} {route}" for method, route, _ in requests)
    calls, refused = len(requests), sum(1 for *_, status in requests if status == 429)
    busiest, busiest_calls = per_route.most_common(1)[0] if per_route else ("", 0)
    allowed = limit * max(1, math.ceil(seconds / window))
    return {
        "calls": calls, "calls_429": refused, "share_429": round(refused / calls, 4) if calls else 0.0,
        "allowance_utilisation": round(busiest_calls / allowed, 3), "busiest_route": busiest,
        "busiest_calls": busiest_calls, "allowed_calls": allowed,
        "min_seconds": round(max(0, math.ceil(busiest_calls / limit) - 1) * window, 1),
    }


def run_once(workers: int, people: list[Any], drifts: dict[int, str], n: int, args: argparse.Namespace,
             say: Any) -> dict[str, Any]:
    server = LimitedServer(n, drifts, args.limit, args.window)
    ctx = mp.get_context("fork")
    chunks, results = ctx.Queue(), ctx.Queue()
    ready, go = ctx.Semaphore(0), ctx.Event()
    prefix = f"rcsync-bench-pacing:{uuid.uuid4().hex[:8]}"
    redis_url = None if args.no_redis else REDIS_URL
    try:
        for i in range(0, len(people), args.chunk):
            chunks.put(people[i:i + args.chunk])
        for _ in range(workers):
            chunks.put(None)
        procs = [ctx.Process(target=_worker, args=(server.url, redis_url, prefix, chunks, results, ready, go))
                 for _ in range(workers)]
        for p in procs:
            p.start()
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError("a worker did not start")
        server.clear()
        started = time.monotonic()
        go.set()
        outcomes = [results.get(timeout=args.timeout) for _ in procs]
        seconds = time.monotonic() - started
        for p in procs:
            p.join(30)
        served = server.requests()
        converged = _converged(server.url, people)
    finally:
        server.stop()
        _wipe(redis_url, prefix)
    failed: Counter[str] = Counter()
    for o in outcomes:
        failed.update(o["failed"])
    figures = measure(served, seconds, args.limit, args.window)
    result = {"workers": workers, "calls": figures["calls"], "calls_429": figures["calls_429"],
              "share_429": figures["share_429"], "allowance_utilisation": figures["allowance_utilisation"],
              "seconds": round(seconds, 1), "min_seconds": figures["min_seconds"]}
    detail = {**figures, "synced": sum(o["synced"] for o in outcomes), "failed": dict(failed),
              "stopped_by_safety": sum(o["stopped_by_safety"] for o in outcomes), "left_to_do": converged}
    say(f"{workers} worker(s): {json.dumps(result)} {json.dumps(detail)}")
    return {**result, "_detail": detail}


def _wipe(redis_url: str | None, prefix: str) -> None:
    if redis_url is None:
        return
    import redis

    conn = redis.Redis.from_url(redis_url)
    keys = list(conn.scan_iter(match=prefix + ":*", count=1000))
    if keys:
        conn.delete(*keys)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--drift", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", default="1,4", help="comma-separated worker counts, one run each")
    ap.add_argument("--chunk", type=int, default=20, help="people per targeted sync")
    ap.add_argument("--limit", type=int, default=10, help="calls per window per route")
    ap.add_argument("--window", type=float, default=6.0, help="window length, seconds")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for a run")
    ap.add_argument("--no-redis", action="store_true", help="each worker paces alone (shows what sharing buys)")
    args = ap.parse_args(argv)
    if args.people < 2 or not 0 <= args.drift <= 1 or args.chunk < 1 or args.limit < 1 or args.window <= 0:
        ap.error("--people >= 2, --drift within [0, 1], --chunk, --limit and --window positive")

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    drifts = scenario.drift_plan(args.people, args.drift, args.seed)
    people = scenario.site_people(args.people, drifts)
    runs = [run_once(int(w), people, drifts, args.people, args, say) for w in args.workers.split(",")]
    print(json.dumps({"details": [r.pop("_detail") for r in runs]}))
    print(json.dumps({"runs": runs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
