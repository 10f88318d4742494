"""Disaster recovery: Rocket.Chat comes back empty; one reconcile restores settings, rooms, accounts and
memberships, re-creating accounts behind links that vanished (never leaving them in error); a second run
writes nothing. Plus a small run of bench/recovery.py."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

from bridge import BridgeConfig
from bridge.client import RocketChat
from fake_rocketchat.harness.testing import running_server
from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all
from sync_tasks.person import AccountLink, SitePerson

from engine_service import SERVICE_PASSWORD, SERVICE_USER, TOTP_SECRET
from standin_features import empty_restart, oauth_login

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def site(i, username, **kw):
    return SitePerson(site_id=str(i), username=username, email=f"{username}@example.org", email_verified=True,
                      name=username.title(), **kw)


PEOPLE = [site(1, "olga", role="owner"), site(2, "mod", role="moderator"), site(3, "vera", groups={"vip"}),
          site(4, "plain")]


def relink(people, report):
    out = []
    for p in people:
        r = report.result_for(p.site_id)
        if r is not None and r.rc_user_id:
            p = replace(p, link=AccountLink(r.rc_user_id, r.rc_username, bool(r.created_by_bridge)))
        out.append(p)
    return out


def members(st, name):
    room = st.find_room("GENERAL") if name == "general" else st.find_room_by_name(name)
    return None if room is None else set(st.room_members(room["_id"])) - {SERVICE_USER}


def assert_restored(st, report):
    assert report.failed == {} and report.status_counts() == {"synced": 4}, report.problems
    assert st.settings.get("Site_Url") == "https://chat.example.org"
    assert members(st, "general") == {"olga", "mod", "vera", "plain"}
    assert members(st, "vip") == {"olga", "vera"} and members(st, "moderators") == {"olga", "mod"}
    assert "admin" in st.find_user_by_username("olga")["roles"]
    general = st.find_room("GENERAL")["_id"]
    assert "moderator" in st.room_roles(general, "mod")


CFG = {"SETTINGS": {"Site_Url": "https://chat.example.org", "Accounts_RegistrationForm": "Disabled"}}


def test_an_empty_rocketchat_is_restored_by_one_reconcile(rc_server, rc_client):
    cfg = load_config(CFG)
    people = relink(PEOPLE, reconcile_all(PEOPLE, rc_client, cfg))
    old_ids = {p.link.rc_user_id for p in people}
    # The same site, a Rocket.Chat that lost its database (only the ADMIN_* service account exists).
    with running_server(admin_username=SERVICE_USER, admin_password=SERVICE_PASSWORD, admin_email="rcsync@example.org",
                        admin_totp_secret=TOTP_SECRET, rate_limit=False) as empty:
        client = RocketChat(BridgeConfig(url=empty.url, username=SERVICE_USER, password=SERVICE_PASSWORD,
                                         totp_secret=TOTP_SECRET, max_retries=1, backoff_base=0.01))
        try:
            report = reconcile_all(people, client, cfg)
            assert_restored(empty.state, report)
            assert report.counts["create_user"] == 4 and report.counts["set_setting"] == 2
            new_ids = {r.rc_user_id for r in report.results}
            assert not new_ids & old_ids and all(r.created_by_bridge for r in report.results)
            again = reconcile_all(relink(people, report), client, cfg)
            assert again.plan == () and again.writes == 0
        finally:
            client.close()


def test_the_stand_ins_empty_restart_is_restored_by_one_reconcile(rc_server, rc_client):
    cfg = load_config(CFG)
    people = relink(PEOPLE, reconcile_all(PEOPLE, rc_client, cfg))
    empty_restart(rc_server)
    report = reconcile_all(people, rc_client, cfg)
    assert_restored(rc_server.state, report)
    assert reconcile_all(relink(people, report), rc_client, cfg).writes == 0


def test_recovery_with_sso_restores_the_oauth_service_and_the_login_still_attaches(rc_server, rc_client, monkeypatch):
    monkeypatch.setenv("BESEDKA_SECRET", "s3cret-recovery")
    b = "Accounts_OAuth_Custom-Besedka"
    cfg = load_config({"SSO": {"service": "besedka"}, "SETTINGS": {
        **CFG["SETTINGS"], b: True, f"{b}-merge_users": True, f"{b}-merge_users_distinct_services": True,
        f"{b}-secret": {"env": "BESEDKA_SECRET"}, f"{b}-username_field": "username", f"{b}-email_field": "email"}})
    people = relink(PEOPLE, reconcile_all(PEOPLE, rc_client, cfg))
    empty_restart(rc_server)
    report = reconcile_all(people, rc_client, cfg)
    assert_restored(rc_server.state, report)
    assert report.applied["add_oauth_service"] == 1
    assert rc_server.state.settings.get(f"{b}-secret") == "s3cret-recovery"
    olga = next(p for p in PEOPLE if p.username == "olga")
    r = oauth_login(rc_server, "besedka", {"id": "1", "username": "olga", "email": olga.email, "name": "Olga"})
    assert r.status_code == 200, r.text
    assert rc_server.state.find_user_by_username("olga")["_id"] == report.result_for("1").rc_user_id


def test_bench_recovery_small_run():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "recovery.py"), "--users", "120"],
                         capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("users", "reads", "writes", "expected_writes", "second_run_writes", "seconds", "settings_restored",
                "rooms_restored", "members_ok"):
        assert key in last, key
    assert last["users"] == 120 and last["writes"] == last["expected_writes"] and last["second_run_writes"] == 0
    assert last["members_ok"] is True and last["rooms_restored"] == 3
    assert last["settings_restored"] == last["settings_declared"] and last["failed"] == {}
