"""Benchmark: full reconciliation against the stand-in Rocket.Chat, compared with a naive peer approach.

    .venv/bin/python bench/reconcile.py --users 10000 --drift 0.1 [--unpaged-reads] [--whole]

The site people answer the engine's link index (``sync_tasks.paged.LinkedPeople``), as the Django side's
do, so the run is planned a page of accounts at a time; ``--whole`` passes them as a plain iterable
instead (planned in site order with every account held: the memory the paged plan saves).

Builds N site people and a Rocket.Chat state in which a fraction D of them has drifted (missing
accounts, extra or missing room memberships, extra or missing roles and room roles, stale active flags
in both directions), then, over real HTTP on loopback:

1. a dry-run reconcile, a real reconcile and a second reconcile (which must write nothing);
2. on a fresh, identically drifted server, a naive peer approach: per person ``users.info``, then one
   membership check per managed room (``*.members`` filtered by username), then the fixes, unbatched.

The stand-in runs in a child process seeded directly (no HTTP) with deterministic ids, so the site
people can carry AccountLinks and ``peak_rss_mb`` measures the engine's process alone (the server's
is reported as ``server_peak_rss_mb``). It listens with TCP_NODELAY and the rate limiter off.

``expected_writes`` is computed here from the injected drift, independently of the planner. The last
line printed is the JSON summary.
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import random
import resource
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SERVICE = "rcsync"
SERVICE_PASSWORD = "bench-service-password"
VIP = frozenset({"vip"})
KINDS = ("missing", "extra_room", "missing_room", "extra_role", "missing_role", "stale_active", "stale_inactive")


# ----------------------------------------------------------------------------------------- scenario
def uid(i: int) -> str:
    return f"U{i:016d}"  # 17 characters, like Rocket.Chat ids


@dataclass(frozen=True)
class Profile:
    i: int
    active: bool  # on the site
    roles: frozenset[str]
    rooms: frozenset[str]
    room_roles: frozenset[tuple[str, str]]


def profile(i: int) -> Profile:
    """The site truth for person i: 1 is the owner, every 100th a moderator, every 20th a VIP,
    every 50th (offset 25) has left the site."""
    owner, moderator, vip = i == 1, i % 100 == 0, i % 20 == 0
    active = i % 50 != 25
    roles = {"user"} | ({"admin"} if owner else set())
    rooms = {"general"} | ({"vip"} if owner or vip else set()) | ({"moderators"} if owner or moderator else set())
    rr = {("general", "moderator")} if moderator else set()
    return Profile(i, active, frozenset(roles), frozenset(rooms), frozenset(rr))


def drift_plan(n: int, drift: float, seed: int) -> dict[int, str]:
    """Which people drift and how: kinds in rotation over a random sample (the owner never drifts)."""
    k = min(n - 1, int(round(drift * n)))
    chosen = sorted(random.Random(seed).sample(range(2, n + 1), k)) if k > 0 else []
    out = {}
    for j, i in enumerate(chosen):
        kind = KINDS[j % len(KINDS)]
        p = profile(i)
        if not p.active:
            kind = "stale_active"  # a leaver whose account is still active and in its rooms
        elif kind == "extra_room" and {"vip", "moderators"} <= p.rooms:
            kind = "extra_role"  # already in every managed room: drift the roles instead
        out[i] = kind
    return out


@dataclass
class RcTruth:
    """What Rocket.Chat holds for person i (None = no account)."""

    active: bool
    roles: set[str]
    rooms: set[str]
    room_roles: set[tuple[str, str]]


def rc_truth(i: int, kind: str | None) -> RcTruth | None:
    p = profile(i)
    if not p.active and kind != "stale_active":
        return RcTruth(False, set(p.roles), set(), set())  # deprovisioned earlier: no memberships
    t = RcTruth(True, set(p.roles), set(p.rooms), set(p.room_roles))
    if kind == "missing":
        return None
    if kind == "extra_room":
        t.rooms.add("vip" if "vip" not in p.rooms else "moderators")
    elif kind == "missing_room":
        t.rooms.discard("general")
        t.room_roles = {rr for rr in t.room_roles if rr[0] != "general"}
    elif kind == "extra_role":
        t.roles.add("admin")
    elif kind == "missing_role":
        if p.room_roles:
            t.room_roles = set()
        else:
            t.roles.discard("user")
    elif kind == "stale_inactive":
        t.active = False  # deactivated by hand; memberships kept (hidden from *.members)
    return t


def expected_writes(n: int, drifts: dict[int, str], invite_batch: int = 100) -> tuple[int, dict[str, int]]:
    """HTTP writes the reconcile must make, derived from the drift alone."""
    singles: dict[str, int] = {}
    invites: dict[str, int] = {}

    def add(kind: str, k: int = 1) -> None:
        singles[kind] = singles.get(kind, 0) + k

    for i, kind in drifts.items():
        p = profile(i)
        if kind == "missing":
            add("create_user")
            for room in p.rooms:
                invites[room] = invites.get(room, 0) + 1
            add("add_room_role", len(p.room_roles))
        elif kind == "extra_room":
            add("kick")
        elif kind == "missing_room":
            invites["general"] = invites.get("general", 0) + 1
            add("add_room_role", sum(1 for r in p.room_roles if r[0] == "general"))
        elif kind == "extra_role":
            add("remove_role")
        elif kind == "missing_role":
            add("add_room_role" if p.room_roles else "add_role")
        elif kind == "stale_active":
            add("kick", len(p.rooms))
            add("deactivate")
        elif kind == "stale_inactive":
            add("activate")
    calls = sum(singles.values()) + sum(math.ceil(c / invite_batch) for c in invites.values())
    singles["invite"] = sum(invites.values())
    return calls, singles


# ----------------------------------------------------------------------------------------- server
def _seed_state(n: int, drifts: dict[int, str]) -> Any:
    import gc

    from fake_rocketchat.backend.helpers import BulkUser
    from fake_rocketchat.harness.testing import build_state

    # Millions of small documents that all live until the end: the cyclic collector would rescan
    # them again and again while they are made. Off while seeding, then frozen (never scanned).
    gc.disable()

    state = build_state(admin_username=SERVICE, admin_password=SERVICE_PASSWORD, rate_limit=False)
    svc = state.find_user_by_username(SERVICE)
    rids = {"general": "GENERAL"}
    for key in ("vip", "moderators"):
        rids[key] = state.create_room(key, "p", owner=SERVICE)["_id"]
    no_roles: tuple[str, ...] = ()

    def rows() -> Any:
        for i in range(1, n + 1):
            t = rc_truth(i, drifts.get(i))
            if t is None:
                continue
            rooms = [(rids[key], tuple(r for room, r in t.room_roles if room == key) or no_roles)
                     for key in sorted(t.rooms)]
            yield BulkUser(uid(i), f"user{i:06d}", f"User {i}", f"user{i}@example.org", sorted(t.roles), t.active,
                           True, rooms)

    state.bulk_create_users(rows())  # one timestamp, indexes sorted once, no events (nobody listens yet)
    assert svc is not None
    gc.freeze()
    gc.enable()
    return state


def _serve(n: int, drifts: dict[int, str], port_pipe: Any) -> None:
    import asyncio

    import uvicorn

    from fake_rocketchat.harness.app import create_app

    state = _seed_state(n, drifts)
    app = create_app(state)
    # Bind with an explicit IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections
    # (otherwise every response waits ~40 ms for a delayed ACK on loopback).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    port_pipe.send(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    asyncio.run(server.serve(sockets=[sock]))


class Server:
    """The stand-in in a child process, seeded with the scenario."""

    def __init__(self, n: int, drifts: dict[int, str]) -> None:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(n, drifts, child), daemon=True)
        self.proc.start()
        if not parent.poll(600):
            raise RuntimeError("stand-in did not start")
        self.url = f"http://127.0.0.1:{parent.recv()}"
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

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


# ----------------------------------------------------------------------------------------- site side
class SitePeople:
    """The site people, made afresh each time they are iterated, as a site reads them from its
    database: at a million people a list of them would be most of the engine's memory, and
    ``reconcile_all`` plans people as they come (sync_tasks.stream). ``links`` (person -> AccountLink)
    replaces the scenario's links, as the site stores them after a run (:meth:`relinked`)."""

    def __init__(self, n: int, drifts: dict[int, str], links: dict[int, Any] | None = None) -> None:
        self.n, self.drifts, self.links = n, drifts, dict(links or {})

    def __len__(self) -> int:
        return self.n

    def person(self, i: int) -> Any:
        from sync_tasks.person import AccountLink, SitePerson

        p = profile(i)
        kind = self.drifts.get(i)
        name = f"user{i:06d}"
        link = self.links.get(i) or (None if kind == "missing" else AccountLink(uid(i), name, True))
        return SitePerson(site_id=str(i), username=name, email=f"user{i}@example.org", email_verified=True,
                          name=f"User {i}", active=p.active and kind != "stale_active",
                          role="owner" if i == 1 else ("moderator" if i % 100 == 0 else "user"),
                          groups=VIP if i % 20 == 0 else frozenset(), link=link)

    def __iter__(self) -> Any:
        return (self.person(i) for i in range(1, self.n + 1))

    # sync_tasks.paged.LinkedPeople: the site's link index and its people looked up by linked account,
    # as a site answers them from its tables (django_hooks.people.SiteDirectory)
    def _linked(self, i: int) -> bool:
        return i in self.links or self.drifts.get(i) != "missing"

    def linked_account_ids(self) -> Any:
        return (self.links[i].rc_user_id if i in self.links else uid(i)
                for i in range(1, self.n + 1) if self._linked(i))

    def people_linked_to(self, user_ids: Any) -> Any:
        made = self.__dict__.get("_made")
        if made is None:
            made = self._made = {link.rc_user_id: i for i, link in self.links.items()}
        for account in user_ids:
            i = made.get(account)
            if i is None and account.startswith("U") and account[1:].isdigit():
                i = int(account[1:])
                if i in self.links or not 1 <= i <= self.n or not self._linked(i):
                    i = None
            if i is not None:
                yield self.person(i)

    def unlinked_people(self) -> Any:
        return (self.person(i) for i in range(1, self.n + 1) if not self._linked(i))

    def relinked(self, report: Any) -> "SitePeople":
        """The people with the links a run created (accounts rcsync made for people without one)."""
        from sync_tasks.person import AccountLink

        links = dict(self.links)
        for r in report.results:
            i = int(r.site_id)
            if self.drifts.get(i) == "missing" and i not in links and r.rc_user_id:
                links[i] = AccountLink(r.rc_user_id, r.rc_username, bool(r.created_by_bridge))
        return SitePeople(self.n, self.drifts, links)


