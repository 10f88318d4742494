"""The typed, frozen values the ``RCSYNC`` settings are parsed into (see :mod:`sync_tasks.config`).

Kept apart from the parser so code that only reads a config (policy, planner, engine, the Django
side) does not depend on the validation machinery.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .identity import RESERVED_USERNAMES

__all__ = ["ServerConfig", "RoomSpec", "Rule", "PeopleConfig", "IdentityConfig", "SafetyConfig", "BatchConfig",
           "SsoConfig", "DeclaredSetting", "SyncConfig"]


@dataclass(frozen=True)
class ServerConfig:
    """Connection to Rocket.Chat, read by the Celery/Django side. Secrets never appear in repr()."""

    url: str = "http://127.0.0.1:3000"
    username: str = "rcsync"
    password: str = field(default="", repr=False)
    totp_secret: str = field(default="", repr=False)
    verify_tls: bool = True
    timeout: float = 10.0


@dataclass(frozen=True)
class RoomSpec:
    """A managed room: ``key`` is the name used in rules, ``name`` the Rocket.Chat room name."""

    key: str
    name: str
    type: str  # "c" public channel | "p" private group
    room_id: str | None = None  # a fixed id to look the room up by, e.g. "GENERAL"
    create: bool = True


@dataclass(frozen=True)
class Rule:
    """A grant applied to every active person matching ``when`` (any of its conditions)."""

    always: bool = False
    roles_in: frozenset[str] = frozenset()  # site role attribute values
    groups: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    grant_roles: frozenset[str] = frozenset()
    grant_rooms: frozenset[str] = frozenset()
    grant_room_roles: frozenset[tuple[str, str]] = frozenset()  # (room key, room role)


@dataclass(frozen=True)
class PeopleConfig:
    role_attribute: str = "role"
    role_values: tuple[str, ...] = ("owner", "moderator", "store_owner", "store_admin", "user")
    groups: tuple[str, ...] = ("vip",)
    resolver_path: str | None = None
    resolver: Callable[..., Any] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class IdentityConfig:
    adopt: tuple[str, ...] = ("email_verified",)
    username_max_length: int = 32
    fallback_prefix: str = "member-"
    reserved: frozenset[str] = RESERVED_USERNAMES
    placeholder_email_domain: str | None = None
    sync_profile: bool = True  # keep name and email of linked accounts equal to the site's
    #: How the site says an email is verified (read on the Django side, see django_hooks.people):
    #: ``"auto"`` (allauth's EmailAddress when installed, else the attribute ``email_verified``),
    #: ``"allauth"``, ``"attribute:<name>"``, ``"callable:<dotted path>"``, ``"always"`` or ``"never"``.
    email_verified: str = "auto"
    email_verified_fn: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    #: Global roles whose holders are never adopted (matched by email, username or SSO look-alike)
    #: unless their id is in ``adopt_allow_ids``: adopting one would hand a site user its powers.
    privileged_roles: frozenset[str] = frozenset({"admin"})
    #: Rocket.Chat user ids an admin has reviewed and allows to be adopted although privileged or a bot.
    adopt_allow_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SafetyConfig:
    min_changes: int = 10
    ratio: float = 0.10
    #: Seconds of the sliding window over which destructive operations of every run add up (the Django
    #: side keeps the count, django_hooks.guard): past the limit, single-person syncs are held.
    window: float = 3600.0

    def limit(self, managed_users: int) -> int:
        """Largest number of destructive operations a run may do without ``force``."""
        return max(self.min_changes, int(self.ratio * managed_users))


@dataclass(frozen=True)
class BatchConfig:
    page_size: int = 100
    invite_batch: int = 100
    concurrency: int = 4
    #: The full reconcile reads users.list and the member lists with one ``count=0`` request each,
    #: decoded as it arrives, instead of pages of ``page_size`` (opt-in; ``bridge.rest._unpaged``).
    unpaged_reads: bool = False


@dataclass(frozen=True)
class SsoConfig:
    """The site's sign-in to Rocket.Chat through its own OAuth provider (a Custom OAuth service).

    ``service`` is the name as registered (``besedka``); ``mode`` is ``"create_ahead"`` (rcsync creates
    the account the first login attaches to) or ``"wait_for_login"`` (the login creates it, rcsync links
    it). ``identity`` returns, for a site user, what the site's OAuth identity endpoint serves:
    ``{"id", "username", "email", "name"}``. ``key_field`` is the service's ``-key_field`` rcsync expects.
    ``owner`` says who owns each profile field (``"provider"``: rcsync never writes it).
    """

    service: str
    mode: str = "create_ahead"
    key_field: str = "username"
    identity_path: str | None = None
    identity: Callable[..., Any] | None = field(default=None, repr=False, compare=False)
    owner: Mapping[str, str] = field(default_factory=lambda: {"name": "provider", "email": "provider"})

    @property
    def setting_name(self) -> str:
        """The service name as Rocket.Chat spells it in setting ids (``Besedka``)."""
        from .sso import oauth_setting_name

        return oauth_setting_name(self.service)

    @property
    def service_key(self) -> str:
        """The key under ``services.`` on a Rocket.Chat user (``besedka``)."""
        return self.setting_name.lower()

    def setting_id(self, suffix: str = "") -> str:
        return f"Accounts_OAuth_Custom-{self.setting_name}{suffix}"

    def provider_owns(self, profile_field: str) -> bool:
        return self.owner.get(profile_field, "provider") == "provider"


@dataclass(frozen=True)
class DeclaredSetting:
    """A Rocket.Chat workspace setting rcsync keeps (``RCSYNC["SETTINGS"]``). A secret value is held in
    a :class:`~sync_tasks.secrets.Masked` box: it compares by value but never prints or pickles."""

    setting_id: str
    value: Any = field(repr=False)
    secret: bool = False
    source: str = "value"  # "value" | "env:<NAME>" | "file:<path>" (where it came from; no value)

    def __repr__(self) -> str:
        shown = "***" if self.secret else repr(self.value)
        return f"DeclaredSetting({self.setting_id!r}, {shown}, source={self.source!r})"


@dataclass(frozen=True)
class SyncConfig:
    """The validated RCSYNC block. Build it with :func:`load_config`."""

    server: ServerConfig = ServerConfig()
    managed_roles: tuple[str, ...] = ("admin", "user")
    create_missing_roles: bool = True
    rooms: tuple[RoomSpec, ...] = ()
    managed_room_roles: tuple[str, ...] = ("moderator",)
    people: PeopleConfig = PeopleConfig()
    rules: tuple[Rule, ...] = ()
    deprovision: str = "deactivate"
    identity: IdentityConfig = IdentityConfig()
    safety: SafetyConfig = SafetyConfig()
    batch: BatchConfig = BatchConfig()
    tasks: Mapping[str, Any] = field(default_factory=dict)
    sso: SsoConfig | None = None
    settings: tuple[DeclaredSetting, ...] = ()

    def writes_profile(self, profile_field: str) -> bool:
        """Does rcsync write this profile field (``name``, ``email``) on linked accounts? Not with
        ``IDENTITY.sync_profile`` off, nor when ``SSO.profile`` gives the field to the provider."""
        return self.identity.sync_profile and (self.sso is None or not self.sso.provider_owns(profile_field))

    @property
    def room_keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.rooms)

    def room(self, key: str) -> RoomSpec:
        for r in self.rooms:
            if r.key == key:
                return r
        raise KeyError(key)
