"""Memory shape of the full reconcile: what stays per person, counted, never timed.

A million people must fit in a few hundred MB (bench/reconcile.py measures it): the streamed plan keeps
one row of columns per settled person (sync_tasks.results.QuietResults) and the observation keeps no
wire documents.
"""
from __future__ import annotations

import gc
import tracemalloc

from bridge.models import RcUser
from fake_rocketchat.backend.helpers import BulkUser
from sync_tasks.config import load_config
from sync_tasks.decide import decide
from sync_tasks.observe import observe_all
from sync_tasks.person import AccountLink, SitePerson
from sync_tasks.plan import ownership_from_config
from sync_tasks.state import ObservedAccount, ObservedRoom, ObservedState
from sync_tasks.stream import plan_streamed

N = 20_000  # the memory-shape world (bytes are counted, not timed)
CONFIG = load_config({})


def _world(n: int) -> ObservedState:
    rooms = {s.key: ObservedRoom(s.key, f"rid-{s.key}", s.name, s.type) for s in CONFIG.rooms}
    general, user = frozenset({"general"}), frozenset({"user"})
    accounts = {f"U{i:016d}": ObservedAccount(f"U{i:016d}", f"user{i:06d}", f"User {i}", f"user{i}@example.org",
                                              True, True, user, general) for i in range(1, n + 1)}
    return ObservedState(accounts=accounts, rooms=rooms, roles={"admin": "admin", "user": "user"},
                         service_user_id="svc")


def _people(n: int):
    for i in range(1, n + 1):
        yield SitePerson(site_id=str(i), username=f"user{i:06d}", email=f"user{i}@example.org", email_verified=True,
                         name=f"User {i}", link=AccountLink(f"U{i:016d}", f"user{i:06d}", True))


def _traced(fn):
    """(bytes still held by what fn returned, peak bytes while it ran), above what was there before."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        kept = fn()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return kept, held - base, peak - base


def test_streamed_plan_holds_a_small_result_per_person_not_the_people():
    observed = _world(N)
    plan, held, peak = _traced(lambda: plan_streamed(_people(N), observed, CONFIG, ownership_from_config(CONFIG)))
    assert plan is not None and len(plan.quiet) == N and plan.ops == ()
    # One row of QuietResults (three list slots and a byte) and the site id: ~90 bytes a person (a slotted
    # PersonResult each was ~170). Holding the people, their desired states or targets (matching
    # everyone at once) costs several times that.
    assert held < 120 * N, f"{held / N:.0f} bytes kept per person"
    assert peak < 180 * N, f"{peak / N:.0f} bytes per person at the peak"


def test_matching_everyone_at_once_would_not_fit_that_bound():
    """The bound above tells the two apart (so it can fail): the whole-list pipeline peaks far above it."""
    n = N // 4  # the same bound per person; a smaller world keeps this slower pipeline quick
    observed = _world(n)
    decision, _, peak = _traced(lambda: decide(list(_people(n)), observed, CONFIG))
    assert len(decision.targets) == n
    assert peak > 800 * n


def test_observation_keeps_no_wire_documents(rc_server, rc_client):
    """After the paged reads, no RcUser (and so no raw users.list document) is left alive: the state is
    one slotted ObservedAccount per account with shared role and room sets."""
    rc_server.state.bulk_create_users(BulkUser(f"U{i:016d}", f"user{i:06d}", f"User {i}", f"user{i}@example.org")
                                      for i in range(1, 1201))
    obs = observe_all(rc_client, CONFIG)
    gc.collect()
    assert len(obs.state.accounts) >= 1200
    assert not [o for o in gc.get_objects() if isinstance(o, RcUser)]
    kinds = {(a.roles, a.rooms) for a in obs.state.accounts.values() if a.user_id.startswith("U0")}
    assert len({id(r) for r, _ in kinds}) == len({r for r, _ in kinds})  # equal role sets are one object
