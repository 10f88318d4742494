"""Results of a sync → `AccountLink` rows: which Rocket.Chat account belongs to which site user, and
how its last sync went. Written in the same transaction as the run's own record."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Iterable, Iterator, Sequence

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Subquery
from django.utils import timezone

from django_hooks.models import AccountLink
from django_hooks.people import chunked
from django_hooks.run_rows import (NotOneStatement, accounts_held, can_hold_writes, one_statement, save_link_rows, update_link,
                                  update_many)

_LINK_STATUS = {
    "synced": AccountLink.Status.SYNCED,
    "deactivated": AccountLink.Status.DEACTIVATED,
    "deleted": AccountLink.Status.DEACTIVATED,
    "error": AccountLink.Status.ERROR,
    "conflict": AccountLink.Status.CONFLICT,
    "stopped": AccountLink.Status.PENDING,
    "held": AccountLink.Status.HELD,  # destructive changes wait for a release (django_hooks.guard)
    "waiting": AccountLink.Status.PENDING,  # SSO wait_for_login: no account until the person's first sign-in
}


#: Above this many observed accounts (a full reconcile) one scan of all links is cheaper than an IN list.
_SCAN_ALL_ABOVE = 1000


def claimed_by_others(site_ids: Iterable[str], own: Iterable[str] = ()) -> Callable[[frozenset[str]], dict[str, str]]:
    """The engine's ``claimed`` look-up for a run over ``site_ids``: of the accounts it observed, those an
    AccountLink binds to a site user *outside* the run (account id -> user key). With it a targeted sync
    knows what a full reconcile sees in its first pass, and never adopts someone else's account (M3).

    ``own``: the accounts the run's people's links held when they were read. No other link holds one of
    those (``rc_user_id`` is unique, migration 0005), so they are not looked up, and a sync that observed
    only its people's own accounts (nearly every one) costs no statement here."""
    mine = {str(key) for key in site_ids}
    theirs = frozenset(a for a in own if a)

    def lookup(account_ids: frozenset[str]) -> dict[str, str]:
        account_ids = account_ids - theirs
        if not account_ids:
            return {}
        # Oldest last, so where duplicate links survive (before migration 0005) the oldest one wins.
        pairs: Iterable[tuple[str, str]]
        if len(account_ids) <= _SCAN_ALL_ABOVE:
            pairs = accounts_held(sorted(account_ids))  # one fixed statement (django_hooks.run_rows)
        else:
            rows = AccountLink.objects.exclude(rc_user_id="").order_by("-created_at", "-pk")
            # a server-side cursor: DECLARE, FETCH ..., CLOSE
            pairs = rows.values_list("rc_user_id", "user_key").iterator(chunk_size=5000)
        return {rc_id: key for rc_id, key in pairs if key not in mine and rc_id in account_ids}

    return lookup


def save_links(results: Iterable[Any], people: dict[str, Any], also: Callable[[], Any] | None = None,
               then: Callable[[], Any] | None = None) -> dict[str, str]:
    """Store each person's result on its AccountLink (created on first sync), and run `also` (the run's
    own bookkeeping) before and `then` (a write of the caller's, e.g. retiring the pending row) after it,
    in the same transaction.

    A site user may be deleted while their sync runs; the link then keeps no user (the pending
    "deleted" change deprovisions the account next), and a delete racing this very transaction makes
    it start over. One account belongs to one person (a unique ``rc_user_id``): when a concurrent sync
    of another person linked the same account first, this person's link does not take it but is stored
    as a ``conflict`` naming who holds it. Returns those people: {site id: reason}.
    """
    if not isinstance(results, Sequence):
        results = list(results)
    lost: dict[str, str] = {}
    if len(results) <= ONE_STATEMENT_UP_TO and getattr(people, "load", None) is None and can_hold_writes(AccountLink):
        # A targeted sync or a batch pass: the run's bookkeeping and the links as one statement, no transaction
        # around it (run_rows.one_statement); whatever needs more goes the usual way below.
        try:
            with one_statement(AccountLink):
                if also is not None:
                    also()
                _save_links(results, people)
                if then is not None:
                    then()
            return lost
        except NotOneStatement:
            pass
        except IntegrityError:
            lost.update(_held_elsewhere(results))
    for attempt in range(3):
        try:
            with transaction.atomic():
                if also is not None:
                    also()
                # A chunk at a time: a full reconcile's results are a lazy view of a million people
                # (sync_tasks.results), and `people` may load its persons a chunk at a time too
                # (django_hooks.people.SiteDirectory); one transaction still holds them all.
                for chunk in chunked(_with_conflicts(results, lost), SAVE_CHUNK):
                    load = getattr(people, "load", None)
                    if load is not None:
                        load([r.site_id for r in chunk])
                    _save_links(chunk, people)
                if then is not None:
                    then()
            return lost
        except IntegrityError:
            if attempt == 2:
                raise
            lost.update(_held_elsewhere(list(_with_conflicts(results, lost))))
    return lost  # pragma: no cover - the loop returns or raises


