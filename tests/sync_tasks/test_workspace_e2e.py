"""Workspace settings and the site's OAuth sign-in end to end: bridge over real HTTP, stand-in Rocket.Chat
with a TOTP-protected service account (POST settings/:_id demands the second factor)."""
from __future__ import annotations

import logging
from dataclasses import replace

import pytest


from sync_tasks.config import load_config
from sync_tasks.engine import reconcile_all, sync_people
from sync_tasks.person import AccountLink, SitePerson

from standin_features import oauth_login

SECRET = "client-secret-7f3Kq"
ROOMS = {"general": {"type": "public", "id": "GENERAL"}, "vip": {"type": "private"}}
RULES = [{"when": "always", "roles": ["user"], "rooms": ["general"]}, {"when": {"group": ["vip"]}, "rooms": ["vip"]}]


def site(i, username, **kw):
    kw.setdefault("email", f"{username}@example.org")
    kw.setdefault("email_verified", True)
    return SitePerson(site_id=str(i), username=username, name=kw.pop("name", username.title()), **kw)


def relink(people, report):
    out = []
    for p in people:
        r = report.result_for(p.site_id)
        if r is not None and r.rc_user_id:
            p = replace(p, link=AccountLink(r.rc_user_id, r.rc_username, bool(r.created_by_bridge)))
        out.append(p)
    return out


def test_declared_settings_are_written_with_2fa_audited_and_a_second_run_writes_nothing(rc_server, rc_client):
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {
        "Site_Url": "https://chat.example.org", "Accounts_RegistrationForm": "Disabled"}})
    seen = []
    report = reconcile_all([site(1, "alice")], rc_client, cfg, on_operation=seen.append)
    st = rc_server.state
    assert st.settings.get("Site_Url") == "https://chat.example.org"
    assert st.settings.get("Accounts_RegistrationForm") == "Disabled"
    assert report.applied.get("set_setting") == 2 and report.failed == {}
    audited = [o for o in seen if o.kind == "set_setting"]
    assert sorted(o.op.setting_id for o in audited) == ["Accounts_RegistrationForm", "Site_Url"]
    assert all(o.ok for o in audited)
    posts = rc_server.request_log.count("settings/Site_Url") if hasattr(rc_server.request_log, "count") else None
    assert posts is None or posts >= 2  # read, then written
    again = reconcile_all(relink([site(1, "alice")], report), rc_client, cfg)
    assert again.plan == () and again.writes == 0


def test_drift_in_a_setting_is_repaired_and_dry_run_shows_it(rc_server, rc_client):
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {"Site_Url": "https://chat.example.org"}})
    reconcile_all([], rc_client, cfg)
    rc_server.state.set_setting("Site_Url", "http://localhost:3000")  # someone changed it in the admin UI
    preview = reconcile_all([], rc_client, cfg, dry_run=True)
    assert [op.describe() for op in preview.plan] == ["Site_Url: 'http://localhost:3000' → 'https://chat.example.org'"]
    assert preview.writes == 0 and rc_server.state.settings.get("Site_Url") == "http://localhost:3000"
    reconcile_all([], rc_client, cfg)
    assert rc_server.state.settings.get("Site_Url") == "https://chat.example.org"


def test_an_unknown_id_is_that_settings_error_the_rest_go_on(rc_server, rc_client):
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {
        "No_Such_Setting_Xyz": True, "Site_Url": "https://chat.example.org"}})
    report = reconcile_all([site(1, "alice")], rc_client, cfg)
    assert report.failed == {"set_setting": 1} and report.applied["set_setting"] == 1
    assert rc_server.state.find_user_by_username("alice") is not None
    assert any(p.startswith("set_setting No_Such_Setting_Xyz: NotFound") for p in report.problems), report.problems
    assert report.result_for("1").status == "synced"


def test_a_refused_write_is_that_settings_error(rc_server, rc_client):
    rc_server.state.permissions["edit-privileged-setting"]["roles"] = []  # reads still allowed
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {"Site_Url": "https://chat.example.org"}})
    report = reconcile_all([site(1, "alice")], rc_client, cfg)
    assert report.failed == {"set_setting": 1} and report.applied.get("create_user") == 1
    assert any("PermissionDenied" in p for p in report.problems)
    assert rc_server.state.settings.get("Site_Url") == "http://localhost:3000"