def site_people(n: int, drifts: dict[int, str]) -> list[Any]:
    return list(SitePeople(n, drifts))


def read_bound(n: int, drifts: dict[int, str], page: int = 100) -> int:
    """ceil(accounts/100) + sum over rooms ceil(members/100) + roles pages + 10, from the seeded truth."""
    accounts = 2 + 1  # rcsync, rocket.cat, and the margin of rounding is in the +10
    members = {"general": 1, "vip": 1, "moderators": 1}
    holders = {"admin": 1, "user": 0}
    for i in range(1, n + 1):
        t = rc_truth(i, drifts.get(i))
        if t is None:
            continue
        accounts += 1
        for r in t.roles & holders.keys():
            holders[r] += 1
        if t.active:
            for room in t.rooms:
                members[room] += 1
    return (math.ceil(accounts / page) + sum(math.ceil(m / page) for m in members.values())
            + sum(math.ceil(h / page) for h in holders.values()) + 10)


def client_for(url: str) -> Any:
    from bridge import BridgeConfig
    from bridge.client import RocketChat

    return RocketChat(BridgeConfig(url=url, username=SERVICE, password=SERVICE_PASSWORD, pacing=False,
                                   max_concurrency=8))


# ----------------------------------------------------------------------------------------- naive peer
def naive_sync(url: str, people: list[Any], config: Any) -> int:
    """What peers do: per person, look the user up, check each managed room, fix. Returns HTTP calls."""
    import httpx

    from sync_tasks.policy import desired_account

    calls = 0
    with httpx.Client(base_url=url + "/api/v1", timeout=30) as http:
        login = http.post("login", json={"user": SERVICE, "password": SERVICE_PASSWORD}).json()["data"]
        http.headers.update({"X-User-Id": login["userId"], "X-Auth-Token": login["authToken"]})
        calls += 1
        rooms = {}
        for spec in config.rooms:
            info = http.get("rooms.info", params={"roomName": spec.name}).json()["room"]
            rooms[spec.key] = (info["_id"], "channels" if info["t"] == "c" else "groups")
            calls += 1

        def call(method: str, route: str, **kw: Any) -> dict:
            nonlocal calls
            calls += 1
            return http.request(method, route, **kw).json()

        for person in people:
            want = desired_account(person, config)
            body = call("GET", "users.info", params={"username": person.username})
            user = body.get("user")
            if user is None:
                if not want.active:
                    continue
                user = call("POST", "users.create", json={
                    "username": person.username, "name": want.name, "email": want.email, "password": "x" * 24,
                    "verified": True, "joinDefaultChannels": False, "roles": sorted(want.roles or ())})["user"]
            if want.active and not user.get("active", True):
                call("POST", "users.setActiveStatus", json={"userId": user["_id"], "activeStatus": True})
            if want.roles is not None:
                have = set(user.get("roles") or ())
                for role in sorted(want.roles - have):
                    call("POST", "roles.addUserToRole", json={"roleId": role, "username": person.username})
                for role in sorted((have & {"admin", "user"}) - want.roles):
                    call("POST", "roles.removeUserFromRole", json={"roleId": role, "username": person.username})
            for key, (rid, prefix) in sorted(rooms.items()):
                found = call("GET", f"{prefix}.members", params={"roomId": rid, "filter": person.username,
                                                                 "count": 1})
                member = any(m.get("username") == person.username for m in found.get("members") or ())
                if key in want.rooms and not member:
                    call("POST", f"{prefix}.invite", json={"roomId": rid, "userId": user["_id"]})
                elif key not in want.rooms and member:
                    call("POST", f"{prefix}.kick", json={"roomId": rid, "userId": user["_id"]})
                if (key, "moderator") in want.room_roles:
                    call("POST", f"{prefix}.addModerator", json={"roomId": rid, "userId": user["_id"]})
            if not want.active and user.get("active", True):
                call("POST", "users.setActiveStatus", json={"userId": user["_id"], "activeStatus": False})
    return calls