#: Results stored per statement group by :func:`save_links`.
SAVE_CHUNK = 2000
#: Up to this many results (a targeted sync, a batch pass) are stored as one statement with their run's
#: bookkeeping (one chunk of ``run_rows.save_link_rows``).
ONE_STATEMENT_UP_TO = 500


def _with_conflicts(results: Iterable[Any], held: dict[str, str]) -> Iterator[Any]:
    """The results, those of people whose account another link holds turned into conflicts."""
    for r in results:
        yield _as_conflict(r, held[r.site_id]) if r.site_id in held else r


def _held_elsewhere(results: list[Any]) -> dict[str, str]:
    """The results whose account another person's link already holds (committed by a concurrent sync), or
    that a result earlier in this batch takes: {site id: reason}."""
    wanted: dict[str, list[str]] = {}
    for r in results:
        if r.rc_user_id:
            wanted.setdefault(r.rc_user_id, []).append(r.site_id)
    out: dict[str, str] = {}
    holders = dict(AccountLink.objects.filter(rc_user_id__in=sorted(wanted)).values_list("rc_user_id", "user_key"))
    for rc_id, site_ids in wanted.items():
        holder = holders.get(rc_id)
        for site_id in site_ids:
            if holder is None:
                holder = site_id  # the first of this batch keeps it
            elif holder != site_id:
                out[site_id] = (f"Rocket.Chat account {rc_id} is already linked to site user {holder} (linked by a "
                                "concurrent sync); one account belongs to one person, so this person is not linked "
                                "to it: review who owns it")
    return out


def _as_conflict(result: Any, reason: str) -> Any:
    return replace(result, status="conflict", rc_user_id=None, rc_username=None, created_by_bridge=None, error=reason)


def _link_status(result: Any, person: Any) -> str:
    if result.status == "skipped":
        wants = person is not None and person.wants_account
        return AccountLink.Status.SYNCED if wants else AccountLink.Status.DEACTIVATED
    return _LINK_STATUS.get(result.status, AccountLink.Status.ERROR)


def _save_one_link(result: Any, person: Any) -> None:
    """The common case (a targeted sync): one UPDATE (django_hooks.run_rows), or an INSERT for a first
    link; the user reference is taken by a subquery in the same statement, so a user deleted meanwhile
    simply leaves it empty."""
    User = get_user_model()
    now = timezone.now()
    status = _link_status(result, person)
    values: dict[str, Any] = {"status": status, "updated_at": now,
                              "last_error": (result.error or "")[:2000] if status in ("error", "conflict", "pending", "held") else ""}
    if person is not None:
        values["site_username"] = (person.username or "")[:255]
    try:
        pk = User._meta.pk.to_python(result.site_id)
    except Exception:
        pk = None
    if result.rc_user_id:
        values["rc_user_id"] = result.rc_user_id
        if result.rc_username:
            values["rc_username"] = result.rc_username
    if result.created_by_bridge is not None:
        values["created_by_bridge"] = result.created_by_bridge
    if status in (AccountLink.Status.SYNCED, AccountLink.Status.DEACTIVATED):
        values["last_synced_at"] = now
    create = _creates(result)
    updated = update_link(result.site_id, values, pk, create=create)
    if updated is None or updated or not create:
        return  # held as an upsert (run_rows.one_statement), updated, or nothing to create
    values["user_id"] = Subquery(User._default_manager.filter(pk=pk).values("pk")[:1]) if pk is not None else None
    AccountLink.objects.create(user_key=result.site_id, **values)


