"""`rcsync listen`: Rocket.Chat-side changes in managed rooms and roles → sync_user for that site user.

Rocket.Chat is made to match the site, so a member added to `vip` by hand is
drift: the listener marks the linked site user pending (`drift=True`, so the
run is recorded as a drift repair) and the normal level-triggered sync puts
things back. What counts as drift is decided by the pure `drift_of`; the rest
is plumbing around `bridge.ddp.RealtimeClient`, which reconnects by itself.
When the feed was down, events may have been missed: once it is connected and
logged in again the listener asks for one catch-up reconcile, at most one per
`DRIFT_CATCH_UP_WINDOW` (`django_hooks.catch_up`); while Rocket.Chat stays
unreachable it only retries, with capped, jittered exponential back-off.
Our own changes echo back on the feed: membership messages name their actor
(the service account is ignored), role changes do not, so a role event that
matches an operation rcsync applied moments ago is recognised as its echo.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Callable

from django.db import close_old_connections
from django.utils import timezone

from bridge.ddp import RealtimeClient
from bridge.errors import NotFound
from bridge.events import MembershipChanged, Reconnected, RoleChanged, UserDeleted, UserRenamed
from bridge.rest import AsyncRocketChat
from bridge.retry import RetryPolicy
from django_hooks.catch_up import CatchUp
from django_hooks.conf import engine_config, hook_settings
from django_hooks.models import AccountLink, SyncOperation
from django_hooks.queue.pending import mark_pending
from django_hooks.rc import bridge_config
from django_hooks.dispatch import send_task

log = logging.getLogger("rcsync.drift")

ECHO_WINDOW = 60.0  # s: a role event matching an operation rcsync applied this recently is its own echo
ECHO_DELAY = 1.5  # s: wait before judging a role event, so the audit row of our own op is written
MISSING_ROOM_RECHECK = 10.0  # s: how often to look for managed rooms that did not exist yet


@dataclass(frozen=True)
class FeedContext:
    """What the listener knows about the managed world (resolved once at start)."""

    rooms_by_id: dict[str, str]  # room id -> managed room key
    roles_by_id: dict[str, str]  # role id -> managed global role name
    room_roles: frozenset[str]  # managed room-scoped roles, e.g. {"moderator"}
    service_user_id: str | None = None
    service_username: str | None = None
    all_role_names: dict[str, str] = field(default_factory=dict)  # any role id -> name


@dataclass(frozen=True)
class DriftHit:
    """A site user to look at again because of a Rocket.Chat-side change."""

    rc_user_id: str | None
    rc_username: str | None
    reason: str
    role_echo: tuple[str, str] | None = None  # (operation kind, role) to check against our own recent ops


def drift_of(event: Any, ctx: FeedContext) -> DriftHit | None:
    """Pure: is this feed event a change to something rcsync manages? If so, whose?"""
    if isinstance(event, MembershipChanged):
        if event.room_id not in ctx.rooms_by_id:
            return None
        if event.actor_id and event.actor_id == ctx.service_user_id:
            return None  # our own invite/kick
        if event.username and event.username == ctx.service_username:
            return None
        room = ctx.rooms_by_id[event.room_id]
        return DriftHit(None, event.username, f"drift: {event.username} {event.action} {room}")
    if isinstance(event, RoleChanged):
        if event.user_id and event.user_id == ctx.service_user_id:
            return None
        if event.scope:
            room = ctx.rooms_by_id.get(event.scope)
            role = ctx.all_role_names.get(event.role_id, event.role_id)
            if room is None or role not in ctx.room_roles:
                return None
            kind = "add_room_role" if event.change == "added" else "remove_room_role"
            return DriftHit(event.user_id, event.username, f"drift: room role {role} {event.change} in {room}", (kind, role))
        role = ctx.roles_by_id.get(event.role_id)
        if role is None:
            return None
        kind = "add_role" if event.change == "added" else "remove_role"
        return DriftHit(event.user_id, event.username, f"drift: role {role} {event.change}", (kind, role))
    if isinstance(event, UserRenamed):
        if event.user_id == ctx.service_user_id:
            return None
        return DriftHit(event.user_id, None, "drift: account renamed")
    if isinstance(event, UserDeleted):
        return DriftHit(event.user_id, None, "drift: account deleted")
    return None


def _is_echo(hit: DriftHit, user_key: str) -> bool:

    if hit.role_echo is None:
        return False
    kind, role = hit.role_echo
    since = timezone.now() - timedelta(seconds=ECHO_WINDOW)
    return SyncOperation.objects.filter(
        user_key=user_key, operation=kind, outcome=SyncOperation.Outcome.APPLIED, at__gte=since, target__icontains=role
    ).exists()


def record_drift(hit: DriftHit) -> str | None:
    """Mark the linked site user pending as drift (autocommit: enqueued at once). Returns its key."""

    close_old_connections()
    links = AccountLink.objects.all()
    if hit.rc_user_id:
        link = links.filter(rc_user_id=hit.rc_user_id).first()
    elif hit.rc_username:
        link = links.filter(rc_username__iexact=hit.rc_username).first()
    else:
        link = None
    if link is None:
        log.debug("feed event for an account rcsync does not manage: %s", hit.reason)
        return None
    if _is_echo(hit, link.user_key):
        return None
    log.info("drift on %s (site user %s): %s", link.rc_username, link.user_key, hit.reason)
    mark_pending(link.user_key, hit.reason, drift=True)
    return link.user_key


async def build_context(rest: Any, config: Any) -> FeedContext:
    """Resolve managed room ids, managed role ids and the service account's id through REST."""
    rooms: dict[str, str] = {}
    for spec in config.rooms:
        try:
            room = await (rest.room_info(room_id=spec.room_id) if spec.room_id else rest.room_info(name=spec.name))
        except NotFound:
            log.warning("managed room %s does not exist yet (run `manage.py rcsync bootstrap`)", spec.name)
            continue
        rooms[room.id] = spec.key
    roles = await rest.list_roles()
    names = {role.id: role.name for role in roles}
    managed = {role.id: role.name for role in roles if role.name in config.managed_roles}
    me = await rest.me()
    return FeedContext(rooms, managed, frozenset(config.managed_room_roles), me.id, me.username, names)


