"""Executor logic (batching, failure isolation, callbacks) against a recording in-memory client.

The client here stands in for the bridge facade only (an edge this module does not own); the
end-to-end behaviour over HTTP against the stand-in server is in test_engine_e2e.py.
"""
from __future__ import annotations

import threading
from types import SimpleNamespace

from bridge.errors import Conflict, NotFound

from sync_tasks.apply import apply_plan
from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.ops import CreateRoom, InviteToRoom, KickFromRoom, op_kind
from sync_tasks.person import AccountLink
from sync_tasks.state import ObservedAccount
from sync_tasks.simulate import observe

from sync_world import base_world, person

CFG = load_config({"BATCH": {"concurrency": 4}})


class RecordingClient:
    def __init__(self, fail=None):
        self.calls = []
        self.fail = fail or (lambda name, args: None)
        self.lock = threading.Lock()
        self.n = 0
        self.threads = {}  # call name -> the threads it ran in

    def _rec(self, name, *args):
        with self.lock:
            self.calls.append((name, args))
            self.threads.setdefault(name, set()).add(threading.current_thread())
        exc = self.fail(name, args)
        if exc is not None:
            raise exc

    def create_role(self, name, scope="Users", description=""):
        self._rec("create_role", name)
        return SimpleNamespace(id=f"role-{name}", name=name)

    def create_room(self, name, type, members=()):
        self._rec("create_room", name, type)
        return SimpleNamespace(id=f"rid-{name}", name=name, type=type)

    existing: dict = {}  # name -> room that rooms.info finds (a room another run created meanwhile)

    def room_info(self, *, room_id=None, name=None):
        self._rec("room_info", name)
        if name not in self.existing:
            raise NotFound(f"rooms.info: room {name!r} does not exist", error_type="error-room-not-found")
        return self.existing[name]

    def create_user(self, username, name, email, password, *, roles=None, active=True, verified=False,
                    join_default_channels=False):
        assert join_default_channels is False and len(password) >= 32
        self._rec("create_user", username, tuple(roles or ()))
        return SimpleNamespace(id=f"id-{username}", username=username)

    def update_user(self, user_id, **fields):
        self._rec("update_user", user_id, tuple(sorted(fields)))

    def set_active(self, user_id, active, confirm_relinquish=True):
        self._rec("set_active", user_id, active)

    def delete_user(self, user_id, confirm_relinquish=True):
        self._rec("delete_user", user_id)

    def add_user_to_role(self, role_id, username, room_id=None):
        self._rec("add_user_to_role", role_id, username, room_id)

    def remove_user_from_role(self, role_id, username, room_id=None):
        self._rec("remove_user_from_role", role_id, username, room_id)

    def invite(self, room, user_ids, *, batch_size=100):
        ids = tuple(user_ids)
        assert len(ids) <= 100
        self._rec("invite", room.name, ids)
        return 1

    def kick(self, room, user_id):
        self._rec("kick", room.name, user_id)

    def add_moderator(self, room, user_id):
        self._rec("add_moderator", room.name, user_id)

    def remove_moderator(self, room, user_id):
        self._rec("remove_moderator", room.name, user_id)

    def add_owner(self, room, user_id):
        self._rec("add_owner", room.name, user_id)

    def remove_owner(self, room, user_id):
        self._rec("remove_owner", room.name, user_id)


def rooms_of(world):
    return {k: SimpleNamespace(id=r.room_id, name=r.name, type=r.type) for k, r in world.rooms.items()}


def test_invites_are_batched_per_room_and_every_op_is_reported():
    world = base_world(CFG)
    people = [person(i, f"user{i}", role="moderator" if i % 50 == 0 else "user") for i in range(1, 251)]
    d = decide(people, observe(world), CFG)
    client, seen, progress = RecordingClient(), [], []
    outcomes = apply_plan(d.ops, client, observe(world), rooms_of(world), CFG, on_operation=seen.append,
                          on_progress=lambda done, total: progress.append((done, total)))
    invites = [args for name, args in client.calls if name == "invite"]
    assert sorted(len(ids) for room, ids in invites if room == "general") == [50, 100, 100]
    assert [len(ids) for room, ids in invites if room == "moderators"] == [5]
    assert len(outcomes) == len(d.ops) == len(seen) and all(o.ok for o in outcomes)
    assert progress[-1] == (len(d.ops), len(d.ops))
    assert [p[0] for p in progress] == list(range(1, len(d.ops) + 1))
    # created ids flow into the later operations of the same person
    assert ("add_moderator", ("general", "id-user50")) in client.calls