def _save_links(results: list[Any], people: dict[str, Any]) -> None:
    if len(results) == 1:
        _save_one_link(results[0], people.get(results[0].site_id))
        return
    User = get_user_model()
    now = timezone.now()
    pks = {}
    for result in results:
        try:
            pks[result.site_id] = User._meta.pk.to_python(result.site_id)
        except Exception:
            continue
    # PostgreSQL: one fixed statement updates the links that exist and creates the missing ones
    # (run_rows.save_link_rows); elsewhere the ORM reads them and writes them back.
    if save_link_rows([_link_row(r, people.get(r.site_id), pks.get(r.site_id), now) for r in results]):
        return
    keys = [r.site_id for r in results]
    alive = {str(pk) for pk in User._default_manager.filter(pk__in=[pks[k] for k in keys if k in pks])
             .values_list("pk", flat=True)}
    existing = {link.user_key: link for link in AccountLink.objects.filter(user_key__in=keys)}
    to_create, to_update = [], []
    for result in results:
        person = people.get(result.site_id)
        link = existing.get(result.site_id)
        is_new = link is None
        if is_new:
            if not _creates(result):
                continue  # nothing to remember: no account (yet)
            link = AccountLink(user_key=result.site_id)
        if person is not None:
            link.site_username = (person.username or "")[:255]
        link.user_id = pks.get(result.site_id) if result.site_id in alive else None
        if result.rc_user_id:
            link.rc_user_id = result.rc_user_id
            link.rc_username = result.rc_username or link.rc_username
        if result.created_by_bridge is not None:
            link.created_by_bridge = result.created_by_bridge
        status = _link_status(result, person)
        link.status = status
        link.last_error = _last_error(result, status)
        if status in (AccountLink.Status.SYNCED, AccountLink.Status.DEACTIVATED):
            link.last_synced_at = now
        link.updated_at = now
        (to_create if is_new else to_update).append(link)
    fields = ["site_username", "user", "rc_user_id", "rc_username", "created_by_bridge", "status", "last_error",
              "last_synced_at", "updated_at"]
    if to_create:
        AccountLink.objects.bulk_create(to_create, batch_size=500, update_conflicts=True, unique_fields=["user_key"],
                                        update_fields=fields)
    if to_update:
        update_many(AccountLink, to_update, fields)  # bulk_update's CASE WHEN per field and row, as one fixed statement


def _creates(result: Any) -> bool:
    """Is a link made for this result where none exists? Not without an account (yet)."""
    return not (result.rc_user_id is None and result.status in ("skipped", "waiting"))


def _last_error(result: Any, status: str) -> str:
    return (result.error or "")[:2000] if status in ("error", "conflict", "pending", "held") else ""


def _link_row(result: Any, person: Any, pk: Any, now: Any) -> dict[str, Any]:
    """What storing `result` writes (`run_rows.save_link_rows`; None keeps a stored value, or is the field's
    default for a new link): the fields the ORM path sets, under the same conditions."""
    status = _link_status(result, person)
    synced = status in (AccountLink.Status.SYNCED, AccountLink.Status.DEACTIVATED)
    return {"user_key": result.site_id, "user": pk, "status": status, "last_error": _last_error(result, status),
            "updated_at": now,
            "site_username": (person.username or "")[:255] if person is not None else None,
            "rc_user_id": result.rc_user_id or None,
            "rc_username": (result.rc_username or None) if result.rc_user_id else None,
            "created_by_bridge": result.created_by_bridge, "last_synced_at": now if synced else None,
            "create": _creates(result)}
