"""Rocket.Chat's streamer publications (`stream-<name>`) over DDP: who may subscribe, who receives.

Behaviour from `apps/meteor/server/modules/streamer/streamer.module.ts` (`_publish`,
`_emit`, `sendToManySubscriptions`) and the read/emit rules configured in
`apps/meteor/server/modules/notifications/notifications.module.ts`:

* `sub` params are `[eventName, options]` where options is `{useCollection, args}` or a bare
  boolean (legacy `useCollection`); an empty eventName is `invalid-event-name`, a refused read
  rule is `not-allowed` (both `nosub` with a `Meteor.Error` without reason).
* With `useCollection:true` the session first gets `added` `{collection, id:"id", fields:{eventName}}`.
* Every event is `changed` `{collection:"stream-<name>", id:"id", fields:{eventName, args}}`, sent
  only to subscriptions of exactly that eventName whose emit rule passes.

The rules read the stand-in's state through `Access`, so this module stays free of sockets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from .protocol import meteor_error


class Access(Protocol):
    """What the rules need to know about the workspace (implemented over `State` in realtime/access.py)."""

    def room_type(self, rid: str) -> str | None: ...  # None: no such room

    def can_access_room(self, rid: str, uid: str | None) -> bool: ...  # canAccessRoom.ts

    def is_subscribed(self, rid: str, uid: str | None) -> bool: ...

    def has_permission(self, uid: str | None, permission: str) -> bool: ...


@dataclass
class StreamSub:
    """One accepted `sub` of a stream on one connection."""

    sub_id: str
    stream: str
    event_name: str
    use_collection: bool = False
    args: list[Any] = field(default_factory=list)


ReadRule = Callable[[Access, "str | None", str, list[Any]], bool]


def _logged(_access: Access, uid: str | None, _event: str, _args: list[Any]) -> bool:
    return uid is not None


def _all(_access: Access, _uid: str | None, _event: str, _args: list[Any]) -> bool:
    return True


def _notify_user(_access: Access, uid: str | None, event: str, _args: list[Any]) -> bool:
    # streamUser.allowRead: `${userId}/${e}`; only the user itself (webrtc aside).
    owner, _, sub_event = event.partition("/")
    if sub_event == "webrtc":
        return True
    return uid is not None and uid == owner


def _notify_room(access: Access, uid: str | None, event: str, _args: list[Any]) -> bool:
    # streamRoom.allowRead: subscribed to the room (webrtc aside; livechat tokens not modelled).
    rid, _, sub_event = event.partition("/")
    if sub_event == "webrtc":
        return True
    return uid is not None and access.is_subscribed(rid, uid)


def _room_messages(access: Access, uid: str | None, event: str, _args: list[Any]) -> bool:
    # streamRoomMessage.allowRead: canAccessRoom, else public-room preview with `preview-c-room`.
    if event == "__my_messages__":
        return True
    room_type = access.room_type(event)
    if room_type is None:
        return False
    if access.can_access_room(event, uid):
        return True
    return room_type == "c" and uid is not None and access.has_permission(uid, "preview-c-room")


def _notify_all(access: Access, uid: str | None, event: str, _args: list[Any]) -> bool:
    if event == "private-settings-changed":
        return uid is not None and any(
            access.has_permission(uid, p)
            for p in ("view-privileged-setting", "edit-privileged-setting", "manage-selected-settings")
        )
    return True


# Publications the stand-in serves; any other name is an unknown subscription (404).
READ_RULES: dict[str, ReadRule] = {
    "stream-notify-logged": _logged,
    "stream-notify-user": _notify_user,
    "stream-room-messages": _room_messages,
    "stream-roles": _logged,
    "stream-notify-all": _notify_all,
    "stream-notify-room": _notify_room,
    "stream-user-presence": _logged,
}

MY_MESSAGES = "__my_messages__"


class SubscribeRefused(Exception):
    """The publish handler threw: the session answers `nosub` with this error."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("error"))
        self.error = error


