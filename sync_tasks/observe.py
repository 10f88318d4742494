"""Read Rocket.Chat's current state into an :class:`ObservedState`. I/O only, no decisions.

Two readers:

* :func:`observe_all` — full reconciliation. Bulk pages only, never one call per user: ``users.list``
  (which, for an admin caller, already carries every user's global roles and emails, reference §3.5),
  the member pages of each managed room, and ``channels.roles``/``groups.roles`` once per room. Only
  if ``users.list`` comes back without roles (a non-admin caller) does it page
  ``roles.getUsersInRole`` for the managed roles instead. Cost grows with pages, not users x rooms.
* :func:`observe_people` — targeted sync of a few people: ``users.info`` with the user's rooms (one
  call gives subscriptions and room roles, including those of a deactivated account) per person. It
  looks unlinked people up by their *desired* username and email, so it takes the run's
  :class:`~sync_tasks.decide.Desired` states (the policy is computed once per run, by the engine).

Both use only the synchronous facade ``bridge.RocketChat`` methods listed in :class:`ReadClient`.
"""
from __future__ import annotations

import logging
from concurrent.futures import FIRST_EXCEPTION, wait
from dataclasses import dataclass, field, replace
from typing import Any, Collection, Iterable, Iterator, Protocol

from bridge.errors import NotFound, RocketChatError
from bridge.models import Listing, RcUser

from .adoption import BOT_ROLES
from .config import SyncConfig
from .decide import Desired, desire_all
from .identity import assign_usernames
from .person import SitePerson
from .pool import executor
from .state import ObservedAccount, ObservedRoom, ObservedState

log = logging.getLogger("rcsync.observe")

__all__ = ["ReadClient", "Observation", "observe_all", "observe_people", "reveal_memberships", "read_base", "read_rooms",
           "account_from"]


class ReadClient(Protocol):
    """The read methods of ``bridge.RocketChat`` the observers use."""

    def me(self) -> Any: ...
    def list_roles(self) -> list[Any]: ...
    def room_info(self, *, room_id: str | None = None, name: str | None = None) -> Any: ...
    def iter_users(self, page_size: int = 100, *, prefetch: bool = False, unpaged: bool = False,
                   listing: Any = None) -> Iterator[Any]: ...
    def iter_members(self, room: Any, page_size: int = 100, *, prefetch: bool = False, unpaged: bool = False,
                     listing: Any = None) -> Iterator[Any]: ...
    def room_roles(self, room: Any) -> list[Any]: ...
    def iter_users_in_role(self, role_id: str, room_id: str | None = None, page_size: int = 100) -> Iterator[Any]: ...
    def user_info(self, *, user_id: str | None = None, username: str | None = None,
                  include_rooms: bool = False) -> Any: ...
    def find_user(self, username: str | None = None, email: str | None = None) -> Any: ...
    def iter_all_groups(self, page_size: int = 100) -> Iterator[Any]: ...


@dataclass
class Observation:
    """The observed state plus what could not be observed (reported, never guessed)."""

    state: ObservedState
    rc_rooms: dict[str, Any] = field(default_factory=dict)  # room key -> bridge RcRoom (for the executor)
    unreadable_rooms: dict[str, str] = field(default_factory=dict)  # room key -> why
    problems: list[str] = field(default_factory=list)
    #: What a read said that contradicts the service account / roles / rooms read first: a managed room
    #: gone under its id, or a person's subscription to a room of that name under another id. Those
    #: first reads may come from a caching client (django_hooks.rc.CachedReads); the engine then drops
    #: its cache and reads again (``sync_tasks.engine.refresh``).
    stale: list[str] = field(default_factory=list)


def _email_verified(user: Any) -> bool:
    for e in (getattr(user, "raw", None) or {}).get("emails") or ():
        if isinstance(e, dict):
            return bool(e.get("verified"))
    return False


_INTERNED: dict[frozenset, frozenset] = {}


