"""Desired Rocket.Chat state for one site person. Pure: SitePerson + SyncConfig -> DesiredAccount.

The default rules reproduce the policy table of DESIGN.md (active -> role ``user`` + ``general``; owner
or superuser -> ``admin`` + ``vip`` + ``moderators``; moderator -> ``moderators`` + room role
``moderator`` in ``general``; group ``vip`` -> ``vip``). A site may replace the rules in
``RCSYNC["RULES"]`` and/or add a resolver function (``RCSYNC["PEOPLE"]["resolver"]``) whose grants are
added to those of the rules.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from .config import Rule, SyncConfig
from .identity import clean_name, derive_username, email_key, hidden_characters, normalize_email
from .person import SitePerson
from .sso import SsoIdentity, default_identity, identity_from

__all__ = ["Grants", "DesiredAccount", "PolicyError", "grants_for", "desired_account"]


class PolicyError(ValueError):
    """The policy cannot be computed for one person (e.g. a resolver failed); that person only."""


@dataclass(frozen=True, slots=True)
class Grants:
    """Managed global roles, managed rooms and (room, room role) pairs a person should hold."""

    roles: frozenset[str] = frozenset()
    rooms: frozenset[str] = frozenset()
    room_roles: frozenset[tuple[str, str]] = frozenset()

    def __or__(self, other: "Grants") -> "Grants":
        return Grants(self.roles | other.roles, self.rooms | other.rooms, self.room_roles | other.room_roles)


@dataclass(frozen=True, slots=True)
class DesiredAccount:
    """What the Rocket.Chat account of one person should look like.

    ``username`` is the preferred (derived) name; the matcher keeps a linked account's name and
    resolves collisions for new ones. ``roles=None`` means "leave global roles as they are"
    (deprovisioned accounts keep their roles, so reactivation is a single step and nothing manual is
    lost). ``remove`` is ``None`` for a person who should have an active account, else the
    deprovisioning mode: ``"deactivate"``, ``"delete"`` or ``"leave"``.
    """

    site_id: str
    username: str
    name: str
    email: str | None
    email_verified: bool
    active: bool
    roles: frozenset[str] | None
    rooms: frozenset[str]
    room_roles: frozenset[tuple[str, str]]
    remove: str | None = None
    #: The identity the person's OAuth login presents (``RCSYNC["SSO"]``); ``username`` and ``email``
    #: above are then exactly its username and email.
    sso: SsoIdentity | None = None


def _matches(rule: Rule, person: SitePerson) -> bool:
    if rule.always:
        return True
    return bool(
        (person.role is not None and person.role in rule.roles_in)
        or (rule.groups & person.groups)
        or any(getattr(person, flag, False) for flag in rule.flags)
        or (rule.tags & person.tags)
    )


def _resolver_grants(result: Any, config: SyncConfig) -> Grants:
    """Validate what a site resolver returned: a mapping like a rule's grant part, or None."""
    if result is None:
        return Grants()
    if isinstance(result, Grants):
        raw: Mapping[str, Any] = {"roles": result.roles, "rooms": result.rooms,
                                  "room_roles": _pairs_to_map(result.room_roles)}
    elif isinstance(result, Mapping):
        raw = result
    else:
        raise PolicyError(f"resolver returned {type(result).__name__}, expected a dict or None")
    unknown = set(raw) - {"roles", "rooms", "room_roles"}
    if unknown:
        raise PolicyError(f"resolver returned unknown keys {sorted(unknown)}")
    roles = frozenset(raw.get("roles") or ())
    rooms = frozenset(raw.get("rooms") or ())
    pairs = frozenset((room, role) for room, rl in (raw.get("room_roles") or {}).items() for role in rl)
    bad_roles = roles - set(config.managed_roles)
    bad_rooms = (rooms | {r for r, _ in pairs}) - config.room_keys
    bad_room_roles = {role for _, role in pairs} - set(config.managed_room_roles)
    if bad_roles or bad_rooms or bad_room_roles:
        raise PolicyError(
            "resolver granted unmanaged "
            + ", ".join(f"{what} {sorted(v)}" for what, v in
                        (("roles", bad_roles), ("rooms", bad_rooms), ("room roles", bad_room_roles)) if v))
    return Grants(roles, rooms | {r for r, _ in pairs}, pairs)


