"""The typed, frozen values the ``RCSYNC`` settings are parsed into (see :mod:`sync_tasks.config`).

Kept apart from the parser so code that only reads a config (policy, planner, engine, the Django
side) does not depend on the validation machinery.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .identity import RESERVED_USERNAMES

__all__ = ["ServerConfig", "RoomSpec", "Rule", "PeopleConfig", "IdentityConfig", "SafetyConfig", "BatchConfig",
           "SyncConfig"]


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


@dataclass(frozen=True)
class SafetyConfig:
    min_changes: int = 10
    ratio: float = 0.10

    def limit(self, managed_users: int) -> int:
        """Largest number of destructive operations a run may do without ``force``."""
        return max(self.min_changes, int(self.ratio * managed_users))


@dataclass(frozen=True)
class BatchConfig:
    page_size: int = 100
    invite_batch: int = 100
    concurrency: int = 4


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

    @property
    def room_keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.rooms)

    def room(self, key: str) -> RoomSpec:
        for r in self.rooms:
            if r.key == key:
                return r
        raise KeyError(key)
