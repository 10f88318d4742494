"""Benchmark: disaster recovery — Rocket.Chat comes back empty, one reconcile restores everything.

    .venv/bin/python bench/recovery.py --users 1000

1. Seeds a synced site of N people: the stand-in Rocket.Chat (in this process, over real HTTP on loopback,
   rate limiter off, TOTP-protected service account) is brought in line by one reconcile, including the
   declared workspace settings and the ``besedka`` Custom OAuth service (SSO in mode ``create_ahead``); the people then carry AccountLinks, as the site's database would.
2. Empties Rocket.Chat: the stand-in's empty restart (settings, OAuth service, rooms and accounts gone; the
   service account comes back as Rocket.Chat's ADMIN_* start-up variables create it).
3. Runs one reconcile (the recovery), and a second one, which must write nothing.

``expected_writes`` is computed here from the scenario, independently of the planner: one call per
declared setting (plus the OAuth registration), per missing managed room and per account, invites in batches of 100 per room, one
room-role grant per moderator. ``members_ok`` checks every managed room's members against the policy
computed here. The last line printed is the JSON summary.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import replace
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

SERVICE, SERVICE_PASSWORD = "rcsync", "bench-service-password"
OAUTH_SECRET = "bench-oauth-client-secret"
B = "Accounts_OAuth_Custom-Besedka"


def site_truth(i: int) -> tuple[set[str], set[tuple[str, str]], bool]:
    """(rooms, room roles, is_owner) for person i: 1 is the owner, every 100th a moderator, every 20th a VIP."""
    owner, moderator, vip = i == 1, i % 100 == 0, i % 20 == 0
    rooms = {"general"} | ({"vip"} if owner or vip else set()) | ({"moderators"} if owner or moderator else set())
    return rooms, ({("general", "moderator")} if moderator else set()), owner


def people(n: int) -> list[Any]:
    from sync_tasks.person import SitePerson

    out = []
    for i in range(1, n + 1):
        rooms, rr, owner = site_truth(i)
        out.append(SitePerson(site_id=str(i), username=f"member{i}", email=f"member{i}@example.org",
                              email_verified=True, name=f"Member {i}", role="owner" if owner else
                              ("moderator" if i % 100 == 0 else "user"), groups={"vip"} if i % 20 == 0 else set()))
    return out


def declared_settings(oauth: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {"Site_Url": "https://chat.example.org", "Accounts_RegistrationForm": "Disabled",
                                "Site_Name": {"env": "BENCH_SITE_NAME"}}
    if oauth:
        settings.update({B: True, f"{B}-url": "https://besedka.example.org", f"{B}-id": "rocketchat",
                         f"{B}-secret": {"env": "BENCH_OAUTH_SECRET"}, f"{B}-merge_users": True,
                         f"{B}-merge_users_distinct_services": True, f"{B}-key_field": "username",
                         f"{B}-username_field": "username", f"{B}-email_field": "email",
                         "Iframe_Restrict_Access": False})
    return settings


def relink(persons: list[Any], report: Any) -> list[Any]:
    from sync_tasks.person import AccountLink

    out = []
    for p in persons:
        r = report.result_for(p.site_id)
        if r is not None and r.rc_user_id:
            p = replace(p, link=AccountLink(r.rc_user_id, r.rc_username, bool(r.created_by_bridge)))
        out.append(p)
    return out


def expected_writes(n: int, n_settings: int, oauth: bool, existing_rooms: int, n_rooms: int) -> int:
    members = {"general": 0, "vip": 0, "moderators": 0}
    moderators = 0
    for i in range(1, n + 1):
        rooms, rr, _ = site_truth(i)
        for r in rooms:
            members[r] += 1
        moderators += len(rr)
    invites = sum(math.ceil(m / 100) for m in members.values() if m)
    # No second-factor round trip: the recovery run logs in afresh (the old token died with the data), the
    # login answers TOTP, and Rocket.Chat remembers that factor on the token for
    # Accounts_TwoFactorAuthentication_RememberFor (1800 s), so the 2FA routes are not challenged.
    return int(oauth) + n_settings + (n_rooms - existing_rooms) + n + invites + moderators


def room_of(state: Any, key: str) -> Any:
    return state.find_room("GENERAL") if key == "general" else state.find_room_by_name(key)


def same_as_declared(held: Any, declared: Any) -> bool:
    from sync_tasks.secrets import reveal

    value = reveal(declared)
    return held == (list(value) if isinstance(value, tuple) else value)


def members_ok(state: Any, n: int) -> bool:
    want: dict[str, set[str]] = {"general": set(), "vip": set(), "moderators": set()}
    for i in range(1, n + 1):
        for r in site_truth(i)[0]:
            want[r].add(f"member{i}")
    for key, names in want.items():
        room = state.find_room("GENERAL") if key == "general" else state.find_room_by_name(key)
        if room is None or set(state.room_members(room["_id"])) - {SERVICE} != names:
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=1000)
    args = ap.parse_args()
    n = args.users

    import logging

    import pyotp

    logging.getLogger("rcsync").setLevel(logging.WARNING)
    from bridge import BridgeConfig
    from bridge.client import RocketChat
    from fake_rocketchat.harness.testing import running_server
    from sync_tasks.config import load_config
    from sync_tasks.engine import reconcile_all

    totp = pyotp.random_base32()
    os.environ["BENCH_SITE_NAME"] = "Besedka chat"
    os.environ["BENCH_OAUTH_SECRET"] = OAUTH_SECRET
    server_opts = dict(admin_username=SERVICE, admin_password=SERVICE_PASSWORD, admin_email="rcsync@example.org",
                       admin_totp_secret=totp, rate_limit=False)

    def client_for(srv: Any) -> Any:
        return RocketChat(BridgeConfig(url=srv.url, username=SERVICE, password=SERVICE_PASSWORD, totp_secret=totp,
                                       max_retries=2, backoff_base=0.05))

    oauth = True
    with running_server(**server_opts) as srv:
        raw = {"SETTINGS": declared_settings(oauth), "BATCH": {"concurrency": 4},
               "SSO": {"service": "besedka", "mode": "create_ahead"}}
        cfg = load_config(raw)
        persons = people(n)
        client = client_for(srv)
        try:
            t0 = time.monotonic()
            seeded = reconcile_all(persons, client, cfg)
            seed_seconds = time.monotonic() - t0
            if seeded.failed:
                raise SystemExit(f"seeding failed: {seeded.failed} {seeded.problems[:3]}")
            persons = relink(persons, seeded)

            srv.restart_empty()  # no settings, OAuth service, rooms or accounts; the service account comes back
            existing = sum(1 for key in ("general", "vip", "moderators") if room_of(srv.state, key) is not None)
            report = reconcile_all(persons, client, cfg)
            second = reconcile_all(relink(persons, report), client, cfg)
            state = srv.state
            settings_restored = sum(1 for s in cfg.settings if same_as_declared(state.settings.get(s.setting_id), s.value))
            rooms_restored = sum(1 for key in ("general", "vip", "moderators") if room_of(state, key) is not None)
            out = {
                "users": n, "reads": report.reads, "writes": report.writes,
                "expected_writes": expected_writes(n, len(cfg.settings), oauth, existing, 3),
                "second_run_writes": second.writes, "seconds": round(report.seconds, 3),
                "settings_restored": settings_restored, "settings_declared": len(cfg.settings),
                "rooms_restored": rooms_restored, "members_ok": members_ok(state, n),
                "failed": report.failed, "statuses": report.status_counts(), "seed_seconds": round(seed_seconds, 3),
            }
        finally:
            client.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