def _pairs_to_map(pairs: frozenset[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for room, role in sorted(pairs):
        out.setdefault(room, []).append(role)
    return out


_RULE_GRANTS: dict[tuple[tuple[Rule, ...], tuple[bool, ...]], Grants] = {}


def grants_for(person: SitePerson, config: SyncConfig) -> Grants:
    """Union of the grants of every matching rule plus the resolver's. Only for active persons."""
    matched = tuple(_matches(rule, person) for rule in config.rules)
    key = (config.rules, matched)
    g = _RULE_GRANTS.get(key)
    if g is None:  # few distinct combinations: share one value (100k people, a handful of Grants)
        g = Grants()
        for rule, hit in zip(config.rules, matched):
            if hit:
                g = g | Grants(rule.grant_roles, rule.grant_rooms, rule.grant_room_roles)
        if len(_RULE_GRANTS) > 4096:
            _RULE_GRANTS.clear()
        _RULE_GRANTS[key] = g
    if config.people.resolver is not None:
        try:
            result = config.people.resolver(person)
        except Exception as exc:  # a site's code failing must cost one person, not the run
            raise PolicyError(f"resolver {config.people.resolver_path} failed: {type(exc).__name__}: {exc}") from exc
        g = g | _resolver_grants(result, config)
    return g


def desired_account(person: SitePerson, config: SyncConfig) -> DesiredAccount:
    """Desired state of ``person``'s account. Raises :class:`PolicyError` for this person only."""
    ident = config.identity
    hidden = hidden_characters(person.email.strip()) if person.wants_account and isinstance(person.email, str) else []
    if hidden:
        # Not cleaned and not replaced by a placeholder: the site holds a forged-looking address.
        raise PolicyError(f"email contains invisible or control characters ({', '.join(sorted(set(hidden)))}); "
                          "fix the address on the site")
    sso = _sso_identity(person, config) if config.sso is not None and person.wants_account else None
    if sso is not None:
        # The account must be exactly what the login presents (reference §11.1): no derivation here; the
        # matcher reports a username Rocket.Chat would refuse instead of creating another one.
        sso_hidden = hidden_characters(sso.email) + hidden_characters(sso.username)
        if sso_hidden:
            raise PolicyError(f"the identity for the sign-in through {config.sso.service} contains invisible or "
                              f"control characters ({', '.join(sorted(set(sso_hidden)))})")
        username, email, name = sso.username, normalize_email(sso.email), clean_name(sso.name, fallback=sso.username)
        if email is None:
            raise PolicyError(f"the identity for the sign-in through {config.sso.service} has no valid email")
        verified = person.email_verified and email_key(email) == email_key(person.email)
    else:
        username = derive_username(person.username, person.site_id, max_length=ident.username_max_length,
                                   fallback_prefix=ident.fallback_prefix, reserved=ident.reserved)
        email = normalized = normalize_email(person.email)
        if email is None and ident.placeholder_email_domain:
            email = f"{username}@{ident.placeholder_email_domain}"
        name = clean_name(person.name, fallback=username)
        verified = person.email_verified and normalized is not None
    if not person.wants_account:
        remove = config.deprovision
        return DesiredAccount(site_id=person.site_id, username=username, name=name, email=email,
                              email_verified=person.email_verified, active=False, roles=None,
                              rooms=frozenset(), room_roles=frozenset(), remove=remove)
    g = grants_for(person, config)
    return DesiredAccount(site_id=person.site_id, username=username, name=name, email=email,
                          email_verified=verified,
                          active=True, roles=g.roles, rooms=g.rooms, room_roles=g.room_roles, sso=sso)


def _sso_identity(person: SitePerson, config: SyncConfig) -> SsoIdentity:
    """The person's OAuth identity: what the site's identity function returned (the Django side calls it
    with the user model and stores it on the person), else the documented default."""
    raw = person.sso_identity if person.sso_identity is not None else default_identity(person)
    try:
        return identity_from(raw, where=config.sso.identity_path or "the default identity")
    except ValueError as exc:
        raise PolicyError(str(exc)) from None