def test_unreadable_settings_are_reported_never_written_blind(rc_server, rc_client):
    rc_server.state.permissions["view-privileged-setting"]["roles"] = []
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {"Site_Url": "https://chat.example.org"}})
    report = reconcile_all([], rc_client, cfg)
    assert "set_setting" not in report.counts
    assert any("view-privileged-setting" in p for p in report.problems), report.problems


def test_secret_value_from_the_environment_is_written_but_never_shown(rc_server, rc_client, monkeypatch, caplog):
    monkeypatch.setenv("SITE_NAME_SECRET", SECRET)  # Site_Name stands in for a secret the stand-in models today
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SETTINGS": {"Site_Name": {"env": "SITE_NAME_SECRET"}}})
    caplog.set_level(logging.DEBUG)
    seen = []
    preview = reconcile_all([], rc_client, cfg, dry_run=True)
    report = reconcile_all([], rc_client, cfg, on_operation=seen.append)
    assert rc_server.state.settings.get("Site_Name") == SECRET
    texts = [caplog.text, repr(preview), repr(report), str(report.summary()), repr(seen),
             *(str(o.as_dict()) for o in seen), *(op.describe() for op in preview.plan if op.kind == "set_setting")]
    assert all(SECRET not in t for t in texts)
    (op,) = [op for op in preview.plan if op.kind == "set_setting"]
    assert op.describe() == "Site_Name: '***' → '***'"
    assert reconcile_all([], rc_client, cfg).plan == ()  # compared without being shown


# --- the site's OAuth sign-in (needs the stand-in's Custom OAuth) -----------------------------------------------

B = "Accounts_OAuth_Custom-Besedka"
SSO_SETTINGS = {B: True, f"{B}-url": "https://besedka.example.org", f"{B}-merge_users": True,
                f"{B}-merge_users_distinct_services": True, f"{B}-key_field": "username",
                f"{B}-secret": {"env": "BESEDKA_SECRET"}, f"{B}-id": "rocketchat",
                # without -username_field, CustomOAuth creates accounts with no username (validateNewUser)
                f"{B}-username_field": "username", f"{B}-email_field": "email", f"{B}-name_field": "name"}


def identity(p):
    return {"id": p.site_id, "username": p.username, "email": p.email, "name": p.name}


def test_create_ahead_the_first_sign_in_lands_in_the_account_rcsync_prepared(rc_server, rc_client, monkeypatch):
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka"}, "SETTINGS": SSO_SETTINGS})
    alice = site(1, "alice", groups={"vip"})
    report = reconcile_all([alice], rc_client, cfg)
    assert report.failed == {} and report.applied["add_oauth_service"] == 1
    uid = report.result_for("1").rc_user_id
    st = rc_server.state
    assert st.settings.get(f"{B}-secret") == SECRET
    r = oauth_login(rc_server, "besedka", identity(alice))
    assert r.status_code == 200, r.text
    assert st.find_user_by_username("alice")["_id"] == uid  # the same account: no duplicate
    assert reconcile_all(relink([alice], report), rc_client, cfg).writes == 0


def test_create_ahead_with_merge_off_creates_nothing_so_the_login_is_not_refused(rc_server, rc_client, monkeypatch):
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    off = {**SSO_SETTINGS, f"{B}-merge_users": False}
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka"}, "SETTINGS": off})
    alice = site(1, "alice")
    report = reconcile_all([alice], rc_client, cfg)
    assert report.result_for("1").status == "conflict" and "merge_users" in report.result_for("1").error
    assert rc_server.state.find_user_by_username("alice") is None
    assert oauth_login(rc_server, "besedka", identity(alice)).status_code == 200  # the login makes it instead


def test_wait_for_login_links_the_account_the_login_made(rc_server, rc_client, monkeypatch):
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka", "mode": "wait_for_login"},
                       "SETTINGS": {**SSO_SETTINGS, f"{B}-merge_users": False,
                                    f"{B}-merge_users_distinct_services": False}})
    bob = site(2, "bob", groups={"vip"})
    first = reconcile_all([bob], rc_client, cfg)
    assert first.result_for("2").status == "waiting" and rc_server.state.find_user_by_username("bob") is None
    assert oauth_login(rc_server, "besedka", identity(bob)).status_code == 200
    report = sync_people([bob], rc_client, cfg)
    r = report.result_for("2")
    assert r.status == "synced" and r.created_by_bridge is False
    st = rc_server.state
    vip = st.find_room_by_name("vip")["_id"]
    assert "bob" in st.room_members(vip)