def _intern(value: frozenset | None) -> frozenset | None:
    """Share equal small frozensets: 100k accounts hold a handful of distinct role/room sets."""
    if value is None:
        return None
    if len(_INTERNED) > 65536:
        _INTERNED.clear()
    return _INTERNED.setdefault(value, value)


#: One string per account type, shared (a decoded "user" per account is 53 bytes a million times).
_TYPES = {t: t for t in ("user", "bot", "app")}


def account_from(user: Any, role_names: dict[str, str], rooms: frozenset[str] | None,
             room_roles: frozenset[tuple[str, str]] = frozenset(),
             role_sets: dict[tuple[str, ...], frozenset] | None = None) -> ObservedAccount:
    """``role_sets``: role id tuple -> names, for one bulk read: a million accounts hold a handful of
    distinct tuples, and a frozenset built per account was a tenth of the read's main-thread time."""
    roles = role_sets.get(user.roles) if role_sets is not None else None
    if roles is None:
        roles = _intern(frozenset(role_names.get(r, r) for r in user.roles))
        if role_sets is not None and len(role_sets) < 4096:
            role_sets[user.roles] = roles  # type: ignore[assignment]
    return ObservedAccount(
        user_id=user.id, username=user.username or "", name=user.name or "", email=user.email,
        email_verified=_email_verified(user), active=bool(user.active),
        roles=roles, rooms=_intern(rooms),
        room_roles=_intern(room_roles), type=_TYPES.get(user.type, user.type or "user"))


def _hidden_group(client: Any, name: str, cache: dict[str, set[str]]) -> bool:
    """Does a private group called ``name`` exist although rooms.info cannot see it? (groups.listAll)"""
    if "names" not in cache:
        cache["names"] = set()
        try:
            for g in client.iter_all_groups():
                cache["names"].add((g.name or "").lower())
        except (RocketChatError, AttributeError) as exc:
            log.info("cannot list private groups: %s", exc)
    return name.lower() in cache["names"]


def _resolve_rooms(client: ReadClient, config: SyncConfig, obs: Observation) -> dict[str, ObservedRoom]:
    rooms: dict[str, ObservedRoom] = {}
    hidden_cache: dict[str, set[str]] = {}
    for spec in config.rooms:
        room = None
        try:
            room = client.room_info(room_id=spec.room_id) if spec.room_id else client.room_info(name=spec.name)
        except NotFound:
            if spec.room_id:  # a fixed id that is gone: fall back to the name
                try:
                    room = client.room_info(name=spec.name)
                except NotFound:
                    room = None
        except RocketChatError as exc:
            obs.unreadable_rooms[spec.key] = f"cannot read room {spec.name!r}: {exc}"
            continue
        if room is None:
            if spec.type == "p" and _hidden_group(client, spec.name, hidden_cache):
                # rooms.info answers "not found" for a private group the caller is not in (reference
                # §5.2); creating it would fail as a duplicate, and managing it needs a membership.
                obs.unreadable_rooms[spec.key] = (
                    f"private room {spec.name!r} exists but the service account is not a member; "
                    "add it as owner so rcsync can manage the room")
            continue
        if room.type != spec.type:
            obs.unreadable_rooms[spec.key] = (f"room {spec.name!r} is {'public' if room.type == 'c' else 'private'} "
                                             f"in Rocket.Chat but configured {'public' if spec.type == 'c' else 'private'}")
            continue
        obs.rc_rooms[spec.key] = room
        rooms[spec.key] = ObservedRoom(spec.key, room.id, room.name or spec.name, room.type)
    return rooms


def read_base(client: ReadClient, config: SyncConfig, complete: bool) -> tuple[Observation, dict[str, str]]:
    me = client.me()
    roles = client.list_roles()
    role_names = {r.id: r.name for r in roles}
    obs = Observation(ObservedState(roles={r.name: r.id for r in roles}, service_user_id=me.id,
                                    service_username=me.username, complete=complete))
    obs.state.rooms.update(_resolve_rooms(client, config, obs))
    for key, why in sorted(obs.unreadable_rooms.items()):
        obs.problems.append(why)
    return obs, role_names


