"""What one single-person sync costs, counted rather than timed: SQL statements, Rocket.Chat calls, clients,
logins, threads and imports. Each count is a structural win of issue 13 (a sync at a quarter of its
former CPU); a change that brings the cost back fails here instead of only in bench/latency.py.

Real PostgreSQL, Redis and the stand-in over HTTP on loopback; the sync is what a `sync_user` task runs.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_hooks.models import SyncRun
from django_hooks.queue.worker import sync_pending_user
from django_hooks.rc import cached_client

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()

#: A rename of a synced person: look whether a pending row is there at all (a message whose person another
#: pass synced ends here: see MESSAGE_ALREADY_SYNCED_STATEMENTS); claim the pending row (the claim also
#: says whether anyone else waits to be drained with it, so a lone person's batched sync costs no
#: statement more than BATCH_SIZE = 1); read the user with its link and its group names (one statement on
#: PostgreSQL, an ARRAY subquery); start the run (the account it observes is the one its link holds, which no
#: other link can hold: no look-up of who holds it, see links.claimed_by_others); then what the sync wrote as
#: ONE statement, no BEGIN or COMMIT around it (run_rows.one_statement: WITH the audit rows, the run's finish
#: and the drop of a hold the sync made obsolete (the safety window, issue 14), the update of the link, and,
#: last, the pending row's retirement, which the queue handed the sync: queue.batch, `finish_with`).
STATEMENTS_PER_SYNC = 5
#: A message whose person is already synced (in a burst nearly every message: another pass took the row).
MESSAGE_ALREADY_SYNCED_STATEMENTS = 1


def _synced_person(name: str) -> Any:
    user = User.objects.create_user(name, f"{name}@example.org", "pw", first_name="Vera", last_name="0")
    user.groups.add(Group.objects.get_or_create(name="vip")[0])
    assert sync_pending_user(str(user.pk)).status == "synced"
    return user


def _rename(user: Any, n: int) -> str:
    user.last_name = str(n)
    user.save(update_fields=["last_name"])
    return str(user.pk)


def test_a_sync_runs_a_fixed_small_number_of_sql_statements(stand_in) -> None:
    user = _synced_person("sqlcount")
    for n in range(1, 4):  # the count does not grow with the person's history
        key = _rename(user, n)
        with CaptureQueriesContext(connection) as queries:
            assert sync_pending_user(key).status == "synced"
        statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
        assert len(statements) == STATEMENTS_PER_SYNC, "\n".join(q["sql"][:120] for q in queries.captured_queries)
        assert "BEGIN" not in statements and "COMMIT" not in statements  # one statement is its own transaction
        written = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("WITH"))
        for table in ('"django_hooks_syncoperation"', '"django_hooks_syncrun"', '"django_hooks_heldsync"',
                      '"django_hooks_accountlink"', '"django_hooks_pendingsync"'):
            assert table in written
    assert stand_in.user("sqlcount")["name"] == "Vera 3"


def test_a_sync_reads_rocketchat_once_and_reuses_one_logged_in_client(stand_in) -> None:
    """After the first sync the service account, roles and rooms come from the per-process cache: a rename is
    one read (users.info with rooms) and one write, through the same client, connection pool and login."""
    cached_client().invalidate()  # filled afresh by the first sync below, well within its 30 s lifetime
    user = _synced_person("readcount")
    client = cached_client()
    http, session, logins = client.aio._http, client.aio.session, client.aio.session.logins
    for n in range(1, 4):
        key = _rename(user, n)
        assert sync_pending_user(key).status == "synced"
        summary = SyncRun.objects.filter(scope=key).order_by("-id").values_list("summary", flat=True)[0]
        assert (summary["reads"], summary["writes"]) == (1, 1)
    assert cached_client() is client and client.aio._http is http and client.aio.session is session
    assert client.aio.session.logins == logins


def test_a_sync_starts_no_thread_and_imports_nothing(stand_in) -> None:
    """A thread per sync (lock renewal, an executor pool) and a failed import per request (httpcore asking
    for sniffio when it is not installed) were each a tenth of a sync's CPU."""
    user = _synced_person("quiet")
    key = _rename(user, 1)
    assert sync_pending_user(key).status == "synced"  # the lock renewer and the client's loop now exist

    started: list[str] = []
    looked_up: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    class Finder:  # first on sys.meta_path: sees every import that misses sys.modules
        @staticmethod
        def find_spec(name: str, path: Any = None, target: Any = None) -> None:
            looked_up.append(name)
            return None

    threading.Thread.start = start  # type: ignore[method-assign]
    sys.meta_path.insert(0, Finder)  # type: ignore[arg-type]
    try:
        for n in range(2, 5):
            assert sync_pending_user(_rename(user, n)).status == "synced"
    finally:
        sys.meta_path.remove(Finder)  # type: ignore[arg-type]
        threading.Thread.start = real_start  # type: ignore[method-assign]
    assert started == [] and looked_up == []