def is_stream(name: str) -> bool:
    return name in READ_RULES


def parse_stream_params(params: list[Any]) -> tuple[Any, bool, list[Any]]:
    """`_publish(publication, eventName, options = false)`: (eventName, useCollection, args)."""
    event_name = params[0] if params else None
    options = params[1] if len(params) > 1 else False
    use_collection, args = False, []
    if isinstance(options, bool):
        use_collection = options
    elif isinstance(options, dict):
        use_collection = options.get("useCollection") is True
        if options.get("args"):
            args = options["args"] if isinstance(options["args"], list) else [options["args"]]
    return event_name, use_collection, args


def subscribe(access: Access, uid: str | None, sub_id: str, stream: str, params: list[Any]) -> StreamSub:
    """Run the stream's publish handler; raise `SubscribeRefused` like the streamer throws."""
    event_name, use_collection, args = parse_stream_params(params)
    if not isinstance(event_name, str):
        # `eventName.length` on a non-string: a TypeError, masked by wrapInternalException.
        raise SubscribeRefused(meteor_error(500, "Internal server error"))
    if event_name == "":
        raise SubscribeRefused(meteor_error("invalid-event-name"))
    if READ_RULES[stream](access, uid, event_name, args) is not True:
        raise SubscribeRefused(meteor_error("not-allowed"))
    return StreamSub(sub_id, stream, event_name, use_collection, args)


def added_frame(sub: StreamSub) -> dict[str, Any]:
    """`publication._session.sendAdded(subscriptionName, 'id', {eventName})` for useCollection."""
    return {"msg": "added", "collection": sub.stream, "id": "id", "fields": {"eventName": sub.event_name}}


def changed_frame(stream: str, event_name: str, args: list[Any]) -> dict[str, Any]:
    """`changedPayload(subscriptionName, 'id', {eventName, args})`."""
    return {"msg": "changed", "collection": stream, "id": "id", "fields": {"eventName": event_name, "args": list(args)}}


def _message_rid(args: list[Any]) -> str | None:
    if args and isinstance(args[0], dict):
        rid = args[0].get("rid")
        return rid if isinstance(rid, str) else None
    return None


def deliveries(
    access: Access, uid: str | None, subs: list[StreamSub], stream: str, event_name: str, args: list[Any]
) -> list[dict[str, Any]]:
    """The frames one connection gets for one published event (usually zero or one).

    Emit rules are `all` for the streams modelled here, except `__my_messages__`, which carries
    every room message to users who can access that room (the message watcher emits each message
    to both `<rid>` and `__my_messages__`).
    """
    # One frame per matching subscription, as `sendToManySubscriptions` sends per publication.
    frames = [changed_frame(stream, event_name, args) for s in subs if s.stream == stream and s.event_name == event_name]
    mine = [s for s in subs if s.stream == stream and s.event_name == MY_MESSAGES]
    if stream == "stream-room-messages" and mine and event_name != MY_MESSAGES:
        rid = _message_rid(args)
        if uid is not None and rid is not None and access.can_access_room(rid, uid):
            frames.extend(changed_frame(stream, MY_MESSAGES, args) for _ in mine)
    return frames


def dropped_by(uid: str | None, subs: list[StreamSub], stream: str, event_name: str, args: list[Any]) -> list[str]:
    """Room-message subscriptions a membership removal silently ends (no `nosub`).

    notifications.module.ts `streamRoomMessage.on('_afterPublish')`: when the user's own
    subscription to a room is removed, the streamer forgets that user's `<rid>` subscription.
    """
    if uid is None or stream != "stream-notify-user" or event_name != f"{uid}/subscriptions-changed":
        return []
    if len(args) < 2 or args[0] != "removed" or not isinstance(args[1], dict):
        return []
    rid = args[1].get("rid")
    return [s.sub_id for s in subs if s.stream == "stream-room-messages" and s.event_name == rid]
