"""Entry points of the sync engine: what the Celery tasks, the management command and the benchmark call.

Both take plain :class:`~sync_tasks.person.SitePerson` values, a ``bridge.RocketChat`` client and a
:class:`~sync_tasks.config.SyncConfig`, and return a :class:`SyncReport`. Neither imports Django.

* :func:`sync_people` — targeted, level-triggered sync of a few people (a signal, an admin "resync",
  a drift event). Reads each person's account with ``users.info`` (rooms included).
* :func:`reconcile_all` — everyone at once with bulk reads (``users.list`` pages, member pages of the
  managed rooms, room roles once per room). Accounts no site person is linked to and rcsync did not
  create are left alone and listed in ``SyncReport.unmanaged``; accounts of deleted site users (passed
  as ``SitePerson(deleted=True, link=...)``) are deprovisioned.

Both: ``dry_run=True`` reads and plans but writes nothing (``report.plan`` and ``report.counts`` are
the preview). The safety guard (``sync_tasks.safety``) stops a run that would take away too much
before any write, unless ``force=True``; ``admit`` (``sync_tasks.safety.Admit``, the Django side's sliding
window over all runs) may hold some people's destructive operations back or refuse the run. ``on_operation(outcome)`` is called once per operation
(persist it as an audit row) and ``on_progress(done, total)`` as operations finish; both run in the
calling thread, and an exception they raise stops the run there (what was applied stays applied;
running again is safe, the plan is recomputed from the current state). Reading Rocket.Chat failing altogether (unreachable, auth) raises the bridge's
``RocketChatError`` before anything is written, so a task can simply retry.

Person statuses in ``SyncReport.results``: ``synced`` (account matches the policy), ``deactivated``,
``deleted``, ``error`` (bad site data or a failed operation; ``error`` says why), ``conflict`` (an
identity clash that needs a human: e.g. the email belongs to another Rocket.Chat account), ``skipped``
(nothing to do: inactive person without an account, or ``DEPROVISION="leave"``), ``stopped`` (had
changes, but the safety guard stopped the run) and ``held`` (the window guard held this person's
destructive operations for review; the others were applied).
"""
from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from .apply import OperationOutcome, apply_plan
from .bound import Key, beyond, beyond_reason
from .config import SyncConfig
from .decide import Decision, Desired, desire_all, plan_prepared, prepare
from .observe import Observation, observe_all, observe_people, reveal_memberships
from .paged import Fallback, LinkedPeople, observe_and_plan
from .ops import (AddRole, AddRoomRole, CreateUser, InviteToRoom, KickFromRoom, Operation, RemoveRole, RemoveRoomRole,
                  is_destructive)
from .ops import op_kind as op_kind_of
from .person import AccountLink, SitePerson, site_sort_key
from .plan import Ownership, accounts_to_confirm, count_by_kind, ownership_from_config
from .results import MergedResults, PersonResult, QuietResults, planned_status
from .safety import Admit, SafetyVerdict, check_safety
from .state import ObservedAccount
from .stream import Streamed, plan_streamed
from .workspace import effective_sso, read_settings, setting_ids_to_read

log = logging.getLogger("rcsync.engine")

__all__ = ["Claimed", "note_claimed", "PersonResult", "SyncReport", "refresh", "sync_people", "reconcile_all"]

OnOperation = Callable[[OperationOutcome], Any]
OnProgress = Callable[[int, int], Any]
#: ``claimed(account_ids) -> {account id: site id}``: which of the observed accounts the site has linked to
#: people who are not in this run (its AccountLinks); the matcher never adopts those for anyone else.
Claimed = Callable[[frozenset[str]], Mapping[str, str]]


