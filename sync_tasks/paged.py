"""The page-driven full reconcile: Rocket.Chat's accounts are planned a page at a time, as ``users.list``
brings them, with the site people looked up by the account they are linked to.

Why: :mod:`sync_tasks.stream` plans the site people in site order, so every Rocket.Chat account had to
stay in memory until its person came (~0.5 KB each: 537 MB at a million). Here the site gives its
link index first (the account ids its people are linked to); the member pages are read into it, and
each page of accounts is planned with the people linked to them (one lookup per page) and then let go.
What stays for the run is the link index (one entry per linked person), one result per person, and the
accounts the rest of the run still needs: those of people with operations or whose plan depends on
others, and the accounts nobody is linked to (matching, and the unmanaged list).

Exactness: the people left to match at the end (unlinked people, links to accounts that are gone, email
changes, deletions) are matched against the kept accounts. The accounts let go could matter to them
only through a username or an email they look up, want or are given; a hash of each let-go account's
username and email is kept (16 bytes per account), and if any such key hits one, the run is planned
again the whole way (:func:`sync_tasks.engine.reconcile_all` falls back to the streamed plan, reading
Rocket.Chat again). So the answer is always that of planning everyone at once
(``tests/sync_tasks/test_paged.py`` checks it against the streamed plan).

The site side is :class:`LinkedPeople`: ``django_hooks.people.SiteDirectory`` answers it from its
tables, :class:`PeopleByLink` from a list (tests, tools).
"""
from __future__ import annotations

import logging
from array import array
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, runtime_checkable

from bridge.models import Listing

from .config import SyncConfig
from .decide import desire_one, sorted_issues, with_settings
from .identity import email_key
from .match import Claims, PersonIssue, match_people
from .observe import Observation, account_from, read_base, read_rooms
from .ops import Operation, sort_key
from .person import AccountLink, SitePerson, site_sort_key
from .plan import Ownership, accounts_to_confirm, memberships_to_reveal, plan_changes
from .policy import DesiredAccount
from .results import QuietResults, planned_status
from .state import ObservedAccount
from .stream import Streamed, settled_account
from .target import Target

log = logging.getLogger("rcsync.paged")

__all__ = ["LinkedPeople", "PeopleByLink", "Fallback", "observe_and_plan"]


@runtime_checkable
class LinkedPeople(Protocol):
    """Every site person of a full reconcile, reachable by the account they are linked to.

    Each person is answered exactly once over the two kinds: by :meth:`people_linked_to` if their link
    names an account (deleted people with a kept link included), else by :meth:`unlinked_people`."""

    def __iter__(self) -> Iterator[SitePerson]:
        """Everyone, in site order (what the engine plans with when a run cannot go page by page)."""
        ...

    def linked_account_ids(self) -> Iterable[str]:
        """The account id of every linked person (the link index), each once."""
        ...

    def people_linked_to(self, user_ids: Sequence[str]) -> Iterable[SitePerson]:
        """The people linked to these accounts (any order; an id nobody holds is left out)."""
        ...

    def unlinked_people(self) -> Iterable[SitePerson]:
        """The people without a linked account."""
        ...


class PeopleByLink:
    """:class:`LinkedPeople` over a list of people (what a caller without tables of its own passes)."""

    def __init__(self, people: Iterable[SitePerson]) -> None:
        self.people = list(people)

    def __iter__(self) -> Iterator[SitePerson]:
        return iter(self.people)

    def linked_account_ids(self) -> Iterable[str]:
        return [p.link.rc_user_id for p in self.people if p.link is not None]

    def people_linked_to(self, user_ids: Sequence[str]) -> Iterable[SitePerson]:
        wanted = set(user_ids)
        return [p for p in self.people if p.link is not None and p.link.rc_user_id in wanted]

    def unlinked_people(self) -> Iterable[SitePerson]:
        return [p for p in self.people if p.link is None]


class Fallback(Exception):
    """This run cannot be planned page by page; the reason says why (the caller plans it whole)."""


#: Marks a linked account ``users.list`` listed (its memberships went into its account).
_LISTED: frozenset = frozenset({"\0listed"})


class _LetGo:
    """Hashes of the usernames and emails of the accounts a run let go, to ask "might one of them hold
    this key?" (a hash hit is a maybe: the run is then planned whole)."""

    def __init__(self) -> None:
        self._keys = array("q")
        self._sorted = True

    def add(self, acct: ObservedAccount) -> None:
        self._keys.append(hash(("u", acct.username.lower())))
        key = email_key(acct.email)
        if key:
            self._keys.append(hash(("e", key)))
        self._sorted = False

    def _has(self, item: tuple[str, str]) -> bool:
        if not self._sorted:
            self._keys = array("q", sorted(self._keys))
            self._sorted = True
        h = hash(item)
        i = bisect_left(self._keys, h)
        return i < len(self._keys) and self._keys[i] == h

    def username(self, name: str | None) -> bool:
        return bool(name) and self._has(("u", name.lower()))  # type: ignore[union-attr]

    def email(self, email: str | None) -> bool:
        key = email_key(email)
        return key is not None and self._has(("e", key))

    def __len__(self) -> int:
        return len(self._keys)