def observe_all(client: ReadClient, config: SyncConfig, *, rereads: int = 0) -> Observation:
    """Bulk read of everything rcsync manages (see the module docstring for the calls made).

    Memberships are read first and kept as shared frozensets, so each account is built once, in its
    final form: at 100k accounts this keeps the observation to roughly one small object per account.

    A room whose member pages changed while they were read is read again, up to ``rereads`` times,
    until one read is a snapshot; a member seen by any read counts. A room that never settles is
    named in ``ObservedState.unsettled_rooms``: who was not seen in it may still be a member.
    """
    obs, role_names = read_base(client, config, complete=True)
    page = config.batch.page_size
    unpaged = config.batch.unpaged_reads  # count=0, one request per listing (docs/settings.md, BATCH)
    members: dict[str, frozenset[str]] = {}
    room_roles = read_rooms(client, obs, page, unpaged, rereads, members)
    users = obs.state.accounts
    roles_missing = False
    empty: frozenset = frozenset()
    role_sets: dict[tuple[str, ...], frozenset] = {}
    listing = Listing()
    for u in client.iter_users(page_size=page, prefetch=True, unpaged=unpaged, listing=listing):  # the whole listing
        if u.id in users:  # read twice (the list moved under the offset): its memberships went with the first
            listing.duplicates += 1
            continue
        if u.type not in ("user", "bot", "app"):
            continue
        if "roles" not in (getattr(u, "raw", None) or {"roles": ()}):
            roles_missing = True
        users[u.id] = account_from(u, role_names, members.pop(u.id, empty) if u.active else None,
                               room_roles.pop(u.id, empty), role_sets)
    if roles_missing:
        # users.list without roles: the caller lacks view-full-other-user-info. Page the managed roles,
        # and the privileged and bot ones the adoption guard must see (sync_tasks.adoption).
        holders: dict[str, set[str]] = {}
        for name in sorted(set(config.managed_roles) | config.identity.privileged_roles | BOT_ROLES):
            if name in obs.state.roles:
                for u in client.iter_users_in_role(obs.state.roles[name], page_size=page):
                    holders.setdefault(u.id, set()).add(name)
        for uid, names in holders.items():
            if uid in users:
                users[uid] = replace(users[uid], roles=_intern(users[uid].roles | names))  # type: ignore[arg-type]
    if listing.changed:
        log.info("the accounts changed while users.list was read")
    obs.state = replace(obs.state, users_unsettled=listing.changed)
    return obs


def read_rooms(client: ReadClient, obs: Observation, page: int, unpaged: bool, rereads: int,
               members: dict[str, frozenset[str]],
               linked: dict[str, frozenset[str]] | None = None) -> dict[str, frozenset[tuple[str, str]]]:
    """Read the member pages and room roles of every managed room of ``obs`` into ``members`` (account
    id -> room keys) and return the room roles (account id -> (room key, role) pairs). Rooms that
    cannot be read are dropped from ``obs`` (named in its problems); rooms whose members moved while
    they were read, ``rereads`` times over, go to ``ObservedState.unsettled_rooms``.

    ``linked``: the run's link index (:mod:`sync_tasks.paged`), account id -> room keys for the
    accounts site people are linked to; their memberships go there, everyone else's to ``members``."""
    room_roles: dict[str, frozenset[tuple[str, str]]] = {}
    unsettled: set[str] = set()
    for key, room in sorted(obs.rc_rooms.items()):
        try:
            changed = _read_members(client, room, key, page, members, unpaged, linked).changed
            for _ in range(rereads if changed else 0):
                changed = _read_members_again(client, room, key, page, members, unpaged, linked).changed
                if not changed:
                    break
            if changed:
                unsettled.add(key)
                log.info("the members of room %r changed while they were read", room.name)
            for rr in client.room_roles(room):
                pairs = frozenset((key, role) for role in rr.roles)
                room_roles[rr.user_id] = _intern(room_roles.get(rr.user_id, frozenset()) | pairs)  # type: ignore[assignment]
        except RocketChatError as exc:
            if isinstance(exc, NotFound):
                obs.stale.append(f"room {room.name!r} ({room.id}) is gone")
            obs.unreadable_rooms[key] = f"cannot read the members of room {room.name!r}: {exc}"
            obs.problems.append(obs.unreadable_rooms[key])
            obs.state.rooms.pop(key, None)
            unsettled.discard(key)
            for held in (members, linked or {}):
                for uid in [uid for uid, keys in held.items() if key in keys]:
                    held[uid] = _intern(held[uid] - {key})  # type: ignore[assignment]
            for uid in list(room_roles):
                room_roles[uid] = _intern(frozenset(p for p in room_roles[uid] if p[0] != key))  # type: ignore[assignment]
    obs.state = replace(obs.state, unsettled_rooms=frozenset(unsettled))
    return room_roles


