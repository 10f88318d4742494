"""RCSYNC["SETTINGS"] and RCSYNC["SSO"] parsing, settings as plan operations, and secrets never shown."""
from __future__ import annotations

import json
import logging
import pickle

import pytest

from sync_tasks.apply import OperationOutcome
from sync_tasks.config import ConfigError, load_config
from sync_tasks.decide import decide
from sync_tasks.ops import AddOAuthService, SetSetting, sort_key
from sync_tasks.secrets import Masked
from sync_tasks.state import ObservedState
from sync_tasks.workspace import effective_sso, plan_settings, same_value

SECRET = "oauth-client-secret-Xq81"


@pytest.fixture
def secret_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BESEDKA_SECRET", SECRET)
    f = tmp_path / "client_id"
    f.write_text("besedka-client\n")
    return f


def settings_cfg(secret_env, **extra):
    return load_config({"SSO": {"service": "besedka"}, "SETTINGS": {
        "Site_Url": "https://chat.example.org",
        "Iframe_Restrict_Access": False,
        "Accounts_OAuth_Custom-Besedka": True,
        "Accounts_OAuth_Custom-Besedka-merge_users": True,
        "Accounts_OAuth_Custom-Besedka-merge_users_distinct_services": True,
        "Accounts_OAuth_Custom-Besedka-id": {"file": str(secret_env)},
        "Accounts_OAuth_Custom-Besedka-secret": {"env": "BESEDKA_SECRET"},
        **extra}})


def test_settings_parse_sources_and_mark_secrets(secret_env):
    c = settings_cfg(secret_env, Some_Password_Setting="inline")
    by_id = {s.setting_id: s for s in c.settings}
    assert by_id["Accounts_OAuth_Custom-Besedka-id"].value.reveal() == "besedka-client"  # file, newline dropped
    assert by_id["Accounts_OAuth_Custom-Besedka-id"].secret  # from a file: secret unless told otherwise
    sec = by_id["Accounts_OAuth_Custom-Besedka-secret"]
    assert sec.secret and isinstance(sec.value, Masked) and sec.value.reveal() == SECRET and sec.source == "env:BESEDKA_SECRET"
    assert by_id["Some_Password_Setting"].secret  # by its id
    assert by_id["Site_Url"].value == "https://chat.example.org" and not by_id["Site_Url"].secret
    assert SECRET not in repr(c) and "besedka-client" not in repr(c)


def test_settings_and_sso_problems_are_named_without_values(monkeypatch, tmp_path):
    monkeypatch.setenv("LEAKY", "do-not-print-me")
    with pytest.raises(ConfigError) as e:
        load_config({"SSO": {"service": "!!", "mode": "later"}, "SETTINGS": {
            "A": {"env": "NO_SUCH_VARIABLE_XYZ"}, "B": {"file": str(tmp_path / "missing")},
            "C": {"value": 1, "env": "LEAKY"}, "D": {"x": 1}, "E": {"nested": {}}.get("nested") or object(),
            "bad id!": 1}})
    text = str(e.value)
    for needle in ["SSO.service: expected the Custom OAuth service name", "SETTINGS.A.env: environment variable "
                   "NO_SUCH_VARIABLE_XYZ is not set", "SETTINGS.B.file: cannot read", "SETTINGS.C: give exactly one",
                   "SETTINGS.D.x: unknown key", "SETTINGS.E: expected a string", "SETTINGS.bad id!: not a Rocket.Chat"]:
        assert needle in text, (needle, text)
    assert "do-not-print-me" not in text
    with pytest.raises(ConfigError, match="SSO.mode: expected one of"):
        load_config({"SSO": {"service": "besedka", "mode": "later"}})
    with pytest.raises(ConfigError, match=r"SSO.profile.name: expected one of \['provider', 'rcsync'\]"):
        load_config({"SSO": {"service": "besedka", "profile": {"name": "site"}}})
    with pytest.raises(ConfigError, match="SSO.identity: cannot import module"):
        load_config({"SSO": {"service": "besedka", "identity": "no_such_mod_q.ident"}})


def test_email_verified_setting_forms():
    for raw, mode in [(None, "auto"), ("allauth", "allauth"), ("email_confirmed", "attribute:email_confirmed"),
                      ("attribute:ok", "attribute:ok"), (True, "always"), (False, "never"),
                      ("os.path.isabs", "callable:os.path.isabs"), ("callable:os.path.isabs", "callable:os.path.isabs")]:
        ident = load_config({"IDENTITY": {"email_verified": raw}}).identity
        assert ident.email_verified == mode
        assert (ident.email_verified_fn is not None) == mode.startswith("callable:")
    with pytest.raises(ConfigError, match="IDENTITY.email_verified"):
        load_config({"IDENTITY": {"email_verified": "no_such_mod_q.fn"}})


