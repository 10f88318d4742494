"""What a single-person sync writes when it ends is one statement (django_hooks.run_rows.one_statement):
its audit rows, its run's finish, the holds it drops and its link, as data-modifying WITH clauses, with no
BEGIN or COMMIT around them. These tests hold what the transaction it replaces guaranteed: all or nothing,
written once, and the same rows as the ORM would write. Real PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from django_hooks.links import save_links
from django_hooks.models import AccountLink, HeldSync, SyncOperation, SyncRun
from django_hooks.run_rows import delete_holds, finish_run, insert_run
from django_hooks.runs import Recorder
from sync_tasks.engine import PersonResult

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def _result(site_id: str, rc_id: str | None, status: str = "synced") -> PersonResult:
    return PersonResult(site_id, status, rc_id, "shared" if rc_id else None, False if rc_id else None)


def _run_with_one_row(user_key: str) -> tuple[SyncRun, Recorder]:
    run = insert_run(kind=SyncRun.Kind.CHANGE, scope=user_key, triggered_by="test")
    recorder = Recorder(run, {user_key: "bob"})
    recorder.buffer.append(dict(run_id=run.pk, user_key=user_key, username="bob", operation="update_profile",
                                target="RC", outcome=SyncOperation.Outcome.APPLIED, error=""))
    return run, recorder


def _bookkeeping(run: SyncRun, recorder: Recorder, keys: list[str]) -> Any:
    def also() -> None:
        recorder.flush()
        run.status, run.finished_at = SyncRun.Status.SUCCEEDED, run.started_at
        finish_run(run)
        delete_holds(keys)
    return also


def _statements(queries: CaptureQueriesContext) -> list[str]:
    # A statement refused inside the block was never sent: Django logs it without its text.
    return [q["sql"].split()[0].upper() for q in queries.captured_queries if q["sql"] is not None]


def run_started() -> Any:
    from django.utils import timezone

    return timezone.now()


def test_the_run_audit_rows_holds_and_link_are_one_statement() -> None:
    bob = User.objects.create_user("bob", "bob@example.org", "pw")
    key = str(bob.pk)
    AccountLink.objects.create(user_key=key, user=bob, rc_user_id="RC-1", rc_username="bob", status="error",
                               last_error="old")
    HeldSync.objects.create(user_key=key, username="bob", operations=["kick vip"], count=1, held_at=run_started())
    run, recorder = _run_with_one_row(key)
    with CaptureQueriesContext(connection) as queries:
        assert save_links([_result(key, "RC-1")], {}, also=_bookkeeping(run, recorder, [key])) == {}
    assert _statements(queries) == ["WITH"], [q["sql"] for q in queries.captured_queries]
    assert recorder.buffer == []  # written: forgotten once the statement succeeded
    assert SyncOperation.objects.filter(run=run).count() == 1
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.SUCCEEDED
    assert not HeldSync.objects.filter(user_key=key).exists()
    link = AccountLink.objects.get(user_key=key)
    assert (link.status, link.last_error, link.user_id, link.rc_user_id) == ("synced", "", bob.pk, "RC-1")


def test_a_first_link_written_in_the_statement_is_what_the_orm_creates() -> None:
    ann = User.objects.create_user("ann", "ann@example.org", "pw")
    cat = User.objects.create_user("cat", "cat@example.org", "pw")
    with CaptureQueriesContext(connection) as queries:
        save_links([_result(str(ann.pk), "RC-A")], {})
    assert _statements(queries) == ["INSERT"]  # an upsert: no UPDATE first, no transaction
    save_links([_result(str(cat.pk), "RC-C"), _result("999999", None, "skipped")], {})  # more than one: the ORM's way
    one, orm = AccountLink.objects.get(user_key=str(ann.pk)), AccountLink.objects.get(user_key=str(cat.pk))
    ignore = {"id", "user_key", "user", "rc_user_id", "last_synced_at"}
    assert {k: v for k, v in model_to_dict(one).items() if k not in ignore} == \
        {k: v for k, v in model_to_dict(orm).items() if k not in ignore}
    assert one.user_id == ann.pk and one.created_at is not None and one.last_synced_at is not None
    assert one.status == "synced" and one.created_by_bridge is False and one.rc_username == "shared"


def test_nothing_is_remembered_for_a_person_without_an_account() -> None:
    dan = User.objects.create_user("dan", "dan@example.org", "pw", is_active=False)
    save_links([_result(str(dan.pk), None, "skipped")], {})
    assert not AccountLink.objects.filter(user_key=str(dan.pk)).exists()


def test_a_failing_statement_writes_none_of_it_and_the_transaction_writes_it_once() -> None:
    """The account is linked to someone else already: the one statement fails on the unique account id and
    leaves nothing; the transaction after it writes the audit row once and stores the conflict."""
    ann = User.objects.create_user("ann", "ann@example.org", "pw")
    bob = User.objects.create_user("bob", "bob@example.org", "pw")
    AccountLink.objects.create(user_key=str(ann.pk), user=ann, rc_user_id="RC-9", status="synced")
    run, recorder = _run_with_one_row(str(bob.pk))
    with CaptureQueriesContext(connection) as queries:
        lost = save_links([_result(str(bob.pk), "RC-9")], {}, also=_bookkeeping(run, recorder, [str(bob.pk)]))
    assert "already linked to site user" in lost[str(bob.pk)]
    assert _statements(queries)[0] == "WITH" and "BEGIN" in _statements(queries)
    assert SyncOperation.objects.filter(run=run).count() == 1 and recorder.buffer == []
    assert SyncRun.objects.get(pk=run.pk).status == SyncRun.Status.SUCCEEDED
    link = AccountLink.objects.get(user_key=str(bob.pk))
    assert (link.status, link.rc_user_id) == ("conflict", "")


def test_bookkeeping_that_needs_a_statement_of_its_own_goes_the_usual_way_once() -> None:
    """Anything else reaching the database inside the block (here an ORM update) would not be part of the one
    statement: nothing held is written, and the work is done again in a transaction, once."""
    bob = User.objects.create_user("bob", "bob@example.org", "pw")
    key = str(bob.pk)
    AccountLink.objects.create(user_key=key, user=bob, rc_user_id="RC-1", status="error")
    run, recorder = _run_with_one_row(key)
    book = _bookkeeping(run, recorder, [key])

    def also() -> None:
        book()
        SyncRun.objects.filter(pk=run.pk).update(error="written by the ORM")

    with CaptureQueriesContext(connection) as queries:
        assert save_links([_result(key, "RC-1")], {}, also=also) == {}
    assert "WITH" not in _statements(queries) and _statements(queries)[0] == "BEGIN"
    assert SyncOperation.objects.filter(run=run).count() == 1 and recorder.buffer == []
    row = SyncRun.objects.get(pk=run.pk)
    assert (row.status, row.error) == (SyncRun.Status.SUCCEEDED, "written by the ORM")
    assert AccountLink.objects.get(user_key=key).status == "synced"


def test_inside_a_transaction_the_writes_are_not_held() -> None:
    from django.db import transaction

    bob = User.objects.create_user("bob", "bob@example.org", "pw")
    key = str(bob.pk)
    AccountLink.objects.create(user_key=key, user=bob, rc_user_id="RC-1", status="error")
    run, recorder = _run_with_one_row(key)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            save_links([_result(key, "RC-1")], {}, also=_bookkeeping(run, recorder, [key]))
        assert recorder.buffer != []  # forgotten only at the caller's commit
    assert "WITH" not in _statements(queries)
    assert recorder.buffer == [] and SyncOperation.objects.filter(run=run).count() == 1


def test_the_batch_link_update_keeps_what_a_result_does_not_say_and_is_one_text_for_any_size() -> None:
    """run_rows.save_link_rows (a batch pass's links): a result without an account id, a person not loaded, an
    unknown creator or a status that is not a sync keep the stored values, as the ORM path did; the
    statement's text does not depend on the number of rows (psycopg parses each new text afresh)."""
    from datetime import datetime, timezone

    users = [User.objects.create_user(f"keep{i}", f"keep{i}@example.org", "pw") for i in range(5)]
    synced_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for u in users:
        AccountLink.objects.create(user_key=str(u.pk), user=u, rc_user_id=f"RC-{u.pk}", rc_username=f"rc{u.pk}",
                                   site_username="old", created_by_bridge=True, status="synced",
                                   last_synced_at=synced_at)
    texts = []
    for size in (2, 5):
        errors = [PersonResult(str(u.pk), "error", None, None, None, "boom") for u in users[:size]]
        with CaptureQueriesContext(connection) as queries:
            assert save_links(errors, {}) == {}
        assert _statements(queries) == ["WITH"]  # no transaction: the links are the whole statement
        texts.append(re.sub(r"'[^']*'", "?", queries.captured_queries[0]["sql"]))  # the values aside
    assert texts[0] == texts[1]
    for u in users:
        link = AccountLink.objects.get(user_key=str(u.pk))
        assert (link.status, link.last_error, link.user_id) == ("error", "boom", u.pk)
        assert (link.rc_user_id, link.rc_username, link.site_username) == (f"RC-{u.pk}", f"rc{u.pk}", "old")
        assert link.created_by_bridge is True and link.last_synced_at == synced_at


def test_a_batch_pass_creates_the_missing_links_in_the_same_statement() -> None:
    """One existing link, one person synced for the first time, one without an account: one statement
    updates the first, creates the second with the fields' defaults, and remembers nothing of the third."""
    from django_hooks.models import AccountLink as Link

    old, new, none = (User.objects.create_user(n, f"{n}@example.org", "pw") for n in ("old", "new", "none"))
    Link.objects.create(user_key=str(old.pk), user=old, rc_user_id="RC-O", status="error", last_error="x")
    run, recorder = _run_with_one_row(str(old.pk))
    results = [_result(str(old.pk), "RC-O"), _result(str(new.pk), "RC-N"), _result(str(none.pk), None, "skipped")]
    with CaptureQueriesContext(connection) as queries:
        assert save_links(results, {}, also=_bookkeeping(run, recorder, [])) == {}
    assert _statements(queries) == ["WITH"]
    assert SyncOperation.objects.filter(run=run).count() == 1
    made = Link.objects.get(user_key=str(new.pk))
    assert (made.user_id, made.rc_user_id, made.rc_username, made.status, made.site_username) == \
        (new.pk, "RC-N", "shared", "synced", "")
    assert made.created_at is not None and made.last_synced_at is not None and made.created_by_bridge is False
    assert Link.objects.get(user_key=str(old.pk)).status == "synced"
    assert not Link.objects.filter(user_key=str(none.pk)).exists()