def _read_members(client: ReadClient, room: Any, key: str, page: int, members: dict[str, frozenset[str]],
                  unpaged: bool = False, linked: dict[str, frozenset[str]] | None = None) -> Listing:
    """Add the room's members to ``members`` (account id -> room keys). The returned listing says
    whether the room changed while it was paged: then a member may have been missed (see
    :class:`bridge.Listing`), and ``ObservedState.unsettled_rooms`` names the room."""
    listing = Listing()
    for m in client.iter_members(room, page_size=page, prefetch=True, unpaged=unpaged, listing=listing):
        into = linked if linked is not None and m.id in linked else members
        held = into.get(m.id)
        if held is not None and key in held:
            listing.duplicates += 1  # read twice: the order moved under the offset
            continue
        into[m.id] = _intern((held or frozenset()) | {key})  # type: ignore[assignment]
    return listing


def _read_members_again(client: ReadClient, room: Any, key: str, page: int,
                        members: dict[str, frozenset[str]], unpaged: bool = False,
                        linked: dict[str, frozenset[str]] | None = None) -> Listing:
    """As :func:`_read_members`, over members already holding ``key`` from an earlier read: this
    read's own duplicates are told apart by the ids it saw (a rare path, so the set is affordable)."""
    listing, seen = Listing(), set()
    for m in client.iter_members(room, page_size=page, prefetch=True, unpaged=unpaged, listing=listing):
        if m.id in seen:
            listing.duplicates += 1
            continue
        seen.add(m.id)
        into = linked if linked is not None and m.id in linked else members
        held = into.get(m.id)
        if held is None or key not in held:
            into[m.id] = _intern((held or frozenset()) | {key})  # type: ignore[assignment]
    return listing


def _from_info(user: Any, obs: Observation, role_names: dict[str, str]) -> ObservedAccount:
    by_id = {room.room_id: key for key, room in obs.state.rooms.items()}
    rooms, room_roles = set(), set()
    for r in user.rooms or ():
        key = by_id.get(r.id)
        if key is None:
            if r.type in ("c", "p") and r.name and _managed_name(obs, r.name):
                # Room names are unique: a managed room's name under an id we do not know means the
                # room was deleted and made again since the rooms were read (or a cache holds them).
                obs.stale.append(f"room {r.name!r} has the id {r.id}, not the one read first")
            continue
        rooms.add(key)
        room_roles.update((key, role) for role in r.roles)
    # users.info lists subscriptions whatever the active flag, so membership is known here.
    return account_from(user, role_names, frozenset(rooms) if user.rooms is not None else None, frozenset(room_roles))


def _managed_name(obs: Observation, name: str) -> bool:
    name = name.lower()
    return any((room.name or "").lower() == name for room in obs.state.rooms.values())


def reveal_memberships(client: ReadClient, obs: Observation, user_ids: Iterable[str]) -> None:
    """Fill in the memberships of accounts a bulk read could not see (deactivated ones), in place."""
    role_names = {rid: name for name, rid in obs.state.roles.items()}
    for uid in user_ids:
        try:
            info = client.user_info(user_id=uid, include_rooms=True)
        except NotFound:
            continue  # gone indeed (a linked account a moving users.list did not show: sync_tasks.plan.accounts_to_confirm)
        except RocketChatError as exc:
            obs.problems.append(f"cannot read the rooms of account {uid}: {exc}")
            continue
        obs.state.accounts[uid] = _from_info(info, obs, role_names)


