"""The pure decision pipeline: people + observed state + config -> targets, issues and the plan.

``policy`` (per person) -> ``match`` (bind to accounts) -> ``plan`` (diff). No I/O, so the engine,
the property tests and the benchmark all run the very same decision code. :func:`prepare` stops
after matching so the engine can read the hidden memberships of accounts to reactivate before
planning (matching does not depend on memberships, so it is not repeated).
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
class Prepared:
    """Policy and matching done; planning still to do."""

    policy_issues: tuple[PersonIssue, ...]
    matching: Matching

    def to_reveal(self, observed: ObservedState) -> tuple[str, ...]:
        """Account ids whose hidden memberships must be read before planning."""
        return memberships_to_reveal(self.matching.targets, observed)


def desire_all(people: Iterable[SitePerson], config: SyncConfig
               ) -> tuple[list[tuple[SitePerson, DesiredAccount]], list[PersonIssue]]:
    """Policy for everyone; a person whose policy fails becomes an ``error`` issue, the rest go on."""
    pairs: list[tuple[SitePerson, DesiredAccount]] = []
    issues: list[PersonIssue] = []
    for person in people:
        try:
            pairs.append((person, desired_account(person, config)))
        except PolicyError as exc:
            issues.append(PersonIssue(person.site_id, "error", str(exc)))
        except Exception as exc:  # bad records must never stop a run
            issues.append(PersonIssue(str(getattr(person, "site_id", "?")), "error",
                                      f"cannot compute policy: {type(exc).__name__}: {exc}"))
    return pairs, issues


def prepare(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig) -> Prepared:
    pairs, issues = desire_all(people, config)
    return Prepared(tuple(issues), match_people(pairs, observed, config))


def plan_prepared(prepared: Prepared, observed: ObservedState, config: SyncConfig,
                  own: Ownership | None = None) -> Decision:
    """``own`` defaults to what the config declares; the engine narrows it when a room is unreadable."""
    m = prepared.matching
    ops = plan_changes(m.targets, observed, own or ownership_from_config(config))
    if observed.settings is not None:  # workspace settings were read: keep them as declared
        ops = tuple(sorted(tuple(plan_settings(config, observed.settings)) + ops, key=sort_key))
    issues = sorted(prepared.policy_issues + m.issues, key=lambda i: (site_sort_key(i.site_id), i.status, i.reason))
    return Decision(m.targets, tuple(issues), m.unmanaged, ops)


def decide(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig,
           own: Ownership | None = None) -> Decision:
    return plan_prepared(prepare(people, observed, config), observed, config, own)


def to_reveal(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig) -> tuple[str, ...]:
    """Account ids whose hidden memberships must be read before planning (see plan.memberships_to_reveal)."""
    return prepare(people, observed, config).to_reveal(observed)