# ----------------------------------------------------------------------------------------- main
class Whole:
    """The site people as a plain iterable: without the link index, the engine plans them in site order
    against every account held at once (the streamed reconcile; ``--whole``, for comparison)."""

    def __init__(self, people: SitePeople) -> None:
        self.people = people

    def __iter__(self) -> Any:
        return iter(self.people)


def run(users: int, drift: float, seed: int = 1, naive_sample: int = 2000, naive: bool = True,
        log: Any = None, unpaged: bool = False, whole: bool = False) -> dict[str, Any]:
    from sync_tasks.config import load_config
    from sync_tasks.engine import reconcile_all

    def say(msg: str) -> None:
        if log is not None:
            print(msg, file=log, flush=True)

    # unpaged: BATCH.unpaged_reads, one count=0 request per listing instead of pages (docs/settings.md)
    config = load_config({"BATCH": {"unpaged_reads": True}} if unpaged else {})
    drifts = drift_plan(users, drift, seed)
    exp_writes, exp_kinds = expected_writes(users, drifts, config.batch.invite_batch)
    bound = read_bound(users, drifts)
    say(f"seeding {users} users, {len(drifts)} drifted ...")
    t0 = time.monotonic()
    server = Server(users, drifts)
    say(f"stand-in ready in {time.monotonic() - t0:.1f} s at {server.url}")
    people = SitePeople(users, drifts)
    site: Any = Whole(people) if whole else people
    client = client_for(server.url)
    try:
        dry = reconcile_all(site, client, config, dry_run=True).summary()  # keep summaries only:
        say(f"dry-run: {dry}")  # a 100k-person report is tens of MB
        cpu0, t1 = time.process_time(), time.monotonic()
        report = reconcile_all(site, client, config)
        seconds, engine_cpu = time.monotonic() - t1, time.process_time() - cpu0
        people = people.relinked(report)
        site = Whole(people) if whole else people
        real = report.summary()
        del report
        say(f"reconcile: {real}")
        second = reconcile_all(site, client, config).summary()
        say(f"second run: {second}")
    finally:
        client.close()
        server.stop()
    result: dict[str, Any] = {
        "users": users, "drift": drift, "reads": real["reads"], "writes": real["writes"],
        "expected_writes": exp_writes, "second_run_writes": second["writes"],
        "read_bound": bound, "planned": real["planned"], "expected_ops": dict(sorted(exp_kinds.items())),
        "failed": real["failed"], "dry_run_reads": dry["reads"], "dry_run_writes": dry["writes"],
        "engine_cpu_seconds": round(engine_cpu, 2), "stopped_by_safety": real["stopped_by_safety"],
        "reveal_reads": real["revealed"], "reads_within_bound": (real["reads"] or 0) <= bound,
        "bulk_reads_within_bound": (real["reads"] or 0) - real["revealed"] <= bound,
        "unpaged_reads": unpaged, "paged": real["paged"],
    }
    naive_calls = naive_seconds = None
    if naive:
        step = 1 if naive_sample <= 0 or users <= naive_sample else max(1, users // naive_sample)
        sample = [people.person(i) for i in range(1, users + 1, step)]
        server = Server(users, drifts)
        try:
            t2 = time.monotonic()
            measured = naive_sync(server.url, sample, config)
            elapsed = time.monotonic() - t2
        finally:
            server.stop()
        factor = users / len(sample)
        naive_calls, naive_seconds = int(round(measured * factor)), round(elapsed * factor, 2)
        result["naive_sampled_people"] = len(sample)
        say(f"naive: {measured} calls for {len(sample)} people in {elapsed:.1f} s")
    ours = (real["reads"] or 0) + (real["writes"] or 0)
    result.update({
        "naive_calls": naive_calls,
        "call_ratio": round(naive_calls / ours, 1) if naive_calls and ours else None,
        "seconds": round(seconds, 2), "naive_seconds": naive_seconds,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "server_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    })
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--drift", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--naive-sample", type=int, default=2000,
                    help="run the naive approach on this many evenly spread people and scale up (0 = all)")
    ap.add_argument("--no-naive", action="store_true")
    ap.add_argument("--unpaged-reads", action="store_true",
                    help="read users.list and the member lists with one count=0 request each (BATCH.unpaged_reads)")
    ap.add_argument("--whole", action="store_true",
                    help="pass the people without their link index: planned in site order, every account held")
    args = ap.parse_args(argv)
    if args.users < 2 or not 0 <= args.drift <= 1:
        ap.error("--users must be >= 2 and --drift within [0, 1]")
    result = run(args.users, args.drift, args.seed, args.naive_sample, not args.no_naive, log=sys.stderr,
                 unpaged=args.unpaged_reads, whole=args.whole)
    keys = ["users", "drift", "reads", "writes", "expected_writes", "second_run_writes", "naive_calls", "call_ratio",
            "seconds", "naive_seconds", "peak_rss_mb"]
    print(json.dumps({k: v for k, v in result.items() if k not in keys}, sort_keys=True))
    print(json.dumps({k: result[k] for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
