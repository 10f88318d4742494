"""The demo's window on Rocket.Chat: its realtime feed, one console line per change.

It runs the bridge's own `RealtimeClient` (DDP, logged in as the service account) in a
thread with its own event loop, watching the same streams as `rcsync listen`, and puts
`Change` values on a queue the runner prints from. `describe` is pure.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Change:
    """One Rocket.Chat change as the demo prints it; `at` is time.monotonic() on arrival."""

    at: float
    text: str
    username: str | None = None
    room: str | None = None
    action: str | None = None


def describe(event: Any, rooms_by_id: dict[str, str], role_names: dict[str, str], at: float) -> Change | None:
    """Pure: a bridge event → a console line (None for events the demo does not show)."""
    from bridge.events import MembershipChanged, Reconnected, RoleChanged, UserDeleted, UserRenamed

    if isinstance(event, MembershipChanged):
        room = rooms_by_id.get(event.room_id, event.room_id)
        by = f" (by {event.actor_username})" if event.actor_username and event.actor_username != event.username else ""
        sign = "+" if event.action in ("added", "joined") else "-"
        verb = {"added": "added to", "removed": "removed from"}.get(event.action, event.action)
        return Change(at, f"{sign} {event.username} {verb} {room}{by}", event.username, room, event.action)
    if isinstance(event, RoleChanged):
        role = role_names.get(event.role_id, event.role_id)
        where = f" in {rooms_by_id.get(event.scope, event.scope)}" if event.scope else ""
        sign = "+" if event.change == "added" else "-"
        return Change(at, f"{sign} role {role}{where} {event.change} for {event.username or event.user_id}",
                      event.username, None, f"role-{event.change}")
    if isinstance(event, UserRenamed):
        return Change(at, f"~ user {event.user_id} is now {event.username} ({event.name})", event.username)
    if isinstance(event, UserDeleted):
        return Change(at, f"- user {event.user_id} deleted", None)
    if isinstance(event, Reconnected):
        return Change(at, f"(feed reconnected, attempt {event.attempt})")
    return None


class Watcher:
    """Follows the managed rooms and roles; `changes` is a queue.Queue of Change."""

    def __init__(self) -> None:
        self.changes: "queue.Queue[Change]" = queue.Queue()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="demo-watch", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self.ready.wait(timeout) and self.error is None:
            self.error = TimeoutError("the realtime feed did not become ready")
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as exc:  # reported to the runner, which stops the demo
            self.error = exc
            self.ready.set()

    async def _run(self) -> None:
        from bridge.ddp import RealtimeClient
        from bridge.rest import AsyncRocketChat
        from django_hooks.conf import engine_config
        from django_hooks.drift import build_context
        from django_hooks.rc import bridge_config

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = bridge_config()
        async with AsyncRocketChat(config) as rest:
            ctx = await build_context(rest, engine_config())
            rooms = dict(ctx.rooms_by_id)
            roles = dict(ctx.all_role_names)
            realtime = RealtimeClient(config, rest=rest)
            await realtime.connect()
            try:
                await realtime.watch_users()
                for room_id in rooms:
                    await realtime.watch_room(room_id)

                def on_event(event: Any) -> None:
                    change = describe(event, rooms, roles, time.monotonic())
                    if change is not None:
                        self.changes.put(change)

                realtime.on_event(on_event)
                self.ready.set()
                await self._stop.wait()
            finally:
                await realtime.close()
