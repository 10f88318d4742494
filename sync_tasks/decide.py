"""The pure decision pipeline: people + observed state + config -> targets, issues and the plan.

``policy`` (per person, once per run: :func:`desire_all`) -> ``match`` (bind to accounts) -> ``plan``
(diff). No I/O, so the engine, the property tests and the benchmark all run the very same decision
code. The engine computes the :class:`Desired` states first and hands the same value to the reader
(a targeted read looks accounts up by the desired username and email) and to :func:`prepare`, so a
site's resolver runs once per person per run and the reader and the planner cannot disagree.
:func:`prepare` stops after matching so the engine can read the hidden memberships of accounts to
reactivate before planning (matching does not depend on memberships, so it is not repeated).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .config import SyncConfig
from .match import Matching, PersonIssue, Target, match_people
from .ops import Operation, sort_key
from .person import SitePerson, site_sort_key
from .plan import Ownership, memberships_to_reveal, ownership_from_config, plan_changes
from .policy import DesiredAccount, PolicyError, desired_account
from .state import ObservedState
from .workspace import plan_settings


@dataclass(frozen=True)
class Decision:
    targets: tuple[Target, ...]
    issues: tuple[PersonIssue, ...]
    unmanaged: tuple[tuple[str, str], ...]
    ops: tuple[Operation, ...]

    @property
    def managed_users(self) -> int:
        """Accounts this run manages: bound ones plus those it is about to create."""
        return len(self.targets)


@dataclass(frozen=True)
class Desired:
    """The policy of one run: each person with the account they should have, and the people whose
    policy could not be computed (``error`` issues). Computed once, then observe, match, plan."""

    pairs: tuple[tuple[SitePerson, DesiredAccount], ...]
    issues: tuple[PersonIssue, ...] = ()


@dataclass(frozen=True)
class Prepared:
    """Policy and matching done; planning still to do."""

    policy_issues: tuple[PersonIssue, ...]
    matching: Matching

    def to_reveal(self, observed: ObservedState, *, unsettled: bool = True) -> tuple[str, ...]:
        """Account ids whose hidden memberships must be read before planning (``unsettled``: as for
        :func:`~sync_tasks.plan.memberships_to_reveal`)."""
        return memberships_to_reveal(self.matching.targets, observed, unsettled=unsettled)


def desire_one(person: SitePerson, config: SyncConfig) -> DesiredAccount | PersonIssue:
    """The policy for one person, or the ``error`` issue that says why it cannot be computed."""
    try:
        return desired_account(person, config)
    except PolicyError as exc:
        return PersonIssue(person.site_id, "error", str(exc))
    except Exception as exc:  # bad records must never stop a run
        return PersonIssue(str(getattr(person, "site_id", "?")), "error",
                           f"cannot compute policy: {type(exc).__name__}: {exc}")


def desire_all(people: Iterable[SitePerson], config: SyncConfig) -> Desired:
    """Policy for everyone; a person whose policy fails becomes an ``error`` issue, the rest go on."""
    pairs: list[tuple[SitePerson, DesiredAccount]] = []
    issues: list[PersonIssue] = []
    for person in people:
        want = desire_one(person, config)
        if isinstance(want, PersonIssue):
            issues.append(want)
        else:
            pairs.append((person, want))
    return Desired(tuple(pairs), tuple(issues))


def prepare(desired: Desired, observed: ObservedState, config: SyncConfig) -> Prepared:
    """Match the run's desired states to the observed accounts (the policy is not computed again)."""
    return Prepared(desired.issues, match_people(desired.pairs, observed, config))


def plan_prepared(prepared: Prepared, observed: ObservedState, config: SyncConfig,
                  own: Ownership | None = None) -> Decision:
    """``own`` defaults to what the config declares; the engine narrows it when a room is unreadable."""
    m = prepared.matching
    ops = with_settings(plan_changes(m.targets, observed, own or ownership_from_config(config)), observed, config)
    return Decision(m.targets, sorted_issues(prepared.policy_issues + m.issues), m.unmanaged, ops)


def with_settings(ops: tuple[Operation, ...], observed: ObservedState, config: SyncConfig) -> tuple[Operation, ...]:
    """``ops`` plus the workspace settings to write, when they were read (kept as declared), in plan order."""
    if observed.settings is None:
        return ops
    return tuple(sorted(tuple(plan_settings(config, observed.settings)) + ops, key=sort_key))


def sorted_issues(issues: Iterable[PersonIssue]) -> tuple[PersonIssue, ...]:
    return tuple(sorted(issues, key=lambda i: (site_sort_key(i.site_id), i.status, i.reason)))


def decide(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig,
           own: Ownership | None = None) -> Decision:
    return plan_prepared(prepare(desire_all(people, config), observed, config), observed, config, own)


def to_reveal(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig) -> tuple[str, ...]:
    """Account ids whose hidden memberships must be read before planning (see plan.memberships_to_reveal)."""
    return prepare(desire_all(people, config), observed, config).to_reveal(observed)
