"""One Rocket.Chat account, one site person (issue 14 M2/M3), on the Django side over the stand-in (real
HTTP, real PostgreSQL): a targeted sync knows which accounts other people's links hold
(``links.claimed_by_others``), privileged accounts are never adopted on any path, the migration that makes
``AccountLink.rc_user_id`` unique settles old duplicates deterministically, and two concurrent writers of
the same account end as one link and one conflict, not a crash."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from django_hooks.links import claimed_by_others, save_links
from django_hooks.models import AccountLink, SyncOperation, SyncRun
from django_hooks.queue.worker import sync_pending_user
from django_hooks.runs import run_reconcile
from sync_tasks.engine import PersonResult

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


@pytest.fixture
def verified(settings):
    """The site vouches for every email, so the default adoption (email_verified) is in play."""
    settings.RCSYNC = {**settings.RCSYNC, "IDENTITY": {**settings.RCSYNC.get("IDENTITY", {}), "email_verified": "always"}}


def _sync(user) -> str:
    return sync_pending_user(str(user.pk)).status


def test_targeted_sync_does_not_adopt_an_account_linked_to_another_person(fresh_stand_in, verified) -> None:
    """M3: carol's account is linked to her; mallory, same email on the site (a site that does not keep
    emails unique), is synced alone: the claimed look-up tells the engine, so she ends a conflict."""
    carol = User.objects.create_user("carol", "carol@example.org", "pw")
    assert _sync(carol) == "synced"
    carol_rc = fresh_stand_in.user("carol")["_id"]
    assert claimed_by_others(["999"])(frozenset({carol_rc, "nope"})) == {carol_rc: str(carol.pk)}
    assert claimed_by_others([str(carol.pk)])(frozenset({carol_rc})) == {}
    mallory = User.objects.create_user("mallory", "Carol@Example.org", "pw")
    _sync(mallory)
    link = AccountLink.objects.get(user_key=str(mallory.pk))
    assert link.status == "conflict" and link.rc_user_id == ""
    assert f"linked to site user {carol.pk}" in link.last_error
    assert "concurrent" not in link.last_error  # refused before any write, not caught by the unique key
    assert not SyncOperation.objects.filter(user_key=str(mallory.pk), outcome="applied").exists()
    assert AccountLink.objects.get(user_key=str(carol.pk)).rc_user_id == carol_rc
    assert fresh_stand_in.user("carol")["emails"][0]["address"] == "carol@example.org"


def test_no_path_adopts_a_rocketchat_admin(fresh_stand_in, verified) -> None:
    """M2: a site user registering the admin's email is a conflict naming the privileged role, through the
    targeted sync and the full reconcile alike, and the admin keeps role and email."""
    st = fresh_stand_in.server.state
    boss = st.create_user("boss", email="boss@example.org", roles=["admin", "user"])
    mallory = User.objects.create_user("mallory", "boss@example.org", "pw")
    _sync(mallory)
    link = AccountLink.objects.get(user_key=str(mallory.pk))
    assert link.status == "conflict" and "privileged role admin" in link.last_error and link.rc_user_id == ""
    run = run_reconcile(kind=SyncRun.Kind.MANUAL, triggered_by="test")
    assert run is not None and run.status != SyncRun.Status.REFUSED
    link.refresh_from_db()
    assert link.status == "conflict" and "privileged role admin" in link.last_error
    after = st.find_user(boss["_id"])
    assert sorted(after["roles"]) == ["admin", "user"] and after["emails"][0]["address"] == "boss@example.org"
    assert not AccountLink.objects.filter(rc_user_id=boss["_id"]).exists()


def _result(site_id: str, rc_id: str) -> PersonResult:
    return PersonResult(site_id, "synced", rc_id, "shared", False)


def test_two_concurrent_writers_of_one_account_end_as_one_link_and_one_conflict() -> None:
    """Two syncs adopting the same account at once (real PostgreSQL, two connections): the second INSERT
    waits on the first one's uncommitted unique key, then fails; save_links turns that into a conflict."""
    a = User.objects.create_user("ann", "ann@example.org", "pw")
    b = User.objects.create_user("bob", "bob@example.org", "pw")
    first_wrote, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def writer_a() -> None:
        try:
            from django.db import transaction

            with transaction.atomic():
                outcome["a"] = save_links([_result(str(a.pk), "RC-1")], {})
                first_wrote.set()
                assert release.wait(30)
        finally:
            connections.close_all()

    def writer_b() -> None:
        try:
            outcome["b"] = save_links([_result(str(b.pk), "RC-1")], {})
        except Exception as exc:  # the test fails below, naming it
            outcome["b"] = exc
        finally:
            connections.close_all()

    ta = threading.Thread(target=writer_a)
    ta.start()
    assert first_wrote.wait(30)
    tb = threading.Thread(target=writer_b)
    tb.start()
    deadline = time.monotonic() + 30  # b is blocked on a's row lock: poll PostgreSQL for it
    with connection.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'")
            if cur.fetchone()[0] >= 1:
                break
            assert time.monotonic() < deadline, "the second writer never waited on the first"
            time.sleep(0.02)
    release.set()
    ta.join(30)
    tb.join(30)
    assert outcome["a"] == {}
    assert isinstance(outcome["b"], dict), outcome["b"]
    assert "already linked to site user" in outcome["b"][str(b.pk)]
    links = {link.user_key: link for link in AccountLink.objects.all()}
    assert links[str(a.pk)].rc_user_id == "RC-1" and links[str(a.pk)].status == "synced"
    assert links[str(b.pk)].rc_user_id == "" and links[str(b.pk)].status == "conflict"
    assert str(a.pk) in links[str(b.pk)].last_error


