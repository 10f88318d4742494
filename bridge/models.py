"""Small frozen values for what Rocket.Chat returns; each parses the wire shape in one classmethod.

Only the fields a provisioning client reasons about are kept; `raw` keeps the whole document for the
rare caller that needs more (it is excluded from repr and equality so values stay comparable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

__all__ = ["RcUser", "UserRoom", "RcRoom", "RcRole", "RoomMember", "RoomRoles", "Subscription", "Listing"]

RoomType = Literal["c", "p", "d", "l", "v"]


def _tuple(value: Any) -> tuple[str, ...]:
    if type(value) is list and all(type(v) is str for v in value):  # the wire's usual shape: no str() each
        return tuple(value)
    return tuple(str(v) for v in value) if isinstance(value, (list, tuple)) else ()


@dataclass(frozen=True)
class UserRoom:
    """A room the user is subscribed to, as `users.info` reports it with includeUserRooms / userRooms."""

    id: str
    name: str | None
    type: str
    roles: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "UserRoom":
        return cls(id=doc.get("rid") or doc.get("_id", ""), name=doc.get("name"), type=doc.get("t", ""),
                   roles=_tuple(doc.get("roles")))


@dataclass(frozen=True)
class RcUser:
    """A Rocket.Chat account. `roles` are role ids (built-in roles have id == name)."""

    id: str
    username: str | None
    name: str | None = None
    emails: tuple[str, ...] = ()
    active: bool = True
    roles: tuple[str, ...] = ()
    type: str = "user"
    status: str | None = None
    rooms: tuple[UserRoom, ...] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def email(self) -> str | None:
        return self.emails[0] if self.emails else None

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "RcUser":
        # `type(e) is dict` first: the ABC check alone was a tenth of converting a users.list page.
        emails = tuple(
            e.get("address", "") for e in doc.get("emails") or ()
            if (type(e) is dict or isinstance(e, Mapping)) and e.get("address")
        )
        if not emails and isinstance(doc.get("email"), str):  # `me` / login flatten the first verified email
            emails = (doc["email"],)
        rooms = doc.get("rooms")
        return cls(
            id=doc.get("_id") or doc.get("id") or "",
            username=doc.get("username"),
            name=doc.get("name"),
            emails=emails,
            active=bool(doc.get("active", True)),
            roles=_tuple(doc.get("roles")),
            type=doc.get("type") or "user",
            status=doc.get("status"),
            rooms=tuple(UserRoom.from_api(r) for r in rooms) if isinstance(rooms, list) else None,
            raw=dict(doc),
        )


@dataclass(frozen=True)
class RcRoom:
    """A channel (`c`, public) or private group (`p`); the `type` decides channels.* vs groups.* routes."""

    id: str
    name: str | None
    type: str
    default: bool = False
    read_only: bool = False
    archived: bool = False
    users_count: int | None = None
    fname: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False, hash=False)

    @property
    def api_prefix(self) -> str:
        if self.type == "c":
            return "channels"
        if self.type == "p":
            return "groups"
        raise ValueError(f"room {self.id} has type {self.type!r}: only channels (c) and groups (p) are managed")

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "RcRoom":
        return cls(
            id=doc.get("_id") or doc.get("rid") or "",
            name=doc.get("name"),
            type=doc.get("t") or "",
            default=bool(doc.get("default", False)),
            read_only=bool(doc.get("ro", False)),
            archived=bool(doc.get("archived", False)),
            users_count=doc.get("usersCount"),
            fname=doc.get("fname"),
            raw=dict(doc),
        )


@dataclass(frozen=True)
class RcRole:
    """A role definition; `scope` is "Users" (global) or "Subscriptions" (per room)."""

    id: str
    name: str
    scope: str = "Users"
    description: str = ""
    protected: bool = False

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "RcRole":
        return cls(
            id=doc.get("_id") or doc.get("name") or "",
            name=doc.get("name") or doc.get("_id") or "",
            scope=doc.get("scope") or "Users",
            description=doc.get("description") or "",
            protected=bool(doc.get("protected", False)),
        )


@dataclass(frozen=True)
class RoomMember:
    """One entry of channels.members / groups.members (active users only: deactivated ones are hidden)."""

    id: str
    username: str
    name: str | None = None
    status: str | None = None

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "RoomMember":
        return cls(id=doc.get("_id", ""), username=doc.get("username", ""), name=doc.get("name"),
                   status=doc.get("status"))


@dataclass(frozen=True)
class RoomRoles:
    """Room-scoped roles (owner, moderator, leader) of one member, from channels.roles / groups.roles."""

    user_id: str
    username: str
    roles: tuple[str, ...]
    room_id: str | None = None

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "RoomRoles":
        user = doc.get("u") or {}
        return cls(user_id=user.get("_id", ""), username=user.get("username", ""), roles=_tuple(doc.get("roles")),
                   room_id=doc.get("rid"))


@dataclass(frozen=True)
class Subscription:
    """One of the caller's own subscriptions (subscriptions.get)."""

    id: str
    room_id: str
    name: str | None
    type: str
    roles: tuple[str, ...] = ()
    open: bool = True
    archived: bool = False

    @classmethod
    def from_api(cls, doc: Mapping[str, Any]) -> "Subscription":
        return cls(id=doc.get("_id", ""), room_id=doc.get("rid", ""), name=doc.get("name"), type=doc.get("t", ""),
                   roles=_tuple(doc.get("roles")), open=bool(doc.get("open", True)),
                   archived=bool(doc.get("archived", False)))


@dataclass
class Listing:
    """What a paged read saw of its list while reading it: the ``total`` of every page.

    Rocket.Chat pages by offset over a list that can change under the reader. ``*.members`` is even
    sorted by ``statusConnection`` before the username (``apps/meteor/server/lib/findUsersOfRoom.ts``),
    so a member who connects or disconnects moves across the reader's offset: one member is read
    twice and another not at all. A removal before the offset (someone kicked meanwhile) skips one
    member too, and then ``total`` shrinks. The reader cannot see a skip itself; the caller combines
    ``changed`` with the duplicates it notices (:attr:`duplicates`) to know the read was not a
    snapshot (``sync_tasks.observe``)."""

    totals: list[int] = field(default_factory=list)
    duplicates: int = 0

    def page(self, total: Any) -> None:
        if isinstance(total, int):
            self.totals.append(total)

    @property
    def changed(self) -> bool:
        """The list grew or shrank between two of its pages, or a member was seen twice."""
        return self.duplicates > 0 or len(set(self.totals)) > 1