def test_one_failure_marks_only_that_user_and_dependent_ops_are_skipped():
    world = base_world(CFG)
    people = [person(i, f"user{i}", role="moderator") for i in range(1, 8)]

    def fail(name, args):
        if name == "create_user" and args[0] == "user3":
            return Conflict("user3@example.org is already in use :(", error_type="error-field-unavailable")
        if name == "invite" and "id-user5" in args[1]:
            return NotFound("boom", error_type="error-invalid-user")
        return None

    d = decide(people, observe(world), CFG)
    client = RecordingClient(fail)
    outcomes = apply_plan(d.ops, client, observe(world), rooms_of(world), CFG)
    by_site = {}
    for o in outcomes:
        by_site.setdefault(o.site_id, []).append(o)
    assert {o.status for o in by_site["3"]} == {"failed", "skipped"}
    assert all(o.status == "skipped" and "creating the account failed" in o.error for o in by_site["3"][1:])
    failed5 = [o for o in by_site["5"] if o.status == "failed"]
    assert {op_kind(o.op) for o in failed5} >= {"invite"} and "error-invalid-user" in failed5[0].error
    for sid in ("1", "2", "4", "6", "7"):
        assert all(o.ok for o in by_site[sid]), by_site[sid]
    # the failing batch was retried one by one, so user5's neighbours still got in
    singles = [args for name, args in client.calls if name == "invite" and len(args[1]) == 1]
    assert len(singles) >= 6


def test_failed_room_creation_skips_its_invites():
    world = base_world(CFG, rooms=False)
    d = decide([person(1, "ann", role="owner")], observe(world), CFG)
    assert any(isinstance(o, CreateRoom) for o in d.ops)

    def fail(name, args):
        return Conflict("exists", error_type="error-duplicate-channel-name") if args[:1] == ("vip",) and name == "create_room" else None

    outcomes = apply_plan(d.ops, RecordingClient(fail), observe(world), {}, CFG)
    vip = [o for o in outcomes if isinstance(o.op, InviteToRoom) and o.op.room == "vip"]
    assert vip[0].status == "skipped" and "could not be created" in vip[0].error
    assert all(o.ok for o in outcomes if getattr(o.op, "room", "vip") != "vip")


def test_a_room_created_meanwhile_is_read_back_and_used_only_when_it_is_the_configured_one():
    """The race of two runs on a fresh Rocket.Chat: the loser's create answers a duplicate name; the room
    read back is used if it has the configured type and is not archived, else the conflict stands."""
    world = base_world(CFG, rooms=False)
    d = decide([person(1, "ann", role="owner")], observe(world), CFG)

    def dup(name, args):
        return Conflict("exists", error_type="error-duplicate-channel-name") if name == "create_room" else None

    client = RecordingClient(dup)
    client.existing = {"vip": SimpleNamespace(id="rid-other-vip", name="vip", type="p", archived=False),
                       "moderators": SimpleNamespace(id="rid-pub", name="moderators", type="c", archived=False)}
    outcomes = apply_plan(d.ops, client, observe(world), {}, CFG)
    by = {(o.kind, getattr(o.op, "room", None)): o for o in outcomes}
    assert by[("create_room", "vip")].ok and by[("invite", "vip")].ok
    assert ("invite", ("vip", ("id-ann",))) in client.calls  # into the room read back
    mods = by[("create_room", "moderators")]  # configured private, found public: not ours to use
    assert mods.status == "failed" and mods.conflict and "error-duplicate-channel-name" in mods.error
    assert by[("invite", "moderators")].status == "skipped"


def test_already_done_answers_count_as_done():
    """roles.addUserToRole's `error-user-already-in-role` (and the room-role and kick equivalents) after
    another run made the same change: the wanted state holds, so the operation is ok, not failed."""
    world = base_world(CFG)
    world.accounts["u-ann"] = ObservedAccount("u-ann", "ann", "Ann", "ann@example.org", True, True,
                                              frozenset({"user"}), frozenset(CFG.room_keys))
    d = decide([person(1, "ann", role="owner", link=AccountLink("u-ann", "ann", True))], observe(world), CFG)

    def already(name, args):
        return Conflict("User already in role", error_type="error-user-already-in-role") if name == "add_user_to_role" else None

    outcomes = apply_plan(d.ops, RecordingClient(already), observe(world), rooms_of(world), CFG)
    roles = [o for o in outcomes if o.kind == "add_role"]
    assert roles and all(o.ok for o in roles)
    assert all(o.ok for o in outcomes)


