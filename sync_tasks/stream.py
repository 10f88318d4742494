"""The streamed full reconcile: site people are planned as they come, against the bulk observation. Pure.

Why: a full reconcile of a million people must not hold a million (person, desired, target) chains
at once next to Rocket.Chat's accounts. Most people of a run cannot interact with anyone else: they
are linked, their account exists, nobody else claims it, they keep the email it holds and they are
not deleted ("settled" people). Their operations depend on their own account only, so they are
planned a page at a time by the very same planner (:func:`sync_tasks.plan.plan_changes`) and what
stays of each is one row of :class:`~sync_tasks.results.QuietResults` (plus their operations, if any).

Everyone else (unlinked people, links to accounts that are gone, email changes, deletions) is
matched and planned together by :func:`sync_tasks.match.match_people`, which gets the settled
people's accounts as :class:`~sync_tasks.match.Claims`. That gives the answer of matching everyone at
once (``tests/sync_tasks/test_stream.py`` checks it against :func:`sync_tasks.decide.decide`).

Two things would make a settled person's fate depend on someone else, both rare and both signs of
bad site data: two records with one site id, and two people linked to one account. Then
:func:`plan_streamed` returns ``None`` and the caller plans everyone at once (same answer, memory
not bounded).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Sequence

from .config import SyncConfig
from .decide import desire_one, sorted_issues, with_settings
from .identity import email_key
from .match import Claims, PersonIssue, match_people
from .ops import Operation, sort_key
from .person import AccountLink, SitePerson, site_sort_key
from .plan import Ownership, accounts_to_confirm, memberships_to_reveal, plan_changes
from .policy import DesiredAccount
from .results import PersonResult, QuietResults, planned_status
from .state import ObservedAccount, ObservedState
from .target import Target

__all__ = ["Streamed", "plan_streamed", "settled_account", "PAGE"]

#: Settled people planned per call of the planner (bounds the transient (desired, target) objects).
PAGE = 1000


@dataclass(frozen=True)
class Streamed:
    """The plan of a full reconcile. ``targets``: the people matched together and the settled people
    who have operations; ``quiet``: the final results of the settled people the plan leaves alone,
    in site order; ``links``: the links of the people in ``issues`` (their results name the account)."""

    ops: tuple[Operation, ...]
    targets: tuple[Target, ...]
    quiet: Sequence[PersonResult]  # a QuietResults when planned here
    issues: tuple[PersonIssue, ...]
    links: dict[str, AccountLink | None]
    unmanaged: tuple[tuple[str, str], ...]

    @property
    def accounts_managed(self) -> int:
        """Existing accounts this run manages (the safety guard's base)."""
        return len(self.quiet) + sum(1 for t in self.targets if t.user_id)


def settled_account(person: SitePerson, want: DesiredAccount, observed: ObservedState) -> ObservedAccount | None:
    """The account of a person whose plan depends on nobody else (see the module docstring), or None."""
    link = person.link
    acct = observed.accounts.get(link.rc_user_id) if link is not None else None
    if acct is None or acct.user_id == observed.service_user_id or want.remove == "delete":
        return None
    key = email_key(want.email)
    if want.remove is None and key is not None and (acct.email is None or key != email_key(acct.email)):
        return None  # an email change: ordered with the others (sync_tasks.emails)
    return acct


def plan_streamed(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig, own: Ownership, *,
                  reveal: Callable[[Sequence[str]], Any] | None = None,
                  settle: Callable[[Sequence[str]], Any] | None = None, page: int = PAGE) -> Streamed | None:
    """Plan a full reconcile of ``people`` (iterated once) against a complete ``observed`` state.

    ``reveal(user_ids)`` is called before planning people whose accounts are to be reactivated and
    whose memberships the bulk read could not see; it must fill them into ``observed`` (the engine
    reads them with ``users.info``). ``settle(user_ids)`` is called with the accounts of each page's
    settled people the plan leaves alone: nothing plans with their profile again (only their usernames,
    emails and claims matter to the people matched later), so the caller may slim them down. None when two records share a site id or two people are linked to
    one account: then the caller plans everyone at once (:func:`sync_tasks.decide.plan_prepared`)."""
    claimed: dict[str, str] = {}  # account id -> site id of its settled person
    loose: set[str] = set()
    deprovisioned: set[str] = set()
    rest: list[tuple[SitePerson, DesiredAccount]] = []
    issues: list[PersonIssue] = []
    links: dict[str, AccountLink | None] = {}
    busy: list[Target] = []
    quiet = QuietResults()
    ops: list[Operation] = []
    pending: list[Target] = []
    per_page = replace(own, create_roles=False, create_rooms=frozenset())  # created once, below
    last: tuple | None = None
    ordered = True

    def flush() -> None:
        if reveal is not None:
            hidden = memberships_to_reveal(pending, observed, unsettled=False)
            if hidden:
                reveal(hidden)
        planned = plan_changes(pending, observed, per_page)
        changed = {op.site_id for op in planned}
        ops.extend(planned)
        left: list[str] = []
        for t in pending:
            if t.desired.site_id in changed:
                busy.append(t)
            else:
                quiet.append(t.desired.site_id, planned_status(t.desired.remove), t.user_id, t.username,
                             t.created_by_bridge)
                left.append(t.user_id)  # type: ignore[arg-type]  # settled people have an account
        pending.clear()
        if settle is not None and left:
            settle(left)

    for person in people:
        want = desire_one(person, config)
        if isinstance(want, PersonIssue):
            issues.append(want)
            links[want.site_id] = getattr(person, "link", None)
            continue
        key = site_sort_key(person.site_id)
        if last is not None and key <= last:
            if key == last:
                return None  # two records, one site id: matching decides for both
            ordered = False
        last = key
        acct = settled_account(person, want, observed)
        if acct is None:
            rest.append((person, want))
            continue
        if acct.user_id in claimed:
            return None  # two people linked to one account: site order decides which one keeps it
        assert person.link is not None
        claimed[acct.user_id] = person.site_id
        if want.remove is not None:
            deprovisioned.add(acct.user_id)
        if email_key(want.email) != email_key(acct.email):
            loose.add(acct.user_id)
        pending.append(Target(want, acct.user_id, acct.username, created_by_bridge=person.link.created_by_bridge))
        if len(pending) >= page:
            flush()
    flush()
    if any(p.link is not None and p.link.rc_user_id in claimed for p, _ in rest):
        return None  # someone else is linked to a settled person's account
    if not ordered:
        seen = quiet.site_ids() + [t.desired.site_id for t in busy] + [p.site_id for p, _ in rest]
        if len(set(seen)) != len(seen):
            return None
        quiet = quiet.sorted(site_sort_key)
    if reveal is not None:
        unlisted = accounts_to_confirm((p for p, _ in rest), observed)
        if unlisted:
            reveal(unlisted)
    matching = match_people(rest, observed, config, Claims(claimed, loose, deprovisioned))
    links.update((p.site_id, p.link) for p, _ in rest)
    if reveal is not None:
        hidden = memberships_to_reveal(matching.targets, observed, unsettled=False)
        if hidden:
            reveal(hidden)
    ops.extend(plan_changes(matching.targets, observed, own))
    ops.sort(key=sort_key)
    targets = sorted(busy + list(matching.targets), key=lambda t: site_sort_key(t.desired.site_id))
    return Streamed(with_settings(tuple(ops), observed, config), tuple(targets), quiet,
                    sorted_issues(issues + list(matching.issues)), links, matching.unmanaged)
