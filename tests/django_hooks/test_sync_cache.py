"""The per-process cache of what every single-person sync reads first (the service account, the role list,
the managed rooms: django_hooks.rc.CachedReads) never costs correctness: a room deleted and re-created
under a new id between two syncs of one worker process is still synced right by the second, and nobody
is lost on the way. Counted rather than timed: Rocket.Chat calls per sync, and the stand-in's rooms.

Real PostgreSQL, Redis and the stand-in over HTTP on loopback; the sync is what a `sync_user` task runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from django_hooks.models import PendingSync, SyncRun
from django_hooks.queue.worker import sync_pending_user
from django_hooks.rc import cached_client

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()

SERVICE_USERNAME = "rcsync-bot"  # tests/e2e/e2e_support.py

#: `me`, `roles.list` and `rooms.info` for each of the three managed rooms (general, vip, moderators).
BASE_READS = 5


def _person(name: str, *groups: str) -> Any:
    user = User.objects.create_user(name, f"{name}@example.org", "pw", first_name="Vera", last_name="0")
    for group in groups:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


def _sync(key: str) -> None:
    """What the worker does for one message, and its retries, until nothing is pending for `key`."""
    for _ in range(5):
        sync_pending_user(key)
        if not PendingSync.objects.filter(user_key=key).exists():
            return
    raise AssertionError(f"still pending: {list(PendingSync.objects.filter(user_key=key).values())}")


def _warm(stand_in: Any, name: str) -> None:
    """Sync one more person, so that the cache holds the rooms as they are now (a sync that created a
    room drops the cache, and the next one fills it)."""
    _sync(str(_person(name).pk))
    calls = cached_client().aio.calls
    _sync(str(_person(name + "b").pk))
    assert cached_client().aio.calls - calls <= 3  # users.info, create, and no base read: the cache is warm


def _recreate(stand_in: Any, name: str, room_type: str = "p", members: tuple[str, ...] = ()) -> tuple[str, str]:
    """Delete the room and create another one of that name (a new id): (old id, new id)."""
    state = stand_in.server.state
    old = stand_in.room_id(name)
    assert old is not None
    service = state.find_user_by_username(SERVICE_USERNAME)
    state.erase_room(service["_id"], old)
    state.create_room(name, room_type, owner=SERVICE_USERNAME, members=members)  # the bot owns it, as rcsync's own
    new = stand_in.room_id(name)
    assert new not in (None, old)
    return old, new


def test_two_consecutive_syncs_read_the_base_once(fresh_stand_in) -> None:
    """The second of two one-person syncs in one worker process reads only the person: the same sync
    with the cache dropped first costs exactly the five base reads more."""
    _sync(str(_person("cache0", "vip").pk))  # creates vip on the fresh stand-in (and drops the cache)
    cost = {}
    for name, drop in (("warm", False), ("cache1", False), ("cache2", True)):
        user = _person(name, "vip")
        if drop:
            cached_client().invalidate()
        calls = cached_client().aio.calls
        _sync(str(user.pk))
        cost[name] = cached_client().aio.calls - calls
        assert fresh_stand_in.rooms_of(name) == {"general", "vip"}
    assert cost["cache2"] - cost["cache1"] == BASE_READS, cost


def test_a_room_recreated_between_two_syncs_gets_its_member(fresh_stand_in) -> None:
    """vip is deleted and made again (new id) after the cache read it: the next sync's invite to the
    old id fails, so the base is read afresh and the person joins the new room in that same sync."""
    cached_client().invalidate()
    seen = _person("recreate1", "vip")
    _sync(str(seen.pk))  # creates vip
    _warm(fresh_stand_in, "warm")  # the cache holds vip's id
    old, new = _recreate(fresh_stand_in, "vip")
    later = _person("recreate2", "vip")
    _sync(str(later.pk))
    assert fresh_stand_in.rooms_of("recreate2") == {"general", "vip"}, list(SyncRun.objects.values_list("summary", flat=True))
    assert "recreate2" in fresh_stand_in.server.state.room_members(new)
    assert not PendingSync.objects.exists()
    run = SyncRun.objects.filter(scope=str(later.pk)).latest("id")
    assert run.status in (SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL), (run.status, run.error, run.summary)


def test_a_membership_in_a_recreated_room_is_seen_through_a_warm_cache(fresh_stand_in) -> None:
    """The room is re-created with the person in it while the site says they should not be there: the
    person's users.info names a managed room under an id the cache does not know, so the base is read
    afresh before planning and the stray membership is taken away (a stale cache would see none)."""
    cached_client().invalidate()
    user = _person("stray", "vip")
    _sync(str(user.pk))
    assert fresh_stand_in.rooms_of("stray") == {"general", "vip"}
    _warm(fresh_stand_in, "warm")
    _recreate(fresh_stand_in, "vip", members=("stray",))
    user.groups.clear()  # no longer vip: the sync must kick them from the (new) vip room
    _sync(str(user.pk))
    assert fresh_stand_in.rooms_of("stray") == {"general"}


def test_a_room_recreated_with_another_type_is_reported_not_lost(fresh_stand_in) -> None:
    """vip comes back public: a fresh read says so (type mismatch, an unreadable room); the person is
    synced in everything else and nothing is left pending."""
    cached_client().invalidate()
    first = _person("retype1", "vip")
    _sync(str(first.pk))
    _warm(fresh_stand_in, "warm")
    _recreate(fresh_stand_in, "vip", room_type="c")
    second = _person("retype2", "vip")
    _sync(str(second.pk))
    assert fresh_stand_in.rooms_of("retype2") == {"general"}
    assert not PendingSync.objects.exists()
    run = SyncRun.objects.filter(scope=str(second.pk)).latest("id")
    assert any("public" in p for p in run.summary.get("problems", [])), run.summary


@pytest.mark.parametrize("reader", ["people", "full"])
def test_a_batch_after_a_room_was_recreated_loses_nobody(fresh_stand_in, reader) -> None:
    """A batch pass (either reader) through a warm cache that still holds vip's old id: the full read's
    member pages say the room is gone, the per-person read's invite does; either way the base is read
    afresh and both people end up in the new vip."""
    from django_hooks.runs_batch import sync_users

    cached_client().invalidate()
    _sync(str(_person("b0", "vip").pk))
    _warm(fresh_stand_in, "warm")
    _, new = _recreate(fresh_stand_in, "vip")
    people = [_person(f"b{reader}{i}", "vip") for i in (1, 2)]
    keys = [str(p.pk) for p in people]
    answers = sync_users(keys, reason="test", reader=reader)
    for key in keys:  # a person the pass could not finish is retried, as the queue would
        if not answers[key].ok:
            assert answers[key].transient, answers[key]
            sync_users([key], reason="retry", reader=reader)
    for p in people:
        assert p.username in fresh_stand_in.server.state.room_members(new), (reader, answers)