@dataclass
class _Run:
    """What the page-driven plan gathers as it goes (the pieces of a :class:`Streamed`)."""

    quiet: QuietResults
    ops: list[Operation]
    busy: list[Target]
    rest: list[tuple[SitePerson, DesiredAccount]]
    issues: list[PersonIssue]
    links: dict[str, AccountLink | None]
    claimed: dict[str, str]  # kept account id -> site id of its settled person
    loose: set[str]
    deprovisioned: set[str]


def observe_and_plan(site: LinkedPeople, client: Any, config: SyncConfig, *, rereads: int,
                     prepare: Callable[[Observation], Ownership],
                     reveal: Callable[[Observation, Sequence[str]], Any], page: int | None = None) -> tuple[Observation, Streamed]:
    """Read Rocket.Chat and plan every site person, a page of accounts at a time (module docstring).

    ``prepare(obs)`` runs once the rooms are read and before any account is planned (the engine reads
    the workspace settings there) and gives the run's ownership. ``reveal(obs, user_ids)`` reads the
    memberships of accounts the bulk read could not see into ``obs``. Raises :class:`Fallback` when
    the run must be planned whole; nothing has been written then.

    ``page``: accounts planned together, by default a ``users.list`` page (``BATCH.page_size``). The
    bridge asks for the next page when one arrives (read-ahead); planning every tenth page ten pages'
    worth at once left Rocket.Chat idle meanwhile (a million accounts: 232 s and 173 s of CPU, against
    211 s and 158 s page by page), while a page planned as it comes overlaps the server's time for the next."""
    obs, role_names = read_base(client, config, complete=True)
    batch = config.batch
    page = page or batch.page_size
    linked: dict[str, frozenset[str]] = {}
    empty: frozenset = frozenset()
    for uid in site.linked_account_ids():
        if uid in linked:
            raise Fallback(f"two people are linked to account {uid}")
        linked[uid] = empty
    others: dict[str, frozenset[str]] = {}  # memberships of accounts nobody is linked to
    room_roles = read_rooms(client, obs, batch.page_size, batch.unpaged_reads, rereads, others, linked)
    own = prepare(obs)
    per_page = replace(own, create_roles=False, create_rooms=frozenset())  # created once, at the end
    accounts = obs.state.accounts
    run = _Run(QuietResults(), [], [], [], [], {}, {}, set(), set())
    let_go = _LetGo()
    role_sets: dict[tuple[str, ...], frozenset] = {}
    listing = Listing()
    chunk: list[str] = []
    for u in client.iter_users(page_size=batch.page_size, prefetch=True, unpaged=batch.unpaged_reads,
                               listing=listing):
        held = linked.get(u.id)
        if held is _LISTED or u.id in accounts:  # read twice (the list moved under the offset)
            listing.duplicates += 1
            continue
        if u.type not in ("user", "bot", "app"):
            continue
        if "roles" not in (getattr(u, "raw", None) or {"roles": ()}):
            raise Fallback("users.list carries no roles (the service account cannot view full user info)")
        rooms = held if held is not None else others.pop(u.id, empty)
        accounts[u.id] = account_from(u, role_names, rooms if u.active else None, room_roles.pop(u.id, empty), role_sets)
        if held is not None:
            linked[u.id] = _LISTED
            chunk.append(u.id)
            if len(chunk) >= page:
                _plan_page(site, chunk, obs, config, per_page, run, let_go, reveal)
                chunk = []
    _plan_page(site, chunk, obs, config, per_page, run, let_go, reveal)
    del others, room_roles
    if listing.changed:
        log.info("the accounts changed while users.list was read")
    obs.state = replace(obs.state, users_unsettled=listing.changed)
    missing = [uid for uid, held in linked.items() if held is not _LISTED]
    del linked
    for person in _each_once(site.people_linked_to(missing) if missing else (), set(missing)):
        _take(person, config, run)
    for person in site.unlinked_people():
        if person.link is not None:
            raise Fallback(f"site person {person.site_id} was answered as unlinked but holds a link")
        _take(person, config, run)
    return obs, _finish(obs, config, own, run, let_go, reveal)


def _each_once(people: Iterable[SitePerson], ids: set[str]) -> Iterator[SitePerson]:
    """The people of a lookup, checked against the contract (one person per asked-for account)."""
    seen: set[str] = set()
    for person in people:
        uid = person.link.rc_user_id if person.link is not None else None
        if uid not in ids or uid in seen:
            raise Fallback(f"the site answered site person {person.site_id} for account {uid} "
                           "more than once or unasked")
        seen.add(uid)
        yield person