def test_one_batch_naming_one_account_twice_links_the_first() -> None:
    """The bulk path (a full run's results): a duplicate within the batch is a conflict, not a crash."""
    a = User.objects.create_user("ann", "ann@example.org", "pw")
    b = User.objects.create_user("bob", "bob@example.org", "pw")
    lost = save_links([_result(str(a.pk), "RC-2"), _result(str(b.pk), "RC-2")], {})
    assert list(lost) == [str(b.pk)]
    assert AccountLink.objects.get(rc_user_id="RC-2").user_key == str(a.pk)
    assert AccountLink.objects.get(user_key=str(b.pk)).status == "conflict"


def test_migration_0005_keeps_the_oldest_of_duplicate_links() -> None:
    """Before the constraint: three links share one account, two share another, one is alone and two have
    none. After 0005: the oldest of each group keeps its account, the others are errors naming it."""
    executor = MigrationExecutor(connection)
    executor.migrate([("django_hooks", "0004_verbose_names")])
    old = executor.loader.project_state([("django_hooks", "0004_verbose_names")]).apps
    Link = old.get_model("django_hooks", "AccountLink")
    from datetime import datetime, timedelta, timezone

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [("k3", "X", 2), ("k1", "X", 0), ("k2", "X", 1), ("k5", "Y", 5), ("k4", "Y", 5), ("k6", "Z", 0),
            ("k7", "", 0), ("k8", "", 0)]
    for key, rc_id, minutes in rows:
        link = Link.objects.create(user_key=key, rc_user_id=rc_id, rc_username=f"u-{key}", status="synced")
        Link.objects.filter(pk=link.pk).update(created_at=t0 + timedelta(minutes=minutes))
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("django_hooks", "0005_link_unique_rc_user_id")])
        links = {link.user_key: link for link in AccountLink.objects.all()}
        assert links["k1"].rc_user_id == "X" and links["k1"].status == "synced"
        # k4 and k5 were created in the same minute: the lower id (k5, inserted first) wins
        assert links["k5"].rc_user_id == "Y" and links["k4"].rc_user_id == ""
        for loser, keeper, rc_id in (("k2", "k1", "X"), ("k3", "k1", "X"), ("k4", "k5", "Y")):
            assert links[loser].status == "error" and links[loser].rc_user_id == ""
            assert f"account {rc_id}" in links[loser].last_error and f"site user {keeper}" in links[loser].last_error
        assert links["k6"].rc_user_id == "Z" and links["k7"].status == links["k8"].status == "synced"
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            AccountLink.objects.create(user_key="k9", rc_user_id="Z")
        AccountLink.objects.create(user_key="k10", rc_user_id="")  # any number without an account
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
