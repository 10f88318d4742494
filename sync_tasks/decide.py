"""The pure decision pipeline: people + observed state + config -> targets, issues and the plan.

``policy`` (per person) -> ``match`` (bind to accounts) -> ``plan`` (diff). No I/O, so the engine,
the property tests and the benchmark all run the very same decision code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .config import SyncConfig
from .match import PersonIssue, Target, match_people
from .ops import Operation
from .person import SitePerson, site_sort_key
from .plan import Ownership, memberships_to_reveal, ownership_from_config, plan_changes
from .policy import DesiredAccount, PolicyError, desired_account
from .state import ObservedState


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


def decide(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig,
           own: Ownership | None = None) -> Decision:
    """``own`` defaults to what the config declares; the engine narrows it when a room is unreadable."""
    pairs, issues = desire_all(people, config)
    m = match_people(pairs, observed, config)
    ops = plan_changes(m.targets, observed, own or ownership_from_config(config))
    return Decision(m.targets, tuple(sorted(issues + list(m.issues), key=lambda i: (site_sort_key(i.site_id), i.status, i.reason))), m.unmanaged, ops)


def to_reveal(people: Iterable[SitePerson], observed: ObservedState, config: SyncConfig) -> tuple[str, ...]:
    """Account ids whose hidden memberships must be read before planning (see plan.memberships_to_reveal)."""
    pairs, _ = desire_all(people, config)
    return memberships_to_reveal(match_people(pairs, observed, config).targets, observed)