#: Statements the ORM builds per sync (query objects and compilers, about 1-2 ms of CPU each on a loaded
#: machine); the rest are fixed SQL strings built once per process (django_hooks.run_rows): the look-up of
#: a person with its link, which observed accounts others hold, and the delete of an obsolete hold.
ORM_COMPILES_PER_SYNC = 0


def test_a_sync_builds_few_statements_through_the_orm(stand_in) -> None:
    from django.db.models.sql.query import Query

    user = _synced_person("compiles")
    sync_pending_user(_rename(user, 1))  # per-process caches filled
    built: list[str] = []
    real = Query.get_compiler

    def get_compiler(self: Query, *args: Any, **kwargs: Any) -> Any:
        built.append(self.model.__name__ if self.model is not None else "?")
        return real(self, *args, **kwargs)

    Query.get_compiler = get_compiler  # type: ignore[method-assign]
    try:
        for n in range(2, 5):
            key = _rename(user, n)  # an ORM save, not part of the sync
            before = len(built)
            assert sync_pending_user(key).status == "synced"
            assert len(built) - before == ORM_COMPILES_PER_SYNC, built[before:]
    finally:
        Query.get_compiler = real  # type: ignore[method-assign]
    assert stand_in.user("compiles")["name"] == "Vera 4"


def test_the_fixed_user_read_returns_what_the_orm_reads(stand_in) -> None:
    from django.forms.models import model_to_dict

    from django_hooks.models import AccountLink
    from django_hooks.run_rows import user_with_link

    linked = _synced_person("fixedread")
    unlinked = User.objects.create_user("fixedread2", "f2@example.org", "pw")
    user, link = user_with_link(linked.pk)
    orm = User.objects.select_related("rocketchat_link").get(pk=linked.pk)
    assert model_to_dict(user) == model_to_dict(orm) and user.password == orm.password
    assert link is not None and model_to_dict(link) == model_to_dict(orm.rocketchat_link)
    assert link.created_at == AccountLink.objects.get(pk=link.pk).created_at and link.pk == orm.rocketchat_link.pk
    assert user_with_link(unlinked.pk)[1] is None and user_with_link(unlinked.pk)[0].pk == unlinked.pk
    assert user_with_link(10**9) is None


def test_the_person_read_brings_the_group_names_the_orm_reads(stand_in) -> None:
    """The user, its link and its group names are one statement on PostgreSQL (they were two)."""
    from django_hooks.run_rows import user_link_groups

    user = _synced_person("grouped")
    user.groups.add(Group.objects.get_or_create(name="alpha")[0], Group.objects.get_or_create(name="zeta")[0])
    lonely = User.objects.create_user("grouped2", "g2@example.org", "pw")
    with CaptureQueriesContext(connection) as queries:
        found, link, groups = user_link_groups(user.pk)
    assert len(queries.captured_queries) == 1
    assert groups == list(user.groups.order_by("name").values_list("name", flat=True)) == ["alpha", "vip", "zeta"]
    assert found.pk == user.pk and link is not None and link.user_key == str(user.pk)
    assert user_link_groups(lonely.pk)[1:] == (None, [])
    assert user_link_groups(10**9) is None


