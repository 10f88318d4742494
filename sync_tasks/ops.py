"""Operation values: what a plan is made of. Frozen, hashable, comparable, free of secrets.

``user_id=None`` on a per-user operation refers to the account that a ``CreateUser`` of the same
``site_id`` earlier in the plan creates; the executor fills it in. ``PHASE`` fixes the order in which
kinds are applied (create before use, invite before granting a room role, kick before deactivating so
the membership is still visible), and :func:`sort_key` gives a total, deterministic order.

Every operation names what it acts on in one property, ``target`` (a string): the role for role
operations and ``CreateRole``, the managed room key for room operations and ``CreateRoom``,
``room:role`` for room roles, and the account itself for account operations — the username for
``CreateUser`` (the account has no id yet), the ``user_id`` for ``UpdateProfile``, ``SetActive`` and
``DeleteUser``. The planner's order, the audit rows and the admin's plan view all read it instead of
probing attributes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Union

from .person import site_sort_key
from .secrets import shown


@dataclass(frozen=True, slots=True)
class AddOAuthService:
    """Register a Custom OAuth service (``settings.addCustomOAuth``): its settings exist only after this."""

    name: str  # as configured (``besedka``); Rocket.Chat spells it ``Besedka`` in setting ids
    kind: ClassVar[str] = "add_oauth_service"
    site_id: ClassVar[None] = None

    @property
    def target(self) -> str:
        """What the operation is about (audit rows, admin pages)."""
        return self.name


@dataclass(frozen=True, slots=True)
class SetSetting:
    """Write one workspace setting (``POST settings/:_id``). A secret ``value`` is a
    :class:`~sync_tasks.secrets.Masked` box, so this value prints, logs and renders as ``***``."""

    setting_id: str
    value: Any
    current: Any = None  # what Rocket.Chat held (masked alike), for the preview; None when unknown
    known: bool = True  # False: the id did not exist when observed (an OAuth block about to be registered)
    kind: ClassVar[str] = "set_setting"
    site_id: ClassVar[None] = None

    @property
    def name(self) -> str:
        return self.setting_id

    @property
    def target(self) -> str:
        """What the operation is about (audit rows, admin pages): the setting id, never the value."""
        return self.setting_id

    @property
    def shown_value(self) -> Any:
        return shown(self.value)

    def describe(self) -> str:
        """``id: current → new`` with secrets masked (dry-run, admin preview, audit rows)."""
        before = repr(shown(self.current)) if self.known else "(not registered yet)"
        return f"{self.setting_id}: {before} → {self.shown_value!r}"


@dataclass(frozen=True, slots=True)
class CreateRole:
    name: str
    kind: ClassVar[str] = "create_role"
    site_id: ClassVar[None] = None

    @property
    def target(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class CreateRoom:
    room: str  # managed room key
    name: str
    type: str  # "c" | "p"
    kind: ClassVar[str] = "create_room"
    site_id: ClassVar[None] = None

    @property
    def target(self) -> str:
        return self.room


@dataclass(frozen=True, slots=True)
class CreateUser:
    site_id: str
    username: str
    name: str
    email: str
    verified: bool
    roles: tuple[str, ...]  # global role names given at creation (existing roles only)
    kind: ClassVar[str] = "create_user"
    user_id: ClassVar[None] = None

    @property
    def target(self) -> str:
        return self.username


@dataclass(frozen=True, slots=True)
class UpdateProfile:
    site_id: str
    user_id: str
    name: str | None = None
    email: str | None = None
    email_verified: bool | None = None  # sent with a new email so a site-verified address stays verified
    step: int = 0  # email moves run in steps: the account giving an address up goes first (emails.py)
    kind: ClassVar[str] = "update_profile"

    @property
    def target(self) -> str:
        return self.user_id


@dataclass(frozen=True, slots=True)
class SetActive:
    site_id: str
    user_id: str
    active: bool
    kind: ClassVar[str] = "set_active"

    @property
    def target(self) -> str:
        return self.user_id


@dataclass(frozen=True, slots=True)
class AddRole:
    site_id: str
    user_id: str | None
    username: str
    role: str
    kind: ClassVar[str] = "add_role"

    @property
    def target(self) -> str:
        return self.role


@dataclass(frozen=True, slots=True)
class RemoveRole:
    site_id: str
    user_id: str | None
    username: str
    role: str
    kind: ClassVar[str] = "remove_role"

    @property
    def target(self) -> str:
        return self.role


@dataclass(frozen=True, slots=True)
class InviteToRoom:
    site_id: str
    user_id: str | None
    room: str
    kind: ClassVar[str] = "invite"

    @property
    def target(self) -> str:
        return self.room


@dataclass(frozen=True, slots=True)
class KickFromRoom:
    site_id: str
    user_id: str
    room: str
    kind: ClassVar[str] = "kick"

    @property
    def target(self) -> str:
        return self.room


@dataclass(frozen=True, slots=True)
class AddRoomRole:
    site_id: str
    user_id: str | None
    room: str
    role: str
    kind: ClassVar[str] = "add_room_role"

    @property
    def target(self) -> str:
        return f"{self.room}:{self.role}"


@dataclass(frozen=True, slots=True)
class RemoveRoomRole:
    site_id: str
    user_id: str
    room: str
    role: str
    kind: ClassVar[str] = "remove_room_role"

    @property
    def target(self) -> str:
        return f"{self.room}:{self.role}"


@dataclass(frozen=True, slots=True)
class DeleteUser:
    site_id: str
    user_id: str
    kind: ClassVar[str] = "delete_user"

    @property
    def target(self) -> str:
        return self.user_id


Operation = Union[AddOAuthService, SetSetting, CreateRole, CreateRoom, CreateUser, UpdateProfile, SetActive, AddRole,
                  RemoveRole, InviteToRoom, KickFromRoom, AddRoomRole, RemoveRoomRole, DeleteUser]

# Workspace settings come first: the OAuth service and its merge settings must hold before an account
# is pre-created for a login to attach to.
# delete_user runs first and create_user after update_profile: a deleted account frees its username
# and email, an updated one its old email, and a new account of the same run may take them (so one
# run suffices, and the next plans nothing).
ALL_KINDS = ("add_oauth_service", "set_setting", "create_role", "create_room", "delete_user", "activate",
             "update_profile", "create_user",
             "add_role", "remove_role", "invite", "add_room_role", "remove_room_role", "kick", "deactivate")
#: Kinds the safety guard counts: they take something away from people (an account, a room, a role; a
#: removed ``admin`` or room ``moderator`` role is as much a loss as a kick).
DESTRUCTIVE_KINDS = frozenset({"deactivate", "delete_user", "kick", "remove_role", "remove_room_role"})


def is_destructive(op: "Operation") -> bool:
    """True for an operation the safety guard counts (see DESTRUCTIVE_KINDS)."""
    return op_kind(op) in DESTRUCTIVE_KINDS
READ_ONLY_KINDS: frozenset[str] = frozenset()


def op_kind(op: Operation) -> str:
    """Reporting kind; ``SetActive`` splits into ``activate`` and ``deactivate``."""
    if isinstance(op, SetActive):
        return "activate" if op.active else "deactivate"
    return op.kind


PHASE = {k: i for i, k in enumerate(ALL_KINDS)}


def phase(op: Operation) -> tuple[int, int]:
    """Which phase of a plan ``op`` runs in. The executor runs the operations of one phase concurrently,
    so nothing in a phase may depend on another operation of the same phase."""
    return (PHASE[op_kind(op)], op.step if isinstance(op, UpdateProfile) else 0)


def sort_key(op: Operation) -> tuple:
    """Total order: phase, then the op's ``target`` (a room's or a role's changes stay together), then
    site order, then the rest."""
    site = site_sort_key(op.site_id) if op.site_id is not None else (0, 0, "")
    return (phase(op), op.target, site, repr(op))