async def listen(
    *, stop: asyncio.Event | None = None, on_ready: Callable[[FeedContext], Any] | None = None,
    on_reconnect: Callable[[], Any] | None = None, missing_room_recheck: float = MISSING_ROOM_RECHECK,
    catch_up: CatchUp | None = None, missed: bool = False,
) -> None:
    """Run the feed until `stop` is set (or forever); each hit becomes a pending drift sync.

    Managed rooms that do not exist yet (the first sync or `rcsync bootstrap` creates them) are
    looked up again every `missing_room_recheck` seconds and watched once they appear. `missed` says
    the feed was down before this start: a catch-up is requested once connected and logged in.
    """
    config = bridge_config()
    policy = engine_config()
    hooks = hook_settings()
    stop = stop or asyncio.Event()
    catch_up = catch_up or CatchUp(hooks.drift_catch_up_window, _request_catch_up)
    async with AsyncRocketChat(config) as rest:
        ctx = await build_context(rest, policy)
        realtime = RealtimeClient(config, rest=rest, reconnect_base=hooks.drift_reconnect_base,
                                  reconnect_cap=hooks.drift_reconnect_max)
        await realtime.connect()
        try:
            await realtime.watch_users()
            for room_id in ctx.rooms_by_id:
                await realtime.watch_room(room_id)
            log.info("listening for drift in %d managed room(s) and %d managed role(s)", len(ctx.rooms_by_id), len(ctx.roles_by_id))
            if missed:  # REST and the feed both answered and logged in: now, not before, catch up
                await catch_up.request()
            if on_ready:
                on_ready(ctx)
            pending: set[asyncio.Task[Any]] = set()

            async def handle(hit: DriftHit, delay: float) -> None:
                if delay:
                    await asyncio.sleep(delay)
                await asyncio.to_thread(record_drift, hit)

            stopper = asyncio.create_task(stop.wait())
            events = realtime.events().__aiter__()
            next_recheck = time.monotonic() + missing_room_recheck
            getter: asyncio.Task[Any] | None = None
            while not stop.is_set():
                if len(ctx.rooms_by_id) < len(policy.rooms) and time.monotonic() >= next_recheck:
                    next_recheck = time.monotonic() + missing_room_recheck
                    ctx = await _watch_new_rooms(rest, policy, ctx, realtime)
                getter = getter or asyncio.create_task(events.__anext__())
                done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED,
                                             timeout=missing_room_recheck)
                if stopper in done:
                    getter.cancel()
                    break
                await catch_up.flush(realtime.connected)  # one owed from inside the last window
                if getter not in done:
                    continue
                event, getter = getter.result(), None
                if isinstance(event, Reconnected):
                    # Emitted after the feed logged in again: events may have been missed meanwhile.
                    await catch_up.request()
                    if on_reconnect:
                        on_reconnect()
                    continue
                hit = drift_of(event, ctx)
                if hit is not None:
                    task = asyncio.create_task(handle(hit, ECHO_DELAY if hit.role_echo else 0.0))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            stopper.cancel()
            for task in list(pending):
                await asyncio.gather(task, return_exceptions=True)
        finally:
            await realtime.close()


