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
before any write, unless ``force=True``. ``on_operation(outcome)`` is called once per operation
(persist it as an audit row) and ``on_progress(done, total)`` as operations finish; both run in the
calling thread, and an exception they raise stops the run there (what was applied stays applied;
running again is safe, the plan is recomputed from the current state). Reading Rocket.Chat failing altogether (unreachable, auth) raises the bridge's
``RocketChatError`` before anything is written, so a task can simply retry.

Person statuses in ``SyncReport.results``: ``synced`` (account matches the policy), ``deactivated``,
``deleted``, ``error`` (bad site data or a failed operation; ``error`` says why), ``conflict`` (an
identity clash that needs a human: e.g. the email belongs to another Rocket.Chat account), ``skipped``
(nothing to do: inactive person without an account, or ``DEPROVISION="leave"``) and ``stopped`` (had
changes, but the safety guard stopped the run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from .apply import OperationOutcome, apply_plan
from .config import SyncConfig
from .decide import Decision, Desired, Prepared, desire_all, plan_prepared, prepare
from .observe import Observation, observe_all, observe_people, reveal_memberships
from .ops import CreateUser, Operation
from .person import SitePerson, site_sort_key
from .plan import count_by_kind, ownership_from_config
from .safety import SafetyVerdict, check_safety
from .workspace import effective_sso, read_settings, setting_ids_to_read

__all__ = ["Claimed", "note_claimed", "PersonResult", "SyncReport", "sync_people", "reconcile_all"]

OnOperation = Callable[[OperationOutcome], Any]
OnProgress = Callable[[int, int], Any]
#: ``claimed(account_ids) -> {account id: site id}``: which of the observed accounts the site has linked to
#: people who are not in this run (its AccountLinks); the matcher never adopts those for anyone else.
Claimed = Callable[[frozenset[str]], Mapping[str, str]]


@dataclass(frozen=True)
class PersonResult:
    """Outcome for one site person. ``rc_user_id``/``rc_username``/``created_by_bridge`` are what the
    site should store in its AccountLink (``created_by_bridge`` is None when there is no account)."""

    site_id: str
    status: str
    rc_user_id: str | None = None
    rc_username: str | None = None
    created_by_bridge: bool | None = None
    error: str | None = None
    planned: tuple[Operation, ...] = ()
    outcomes: tuple[OperationOutcome, ...] = ()

    @property
    def ops(self) -> tuple[Operation, ...]:
        return self.planned


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
            "seconds": round(self.seconds, 3), "revealed": self.revealed,
            # each workspace setting the plan changes, secret values masked (SetSetting.describe)
            "settings": [op.describe() for op in self.plan if op.kind == "set_setting"],
            "oauth_services": [op.name for op in self.plan if op.kind == "add_oauth_service"],
        }


def _calls(client: Any) -> int | None:
    inner = getattr(client, "aio", client)
    calls = getattr(inner, "calls", None)
    return calls if isinstance(calls, int) else None


def _planned_status(remove: str | None) -> str:
    return {None: "synced", "deactivate": "deactivated", "delete": "deleted", "leave": "skipped"}[remove]


def _results(people: list[SitePerson], decision: Decision, outcomes: list[OperationOutcome], *,
             applied: bool, stopped: bool) -> tuple[PersonResult, ...]:
    planned: dict[str, list[Operation]] = {}
    for op in decision.ops:
        if op.site_id is not None:
            planned.setdefault(op.site_id, []).append(op)
    done: dict[str, list[OperationOutcome]] = {}
    for o in outcomes:
        if o.site_id is not None:
            done.setdefault(o.site_id, []).append(o)
    links = {p.site_id: p.link for p in people}
    results: list[PersonResult] = []
    for issue in decision.issues:
        link = links.get(issue.site_id)
        results.append(PersonResult(issue.site_id, issue.status, link.rc_user_id if link else None,
                                    link.rc_username if link else None,
                                    link.created_by_bridge if link else None, issue.reason))
    for t in decision.targets:
        sid = t.desired.site_id
        mine = tuple(planned.get(sid, ()))
        outs = tuple(done.get(sid, ()))
        uid, uname = t.user_id, t.username
        created = t.created_by_bridge if t.user_id else None
        status, error = _planned_status(t.desired.remove), None
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
        results.append(PersonResult(sid, status, uid, uname, created, error, mine, outs))
    results.sort(key=lambda r: site_sort_key(r.site_id))
    return tuple(results)


def _count(outcomes: Iterable[OperationOutcome], ok: bool) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in outcomes:
        if o.ok == ok:
            out[o.kind] = out.get(o.kind, 0) + 1
    return dict(sorted(out.items()))


