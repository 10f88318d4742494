"""A batch of people in one engine pass: what a queue worker calls when a burst left many pending.

:func:`sync_batch` is level-triggered like :func:`~sync_tasks.engine.sync_people` (it reads the current
state of every person in the batch) but picks the cheaper reader per pass (``sync_tasks.read_cost``):
``users.info`` per person for a handful, the paged full read (``users.list`` and the managed rooms'
member pages, as a reconcile reads) once the batch outweighs the pages. Either way the plan covers
only the batch's people, and the executor batches their invites per room (``channels.invite`` /
``groups.invite`` take ``userIds``, up to ``BATCH.invite_batch`` per call; kicks are one user per call
in Rocket.Chat 7.x, ``apps/meteor/app/api/server/v1/channels.ts``).
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Callable, Iterable

from bridge.errors import RocketChatError

from .config import SyncConfig
from .decide import Desired, desire_all, plan_prepared, prepare
from .engine import (Claimed, OnOperation, OnProgress, PersonResult, SyncReport, _as_plan, _calls, _execute,
                     _needs_sso_rules, _observe_workspace, _ownership, note_claimed, refresh, sync_people)
from .observe import observe_all, reveal_memberships
from .ops import Operation, op_kind
from .plan import accounts_to_confirm
from .person import SitePerson
from .read_cost import ReadChoice, choose_reader
from .safety import Admission, Admit

__all__ = ["sync_batch", "room_sizes", "over_the_limit"]

DESTRUCTIVE = frozenset({"deactivate", "delete_user", "kick"})  # what sync_tasks.safety counts


def room_sizes(client: Any, config: SyncConfig) -> list[int | None]:
    """``usersCount`` of each managed room (``None`` when unknown: missing or unreadable). Both readers
    call ``rooms.info`` for the same rooms first, so with a caching client this costs nothing extra."""
    sizes: list[int | None] = []
    for spec in config.rooms:
        try:
            room = client.room_info(room_id=spec.room_id) if spec.room_id else client.room_info(name=spec.name)
        except RocketChatError:
            sizes.append(None)
            continue
        sizes.append(getattr(room, "users_count", None))
    return sizes


def sync_batch(people: Iterable[SitePerson], client: Any, config: SyncConfig, *,
               population: int | Callable[[], int] | None,
               on_operation: OnOperation | None = None, on_progress: OnProgress | None = None,
               reader: str | None = None, claimed: Claimed | None = None,
               admit: Admit | None = None) -> tuple[SyncReport, ReadChoice]:
    """Sync ``people`` in one pass with the cheaper reader (or ``reader``: "people"/"full").

    ``population`` is how many accounts the site has (its people plus linked deleted ones), which is
    what the full read pages through, or a function that counts it (called only when the choice depends
    on it, see ``read_cost.choose_reader``); ``None`` means unknown and always reads per person. Returns the
    report and the choice made (the estimates, for logs and the benchmark). Raises the bridge's
    ``RocketChatError`` when Rocket.Chat cannot be read at all, before anything is written.
    """
    people = list(people)
    choice = choose_reader(people, config, population, room_sizes(client, config) if population else [])
    if reader is not None:
        choice = replace(choice, reader=reader)
    if choice.reader == "people":
        # As below: many one-person syncs, not a run with a run-wide limit (force skips only that). The
        # plan is made inside sync_people, so a person past their own sync's limit is found when the
        # engine asks for admission: their destructive operations are held out of the run, then the
        # person is reported stopped, as the full reader reports them.
        over: dict[str, int] = {}

        def judge(ops: tuple[Operation, ...], _force: bool) -> Admission:
            over.update(over_the_limit(ops, config))
            rest = tuple(op for op in ops if op.site_id not in over)
            answer = admit(rest, False) if admit is not None and rest else Admission()
            return Admission(held=answer.held | frozenset(over), refused=answer.refused)

        report = sync_people(people, client, config, force=True, on_operation=on_operation, on_progress=on_progress,
                             claimed=claimed, admit=judge)
        return _stopped(report, over), choice
    started, before = time.monotonic(), _calls(client)
    desired = desire_all(people, config)
    obs = observe_all(client, config)
    if obs.stale and refresh(client):  # a managed room read first (from a cache) is gone: read again, once
        obs = observe_all(client, config)
    unlisted = accounts_to_confirm(people, obs.state)  # users.list moved under the read: gone, or skipped?
    if unlisted:
        reveal_memberships(client, obs, unlisted)
    note_claimed(obs, claimed)  # accounts linked to people outside the batch are never adopted (M3)
    # Every account was read, but only the batch is planned: nobody else is "unmanaged" here.
    obs.state = replace(obs.state, complete=False)
    if _needs_sso_rules(people, obs, config):
        _observe_workspace(client, config, obs, declared=False)
    prepared = prepare(desired, obs.state, config)
    reveal = prepared.to_reveal(obs.state)
    if reveal:
        reveal_memberships(client, obs, reveal)
    own = _ownership(config, obs)
    preview = _execute("batch", _as_plan(plan_prepared(prepared, obs.state, config, own), people), client, config, obs,
                       started, before, dry_run=True, force=False, on_operation=None, on_progress=None)
    stopped = over_the_limit(preview.plan, config)
    if stopped:
        desired = Desired(tuple(pair for pair in desired.pairs if pair[0].site_id not in stopped),
                          tuple(i for i in desired.issues if i.site_id not in stopped))
        prepared = prepare(desired, obs.state, config)
    # The guard judges each person as their own sync would (above); the batch as a whole is many
    # such syncs, not a reconcile, so it is not held to a run-wide limit.
    # The sliding window (admit) still judges the batch unforced: force only skips the run-wide limit.
    unforced = (lambda ops, _force: admit(ops, False)) if admit is not None else None
    kept = [p for p in people if p.site_id not in stopped]
    report = _execute("batch", _as_plan(plan_prepared(prepared, obs.state, config, own), kept), client, config, obs,
                      started, before, dry_run=False, force=True, on_operation=on_operation,
                      on_progress=on_progress, revealed=len(reveal) + len(unlisted), admit=unforced)
    if stopped:
        extra = tuple(PersonResult(sid, "stopped", error=_stop_reason(n)) for sid, n in sorted(stopped.items()))
        report = replace(report, results=report.results + extra)
    return report, choice


def _stop_reason(n: int) -> str:
    return f"not applied: the safety guard stopped this person's sync ({n} destructive changes)"


def _stopped(report: SyncReport, over: dict[str, int]) -> SyncReport:
    """The per-person reader's report with the people past their own limit marked stopped (their
    additive operations went, their destructive ones were held out of the run)."""
    if not over:
        return report
    results = tuple(replace(r, status="stopped", error=_stop_reason(over[r.site_id])) if r.site_id in over else r
                    for r in report.results)
    return replace(report, results=results)


def over_the_limit(plan: Iterable[Operation], config: SyncConfig) -> dict[str, int]:
    """People whose own destructive operations exceed what the guard allows a one-person sync."""
    counts: dict[str, int] = {}
    for op in plan:
        if op.site_id is not None and op_kind(op) in DESTRUCTIVE:
            counts[op.site_id] = counts.get(op.site_id, 0) + 1
    limit = config.safety.limit(1)
    return {sid: n for sid, n in counts.items() if n > limit}