def test_a_message_whose_person_another_pass_synced_costs_one_statement_and_no_lock(stand_in, monkeypatch) -> None:
    """In a burst nearly every Celery message finds its person synced by another pass; each took the user's
    Redis lock, claimed nothing and then searched the queue for other people (about 1.3 ms of CPU before
    Celery's own cost). Now it reads whether a pending row is there, once, and ends."""
    from django_hooks.queue import locks

    user = _synced_person("alreadysynced")
    key = str(user.pk)
    taken: list[str] = []
    real_held = locks.held

    def held(name: str, *args: Any, **kwargs: Any) -> Any:
        taken.append(name)
        return real_held(name, *args, **kwargs)

    monkeypatch.setattr(locks, "held", held)
    with CaptureQueriesContext(connection) as queries:
        assert sync_pending_user(key, message_id="m-1").status == "nothing-pending"
    assert len(queries.captured_queries) == MESSAGE_ALREADY_SYNCED_STATEMENTS, [q["sql"] for q in queries.captured_queries]
    assert queries.captured_queries[0]["sql"].startswith("SELECT state FROM")
    assert taken == []


def test_a_batch_pass_updates_its_links_in_one_fixed_statement(stand_in) -> None:
    """The ORM's bulk_update built a CASE WHEN per field and person (more CPU than the pass's engine work
    for a batch of a few dozen); run_rows.save_link_rows writes the same columns in one fixed statement."""
    from django_hooks.models import AccountLink
    from django_hooks.runs_batch import sync_users

    people = [_synced_person(f"batchlink{i}") for i in range(6)]
    before = {link.user_key: link for link in AccountLink.objects.all()}
    for size in (2, 4):
        batch = people[:size]
        keys = [_rename(u, size) for u in batch]
        with CaptureQueriesContext(connection) as queries:
            answers = sync_users(keys, reason="test batch")
        assert all(a.ok for a in answers.values())
        link_updates = [q["sql"] for q in queries.captured_queries if 'UPDATE "django_hooks_accountlink"' in q["sql"]]
        assert len(link_updates) == 1 and "CASE" not in link_updates[0], link_updates
    for u in people[:4]:
        link = AccountLink.objects.get(user_key=str(u.pk))
        old = before[str(u.pk)]
        assert (link.status, link.user_id, link.rc_user_id, link.site_username) == ("synced", u.pk, old.rc_user_id, u.username)
        assert link.updated_at > old.updated_at and link.last_synced_at > old.last_synced_at
    assert stand_in.user("batchlink3")["name"] == "Vera 4"


#: A batch pass of a few renamed people (what a drain hands `runs_batch.sync_users`): read the people (one
#: fixed SELECT of the users with their bound links and group names); start the run (they observe only the
#: accounts their links hold: nobody else's to look up); then what the pass wrote as ONE statement, no BEGIN
#: or COMMIT (run_rows.one_statement: WITH the audit rows, the run's finish, the drop of the holds the pass
#: made obsolete, and the links, updated or created: run_rows.save_link_rows). No count of the site: a few
#: linked people read per person whatever its size (read_cost.full_read_floor).
STATEMENTS_PER_SMALL_BATCH = 3


def test_a_small_batch_pass_runs_a_fixed_small_number_of_statements(stand_in) -> None:
    from django_hooks.runs_batch import sync_users

    people = [_synced_person(f"smallbatch{i}") for i in range(4)]
    for size in (2, 3, 4):  # the count does not grow with the batch
        keys = [_rename(u, size) for u in people[:size]]
        with CaptureQueriesContext(connection) as queries:
            answers = sync_users(keys, reason="test batch")
        assert all(a.ok for a in answers.values())
        statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
        assert len(statements) == STATEMENTS_PER_SMALL_BATCH, "\n".join(q["sql"][:120] for q in queries.captured_queries)
        assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert [stand_in.user(f"smallbatch{i}")["name"] for i in range(4)] == ["Vera 4"] * 4


