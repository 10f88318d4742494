"""What a run reports per site person: its own module so the engine and the streamed planner
(:mod:`sync_tasks.stream`, which finalises the results of people it leaves alone as it goes) share it."""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable, Iterator, overload

from .apply import OperationOutcome
from .ops import Operation
from .person import site_sort_key

__all__ = ["PersonResult", "planned_status", "QuietResults", "MergedResults"]


@dataclass(frozen=True, slots=True)
class PersonResult:
    """Outcome for one site person. ``rc_user_id``/``rc_username``/``created_by_bridge`` are what the
    site should store in its AccountLink (``created_by_bridge`` is None when there is no account).
    Slotted: a full reconcile holds one per site person."""

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


def planned_status(remove: str | None) -> str:
    """The status of a person whose planned operations all went through (or who needed none)."""
    return {None: "synced", "deactivate": "deactivated", "delete": "deleted", "leave": "skipped"}[remove]


_STATUSES = ("synced", "deactivated", "deleted", "skipped")  # what planned_status can say
_CREATED = (None, False, True)


class _Results(Sequence[PersonResult]):
    """Results made as they are read: a subclass gives ``_at(i)`` (``i`` in range), ``__iter__`` and ``__len__``."""

    def _at(self, i: int) -> PersonResult:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> PersonResult: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[PersonResult, ...]: ...

    def __getitem__(self, index: int | slice) -> PersonResult | tuple[PersonResult, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        return self._at(range(len(self))[index])

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} people>"


class QuietResults(_Results):
    """The results of the people a full reconcile leaves alone, kept as columns (site id, account id,
    username, one byte for status and ``created_by_bridge``) and made into :class:`PersonResult` values
    as they are read.

    Why: a million-person reconcile leaves nearly everyone alone, and a slotted ``PersonResult`` is
    ~110 bytes where the columns are ~25 (the strings are shared with the person and the account)."""

    def __init__(self) -> None:
        self._site_ids: list[str] = []
        self._user_ids: list[str | None] = []
        self._usernames: list[str | None] = []
        self._codes = bytearray()

    def append(self, site_id: str, status: str, user_id: str | None, username: str | None,
               created_by_bridge: bool | None) -> None:
        self._site_ids.append(site_id)
        self._user_ids.append(user_id)
        self._usernames.append(username)
        self._codes.append(_STATUSES.index(status) * 3 + _CREATED.index(created_by_bridge))

    def site_ids(self) -> list[str]:
        return list(self._site_ids)

    def sorted(self, key: Callable[[str], Any]) -> "QuietResults":
        """The same results ordered by ``key(site_id)`` (itself when they already are).

        Why the care: a page-driven reconcile (``sync_tasks.paged``) appends in Rocket.Chat's order, and
        sorting a million rows by ``site_sort_key`` tuples held ~90 MB of keys at once; plain numeric ids
        are sorted by their number instead (the same order for ids without leading zeros)."""
        ids = self._site_ids
        if all(key(a) <= key(b) for a, b in zip(ids, itertools.islice(ids, 1, None))):
            return self
        if key is site_sort_key and all(s.isascii() and s.isdigit() and (s[0] != "0" or s == "0") for s in ids):
            order = sorted(range(len(ids)), key=lambda i: int(ids[i]))
        else:
            order = sorted(range(len(ids)), key=lambda i: key(ids[i]))
        out = QuietResults()
        out._site_ids = [self._site_ids[i] for i in order]
        out._user_ids = [self._user_ids[i] for i in order]
        out._usernames = [self._usernames[i] for i in order]
        out._codes = bytearray(self._codes[i] for i in order)
        return out

    def _at(self, i: int) -> PersonResult:
        code = self._codes[i]
        return PersonResult(self._site_ids[i], _STATUSES[code // 3], self._user_ids[i], self._usernames[i],
                            _CREATED[code % 3])

    def __len__(self) -> int:
        return len(self._site_ids)

    def __iter__(self) -> Iterator[PersonResult]:
        return (self._at(i) for i in range(len(self._site_ids)))


class MergedResults(_Results):
    """A full reconcile's results in site order: the people it worked on merged, as they are read,
    with the :class:`QuietResults` of those it left alone, so a million results are never a million
    objects at once. Behaves as the tuple it stands for (``==``, ``+``, indexing, ``len``)."""

    def __init__(self, worked: tuple[PersonResult, ...], quiet: QuietResults,
                 key: Callable[[str], Any]) -> None:
        self._worked, self._quiet, self._key = worked, quiet, key

    def __iter__(self) -> Iterator[PersonResult]:
        key = self._key
        return heapq.merge(self._worked, self._quiet, key=lambda r: key(r.site_id))

    def __len__(self) -> int:
        return len(self._worked) + len(self._quiet)

    def _at(self, i: int) -> PersonResult:
        return next(itertools.islice(iter(self), i, None))

    def __add__(self, other: Any) -> tuple[PersonResult, ...]:
        return tuple(self) + tuple(other)

    def __radd__(self, other: Any) -> tuple[PersonResult, ...]:
        return tuple(other) + tuple(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, list, MergedResults)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

