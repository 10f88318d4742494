"""RCSYNC validation (clear, complete errors at start-up) and identity derivation."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, strategies as st

from sync_tasks.config import ConfigError, load_config
from sync_tasks.identity import (RESERVED_USERNAMES, assign_usernames, clean_name, derive_username, normalize_email,
                                 transliterate)


def test_defaults_match_design():
    c = load_config(None)
    assert c.managed_roles == ("admin", "user") and c.deprovision == "deactivate"
    assert {r.key: (r.type, r.room_id) for r in c.rooms} == {
        "general": ("c", "GENERAL"), "vip": ("p", None), "moderators": ("p", None)}
    assert c.identity.adopt == ("email_verified",)
    assert c.safety.limit(50) == 10 and c.safety.limit(1000) == 100
    assert c.batch.page_size == 100 and c.people.role_attribute == "role" and c.people.groups == ("vip",)


def test_all_problems_reported_at_once_with_their_keys():
    with pytest.raises(ConfigError) as e:
        load_config({
            "ROOM": {}, "ROLES": "admin", "DEPROVISION": "purge",
            "ROOMS": {"admin": {"type": "secret"}, "ok": {"colour": 1}},
            "RULES": [{"when": {"role": ["ownr"]}, "rooms": ["vips"], "roles": ["root"]}, "nope"],
            "PEOPLE": {"resolver": "no_such_module_xyz.fn"},
            "IDENTITY": {"adopt": "sometimes", "username_max_length": "32"},
            "SAFETY": {"ratio": 2}, "BATCH": {"page_size": 500, "concurrency": True, "unpaged_reads": "yes"},
        })
    text = str(e.value)
    for needle in ["RCSYNC.ROOM: unknown key", "ROLES: expected a list of strings", "DEPROVISION: expected one of",
                   "ROOMS.admin.name", "ROOMS.admin.type", "ROOMS.ok.colour: unknown key",
                   "RULES[0].when.role: 'ownr' is not one of", "RULES[0].rooms: room 'vips' is not in ROOMS",
                   "RULES[0].roles: role 'root' is not in ROLES", "RULES[1]: expected a dict",
                   "PEOPLE.resolver: cannot import module 'no_such_module_xyz'",
                   "IDENTITY.adopt: 'sometimes'", "IDENTITY.username_max_length: expected int",
                   "SAFETY.ratio: must be between 0 and 1", "BATCH.page_size: must be between 1 and 100",
                   "BATCH.concurrency: expected a number", "BATCH.unpaged_reads: expected bool"]:
        assert needle in text, (needle, text)
    assert len(e.value.problems) >= 16


def test_unpaged_reads_is_opt_in():
    assert load_config({}).batch.unpaged_reads is False
    assert load_config({"BATCH": {"unpaged_reads": True}}).batch.unpaged_reads is True


def test_bad_dotted_paths():
    for path, msg in [("notdotted", "expected a dotted path"), ("os.path.no_such_fn", "is not a callable"),
                      ("os.sep", "is not a callable")]:
        with pytest.raises(ConfigError, match=msg):
            load_config({"PEOPLE": {"resolver": path}})
    assert load_config({"PEOPLE": {"resolver": "os.path.basename"}}).people.resolver is not None


def test_server_secrets_not_in_repr():
    c = load_config({"SERVER": {"url": "https://chat.example.org", "password": "hunter2-secret",
                                "totp_secret": "JBSWY3DPEHPK3PXP"}})
    assert "hunter2" not in repr(c) and "JBSWY3" not in repr(c)


@pytest.mark.parametrize("value", [b"hunter2-secret", ["hunter2-secret"], 12345678901, True, {"v": "hunter2-secret"}])
@pytest.mark.parametrize("key", ["password", "totp_secret"])
def test_mistyped_secret_errors_show_the_type_never_the_value(key, value):
    with pytest.raises(ConfigError) as caught:
        load_config({"SERVER": {"url": "https://chat.example.org", key: value}})
    text = str(caught.value)
    assert f"SERVER.{key}: expected str, got {type(value).__name__}" in text
    for shown in ("hunter2", "12345678901", "True"):
        assert shown not in text, text


@pytest.mark.parametrize("raw,expected", [
    ("Иван Петров", "ivan.petrov"), ("Щукин", "shchukin"), ("José Álvarez", "jose.alvarez"),
    ("Σωκράτης", "sokratis"), ("Łukasz", "lukasz"), ("straße", "strasse"), ("Олександр Їжак", "oleksandr.yizhak"),
    ("john@example.org", "john.example.org"), ("a  b", "a.b"), ("__x__", "x"),
    ("admin", "admin-site"), ("USER", "user-site"), ("here", "here-site"),
    ("李小龙", "member-42"), ("", "member-42"), ("!!!", "member-42"), ("x" * 80, "x" * 32),
])
def test_derive_username(raw, expected):
    assert derive_username(raw, "42") == expected


@given(st.text(max_size=80), st.text(min_size=1, max_size=12))
def test_derived_usernames_are_always_valid(raw, site_id):
    name = derive_username(raw, site_id)
    assert re.fullmatch(r"[0-9a-zA-Z\-_.]+", name) and len(name) <= 32
    assert name.lower() not in RESERVED_USERNAMES


def test_collisions_are_deterministic_and_respect_length():
    got = assign_usernames({"1": "x" * 32, "2": "x" * 32, "3": "bob"}, {"BOB", "bob-2"}, max_length=32)
    assert got == {"1": "x" * 32, "2": "x" * 30 + "-2", "3": "bob-3"}


def test_clean_name_and_email():
    assert clean_name("<b>Bob</b> / \\ x", "fallback") == "bBobb x"
    assert clean_name(" <>/ ", "fallback") == "fallback"
    assert normalize_email(" a@example.org ") == "a@example.org"
    for bad in (None, "", "a@b", "a b@example.org", "a@@example.org", "x@" + "d" * 300 + ".org"):
        assert normalize_email(bad) is None
    assert transliterate("Ёлка") == "elka"


BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]


@pytest.mark.parametrize("ch", BIDI + ZERO_WIDTH + CONTROLS)
def test_display_names_lose_bidi_zero_width_and_control_characters(ch):
    cleaned = clean_name(f"Ali{ch}ce Admin{ch}", "fallback")
    assert cleaned in ("Alice Admin", "Ali ce Admin")
    assert not any(c in cleaned for c in BIDI + ZERO_WIDTH + CONTROLS)
    assert clean_name(ch * 5, "fallback") == "fallback"


@pytest.mark.parametrize("ch", BIDI + ZERO_WIDTH + CONTROLS + ["\t", "\n"])
def test_emails_with_control_or_format_characters_are_refused(ch):
    assert normalize_email(f"ali{ch}ce@example.org") is None
    assert normalize_email(f"alice@example.org{ch}x") is None


@pytest.mark.parametrize("ch", BIDI + ZERO_WIDTH + CONTROLS)
def test_such_an_email_is_a_clear_error_for_that_person_only(ch):
    from sync_tasks.decide import decide
    from sync_tasks.person import SitePerson
    from sync_tasks.simulate import observe

    from sync_world import base_world

    cfg = load_config({"IDENTITY": {"placeholder_email_domain": "chat.invalid"}})
    people = [SitePerson("1", "mallory", f"admin{ch}@example.org", True, name="Mallory"),
              SitePerson("2", "bob", "bob@example.org", True, name="Bob")]
    d = decide(people, observe(base_world(cfg)), cfg)
    issues = {i.site_id: i for i in d.issues}
    assert issues["1"].status == "error" and f"U+{ord(ch):04X}" in issues["1"].reason
    assert "invisible or control characters" in issues["1"].reason
    assert [t.desired.site_id for t in d.targets] == ["2"]  # the placeholder does not paper over it


def test_usernames_never_keep_invisible_characters():
    assert derive_username("ad\u200bmin", "7") == "admin-site"  # still the reserved name, still refused
    assert derive_username("\u202eevil\u2066", "7") == "evil"
    assert derive_username("\x00\u200d", "7") == "member-7"


def test_unicode_digit_site_ids_sort_without_error():
    from sync_tasks.person import site_sort_key

    keys = sorted(["10", "2", "²", "٣", "x"], key=site_sort_key)
    assert keys[:2] == ["2", "10"] and set(keys[2:]) == {"²", "٣", "x"}