def test_a_worker_counts_the_site_at_most_once_per_ttl() -> None:
    """The site's size only weighs a batch's two readers (both correct): counting it cost two COUNT queries
    per batch pass that needed it; a process reuses its count for POPULATION_TTL seconds."""
    from django_hooks.people import population

    User.objects.create_user("counted1", "c1@example.org", "pw")
    with CaptureQueriesContext(connection) as queries:
        assert population(max_age=0) == 1  # counted afresh
        assert population() == 1
    assert len(queries.captured_queries) == 2  # users, and links whose user is gone: once
    User.objects.create_user("counted2", "c2@example.org", "pw")
    with CaptureQueriesContext(connection) as queries:
        assert population() == 1  # still the count of a moment ago
    assert queries.captured_queries == []
    assert population(max_age=0) == 2


#: A sync that changes nothing (most saves): as a rename, but its one written statement drops the run row it
#: started (issue 14: no row per no-op save), as the ORM's delete would, with the link's update and the
#: pending row's retirement.
STATEMENTS_PER_NOOP_SYNC = 5


def test_a_sync_that_changes_nothing_runs_as_few_statements_and_keeps_no_run(stand_in) -> None:
    from django_hooks.metrics import SYNC_RUNS
    from django_hooks.queue.pending import request_sync

    user = _synced_person("noopcount")
    runs = SyncRun.objects.count()
    counted = SYNC_RUNS.labels("change", "succeeded")._value.get()
    for n in range(1, 4):
        request_sync(user, reason="nothing changed")
        with CaptureQueriesContext(connection) as queries:
            assert sync_pending_user(str(user.pk)).status == "synced"
        statements = [q["sql"].split()[0].upper() for q in queries.captured_queries if q["sql"] is not None]
        assert len(statements) == STATEMENTS_PER_NOOP_SYNC, "\n".join(q["sql"][:120] for q in queries.captured_queries)
        assert "BEGIN" not in statements
    assert SyncRun.objects.count() == runs  # no row per no-op
    assert SYNC_RUNS.labels("change", "succeeded")._value.get() == counted + 3  # each counted once


def test_a_batch_pass_starts_no_thread_after_the_first(stand_in) -> None:
    """A pass of a few people applies their operations through a few threads (sync_tasks.apply); a pool per
    pass started and joined them every time. The process keeps one pool."""
    from django_hooks.runs_batch import sync_users

    people = [_synced_person(f"threads{i}") for i in range(3)]
    assert all(a.ok for a in sync_users([_rename(u, 1) for u in people], reason="warm").values())
    started: list[str] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    threading.Thread.start = start  # type: ignore[method-assign]
    try:
        for n in range(2, 4):
            assert all(a.ok for a in sync_users([_rename(u, n) for u in people], reason="test").values())
    finally:
        threading.Thread.start = real_start  # type: ignore[method-assign]
    assert started == []
    assert [stand_in.user(f"threads{i}")["name"] for i in range(3)] == ["Vera 3"] * 3


def test_the_sync_retires_its_row_in_its_own_statement_but_not_a_change_made_meanwhile(stand_in, monkeypatch) -> None:
    """The pending row is retired by the sync's one written statement only if its generation is unchanged: a
    save while the sync ran keeps it, and the message goes round again with the newer state."""
    from django_hooks import runs
    from django_hooks.models import PendingSync

    user = _synced_person("meanwhile")
    key = _rename(user, 1)
    real = runs.sync_people
    saved: list[int] = []

    def sync_people(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        if not saved:  # after Rocket.Chat was written, before the sync's own write
            saved.append(_rename(user, 2) and 2)
        return report

    monkeypatch.setattr(runs, "sync_people", sync_people)
    with CaptureQueriesContext(connection) as queries:
        outcome = sync_pending_user(key)
    assert (outcome.status, outcome.rounds) == ("synced", 2)
    assert not PendingSync.objects.exists()
    assert stand_in.user("meanwhile")["name"] == "Vera 2"
    retires = [q["sql"] for q in queries.captured_queries if q["sql"] and 'DELETE FROM "django_hooks_pendingsync"' in q["sql"]]
    assert len(retires) == 2 and all(q.startswith("WITH") for q in retires)  # both tries in the sync's statement
