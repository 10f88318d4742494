"""Email moves: which email changes one run can make, and in which order. Pure.

Rocket.Chat holds each email on one account only, case-insensitively (``error-field-unavailable``,
reference §3.2/§3.3), and the executor runs the operations of one phase concurrently. So when an
address moves from one account to another in the same run, the account giving it up must be updated
in an earlier step than the one taking it:

* a chain (A takes B's address, B takes a free one) runs B first, then A: one step per link;
* a cycle (A and B swap, or A→B→C→A) has no free end. One account of it (the smallest id, so the
  plan is deterministic) first parks on a temporary address under the reserved ``.invalid`` domain
  (RFC 2606: never deliverable), which frees its own; the cycle is then a chain, and the parked
  account takes its final address last;
* an address held by an account that keeps it (an unmanaged account, a deactivated one, the service
  account) cannot be taken: that change is not planned, in this run or any other, until the holder
  lets go (the same answer every run, so the plan stays empty rather than failing over and over).

Accounts that the plan deletes hold nothing (deletions run first). Emails of the accounts being
created are not changes: the matcher only creates an account with an address that is free, or that
an update of this run frees (creations run after all updates).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from .identity import email_key
from .state import ObservedState
from .target import Target

__all__ = ["PARKING_DOMAIN", "EmailMoves", "plan_email_moves", "parking_address", "wanted_email_changes"]

PARKING_DOMAIN = "rcsync.invalid"


def parking_address(user_id: str) -> str:
    """A temporary address for ``user_id``, unique case-insensitively (ids are case-sensitive)."""
    return f"rcsync-moving-{hashlib.sha256(user_id.encode()).hexdigest()[:20]}@{PARKING_DOMAIN}"


@dataclass(frozen=True)
class EmailMoves:
    """``steps``: account id -> the step in which it takes its new address (feasible changes only).
    ``parked``: account id -> (temporary address, step) for the one account of each cycle.
    ``released``: email keys whose current holder gives them up in this run."""

    steps: dict[str, int] = field(default_factory=dict)
    parked: dict[str, tuple[str, int]] = field(default_factory=dict)
    released: frozenset[str] = frozenset()


def wanted_email_changes(targets: Iterable[Target], observed: ObservedState, sync_profile: bool) -> dict[str, str]:
    """Account id -> new address, for every bound account whose address the policy changes (the
    matcher and the planner ask the same question, so they agree on what this run frees)."""
    out: dict[str, str] = {}
    if not sync_profile:
        return out
    for t in targets:
        d = t.desired
        acct = observed.accounts.get(t.user_id) if t.user_id is not None else None
        if acct is None or d.remove is not None or acct.user_id == observed.service_user_id:
            continue
        key = email_key(d.email)
        # An account without any address keeps none: Rocket.Chat's own users (bots, OAuth) may lack one.
        if key and acct.email is not None and key != email_key(acct.email):
            out[acct.user_id] = d.email  # type: ignore[assignment]
    return out


def plan_email_moves(wanted: Mapping[str, str], observed: ObservedState,
                     deleting: Iterable[str] = ()) -> EmailMoves:
    """Order the email changes ``wanted`` (account id -> new address) so that no step takes an
    address another account still holds; see the module docstring."""
    if not wanted:
        return EmailMoves()
    gone = frozenset(deleting)
    held: dict[str, str] = {}  # email key -> account id, as it will be after each step
    current: dict[str, str] = {}  # account id -> its email key now
    for a in sorted(observed.accounts.values(), key=lambda a: a.user_id):
        key = email_key(a.email)
        if key and a.user_id not in gone:
            held.setdefault(key, a.user_id)
            current[a.user_id] = key
    pending = {uid: email_key(email) for uid, email in sorted(wanted.items()) if email_key(email)}
    steps: dict[str, int] = {}
    parked: dict[str, tuple[str, int]] = {}
    released: set[str] = set()

    def leave(uid: str) -> None:
        key = current.get(uid)
        if key is not None and held.get(key) == uid:
            del held[key]
            released.add(key)

    step = 0
    while pending:
        movers: list[str] = []
        claimed: set[str] = set()
        for uid, key in pending.items():
            if key not in held and key not in claimed:
                movers.append(uid)
                claimed.add(key)
        if movers:
            for uid in movers:
                leave(uid)
            for uid in movers:
                key = pending.pop(uid)
                held[key] = uid
                current[uid] = key
                steps[uid] = step
            step += 1
            continue
        cycles = _cycles(pending, held)
        if not cycles:
            break  # the rest wait for holders that keep their addresses
        for cycle in cycles:
            breaker = min(cycle)
            leave(breaker)
            temp = parking_address(breaker)
            held[temp] = breaker
            current[breaker] = temp
            parked[breaker] = (temp, step)
        step += 1
    temps = {temp for temp, _ in parked.values()}
    return EmailMoves(steps, parked, frozenset(released - temps))


def _cycles(pending: Mapping[str, str], held: Mapping[str, str]) -> list[list[str]]:
    """Cycles of "wants the address of" among the pending accounts, each once."""
    found: list[list[str]] = []
    done: set[str] = set()
    for start in pending:
        walk: list[str] = []
        uid: str | None = start
        while uid is not None and uid in pending and uid not in done and uid not in walk:
            walk.append(uid)
            uid = held.get(pending[uid])
        if uid is not None and uid in walk:
            found.append(walk[walk.index(uid):])
        done.update(walk)
    return found
