"""Benchmark: 1,000 invites through `bridge` — one per call, batched (≤ 100 userIds per call), concurrent.

    .venv/bin/python bench/bridge_calls.py [--users 1000] [--concurrency 16] [--latency-ms 2] [--child-process]

The stand-in Rocket.Chat runs in-process by default (`fake_rocketchat.harness.testing.running_server`, a uvicorn
thread on loopback), or with `--child-process` as `python -m fake_rocketchat` in its own process. The
rate limiter is off (the service account is an admin and would bypass it anyway), and every request
gets `--latency-ms` of added server latency (default 2 ms, a LAN round trip). Each mode gets a fresh
public channel and adds the same N users to it over real HTTP:

1. `one_per_call`: `invite(room, [uid])` one after another (N calls);
2. `batched`: one `invite(room, uids)`, which sends `channels.invite` with ≤ 100 `userIds` per call;
3. `concurrent`: N single-user invites at once, bounded by the client's `max_concurrency`.

Calls are counted by the server's request log; membership is checked after each mode. In-process,
server and client share one interpreter lock, so concurrency gains little there; the child process
shows what concurrency buys against a server that has its own CPU. The last line printed is the JSON
summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterator

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bridge import AsyncRocketChat, BridgeConfig, RcRoom  # noqa: E402

ADMIN = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password"
MODES = ("one_per_call", "batched", "concurrent")


@dataclass
class Target:
    """Where the stand-in listens and how to count its channels.invite calls."""

    url: str
    rooms: dict[str, str]  # mode -> room id
    invite_calls: Callable[[], int]


@contextlib.contextmanager
def in_process(users: int, latency_ms: float) -> Iterator[Target]:
    from fake_rocketchat.harness.testing import running_server

    with running_server(admin_username=ADMIN, admin_password=ADMIN_PASSWORD, rate_limit=False,
                        latency_ms=latency_ms) as srv:
        for i in range(users):
            srv.state.create_user(f"bench{i:05d}")
        rooms = {mode: srv.state.create_room(f"bench-{mode}", "c", owner=ADMIN)["_id"] for mode in MODES}
        yield Target(srv.url, rooms, lambda: srv.request_log.count(route="channels.invite"))


@contextlib.contextmanager
def child_process(users: int, latency_ms: float) -> Iterator[Target]:
    rooms = {mode: f"BENCH{mode.upper().replace('_', '')}" for mode in MODES}
    seed = {
        "users": [{"username": f"bench{i:05d}"} for i in range(users)],
        "rooms": [{"name": f"bench-{mode}", "type": "c", "owner": ADMIN, "id": rid} for mode, rid in rooms.items()],
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(seed, handle)
    cmd = [sys.executable, "-m", "fake_rocketchat", "--port", "0", "--rate-limit", "off", "--latency-ms",
           str(latency_ms), "--admin-username", ADMIN, "--admin-password", ADMIN_PASSWORD, "--seed", handle.name,
           "--auth-failure-delay-ms", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if "listening on" not in line:
            raise SystemExit(f"the stand-in did not start: {line!r}")
        url = line.strip().rsplit(" ", 1)[-1]

        def count() -> int:
            reply = httpx.get(f"{url}/_fake/requests", params={"route": "channels.invite"}, timeout=30)
            return int(reply.json()["count"])

        yield Target(url, rooms, count)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        os.unlink(handle.name)


async def _measure(target: Target, rc: AsyncRocketChat, mode: str, user_ids: list[str],
                   run: Callable[[RcRoom], Awaitable[Any]]) -> dict[str, Any]:
    room = RcRoom(id=target.rooms[mode], name=f"bench-{mode}", type="c")
    before = target.invite_calls()
    started = time.perf_counter()
    await run(room)
    seconds = time.perf_counter() - started
    calls = target.invite_calls() - before
    members = {m.id async for m in rc.iter_members(room)}
    if not set(user_ids) <= members:
        raise SystemExit(f"{mode}: {len(set(user_ids) - members)} users missing from the room")
    result = {"calls": calls, "seconds": round(seconds, 3), "invites_per_second": round(len(user_ids) / seconds, 1)}
    print(f"{mode:>13}: {calls:5d} calls in {seconds:7.3f} s  ({result['invites_per_second']:8.1f} invites/s)")
    return result


async def run(target: Target, concurrency: int) -> dict[str, Any]:
    config = BridgeConfig(url=target.url, username=ADMIN, password=ADMIN_PASSWORD, max_concurrency=concurrency)
    async with AsyncRocketChat(config) as rc:
        user_ids = [u.id async for u in rc.iter_users() if (u.username or "").startswith("bench0")
                    or (u.username or "").startswith("bench1")]

        async def one_per_call(room: RcRoom) -> None:
            for uid in user_ids:
                await rc.invite(room, [uid])

        async def batched(room: RcRoom) -> None:
            await rc.invite(room, user_ids)

        async def concurrent(room: RcRoom) -> None:
            await asyncio.gather(*(rc.invite(room, [uid]) for uid in user_ids))

        runners = {"one_per_call": one_per_call, "batched": batched, "concurrent": concurrent}
        return {mode: await _measure(target, rc, mode, user_ids, runners[mode]) for mode in MODES}


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--child-process", action="store_true", help="run the stand-in in its own process")
    args = parser.parse_args()
    server = child_process if args.child_process else in_process
    with server(args.users, args.latency_ms) as target:
        results = asyncio.run(run(target, args.concurrency))
    base = results["one_per_call"]
    ratios = {
        "batched_speedup": round(base["seconds"] / results["batched"]["seconds"], 1),
        "concurrent_speedup": round(base["seconds"] / results["concurrent"]["seconds"], 2),
        "batched_call_reduction": round(base["calls"] / max(1, results["batched"]["calls"]), 1),
    }
    print(f"batched: {ratios['batched_speedup']}x faster with {ratios['batched_call_reduction']}x fewer calls; "
          f"concurrent: {ratios['concurrent_speedup']}x faster with as many calls")
    return {"benchmark": "bridge_calls", "server": "child-process" if args.child_process else "in-process",
            "users": args.users, "concurrency": args.concurrency, "latency_ms": args.latency_ms, **results,
            "ratios": ratios}


if __name__ == "__main__":
    print(json.dumps(main()))
