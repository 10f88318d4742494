"""Typed realtime events, parsed from DDP stream frames (pure: no I/O).

Every stream event arrives as `{"msg":"changed","collection":"stream-<name>","id":"id",
"fields":{"eventName":..., "args":[...]}}` (wire contract §7.5). The ones a provisioning bridge reacts to
get their own class; anything else is passed on as a `StreamEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Union

__all__ = ["RoleChanged", "UserRenamed", "UserDeleted", "MembershipChanged", "StreamEvent", "Reconnected",
           "RealtimeEvent", "parse_stream_frame", "MEMBERSHIP_TYPES"]

# Room system messages about membership: added by someone, removed by someone, joined, left.
MEMBERSHIP_TYPES = {"au": "added", "ru": "removed", "uj": "joined", "ul": "left"}


@dataclass(frozen=True)
class RoleChanged:
    """`roles-change`: a role was added to / removed from a user, globally or in room `scope`."""

    change: str  # "added" | "removed" | "changed"
    role_id: str
    user_id: str | None
    username: str | None
    scope: str | None = None


@dataclass(frozen=True)
class UserRenamed:
    """`Users:NameChanged`: username (always) or real name (only with UI_Use_Real_Name) changed."""

    user_id: str
    username: str | None
    name: str | None


@dataclass(frozen=True)
class UserDeleted:
    """`Users:Deleted` (only with Message_ErasureType Delete or Unlink)."""

    user_id: str
    erasure_type: str | None = None


@dataclass(frozen=True)
class MembershipChanged:
    """A membership system message in a watched room: `kind` is au/ru/uj/ul, `action` its meaning."""

    room_id: str
    kind: str
    username: str  # the member concerned (the message's `msg`)
    actor_id: str | None
    actor_username: str | None
    message_id: str | None = None

    @property
    def action(self) -> str:
        return MEMBERSHIP_TYPES[self.kind]


@dataclass(frozen=True)
class StreamEvent:
    """Any other stream event, as received."""

    stream: str
    event_name: str
    args: tuple[Any, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Reconnected:
    """The connection was re-established (and re-logged-in, re-subscribed): events may have been missed
    meanwhile, so a consumer should reconcile instead of trusting the feed to be complete."""

    attempt: int


RealtimeEvent = Union[RoleChanged, UserRenamed, UserDeleted, MembershipChanged, StreamEvent, Reconnected]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_stream_frame(frame: Mapping[str, Any]) -> list[RealtimeEvent]:
    """Events carried by one `changed` frame of a `stream-*` collection ([] for anything else)."""
    collection = frame.get("collection")
    if frame.get("msg") != "changed" or not isinstance(collection, str) or not collection.startswith("stream-"):
        return []
    fields = frame.get("fields") or {}
    name = fields.get("eventName")
    args = fields.get("args") or []
    if not isinstance(name, str) or not isinstance(args, list):
        return []
    first = args[0] if args and isinstance(args[0], Mapping) else None
    if collection == "stream-notify-logged" and first is not None:
        if name == "roles-change":
            user = first.get("u") or {}
            return [RoleChanged(change=str(first.get("type")), role_id=str(first.get("_id")),
                                user_id=_str(user.get("_id")), username=_str(user.get("username")),
                                scope=_str(first.get("scope")))]
        if name == "Users:NameChanged":
            return [UserRenamed(user_id=str(first.get("_id")), username=_str(first.get("username")),
                                name=_str(first.get("name")))]
        if name == "Users:Deleted":
            return [UserDeleted(user_id=str(first.get("userId")), erasure_type=_str(first.get("messageErasureType")))]
    if collection == "stream-room-messages":
        events: list[RealtimeEvent] = []
        for message in args:
            if isinstance(message, Mapping) and message.get("t") in MEMBERSHIP_TYPES:
                actor = message.get("u") or {}
                events.append(MembershipChanged(
                    room_id=str(message.get("rid") or name), kind=str(message["t"]), username=str(message.get("msg")),
                    actor_id=_str(actor.get("_id")), actor_username=_str(actor.get("username")),
                    message_id=_str(message.get("_id")),
                ))
        if events:
            return events
    return [StreamEvent(stream=collection, event_name=name, args=tuple(args))]