async def _watch_new_rooms(rest: Any, policy: Any, ctx: FeedContext, realtime: Any) -> FeedContext:
    try:
        fresh = await build_context(rest, policy)
    except Exception as exc:  # Rocket.Chat away: try again at the next recheck
        log.warning("could not look for new managed rooms: %s", type(exc).__name__)
        return ctx
    for room_id, key in fresh.rooms_by_id.items():
        if room_id not in ctx.rooms_by_id:
            await realtime.watch_room(room_id)
            log.info("managed room %s appeared; watching it", key)
    return replace(ctx, rooms_by_id=fresh.rooms_by_id, roles_by_id=fresh.roles_by_id, all_role_names=fresh.all_role_names)


async def listen_forever(*, stop: asyncio.Event, on_ready: Callable[[FeedContext], Any] | None = None,
                         rand: Callable[[], float] = random.random) -> None:
    """`listen`, started again whenever it fails (Rocket.Chat down at start, bad credentials fixed
    later, ...), until `stop` is set.

    Waits grow exponentially from `DRIFT_RECONNECT_BASE` to `DRIFT_RECONNECT_MAX`, with jitter so that
    many listeners do not come back in step; they start short again once a start got connected. A
    failed start queues nothing: the catch-up is requested by the next start that connects and logs in,
    and at most one per `DRIFT_CATCH_UP_WINDOW` across all restarts of this process.
    """
    hooks = hook_settings()
    backoff = RetryPolicy(max_retries=0, base=hooks.drift_reconnect_base, cap=hooks.drift_reconnect_max)
    catch_up = CatchUp(hooks.drift_catch_up_window, _request_catch_up)
    failures = 0
    missed = False
    while not stop.is_set():
        got_ready = False

        def ready(ctx: FeedContext) -> None:
            nonlocal got_ready
            got_ready = True
            if on_ready:
                on_ready(ctx)

        try:
            await listen(stop=stop, on_ready=ready, catch_up=catch_up, missed=missed)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if got_ready:
                failures = 0  # it was connected: start over with short waits
            missed = True
            delay = backoff.delay(failures, rand)
            failures += 1
            log.warning("change feed stopped (%s: %s); starting again in %.2f s", type(exc).__name__, exc, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass


def _request_catch_up() -> None:
    try:
        send_task("rcsync.reconcile_all", kwargs={"kind": "drift", "triggered_by": "listen:reconnected"})
    except Exception as exc:  # broker down: the nightly run and the relay still cover us
        log.warning("could not request a catch-up reconcile (%s)", type(exc).__name__)