def _execute(mode: str, people: list[SitePerson], desired: Desired, client: Any, config: SyncConfig,
             obs: Observation, started: float, calls_before: int | None, *, dry_run: bool, force: bool,
             on_operation: OnOperation | None, on_progress: OnProgress | None, revealed: int = 0,
             prepared: Prepared | None = None) -> SyncReport:
    own = ownership_from_config(config)
    if obs.unreadable_rooms:  # never plan on a room we could not read
        keep = {k: v for k, v in own.rooms.items() if k not in obs.unreadable_rooms}
        own = replace(own, rooms=keep, create_rooms=own.create_rooms & keep.keys())
    decision = plan_prepared(prepared if prepared is not None else prepare(desired, obs.state, config),
                             obs.state, config, own)
    calls_after_read = _calls(client)
    verdict = check_safety(decision.ops, sum(1 for t in decision.targets if t.user_id), config.safety, force=force)
    outcomes: list[OperationOutcome] = []
    if not dry_run and verdict.allowed and decision.ops:
        outcomes = apply_plan(decision.ops, client, obs.state, obs.rc_rooms, config,
                              on_operation=on_operation, on_progress=on_progress)
    calls_end = _calls(client)
    problems = list(obs.problems)
    problems += [f"{o.kind} {getattr(o.op, 'name', '')}: {o.error}" for o in outcomes
                 if o.site_id is None and not o.ok]
    stopped = not verdict.allowed
    return SyncReport(
        mode=mode, dry_run=dry_run,
        results=_results(people, decision, outcomes, applied=bool(outcomes), stopped=stopped and not dry_run),
        plan=decision.ops, counts=count_by_kind(decision.ops), applied=_count(outcomes, True),
        failed=_count(outcomes, False), stopped_by_safety=stopped, safety_reason=verdict.reason, safety=verdict,
        unmanaged=decision.unmanaged, problems=tuple(problems),
        reads=None if calls_before is None or calls_after_read is None else calls_after_read - calls_before,
        writes=None if calls_after_read is None or calls_end is None else calls_end - calls_after_read,
        seconds=time.monotonic() - started, revealed=revealed)


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


def sync_people(people: Iterable[SitePerson], client: Any, config: SyncConfig, *, dry_run: bool = False,
                force: bool = False, on_operation: OnOperation | None = None,
                on_progress: OnProgress | None = None, settings: bool = False,
                claimed: Claimed | None = None) -> SyncReport:
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
    obs = observe_people(client, config, desired, email_lookup=frozenset())
    note_claimed(obs, claimed)
    if settings or _needs_sso_rules(people, obs, config):
        _observe_workspace(client, config, obs, declared=settings)
    first = _execute("targeted", people, desired, client, config, obs, started, before, dry_run=dry_run,
                     force=force, on_operation=on_operation, on_progress=on_progress)
    clashes = _email_clashes(first) if {"email", "email_verified"} & set(config.identity.adopt) else set()
    if dry_run or first.stopped_by_safety or not clashes:
        return first
    started, before = time.monotonic(), _calls(client)
    obs = observe_people(client, config, desired, email_lookup=clashes)
    note_claimed(obs, claimed)
    if _needs_sso_rules(people, obs, config):
        _observe_workspace(client, config, obs, declared=False)
    second = _execute("targeted", people, desired, client, config, obs, started, before, dry_run=False,
                      force=force, on_operation=on_operation, on_progress=on_progress)
    return _merge(first, second, clashes)


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
        seconds=first.seconds + second.seconds)


def reconcile_all(people: Iterable[SitePerson], client: Any, config: SyncConfig, *, dry_run: bool = False,
                  force: bool = False, on_operation: OnOperation | None = None,
                  on_progress: OnProgress | None = None, claimed: Claimed | None = None) -> SyncReport:
    """Full reconciliation of every site person with bulk reads. See the module docstring.

    Pass every site person, plus ``SitePerson(deleted=True, link=...)`` for deleted users whose
    AccountLink the site kept. Deactivated accounts that are to be reactivated get one ``users.info``
    each to reveal memberships ``*.members`` hides (rare: returning people). ``claimed``: as for
    :func:`sync_people` (a site that passes everyone has no one outside the run, but a partial list may)."""
    started, before = time.monotonic(), _calls(client)
    people = list(people)
    desired = desire_all(people, config)
    obs = observe_all(client, config)
    note_claimed(obs, claimed)
    _observe_workspace(client, config, obs, declared=True)
    prepared = prepare(desired, obs.state, config)
    reveal = prepared.to_reveal(obs.state)
    if reveal:
        reveal_memberships(client, obs, reveal)
    return _execute("full", people, desired, client, config, obs, started, before, dry_run=dry_run,
                    force=force, on_operation=on_operation, on_progress=on_progress, revealed=len(reveal),
                    prepared=prepared)