def _user_info(client: ReadClient, **kw: Any) -> RcUser | None:
    try:
        return client.user_info(include_rooms=True, **kw)
    except NotFound:
        return None


def _linked_infos(client: ReadClient, ids: list[str], workers: int) -> dict[str, RcUser | None]:
    """Every linked account's ``users.info`` (None: gone), `workers` at a time: a batch pass read its
    people one after another and its writes waited for the last (bench/latency.py at 200 changes/s:
    passes of a few hundred people, reads ~8 ms apart). A failure stops the reads not yet begun and is
    raised, as when they went one by one; a lone person is read in the calling thread."""
    ids = list(dict.fromkeys(ids))
    if len(ids) < 2 or workers < 2:
        return {uid: _user_info(client, user_id=uid) for uid in ids}
    pool = executor("rcsync-read", workers)  # the process's threads (sync_tasks.pool), not a pool per pass
    futures = [pool.submit(_user_info, client, user_id=uid) for uid in ids]
    try:
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and f.exception() is not None), None)
        if failed is not None:
            raise failed.exception()  # type: ignore[misc]
        return {uid: f.result() for uid, f in zip(ids, futures)}
    finally:
        for f in futures:
            f.cancel()  # the reads not begun yet (after a failure); the others are waited for
        wait(futures)


def observe_people(client: ReadClient, config: SyncConfig, desired: Desired | Iterable[SitePerson],
                   *, max_collision_probes: int = 20, email_lookup: Collection[str] | None = None) -> Observation:
    """Per-person read for a targeted sync: linked accounts by id; for unlinked people the account with
    their derived username (and its ``-2``, ``-3`` ... successors, to resolve collisions) and, when
    adoption by email is configured, the account with their email.

    ``desired`` is the run's :class:`~sync_tasks.decide.Desired` (the engine passes the value it then
    plans with). Plain site people are accepted for a one-off read, their policy is computed here. A
    person whose policy failed is not read at all: the planner gives them no operations.

    Looking an email up means scanning ``users.list`` (7.x has no lookup by email), so
    ``email_lookup`` limits it to these site ids (``None``: everyone eligible). The engine first tries
    without and only looks up the people whose account creation failed because the email is taken.
    """
    if not isinstance(desired, Desired):
        desired = desire_all(desired, config)
    obs, role_names = read_base(client, config, complete=False)
    accounts = obs.state.accounts
    linked = _linked_infos(client, [p.link.rc_user_id for p, _ in desired.pairs if p.link is not None],
                           config.batch.concurrency)

    def fetch(**kw: Any) -> ObservedAccount | None:
        if "user_id" in kw and kw["user_id"] in linked:
            info = linked.pop(kw["user_id"])
        else:
            info = _user_info(client, **kw)
        if info is None:
            return None
        acct = _from_info(info, obs, role_names)
        accounts[acct.user_id] = acct
        return acct

    email_modes = {"email", "email_verified"} & set(config.identity.adopt)
    for person, want in desired.pairs:
        if person.link is not None:
            if fetch(user_id=person.link.rc_user_id) is not None or not person.wants_account:
                continue
        elif not person.wants_account:
            continue
        base = person.link.rc_username if person.link is not None else want.username
        probe = base
        for n in range(2, max_collision_probes + 2):
            if fetch(username=probe) is None:
                break
            probe = assign_usernames({"x": base}, {a.username for a in accounts.values()},
                                     max_length=config.identity.username_max_length)["x"]
        asked = email_lookup is not None and person.site_id in email_lookup  # the email is known to be taken
        eligible = email_lookup is None and (person.email_verified or "email" in email_modes)
        if email_modes and want.email and (asked or eligible):
            # There is no lookup by email in 7.x (the `query` parameter is ignored): find_user scans
            # users.list. Only people without a link reach this, once.
            found = client.find_user(email=want.email)
            if found is not None and found.id not in accounts:
                fetch(user_id=found.id)
    return obs