@pytest.mark.parametrize("key_field,merge,distinct", [(k, m, d) for k in ("username", "email")
                                                      for m in (False, True) for d in (False, True)])
def test_every_merge_combination_rcsync_never_locks_a_person_out(rc_server, rc_client, monkeypatch,
                                                                 key_field, merge, distinct):
    """§11.1 against the stand-in's login: an account rcsync pre-creates is one the login attaches to; when it
    would not attach, rcsync creates nothing and the login makes the account itself."""
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka", "key_field": key_field},
                       "SETTINGS": {**SSO_SETTINGS, f"{B}-key_field": key_field, f"{B}-merge_users": merge,
                                    f"{B}-merge_users_distinct_services": distinct}})
    carol = site(3, "carol")
    report = reconcile_all([carol], rc_client, cfg)
    created = report.result_for("3").rc_user_id
    assert bool(created) == (merge and distinct), report.result_for("3")
    r = oauth_login(rc_server, "besedka", identity(carol))
    assert r.status_code == 200, r.text  # never refused
    account = rc_server.state.find_user_by_username("carol")
    if created:
        assert account["_id"] == created
    assert len([u for u in rc_server.state.usernames() if u.lower() == "carol"]) == 1


def test_an_account_holding_the_identitys_username_is_reported_and_the_login_would_capture_it(
        rc_server, rc_client, monkeypatch):
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    st = rc_server.state
    other = st.create_user("dave", name="Dave Admin", email="dave.admin@example.org", roles=["user", "admin"])
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": {"service": "besedka"}, "SETTINGS": SSO_SETTINGS})
    dave = site(4, "dave")
    report = reconcile_all([dave], rc_client, cfg)
    r = report.result_for("4")
    assert r.status == "conflict" and "held by Rocket.Chat account @dave" in r.error and r.rc_user_id is None
    assert oauth_login(rc_server, "besedka", identity(dave)).status_code == 200
    # What rcsync warned about: with both merge settings on, the login took the admin account over.
    assert st.find_user_by_username("dave")["_id"] == other["_id"]


def _docs_sign_in_block() -> dict:
    """The RCSYNC example of docs/real-rocketchat.md "Sign-in through your site (Custom OAuth)", as written."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "real-rocketchat.md").read_text()
    section = text[text.index("Sign-in through your site (Custom OAuth)"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "docs/real-rocketchat.md", "exec"), scope)
    return scope["RCSYNC"]


def test_the_docs_sign_in_settings_work_as_written(rc_server, rc_client, tmp_path):
    """The docs' exact settings, applied to an empty stand-in by one reconcile: every id exists in
    Rocket.Chat's registry (no per-setting error), the secret comes from its file, the pre-created account is
    the one the person's first sign-in lands in, and a second run writes nothing. Only the identity
    function (the site's own code) and the secret file's path are replaced."""
    block = _docs_sign_in_block()
    settings = dict(block["SETTINGS"])
    secret_file = tmp_path / "besedka_oauth_secret"
    secret_file.write_text(SECRET + "\n")
    key = "Accounts_OAuth_Custom-Besedka-secret"
    assert settings[key] == {"file": "/run/secrets/besedka_oauth_secret"}
    settings[key] = {"file": str(secret_file)}
    sso = {k: v for k, v in block["SSO"].items() if k != "identity"}
    cfg = load_config({"ROOMS": ROOMS, "RULES": RULES, "SSO": sso, "SETTINGS": settings})
    alice = site(1, "alice", groups={"vip"})
    report = reconcile_all([alice], rc_client, cfg)
    assert report.failed == {}, report.failed
    assert report.applied["set_setting"] >= len(settings) - 2  # a few may already hold the documented value
    st = rc_server.state
    assert st.settings.get(key) == SECRET and st.settings.get("Site_Url") == "https://chat.besedka.example"
    uid = report.result_for("1").rc_user_id
    r = oauth_login(rc_server, "besedka", identity(alice))
    assert r.status_code == 200 and r.json()["data"]["userId"] == uid, r.text
    assert reconcile_all(relink([alice], report), rc_client, cfg).writes == 0