def test_outcomes_never_carry_the_password():
    world = base_world(CFG)
    d = decide([person(1, "ann")], observe(world), CFG)
    outcomes = apply_plan(d.ops, RecordingClient(), observe(world), rooms_of(world), CFG)
    text = repr(outcomes) + repr([o.as_dict() for o in outcomes])
    assert "password" not in text.lower()


def test_a_phase_of_one_operation_runs_in_the_calling_thread_and_larger_ones_concurrently():
    """A single-person sync changes one or two things, one per phase: a thread pool per sync was a tenth of
    its CPU. Phases with several calls still spread over BATCH.concurrency threads."""
    world = base_world(CFG)
    before = threading.active_count()
    one = decide([person(1, "ann")], observe(world), CFG)  # create the account, then invite to general
    client = RecordingClient()
    outcomes = apply_plan(one.ops, client, observe(world), rooms_of(world), CFG)
    assert all(o.ok for o in outcomes) and len(client.calls) == len(one.ops) >= 2
    assert set().union(*client.threads.values()) == {threading.current_thread()}
    assert threading.active_count() == before

    many = decide([person(i, f"user{i}") for i in range(1, 9)], observe(world), CFG)
    # The first account creation waits (up to 10 s) for a second thread to enter: a pool thread can
    # otherwise take all eight one after another when each call returns at once (seen under load).
    entered, guard, two = [], threading.Lock(), threading.Event()

    def meet(name, args):
        if name == "create_user":
            with guard:
                first = not entered
                if threading.current_thread() not in entered:
                    entered.append(threading.current_thread())
                if len(entered) >= 2:
                    two.set()
            if first:
                two.wait(10)

    client = RecordingClient(fail=meet)
    outcomes = apply_plan(many.ops, client, observe(world), rooms_of(world), CFG)
    assert all(o.ok for o in outcomes)
    assert threading.current_thread() not in client.threads["create_user"] and len(client.threads["create_user"]) > 1
    assert client.threads["invite"] == {threading.current_thread()}  # one batch for the eight of them


def _calling_thread_events_per_kick(n: int) -> float:
    """Profile events (Python and C calls) in the calling thread per kick, for a phase of `n` kicks whose
    calls finish one at a time: each waits until the calling thread has handled the previous outcome, so
    the calling thread wakes once per operation with nearly all of the phase still pending."""
    import sys

    world = base_world(CFG)
    room = rooms_of(world)["vip"]
    ops = [KickFromRoom(str(i), f"u{i}", "vip") for i in range(1, n + 1)]
    handled = threading.Semaphore(0)
    first = threading.Lock()

    def paced(name, args):
        if name == "kick" and not first.acquire(blocking=False):
            assert handled.acquire(timeout=30), "the calling thread stopped handling outcomes"
        return None

    events = [0]

    def count(frame, event, arg):
        events[0] += 1

    sys.setprofile(count)
    try:
        outcomes = apply_plan(ops, RecordingClient(paced), observe(world), {"vip": room}, CFG,
                              on_operation=lambda outcome: handled.release())
    finally:
        sys.setprofile(None)
    assert len(outcomes) == n and all(o.ok for o in outcomes)
    return events[0] / n


def test_the_calling_thread_does_the_same_work_per_operation_however_large_the_phase():
    """A move-out burst is one kick per person, thousands in one phase (Rocket.Chat has no bulk kick).
    Waiting for "the first of the pending calls to complete" again after each one installs and removes a
    waiter on every pending call: quadratic in the phase, and in the calling thread, which holds the GIL
    the call threads need (5,000 kicks took 100 s against a stand-in that serves one in under 1 ms).
    Counted in profile events, not timed: four times the phase must not cost more per operation."""
    small, large = _calling_thread_events_per_kick(250), _calling_thread_events_per_kick(1000)
    assert large < 1.5 * small, f"{small:.0f} events per kick at 250, {large:.0f} at 1,000"
