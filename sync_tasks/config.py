"""Parse and validate the ``RCSYNC`` settings block into a frozen, typed :class:`SyncConfig`.

Why a parser of its own: a typo in a policy (an unknown room in a rule, a misspelt role value, a bad
dotted path) must stop the site at start-up with a message that names the key, not surface at 3 a.m.
as a half-applied nightly run. Every problem found is reported at once in one :class:`ConfigError`.

``load_config(mapping)`` takes a plain dict (Django's ``settings.RCSYNC``; ``None`` means all defaults)
and never imports Django. Every key, its default and an example are in ``docs/settings.md``.
"""
from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Mapping

from .config_types import (BatchConfig, DeclaredSetting, IdentityConfig, PeopleConfig, RoomSpec, Rule, SafetyConfig,
                           ServerConfig, SsoConfig, SyncConfig)
from .config_workspace import parse_email_verified, parse_settings, parse_sso
from .identity import RESERVED_USERNAMES, is_valid_rc_name

__all__ = [
    "ConfigError", "SyncConfig", "ServerConfig", "RoomSpec", "Rule", "PeopleConfig", "IdentityConfig",
    "SafetyConfig", "BatchConfig", "SsoConfig", "DeclaredSetting", "DEFAULT_RULES", "load_config",
]

ROOM_TYPES = {"public": "c", "private": "p", "c": "c", "p": "p"}
ROOM_ROLE_NAMES = ("moderator", "owner", "leader")  # Subscriptions-scope roles with dedicated endpoints
DEPROVISION_MODES = ("deactivate", "delete", "leave")
ADOPT_MODES = ("email_verified", "email", "username", "never")
FLAGS = ("is_superuser", "is_staff")
ROLE_NAME_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")
DOTTED_RE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
# Keys whose value is a credential: an error about them names the key and the type, never the value
# (a mistyped password would otherwise be printed at start-up, into logs and crash reports).
SECRET_KEYS = frozenset({"password", "totp_secret", "token"})

DEFAULT_RULES: tuple[dict[str, Any], ...] = (
    {"when": "always", "roles": ["user"], "rooms": ["general"]},
    {"when": {"role": ["owner"], "flag": ["is_superuser"]}, "roles": ["admin"], "rooms": ["vip", "moderators"]},
    {"when": {"role": ["moderator"]}, "rooms": ["moderators"], "room_roles": {"general": ["moderator"]}},
    {"when": {"group": ["vip"]}, "rooms": ["vip"]},
)
DEFAULT_ROOMS: dict[str, dict[str, Any]] = {
    "general": {"type": "public", "id": "GENERAL"},
    "vip": {"type": "private"},
    "moderators": {"type": "private"},
}