def test_masked_values_compare_but_never_show_or_pickle():
    a, b = Masked(SECRET), Masked(SECRET)
    assert a == b and hash(a) == hash(b) and a != Masked("other") and a.reveal() == SECRET
    for text in (repr(a), str(a), f"{a}", f"{a!r:>40}", json.dumps({"v": str(a)})):
        assert SECRET not in text
    with pytest.raises(TypeError):
        pickle.dumps(a)
    assert not same_value(a, SECRET) and same_value(a, b)


def test_same_value_is_type_strict():
    assert not same_value(True, 1) and not same_value(0, False) and same_value(5, 5) and same_value(["a"], ("a",))
    assert not same_value("5", 5) and same_value(1.0, 1)


def test_plan_registers_the_service_first_then_writes_what_differs(secret_env):
    c = settings_cfg(secret_env)
    current = {"Site_Url": "http://localhost:3000", "Iframe_Restrict_Access": False}
    ops = plan_settings(c, current)
    assert ops[0] == AddOAuthService("besedka")
    written = {op.setting_id: op for op in ops[1:]}
    assert "Iframe_Restrict_Access" not in written  # already right
    assert written["Site_Url"].known and written["Site_Url"].current == "http://localhost:3000"
    assert not written["Accounts_OAuth_Custom-Besedka-secret"].known
    assert sorted(ops, key=sort_key)[:2] == [ops[0], sorted(ops[1:], key=sort_key)[0]]
    # Everything as declared: nothing to do; a secret that differs is re-written, still masked
    done = {s.setting_id: s.value for s in c.settings}
    assert plan_settings(c, done) == []
    done["Accounts_OAuth_Custom-Besedka-secret"] = Masked("rotated-by-hand")
    (op,) = plan_settings(c, done)
    assert op.setting_id == "Accounts_OAuth_Custom-Besedka-secret"
    assert plan_settings(c, None) == []  # settings not read: never planned blind


def test_secret_setting_is_masked_in_every_rendering(secret_env, caplog):
    c = settings_cfg(secret_env)
    ops = plan_settings(c, {"Accounts_OAuth_Custom-Besedka-secret": Masked("old-secret-value"),
                            "Accounts_OAuth_Custom-Besedka": True})
    (op,) = [o for o in ops if isinstance(o, SetSetting) and o.setting_id.endswith("-secret")]
    outcome = OperationOutcome(op, "set_setting", None, "ok")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("rcsync.test").info("planned %s %r", op, op)
    renderings = [repr(op), str(op), op.describe(), json.dumps(outcome.as_dict()), caplog.text, repr(ops)]
    for text in renderings:
        assert SECRET not in text and "old-secret-value" not in text
    assert op.describe() == "Accounts_OAuth_Custom-Besedka-secret: '***' → '***'"
    assert outcome.as_dict()["op"]["value"] == "***"
    with pytest.raises(TypeError):
        pickle.dumps(op)


def test_decide_includes_settings_only_when_they_were_read(secret_env):
    c = settings_cfg(secret_env)
    assert not any(isinstance(op, SetSetting) for op in decide([], ObservedState(), c).ops)
    d = decide([], ObservedState(settings={}), c)
    assert isinstance(d.ops[0], AddOAuthService) and sum(isinstance(op, SetSetting) for op in d.ops) == 7


def test_effective_sso_sees_the_plans_own_writes(secret_env):
    c = settings_cfg(secret_env)
    seen = effective_sso(c, {}, planned=True)
    assert seen.registered and seen.enabled and seen.merge_users and seen.distinct_services
    assert effective_sso(c, {}, planned=False).registered is False
    assert effective_sso(c, None, planned=True, why="no view-privileged-setting").readable is False


def test_a_declared_key_field_must_match_the_sso_key_field():
    with pytest.raises(ConfigError, match=r"SETTINGS.Accounts_OAuth_Custom-Besedka-key_field: 'email' contradicts "
                                          r"SSO.key_field 'username'"):
        load_config({"SSO": {"service": "besedka"}, "SETTINGS": {"Accounts_OAuth_Custom-Besedka-key_field": "email"}})
    assert load_config({"SSO": {"service": "besedka", "key_field": "email"},
                        "SETTINGS": {"Accounts_OAuth_Custom-Besedka-key_field": "email"}}).sso.key_field == "email"