@dataclass(frozen=True)
class SyncReport:
    """Everything a run decided and did. ``counts`` are planned operations per kind; ``applied`` and
    ``failed`` count outcomes per kind (empty for a dry run or a run stopped by the safety guard)."""

    mode: str  # "targeted" | "full"
    dry_run: bool
    results: tuple[PersonResult, ...]
    plan: tuple[Operation, ...]
    counts: dict[str, int]
    applied: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    stopped_by_safety: bool = False
    safety_reason: str | None = None
    safety: SafetyVerdict | None = None
    unmanaged: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()  # run-level trouble: unreadable rooms, rooms/roles that could not be created
    reads: int | None = None  # HTTP calls spent observing (when the client counts them)
    writes: int | None = None  # HTTP calls spent applying
    seconds: float = 0.0
    revealed: int = 0  # per-user reads (users.info) a full reconcile spent on accounts to reactivate
    beyond_preview: tuple[Key, ...] = ()  # a bounded (forced) run stopped: what its preview did not show
    held: tuple[Operation, ...] = ()  # destructive operations the window guard held back (not applied)
    paged: bool = False  # a full reconcile planned a page of accounts at a time (sync_tasks.paged)

    def result_for(self, site_id: str) -> PersonResult | None:
        for r in self.results:
            if r.site_id == str(site_id):
                return r
        return None

    def status_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly overview for the admin UI, the CLI and logs."""
        return {
            "mode": self.mode, "dry_run": self.dry_run, "people": len(self.results),
            "statuses": self.status_counts(), "planned": dict(self.counts), "applied": dict(self.applied),
            "failed": dict(self.failed), "stopped_by_safety": self.stopped_by_safety,
            "safety_reason": self.safety_reason, "unmanaged_accounts": len(self.unmanaged),
            "problems": list(self.problems), "reads": self.reads, "writes": self.writes,
            "seconds": round(self.seconds, 3), "revealed": self.revealed, "held": len(self.held),
            "paged": self.paged,
            # each workspace setting the plan changes, secret values masked (SetSetting.describe)
            "settings": [op.describe() for op in self.plan if op.kind == "set_setting"],
            "oauth_services": [op.name for op in self.plan if op.kind == "add_oauth_service"],
            "beyond_preview": [list(k) for k in self.beyond_preview[:50]],
            "beyond_preview_count": len(self.beyond_preview),
        }


def _calls(client: Any) -> int | None:
    inner = getattr(client, "aio", client)
    calls = getattr(inner, "calls", None)
    return calls if isinstance(calls, int) else None


def _results(plan: Streamed, outcomes: list[OperationOutcome], *, applied: bool,
             stopped: bool, held: tuple[Operation, ...] = ()) -> tuple[PersonResult, ...]:
    planned: dict[str, list[Operation]] = {}
    for op in plan.ops:
        if op.site_id is not None:
            planned.setdefault(op.site_id, []).append(op)
    done: dict[str, list[OperationOutcome]] = {}
    for o in outcomes:
        if o.site_id is not None:
            done.setdefault(o.site_id, []).append(o)
    held_by: dict[str, list[Operation]] = {}
    for op in held:
        held_by.setdefault(op.site_id or "", []).append(op)
    results: list[PersonResult] = []
    for issue in plan.issues:
        link = plan.links.get(issue.site_id)
        results.append(PersonResult(issue.site_id, issue.status, link.rc_user_id if link else None,
                                    link.rc_username if link else None,
                                    link.created_by_bridge if link else None, issue.reason))
    for t in plan.targets:
        sid = t.desired.site_id
        mine = tuple(planned.get(sid, ()))
        outs = tuple(done.get(sid, ()))
        uid, uname = t.user_id, t.username
        created = t.created_by_bridge if t.user_id else None
        status, error = planned_status(t.desired.remove), None
        for o in outs:
            if isinstance(o.op, CreateUser) and o.ok:
                uid, uname, created = o.rc_user_id, o.rc_username, True
        bad = [o for o in outs if not o.ok]
        if stopped and mine:
            status, error = "stopped", "not applied: the safety guard stopped this run"
        elif applied and bad:
            # A create refused because the username/email is taken is an identity clash, not bad data.
            clash = any(isinstance(o.op, CreateUser) and o.conflict for o in bad)
            status = "conflict" if clash else "error"
            error = "; ".join(f"{o.kind}: {o.error}" for o in bad[:3])
        elif sid in held_by:
            status = "held"
            error = (f"{len(held_by[sid])} destructive change(s) held for review (past the window's limit): "
                     + ", ".join(f"{op_kind_of(op)} {op.target}" for op in held_by[sid][:5]))
        results.append(PersonResult(sid, status, uid, uname, created, error, mine, outs))
    results.sort(key=lambda r: site_sort_key(r.site_id))
    if not plan.quiet:
        return tuple(results)
    # The people the plan leaves alone are final and already in site order: merge, do not re-sort,
    # and keep them as columns (sync_tasks.results.QuietResults) until someone reads them.
    if isinstance(plan.quiet, QuietResults):
        return MergedResults(tuple(results), plan.quiet, site_sort_key)  # type: ignore[return-value]
    return tuple(heapq.merge(results, plan.quiet, key=lambda r: site_sort_key(r.site_id)))


def _as_plan(decision: Decision, people: Iterable[SitePerson]) -> Streamed:
    """A decision made for everyone at once, in the shape the executor takes."""
    return Streamed(decision.ops, decision.targets, (), decision.issues, {p.site_id: p.link for p in people},
                    decision.unmanaged)


def _ownership(config: SyncConfig, obs: Observation) -> Ownership:
    own = ownership_from_config(config)
    if obs.unreadable_rooms:  # never plan on a room we could not read
        keep = {k: v for k, v in own.rooms.items() if k not in obs.unreadable_rooms}
        own = replace(own, rooms=keep, create_rooms=own.create_rooms & keep.keys())
    return own


def _count(outcomes: Iterable[OperationOutcome], ok: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in outcomes:
        if o.ok == ok:
            out[o.kind] = out.get(o.kind, 0) + 1
    return dict(sorted(out.items()))


def _execute(mode: str, plan: Streamed, client: Any, config: SyncConfig, obs: Observation, started: float,
             calls_before: int | None, *, dry_run: bool, force: bool, on_operation: OnOperation | None,
             on_progress: OnProgress | None, revealed: int = 0, bound: frozenset[Key] | None = None,
             admit: Admit | None = None, paged: bool = False) -> SyncReport:
    calls_after_read = _calls(client)
    verdict = check_safety(plan.ops, plan.accounts_managed, config.safety, force=force)
    extra = beyond(plan.ops, bound) if bound is not None else []
    if extra:  # a forced apply may do what its preview showed, or less (sync_tasks.bound)
        verdict = replace(verdict, allowed=False, reason=beyond_reason(extra))
    held: tuple[Operation, ...] = ()
    reason = verdict.reason
    stopped = not verdict.allowed
    if not dry_run and not stopped and admit is not None:
        destructive = tuple(op for op in plan.ops if is_destructive(op))
        if destructive:
            answer = admit(destructive, force)
            if answer.refused:
                stopped, reason = True, answer.refused
            held = tuple(op for op in destructive if op.site_id in answer.held)
    to_apply = plan.ops
    if held:
        held_set = set(held)
        to_apply = tuple(op for op in plan.ops if op not in held_set)
    outcomes: list[OperationOutcome] = []
    if not dry_run and not stopped and to_apply:
        outcomes = apply_plan(to_apply, client, obs.state, obs.rc_rooms, config,
                              on_operation=on_operation, on_progress=on_progress)
    calls_end = _calls(client)
    problems = list(obs.problems)
    problems += [f"{o.kind} {getattr(o.op, 'name', '')}: {o.error}" for o in outcomes
                 if o.site_id is None and not o.ok]
    return SyncReport(
        mode=mode, dry_run=dry_run,
        results=_results(plan, outcomes, applied=bool(outcomes), stopped=stopped and not dry_run,
                         held=() if stopped else held),
        plan=plan.ops, counts=count_by_kind(plan.ops), applied=_count(outcomes, True),
        failed=_count(outcomes, False), stopped_by_safety=stopped, safety_reason=reason, safety=verdict,
        unmanaged=plan.unmanaged, problems=tuple(problems),
        reads=None if calls_before is None or calls_after_read is None else calls_after_read - calls_before,
        writes=None if calls_after_read is None or calls_end is None else calls_end - calls_after_read,
        seconds=time.monotonic() - started, revealed=revealed, beyond_preview=tuple(extra),
        held=() if stopped else held, paged=paged)


def _observe_workspace(client: Any, config: SyncConfig, obs: Observation, *, declared: bool) -> None:
    """Read the workspace settings into the observation (in place): the declared ones (then planned)
    when ``declared``, and the SSO service's login rules (for the matcher's creation gate)."""
    ids = setting_ids_to_read(config, declared=declared)
    if not ids:
        return
    values, why = read_settings(client, config, ids)
    if why:
        obs.problems.append(why)
    obs.state = replace(obs.state, settings=values if declared else None,
                        sso=effective_sso(config, values, planned=declared, why=why))


def note_claimed(obs: Observation, claimed: Claimed | None) -> None:
    """Put into the observation (in place) which observed accounts belong to people outside this run."""
    if claimed is not None and obs.state.accounts:
        obs.state = replace(obs.state, claimed=dict(claimed(frozenset(obs.state.accounts))))


def _needs_sso_rules(people: list[SitePerson], obs: Observation, config: SyncConfig) -> bool:
    """A targeted sync reads the SSO settings only if someone may need an account created."""
    if config.sso is None or config.sso.mode == "wait_for_login":
        return False
    return any(p.wants_account and (p.link is None or p.link.rc_user_id not in obs.state.accounts) for p in people)


def refresh(client: Any) -> bool:
    """Drop what a caching client (``django_hooks.rc.CachedReads``: the service account, the roles and
    the managed rooms) holds, so the next reads are fresh. False for a client that caches nothing."""
    invalidate = getattr(client, "invalidate", None)
    if not callable(invalidate):
        return False
    invalidate()
    return True


#: Operations naming a room or a role by the id read first: Rocket.Chat's "not found" for one of them
#: means that room or role is gone (deleted, or deleted and made again under another id).
_BY_BASE_ID = (InviteToRoom, KickFromRoom, AddRoomRole, RemoveRoomRole, AddRole, RemoveRole)


def gone_under_base_id(outcome: OperationOutcome) -> bool:
    """Did Rocket.Chat refuse this operation because its room or role does not exist (any more)?"""
    return not outcome.ok and outcome.error_class == "NotFound" and isinstance(outcome.op, _BY_BASE_ID)


def _gone(report: SyncReport) -> set[str]:
    """Site ids with an operation Rocket.Chat refused because its room or role does not exist."""
    return {r.site_id for r in report.results for o in r.outcomes if gone_under_base_id(o)}


def _observe_targeted(client: Any, config: SyncConfig, desired: Desired, people: list[SitePerson],
                      claimed: Claimed | None, settings: bool, email_lookup: frozenset[str] | set[str]) -> Observation:
    obs = observe_people(client, config, desired, email_lookup=email_lookup)
    if obs.stale and refresh(client):
        # A read contradicts the rooms read first (from a cache): read everything again, once.
        obs = observe_people(client, config, desired, email_lookup=email_lookup)
    note_claimed(obs, claimed)
    if settings or _needs_sso_rules(people, obs, config):
        _observe_workspace(client, config, obs, declared=settings)
    return obs


def sync_people(people: Iterable[SitePerson], client: Any, config: SyncConfig, *, dry_run: bool = False,
                force: bool = False, on_operation: OnOperation | None = None,
                on_progress: OnProgress | None = None, settings: bool = False,
                claimed: Claimed | None = None, admit: Admit | None = None) -> SyncReport:
    """Targeted sync of ``people`` (typically one) with per-user reads. See the module docstring.

    Reads: ``me``, ``roles.list``, one ``rooms.info`` per managed room, then ``users.info`` (rooms
    included) per linked person, or per candidate username for an unlinked one. Looking an account
    up by email needs a ``users.list`` scan, so it is only done for people whose account creation was
    refused because the email is taken; they are then synced once more in the same call (adopted
    where ``IDENTITY.adopt`` allows, else reported as a conflict with the reason).

    ``settings=True`` (``rcsync bootstrap``) also reads and plans the declared workspace settings
    (``RCSYNC["SETTINGS"]``, the SSO service); a per-person sync leaves them to the full reconcile and
    reads only the SSO login rules, and only when someone may need an account created.

    ``claimed`` tells which observed accounts other site people are linked to (see :data:`Claimed`)."""
    started, before = time.monotonic(), _calls(client)
    people = list(people)
    desired = desire_all(people, config)  # once per run: both passes read and plan with it
    # No email lookups up front: each one scans users.list. Create first; only if Rocket.Chat says
    # the email is taken, look that email up and sync those people again (adopting where allowed).
    obs = _observe_targeted(client, config, desired, people, claimed, settings, frozenset())
    first = _execute("targeted", _targeted_plan(people, desired, obs, config), client, config, obs, started, before,
                     dry_run=dry_run, force=force, on_operation=on_operation, on_progress=on_progress, admit=admit)
    gone = _gone(first) if not (dry_run or first.stopped_by_safety) else set()
    if gone and refresh(client):
        # A room or role read first (from a cache) is gone: read afresh and sync again, once; the
        # second pass plans from the current state (the room made again, or reported missing).
        people = _with_created_links(people, first)
        desired = desire_all(people, config)
        started, before = time.monotonic(), _calls(client)
        obs = _observe_targeted(client, config, desired, people, claimed, settings, frozenset())
        again = _execute("targeted", _targeted_plan(people, desired, obs, config), client, config, obs, started,
                         before, dry_run=False, force=force, on_operation=on_operation, on_progress=on_progress,
                         admit=admit)
        first = _merge(first, again, gone)
    clashes = _email_clashes(first) if {"email", "email_verified"} & set(config.identity.adopt) else set()
    if dry_run or first.stopped_by_safety or not clashes:
        return first
    started, before = time.monotonic(), _calls(client)
    obs = _observe_targeted(client, config, desired, people, claimed, False, clashes)
    second = _execute("targeted", _targeted_plan(people, desired, obs, config), client, config, obs, started, before,
                      dry_run=False, force=force, on_operation=on_operation, on_progress=on_progress, admit=admit)
    return _merge(first, second, clashes)


def _with_created_links(people: list[SitePerson], report: SyncReport) -> list[SitePerson]:
    """The people, linked to the accounts ``report`` created for them (the site saves those links only
    when the sync ends): a second pass follows the account by its id, as the next sync will."""
    made = {r.site_id: AccountLink(r.rc_user_id, r.rc_username or "", True) for r in report.results
            if r.created_by_bridge and r.rc_user_id and any(isinstance(o.op, CreateUser) and o.ok for o in r.outcomes)}
    return [replace(p, link=made[p.site_id]) if p.link is None and p.site_id in made else p for p in people]


def _email_clashes(report: SyncReport) -> set[str]:
    """Site ids whose account creation failed because Rocket.Chat already has their email."""
    out = set()
    for r in report.results:
        for o in r.outcomes:
            op = o.op
            if (isinstance(op, CreateUser) and o.conflict and op.email
                    and op.email.lower() in (o.error or "").lower()):
                out.add(r.site_id)
    return out


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def _merge(first: SyncReport, second: SyncReport, retried: set[str]) -> SyncReport:
    """One report for a targeted sync that needed a second pass: the second pass's person results
    (the current truth), every operation of both passes; the first pass's failures of the people it
    retried are not counted as failures (they were resolved; on_operation saw them all)."""
    resolved = _count((o for r in first.results if r.site_id in retried for o in r.outcomes), False)
    first_failed = {k: v - resolved.get(k, 0) for k, v in first.failed.items() if v - resolved.get(k, 0) > 0}
    return replace(
        second, plan=first.plan + second.plan, counts=_add(first.counts, second.counts),
        applied=_add(first.applied, second.applied), failed=_add(first_failed, second.failed),
        problems=first.problems + tuple(p for p in second.problems if p not in first.problems),
        reads=None if first.reads is None or second.reads is None else first.reads + second.reads,
        writes=None if first.writes is None or second.writes is None else first.writes + second.writes,
        seconds=first.seconds + second.seconds,
        held=second.held + tuple(op for op in first.held if op not in second.held))


def _targeted_plan(people: list[SitePerson], desired: Desired, obs: Observation, config: SyncConfig) -> Streamed:
    return _as_plan(plan_prepared(prepare(desired, obs.state, config), obs.state, config, _ownership(config, obs)),
                    people)


#: A full reconcile reads a room again this many times when its members changed while they were read.
FULL_REREADS = 1


def _unsettled_problem(room: str) -> str:
    return (f"the members of room {room!r} changed while they were read ({1 + FULL_REREADS} reads): a member "
            "both reads missed and who must leave it is not kicked by this run (the next run reads again)")


def reconcile_all(people: Iterable[SitePerson], client: Any, config: SyncConfig, *, dry_run: bool = False,
                  force: bool = False, on_operation: OnOperation | None = None,
                  on_progress: OnProgress | None = None, claimed: Claimed | None = None,
                  bound: frozenset[Key] | None = None, admit: Admit | None = None) -> SyncReport:
    """Full reconciliation of every site person with bulk reads. See the module docstring.

    ``bound`` (a forced apply of a preview: the preview's ``bound.destructive_keys``) stops the run
    before any write if the fresh plan holds a destructive operation outside it.

    Pass every site person, plus ``SitePerson(deleted=True, link=...)`` for deleted users whose
    AccountLink the site kept. Deactivated accounts that are to be reactivated get one ``users.info``
    each to reveal memberships ``*.members`` hides (rare: returning people). ``claimed``: as for
    :func:`sync_people` (a site that passes everyone has no one outside the run, but a partial list may).

    People are planned as they are iterated (``sync_tasks.stream``), so a collection that makes its
    people on demand keeps memory to Rocket.Chat's accounts plus one result per person; it is iterated
    a second time only if two records share a site id or an account (and Rocket.Chat is then read
    again: the streamed pass slimmed the accounts it had settled). A one-shot iterator is listed
    first (it cannot be iterated twice).

    A ``people`` that also answers :class:`~sync_tasks.paged.LinkedPeople` (the site's link index and its
    people looked up by account) is planned a page of accounts at a time instead, keeping neither all
    accounts nor all people (``report.paged``); it falls back to the above when that cannot give the same
    answer (:class:`~sync_tasks.paged.Fallback`, logged), or when ``claimed`` is given."""
    started, before = time.monotonic(), _calls(client)
    if iter(people) is people:
        people = list(people)
    revealed = 0

    def reveal_into(obs: Observation, user_ids: Sequence[str]) -> None:
        nonlocal revealed
        revealed += len(user_ids)
        reveal_memberships(client, obs, user_ids)

    if claimed is None and isinstance(people, LinkedPeople):
        def read_workspace(obs: Observation) -> Ownership:
            obs.problems.extend(_unsettled_problem(obs.state.rooms[key].name)
                                for key in sorted(obs.state.unsettled_rooms))
            _observe_workspace(client, config, obs, declared=True)
            return _ownership(config, obs)

        try:
            obs, paged = observe_and_plan(people, client, config, rereads=FULL_REREADS, prepare=read_workspace,
                                          reveal=reveal_into)
        except Fallback as why:
            log.info("the full reconcile is planned whole, not page by page: %s", why)
        else:
            return _execute("full", paged, client, config, obs, started, before, dry_run=dry_run, force=force,
                            on_operation=on_operation, on_progress=on_progress, revealed=revealed, bound=bound,
                            admit=admit, paged=True)

    def observe() -> Observation:
        obs = observe_all(client, config, rereads=FULL_REREADS)
        obs.problems.extend(_unsettled_problem(obs.state.rooms[key].name) for key in sorted(obs.state.unsettled_rooms))
        note_claimed(obs, claimed)
        _observe_workspace(client, config, obs, declared=True)
        return obs

    obs = observe()
    own = _ownership(config, obs)
    slimmed = 0

    def reveal(user_ids: Sequence[str]) -> None:
        reveal_into(obs, user_ids)

    def settle(user_ids: Sequence[str]) -> None:
        # Planned and left alone: only the account's username, email and claim matter from here on
        # (sync_tasks.stream), so its display name, a string per person, need not stay for the run.
        nonlocal slimmed
        accounts = obs.state.accounts
        for uid in user_ids:
            acct = accounts[uid]
            if acct.name:  # positional: dataclasses.replace costs twice as much, a million times
                accounts[uid] = ObservedAccount(acct.user_id, acct.username, "", acct.email, acct.email_verified,
                                                acct.active, acct.roles, acct.rooms, acct.room_roles, acct.type)
                slimmed += 1

    plan = plan_streamed(people, obs.state, config, own, reveal=reveal, settle=settle)
    if plan is None:  # tangled site data (a shared site id or account): match everyone at once
        if slimmed:  # against the accounts as Rocket.Chat has them, names included: read them again
            obs = observe()
            own = _ownership(config, obs)
        listed = list(people)
        unlisted = accounts_to_confirm(listed, obs.state)
        if unlisted:
            reveal(unlisted)
        prepared = prepare(desire_all(listed, config), obs.state, config)
        hidden = prepared.to_reveal(obs.state, unsettled=False)
        if hidden:
            reveal(hidden)
        plan = _as_plan(plan_prepared(prepared, obs.state, config, own), listed)
    return _execute("full", plan, client, config, obs, started, before, dry_run=dry_run, force=force,
                    on_operation=on_operation, on_progress=on_progress, revealed=revealed, bound=bound, admit=admit)