class ConfigError(ValueError):
    """The RCSYNC block is invalid; ``problems`` lists every problem found, each naming its key."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid RCSYNC settings:\n  - " + "\n  - ".join(self.problems))


TOP_KEYS = {
    "SERVER", "ROLES", "CREATE_MISSING_ROLES", "ROOMS", "CREATE_MISSING_ROOMS", "ROOM_ROLES", "PEOPLE",
    "RULES", "DEPROVISION", "IDENTITY", "SAFETY", "BATCH", "TASKS", "SSO", "SETTINGS",
}


def is_secret_key(key: str) -> bool:
    """True for a settings key that holds a credential (``SERVER.password``, ``SERVER.totp_secret``...)."""
    return key.rpartition(".")[2].lower() in SECRET_KEYS


def _shown(key: str, value: Any) -> str:
    """How a value appears in an error: its repr, or only its type for a secret-bearing key."""
    return f"a {type(value).__name__} (value hidden)" if is_secret_key(key) else repr(value)


class _Checker:
    """Collects problems instead of failing on the first, so one start-up shows them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, key: str, msg: str) -> None:
        self.problems.append(f"{key}: {msg}")

    def typed(self, key: str, value: Any, types: type | tuple[type, ...], default: Any) -> Any:
        shown = _shown(key, value)
        if isinstance(value, bool) and types in (int, float, (int, float)):
            self.fail(key, f"expected a number, got {shown}")
            return default
        if not isinstance(value, types):
            names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            self.fail(key, f"expected {names}, got {type(value).__name__}" + ("" if is_secret_key(key) else f" {shown}"))
            return default
        return value

    def section(self, key: str, value: Any, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, f"expected a dict, got {type(value).__name__}")
            return {}
        for k in sorted(set(value) - allowed, key=str):
            self.fail(f"{key}.{k}", f"unknown key (known: {', '.join(sorted(allowed))})")
        return {k: v for k, v in value.items() if k in allowed}

    def str_list(self, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
            self.fail(key, f"expected a list of strings, got {value!r}")
            return ()
        out = []
        for i, v in enumerate(value):
            if not isinstance(v, str) or not v:
                self.fail(f"{key}[{i}]", f"expected a non-empty string, got {v!r}")
            else:
                out.append(v)
        return tuple(out)


def _import_dotted(chk: _Checker, key: str, path: Any) -> Callable[..., Any] | None:
    if not isinstance(path, str) or not DOTTED_RE.match(path):
        chk.fail(key, f"expected a dotted path like 'myapp.rcsync.grants', got {path!r}")
        return None
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        chk.fail(key, f"cannot import module {module_name!r}: {exc}")
        return None
    fn = getattr(module, attr, None)
    if not callable(fn):
        chk.fail(key, f"{path!r} is not a callable in module {module_name!r}")
        return None
    return fn


def _server(chk: _Checker, raw: Any) -> ServerConfig:
    d = chk.section("SERVER", raw, {"url", "username", "password", "totp_secret", "verify_tls", "timeout"})
    base = ServerConfig()
    url = chk.typed("SERVER.url", d.get("url", base.url), str, base.url)
    if not re.match(r"^https?://[^\s/]+", url):
        chk.fail("SERVER.url", "expected an http(s) URL")
    timeout = chk.typed("SERVER.timeout", d.get("timeout", base.timeout), (int, float), base.timeout)
    if timeout <= 0:
        chk.fail("SERVER.timeout", "must be > 0")
    return ServerConfig(
        url=url,
        username=chk.typed("SERVER.username", d.get("username", base.username), str, base.username),
        password=chk.typed("SERVER.password", d.get("password", ""), str, ""),
        totp_secret=chk.typed("SERVER.totp_secret", d.get("totp_secret", ""), str, ""),
        verify_tls=chk.typed("SERVER.verify_tls", d.get("verify_tls", True), bool, True),
        timeout=float(timeout),
    )


def _rooms(chk: _Checker, raw: Any, create_default: bool) -> tuple[RoomSpec, ...]:
    if raw is None:
        raw = DEFAULT_ROOMS
    if not isinstance(raw, Mapping):
        chk.fail("ROOMS", f"expected a dict of room key -> options, got {type(raw).__name__}")
        return ()
    rooms, names = [], set()
    for key in sorted(raw, key=str):
        where = f"ROOMS.{key}"
        opts = chk.section(where, raw[key], {"type", "name", "id", "create"})
        if not isinstance(key, str) or not is_valid_rc_name(key):
            chk.fail(where, "room keys must match [0-9a-zA-Z-_.]+")
            continue
        name = chk.typed(f"{where}.name", opts.get("name", key), str, key)
        if not is_valid_rc_name(name) or name.lower() in RESERVED_USERNAMES:
            # Rocket.Chat's validateName refuses admin/administrator/system/user as room names too.
            chk.fail(f"{where}.name", f"{name!r} is not a valid Rocket.Chat room name")
        if name.lower() in names:
            chk.fail(f"{where}.name", f"duplicate room name {name!r}")
        names.add(name.lower())
        rtype = opts.get("type", "private")
        if rtype not in ROOM_TYPES:
            chk.fail(f"{where}.type", f"expected 'public' or 'private', got {rtype!r}")
            rtype = "private"
        room_id = opts.get("id")
        if room_id is not None and (not isinstance(room_id, str) or not room_id):
            chk.fail(f"{where}.id", f"expected a room id string, got {room_id!r}")
            room_id = None
        create = chk.typed(f"{where}.create", opts.get("create", create_default), bool, create_default)
        rooms.append(RoomSpec(key=key, name=name, type=ROOM_TYPES[rtype], room_id=room_id, create=create))
    return tuple(rooms)


def _rule(chk: _Checker, i: int, raw: Any, cfg: dict[str, Any]) -> Rule | None:
    where = f"RULES[{i}]"
    d = chk.section(where, raw, {"when", "roles", "rooms", "room_roles"})
    if not d:
        if not isinstance(raw, Mapping):
            return None
    when = d.get("when", "always")
    kw: dict[str, Any] = {}
    if when == "always":
        kw["always"] = True
    elif isinstance(when, Mapping):
        cond = chk.section(f"{where}.when", when, {"role", "group", "flag", "tag"})
        if not cond:
            chk.fail(f"{where}.when", "needs at least one of role, group, flag, tag (or the string 'always')")
        values = {k: frozenset(chk.str_list(f"{where}.when.{k}", v)) for k, v in cond.items()}
        for v in sorted(values.get("role", ())):
            if v not in cfg["role_values"]:
                chk.fail(f"{where}.when.role", f"{v!r} is not one of PEOPLE.role_values {list(cfg['role_values'])}")
        for v in sorted(values.get("flag", ())):
            if v not in FLAGS:
                chk.fail(f"{where}.when.flag", f"{v!r} is not one of {list(FLAGS)}")
        kw.update(roles_in=values.get("role", frozenset()), groups=values.get("group", frozenset()),
                  flags=values.get("flag", frozenset()), tags=values.get("tag", frozenset()))
    else:
        chk.fail(f"{where}.when", f"expected 'always' or a dict of conditions, got {when!r}")
    roles = frozenset(chk.str_list(f"{where}.roles", d.get("roles", [])))
    for r in sorted(roles - set(cfg["managed_roles"])):
        chk.fail(f"{where}.roles", f"role {r!r} is not in ROLES (managed roles: {list(cfg['managed_roles'])})")
    rooms = frozenset(chk.str_list(f"{where}.rooms", d.get("rooms", [])))
    for r in sorted(rooms - cfg["room_keys"]):
        chk.fail(f"{where}.rooms", f"room {r!r} is not in ROOMS ({sorted(cfg['room_keys'])})")
    room_roles = set()
    rr = d.get("room_roles", {})
    if not isinstance(rr, Mapping):
        chk.fail(f"{where}.room_roles", "expected a dict of room key -> list of room roles")
        rr = {}
    for room, rlist in rr.items():
        if room not in cfg["room_keys"]:
            chk.fail(f"{where}.room_roles", f"room {room!r} is not in ROOMS")
        for role in chk.str_list(f"{where}.room_roles.{room}", rlist):
            if role not in cfg["managed_room_roles"]:
                chk.fail(f"{where}.room_roles.{room}", f"room role {role!r} is not in ROOM_ROLES {list(cfg['managed_room_roles'])}")
            room_roles.add((room, role))
    kw.update(grant_roles=roles, grant_rooms=rooms | {r for r, _ in room_roles},
              grant_room_roles=frozenset(room_roles))
    return Rule(**kw)


def load_config(raw: Mapping[str, Any] | None = None) -> SyncConfig:
    """Validate ``raw`` (the RCSYNC dict) and return a frozen :class:`SyncConfig`.

    Raises :class:`ConfigError` listing every problem (unknown keys, wrong types, rules naming
    unmanaged roles or rooms, bad dotted paths) so start-up fails loudly and completely.
    """
    chk = _Checker()
    top = chk.section("RCSYNC", raw or {}, TOP_KEYS)

    managed_roles = chk.str_list("ROLES", top.get("ROLES", ["admin", "user"]))
    for r in managed_roles:
        if not ROLE_NAME_RE.match(r):
            chk.fail("ROLES", f"{r!r} is not a valid role name")
        if r in ROOM_ROLE_NAMES:
            chk.fail("ROLES", f"{r!r} is a room role; list it under ROOM_ROLES instead")
    if len(set(managed_roles)) != len(managed_roles):
        chk.fail("ROLES", "duplicate role names")
    create_roles = chk.typed("CREATE_MISSING_ROLES", top.get("CREATE_MISSING_ROLES", True), bool, True)
    create_rooms = chk.typed("CREATE_MISSING_ROOMS", top.get("CREATE_MISSING_ROOMS", True), bool, True)
    rooms = _rooms(chk, top.get("ROOMS"), create_rooms)
    room_roles = chk.str_list("ROOM_ROLES", top.get("ROOM_ROLES", ["moderator"]))
    for r in room_roles:
        if r not in ROOM_ROLE_NAMES:
            chk.fail("ROOM_ROLES", f"{r!r} is not one of {list(ROOM_ROLE_NAMES)}")

    p = chk.section("PEOPLE", top.get("PEOPLE"), {"role_attribute", "role_values", "groups", "resolver"})
    base_people = PeopleConfig()
    role_attr = chk.typed("PEOPLE.role_attribute", p.get("role_attribute", "role"), str, "role")
    if not role_attr.isidentifier():
        chk.fail("PEOPLE.role_attribute", f"{role_attr!r} is not an attribute name")
    role_values = chk.str_list("PEOPLE.role_values", p.get("role_values", list(base_people.role_values)))
    groups = chk.str_list("PEOPLE.groups", p.get("groups", list(base_people.groups)))
    resolver_path = p.get("resolver")
    resolver = _import_dotted(chk, "PEOPLE.resolver", resolver_path) if resolver_path is not None else None
    people = PeopleConfig(role_attribute=role_attr, role_values=role_values, groups=groups,
                          resolver_path=resolver_path, resolver=resolver)

    ctx = {"managed_roles": managed_roles, "room_keys": frozenset(r.key for r in rooms),
           "managed_room_roles": room_roles, "role_values": role_values}
    raw_rules = top.get("RULES", list(DEFAULT_RULES))
    rules: list[Rule] = []
    if not isinstance(raw_rules, (list, tuple)):
        chk.fail("RULES", "expected a list of rules")
    else:
        for i, r in enumerate(raw_rules):
            rule = _rule(chk, i, r, ctx)
            if rule is not None:
                rules.append(rule)
        for rule in rules:
            for g in rule.groups - set(groups):
                chk.fail("RULES", f"group {g!r} is used in a rule but not listed in PEOPLE.groups")

    deprovision = top.get("DEPROVISION", "deactivate")
    if deprovision not in DEPROVISION_MODES:
        chk.fail("DEPROVISION", f"expected one of {list(DEPROVISION_MODES)}, got {deprovision!r}")
        deprovision = "deactivate"

    idd = chk.section("IDENTITY", top.get("IDENTITY"), {
        "adopt", "username_max_length", "fallback_prefix", "reserved", "placeholder_email_domain", "sync_profile",
        "email_verified", "privileged_roles", "adopt_allow_ids"})
    adopt_raw = idd.get("adopt", ["email_verified"])
    adopt = (adopt_raw,) if isinstance(adopt_raw, str) else chk.str_list("IDENTITY.adopt", adopt_raw)
    for a in adopt:
        if a not in ADOPT_MODES:
            chk.fail("IDENTITY.adopt", f"{a!r} is not one of {list(ADOPT_MODES)}")
    if "never" in adopt:
        adopt = ()
    max_len = chk.typed("IDENTITY.username_max_length", idd.get("username_max_length", 32), int, 32)
    if not 8 <= max_len <= 255:
        chk.fail("IDENTITY.username_max_length", "must be between 8 and 255")
    prefix = chk.typed("IDENTITY.fallback_prefix", idd.get("fallback_prefix", "member-"), str, "member-")
    if not prefix or not is_valid_rc_name(prefix):
        chk.fail("IDENTITY.fallback_prefix", "must be non-empty and match [0-9a-zA-Z-_.]+")
    extra_reserved = chk.str_list("IDENTITY.reserved", idd.get("reserved", []))
    domain = idd.get("placeholder_email_domain")
    if domain is not None and (not isinstance(domain, str) or not re.match(r"^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$", domain)):
        chk.fail("IDENTITY.placeholder_email_domain", f"expected a domain like 'chat.invalid', got {domain!r}")
        domain = None
    ev_mode, ev_fn = parse_email_verified(chk, idd.get("email_verified"), _import_dotted)
    privileged = chk.str_list("IDENTITY.privileged_roles", idd.get("privileged_roles", ["admin"]))
    allow_ids = chk.str_list("IDENTITY.adopt_allow_ids", idd.get("adopt_allow_ids", []))
    identity = IdentityConfig(
        adopt=tuple(adopt), username_max_length=max_len, fallback_prefix=prefix,
        reserved=RESERVED_USERNAMES | {r.lower() for r in extra_reserved}, placeholder_email_domain=domain,
        sync_profile=chk.typed("IDENTITY.sync_profile", idd.get("sync_profile", True), bool, True),
        email_verified=ev_mode, email_verified_fn=ev_fn, privileged_roles=frozenset(privileged),
        adopt_allow_ids=frozenset(allow_ids))
    sso = parse_sso(chk, top.get("SSO"), _import_dotted)
    declared = parse_settings(chk, top.get("SETTINGS"))
    if sso is not None:
        for s in declared:
            if s.setting_id == sso.setting_id("-key_field") and s.value != sso.key_field:
                chk.fail(f"SETTINGS.{s.setting_id}", f"{s.value!r} contradicts SSO.key_field {sso.key_field!r}")

    sd = chk.section("SAFETY", top.get("SAFETY"), {"min_changes", "ratio", "window"})
    min_changes = chk.typed("SAFETY.min_changes", sd.get("min_changes", 10), int, 10)
    ratio = chk.typed("SAFETY.ratio", sd.get("ratio", 0.10), (int, float), 0.10)
    if min_changes < 0:
        chk.fail("SAFETY.min_changes", "must be >= 0")
    if not 0 <= ratio <= 1:
        chk.fail("SAFETY.ratio", "must be between 0 and 1")
    window = chk.typed("SAFETY.window", sd.get("window", 3600), (int, float), 3600)
    if not window > 0:
        chk.fail("SAFETY.window", "must be a positive number of seconds")

    bd = chk.section("BATCH", top.get("BATCH"), {"page_size", "invite_batch", "concurrency", "unpaged_reads"})
    batch = BatchConfig(
        page_size=chk.typed("BATCH.page_size", bd.get("page_size", 100), int, 100),
        invite_batch=chk.typed("BATCH.invite_batch", bd.get("invite_batch", 100), int, 100),
        concurrency=chk.typed("BATCH.concurrency", bd.get("concurrency", 4), int, 4),
        unpaged_reads=chk.typed("BATCH.unpaged_reads", bd.get("unpaged_reads", False), bool, False))
    for k in ("page_size", "invite_batch"):
        if not 1 <= getattr(batch, k) <= 100:
            # Rocket.Chat silently clamps count to API_Upper_Count_Limit (100); a larger page would
            # make paging skip rows, so refuse it here.
            chk.fail(f"BATCH.{k}", "must be between 1 and 100")
    if not 1 <= batch.concurrency <= 64:
        chk.fail("BATCH.concurrency", "must be between 1 and 64")

    tasks = top.get("TASKS", {})
    if not isinstance(tasks, Mapping):
        chk.fail("TASKS", "expected a dict")
        tasks = {}

    server = _server(chk, top.get("SERVER"))
    if chk.problems:
        raise ConfigError(chk.problems)
    return SyncConfig(
        server=server, managed_roles=managed_roles, create_missing_roles=create_roles, rooms=rooms,
        managed_room_roles=room_roles, people=people, rules=tuple(rules), deprovision=deprovision,
        identity=identity, safety=SafetyConfig(min_changes=min_changes, ratio=float(ratio), window=float(window)), batch=batch,
        tasks=dict(tasks), sso=sso, settings=declared)
