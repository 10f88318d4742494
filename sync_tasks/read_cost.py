"""Which reader is cheaper for a batch of people: per-person ``users.info`` or the paged full read.

Pure arithmetic on counts the caller already has, so a worker can decide before it reads anything
(the managed rooms' ``usersCount`` comes from ``rooms.info``, which both readers call first and the
Django side caches). The estimates count only what differs between the two readers: both start
with ``me``, ``roles.list`` and one ``rooms.info`` per managed room.

Reads are not all alike: a page of 100 accounts costs the worker (and Rocket.Chat) more than one
``users.info``. The choice weighs each item the full read lists as ``1 / ITEMS_PER_READ`` of a read;
by calls alone, 9 people on a site of a few hundred were read through every page because those were
8 calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Callable, Iterable, Sequence

from .config import SyncConfig
from .person import SitePerson

__all__ = ["ITEMS_PER_READ", "ReadChoice", "choose_reader", "full_read_cost", "full_read_floor", "full_read_items",
           "per_person_cost"]

#: Listed items weighed as one read: a page of 100 counts twice, once for its call and once for what
#: it lists. Measured through the blocking client against the stand-in, a listed item costs the
#: worker 1/43 (account) to 1/50 (member) of a ``users.info`` (0.77 ms CPU per ``users.info``, 0.018 /
#: 0.015 ms per listed item, request included), so by CPU alone 40 would do; Rocket.Chat's call
#: budget is what a burst must spare most, and 100 keeps a big pass on the pages (a pass of 1,000 on
#: a site of 10,000: 400 page calls weigh 800, against 1,000 ``users.info``).
ITEMS_PER_READ = 100


@dataclass(frozen=True)
class ReadChoice:
    reader: str  # "people" (users.info per person) | "full" (users.list and member pages)
    per_person: int  # estimated reads of the per-person reader
    full: int  # estimated reads of the paged full read
    full_items: int = 0  # accounts and members the full read would list


def _pages(n: int, page_size: int) -> int:
    return max(1, ceil(max(0, n) / page_size))


def _scans(person: SitePerson, adopt: set[str]) -> bool:
    """Would this person's per-person read scan ``users.list`` for their email?"""
    return (person.link is None and person.wants_account and bool(adopt) and bool(person.email)
            and (person.email_verified or "email" in adopt))


def per_person_cost(people: Iterable[SitePerson], config: SyncConfig, population: int) -> int:
    """``users.info`` per linked person; an unlinked one probes its username, and where adoption by
    email applies (``IDENTITY.adopt``) may scan all of ``users.list`` for it (7.x has no lookup by email)."""
    adopt = {"email", "email_verified"} & set(config.identity.adopt)
    scan = _pages(population, config.batch.page_size)
    cost = 0
    for p in people:
        if p.link is not None:
            cost += 1
        elif p.wants_account:
            cost += 1 + (scan if _scans(p, adopt) else 0)
    return cost


def full_read_cost(population: int, room_sizes: Sequence[int | None], page_size: int) -> int:
    """``users.list`` pages, then member pages and ``*.roles`` per managed room (an unknown room size
    counts as every account being in it: the estimate errs towards the per-person reader)."""
    cost = _pages(population, page_size)
    for size in room_sizes:
        cost += 1 + _pages(population if size is None else size, page_size)
    return cost


def full_read_items(population: int, room_sizes: Sequence[int | None]) -> int:
    """Accounts and members the full read lists (an unknown room size counts as everyone)."""
    return population + sum(population if size is None else size for size in room_sizes)


def full_read_floor(room_sizes: Sequence[int | None], page_size: int) -> tuple[int, int]:
    """The least the full read can cost whatever the site's size, as (calls, listed items): one
    ``users.list`` page, and per managed room its known member pages (at least one where the size is
    unknown) and ``*.roles``; the members of the rooms whose size is known."""
    calls = 1 + sum(1 + (1 if size is None else _pages(size, page_size)) for size in room_sizes)
    return calls, sum(size for size in room_sizes if size is not None)


def choose_reader(people: Sequence[SitePerson], config: SyncConfig, population: int | Callable[[], int] | None,
                  room_sizes: Sequence[int | None]) -> ReadChoice:
    """The cheaper reader for this batch, its listed items weighed in (`ITEMS_PER_READ`); per-person
    when the site's size is unknown (``None``).

    ``population`` may be a function that counts the site (queries on the Django side): it is called
    only when the answer can depend on it. A batch that scans for nobody's email costs as many
    per-person reads as it has linked people, however large the site; when that weighs no more than the
    full read's floor (:func:`full_read_floor`) the per-person reader wins uncounted, and ``full`` and
    ``full_items`` are that floor."""
    if population is None:
        return ReadChoice("people", per_person_cost(people, config, 0), 0)
    if callable(population):
        adopt = {"email", "email_verified"} & set(config.identity.adopt)
        if not any(_scans(p, adopt) for p in people):
            per_person = per_person_cost(people, config, 0)
            calls, items = full_read_floor(room_sizes, config.batch.page_size)
            if not calls + items / ITEMS_PER_READ < per_person:
                return ReadChoice("people", per_person, calls, items)
        population = population()
    per_person = per_person_cost(people, config, population)
    full = full_read_cost(population, room_sizes, config.batch.page_size)
    items = full_read_items(population, room_sizes)
    cheaper = full + items / ITEMS_PER_READ < per_person
    return ReadChoice("full" if cheaper else "people", per_person, full, items)