def _take(person: SitePerson, config: SyncConfig, run: _Run, want: DesiredAccount | PersonIssue | None = None) -> None:
    """A person whose plan is not made on their page: an issue, or one to match at the end."""
    want = desire_one(person, config) if want is None else want
    if isinstance(want, PersonIssue):
        run.issues.append(want)
        run.links[want.site_id] = person.link
        return
    run.rest.append((person, want))


def _plan_page(site: LinkedPeople, ids: list[str], obs: Observation, config: SyncConfig, own: Ownership,
               run: _Run, let_go: _LetGo, reveal: Callable[[Observation, Sequence[str]], Any]) -> None:
    """Plan the people linked to one page of listed accounts, then let go of the accounts nobody
    needs again (those of the people the plan leaves alone)."""
    if not ids:
        return
    state = obs.state
    accounts = state.accounts
    pending: list[Target] = []
    for person in _each_once(site.people_linked_to(ids), set(ids)):
        want = desire_one(person, config)
        acct = None if isinstance(want, PersonIssue) else settled_account(person, want, state)
        if acct is None:
            _take(person, config, run, want)
            continue
        assert person.link is not None and not isinstance(want, PersonIssue)
        if want.remove is not None:
            run.deprovisioned.add(acct.user_id)
        if email_key(want.email) != email_key(acct.email):
            run.loose.add(acct.user_id)
        pending.append(Target(want, acct.user_id, acct.username, created_by_bridge=person.link.created_by_bridge))
    hidden = memberships_to_reveal(pending, state, unsettled=False)
    if hidden:
        reveal(obs, hidden)
    planned = plan_changes(pending, obs.state, own)
    changed = {op.site_id for op in planned}
    run.ops.extend(planned)
    for t in pending:
        sid = t.desired.site_id
        if sid in changed:
            run.busy.append(t)
            run.claimed[t.user_id] = sid  # type: ignore[index]  # kept: the executor works on it
            continue
        run.quiet.append(sid, planned_status(t.desired.remove), t.user_id, t.username, t.created_by_bridge)
        acct = accounts.pop(t.user_id)  # type: ignore[arg-type]
        let_go.add(acct)
        run.loose.discard(acct.user_id)
        run.deprovisioned.discard(acct.user_id)


def _finish(obs: Observation, config: SyncConfig, own: Ownership, run: _Run, let_go: _LetGo,
            reveal: Callable[[Observation, Sequence[str]], Any]) -> Streamed:
    """Match the people left for the end against the kept accounts, and make sure no account let go
    could have changed their answer (else :class:`Fallback`)."""
    state = obs.state
    unlisted = accounts_to_confirm((p for p, _ in run.rest), state)
    if unlisted:
        reveal(obs, unlisted)
    for person, want in run.rest:
        looked_up = [want.username, person.link.rc_username if person.link is not None else None,
                     want.sso.username if want.sso is not None else None]
        emails = [want.email, want.sso.email if want.sso is not None else None]
        if any(let_go.username(name) for name in looked_up) or any(let_go.email(e) for e in emails):
            raise Fallback(f"site person {person.site_id} looks up a username or email the run let go of")
    matching = match_people(run.rest, obs.state, config, Claims(run.claimed, run.loose, run.deprovisioned))
    for t in matching.targets:
        if t.user_id is None and let_go.username(t.username):
            raise Fallback(f"the username {t.username!r} planned for site person {t.desired.site_id} "
                           "may be held by an account the run let go of")
    run.links.update((p.site_id, p.link) for p, _ in run.rest)
    hidden = memberships_to_reveal(matching.targets, obs.state, unsettled=False)
    if hidden:
        reveal(obs, hidden)
    ops = run.ops + list(plan_changes(matching.targets, obs.state, own))
    ops.sort(key=sort_key)
    quiet = run.quiet.sorted(site_sort_key)
    targets = sorted(run.busy + list(matching.targets), key=lambda t: site_sort_key(t.desired.site_id))
    _check_once(quiet.site_ids(), [t.desired.site_id for t in run.busy] + [i.site_id for i in run.issues]
                + [p.site_id for p, _ in run.rest])
    return Streamed(with_settings(tuple(ops), obs.state, config), tuple(targets), quiet,
                    sorted_issues(run.issues + list(matching.issues)), run.links, matching.unmanaged)


def _check_once(quiet_ids: list[str], others: list[str]) -> None:
    """Every site id once (a record twice would be planned twice): the quiet ones are in site order,
    so a repeat among them sits next to its twin; the others are few and looked up there."""
    for a, b in zip(quiet_ids, quiet_ids[1:]):
        if a == b:
            raise Fallback(f"two records share site id {a}")
    if len(set(others)) != len(others):
        raise Fallback("two records share a site id")
    for sid in others:
        i = bisect_left(quiet_ids, site_sort_key(sid), key=site_sort_key)
        if i < len(quiet_ids) and quiet_ids[i] == sid:
            raise Fallback(f"two records share site id {sid}")
