"""What Rocket.Chat has, as far as rcsync needs to know: the observed state the planner diffs against.

Membership of a *deactivated* account cannot be read in bulk: ``channels.members``/``groups.members``
list only ``active:true`` users (reference §5.3, ``server/lib/findUsersOfRoom.ts``), although the
subscriptions remain. So ``ObservedAccount.rooms`` is ``None`` ("unknown") for accounts whose
membership was not observable; the planner never kicks or re-invites on the strength of an unknown
membership. Room roles (``channels.roles``/``groups.roles``) are read from subscriptions and do include
deactivated users, so a held room role still proves membership of that room.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping


@dataclass(frozen=True, slots=True)
class ObservedAccount:
    """One Rocket.Chat user account. ``roles`` are global role *names* (ids mapped back to names)."""

    user_id: str
    username: str
    name: str = ""
    email: str | None = None
    email_verified: bool = False
    active: bool = True
    roles: frozenset[str] = frozenset()
    rooms: frozenset[str] | None = frozenset()  # managed room keys; None = unknown
    room_roles: frozenset[tuple[str, str]] = frozenset()  # (managed room key, room role)
    type: str = "user"

    @property
    def known_rooms(self) -> frozenset[str]:
        """Managed rooms the account certainly belongs to (a room role implies membership)."""
        held = frozenset(room for room, _ in self.room_roles)
        return held if self.rooms is None else self.rooms | held

    def with_(self, **changes) -> "ObservedAccount":
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ObservedRoom:
    key: str
    room_id: str
    name: str
    type: str  # "c" | "p"


@dataclass(frozen=True)
class ObservedState:
    """A snapshot of Rocket.Chat.

    ``complete=True`` means ``accounts`` holds every account (a full ``users.list`` read), so an
    account missing from it does not exist and unlinked accounts can be listed as unmanaged.
    ``complete=False`` (targeted sync) holds only the accounts that were looked up.
    ``roles`` maps existing role names to ids (built-ins have ``_id == name``; custom roles get a
    random id, reference §4.1).
    """

    accounts: dict[str, ObservedAccount] = field(default_factory=dict)
    rooms: dict[str, ObservedRoom] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    service_user_id: str | None = None
    service_username: str | None = None
    complete: bool = True
    #: Workspace settings read (declared ones and the SSO ones): id -> value; an id Rocket.Chat does
    #: not know is absent. ``None`` = settings were not read in this run (a per-person sync), so no
    #: setting is planned. Secret ids hold :class:`~sync_tasks.secrets.Masked` values.
    settings: dict[str, Any] | None = None
    #: The SSO login rules as they will be once the plan's settings are written (None: no SSO, or not read).
    sso: Any = None
    #: Rocket.Chat user id -> site id, for accounts the site has linked to people who are *not* in this run
    #: (its AccountLinks): a targeted sync must not adopt them for someone else (sync_tasks.adoption).
    claimed: Mapping[str, str] = field(default_factory=dict)
    #: Managed rooms whose member pages changed while the bulk read paged them (``bridge.Listing``):
    #: an account not seen in one may still be a member, so "not a member" is not proven there.
    #: Planning on it could leave someone in a room they must leave (:func:`sync_tasks.plan.memberships_to_reveal`).
    unsettled_rooms: frozenset[str] = frozenset()
    #: ``users.list`` changed while it was paged: an account missing from ``accounts`` may exist (a
    #: linked one is then read on its own before it is taken for gone: :func:`sync_tasks.plan.accounts_to_confirm`).
    users_unsettled: bool = False

    def by_username(self) -> dict[str, ObservedAccount]:
        return {a.username.lower(): a for a in self.accounts.values()}

    def by_email(self) -> dict[str, list[ObservedAccount]]:
        out: dict[str, list[ObservedAccount]] = {}
        for a in sorted(self.accounts.values(), key=lambda a: a.user_id):
            if a.email:
                out.setdefault(a.email.lower(), []).append(a)
        return out
