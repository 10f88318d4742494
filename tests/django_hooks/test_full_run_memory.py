"""A full reconcile's Django side holds a chunk of the site, not all of it.

Before, `run_reconcile` listed every person, loaded every AccountLink as a model instance up front and
stored the results with one `bulk_update` over everyone: ~12.6 KB of Python memory per person at 20,000
people (tracemalloc), a dozen gigabytes for a million-person site's nightly run. Now the people are read
a chunk at a time as the engine plans them (`django_hooks.people.SiteDirectory`), and the links are
stored a chunk at a time (`django_hooks.links.save_links`). These tests pin the shape (what is read
and stored per chunk), not a size.
"""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_hooks import links as links_module
from django_hooks.models import AccountLink, SyncRun
from django_hooks.people import SiteDirectory, iter_people, load_people
from django_hooks.runs import run_reconcile

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def _site(n: int, deleted: int = 0) -> list:
    users = [User.objects.create_user(f"chunk{i:03d}", f"chunk{i:03d}@example.org", "pw", first_name=f"C{i}")
             for i in range(n)]
    for i in range(deleted):
        AccountLink.objects.create(user_key=f"gone-{i}", rc_user_id=f"GONE{i:013d}", rc_username=f"gone{i}",
                                   site_username=f"gone{i}", status="synced")
    return users


def test_people_are_read_a_chunk_at_a_time_and_are_who_they_are_one_by_one():
    users = _site(7, deleted=2)
    for u in users[:4]:
        AccountLink.objects.create(user_key=str(u.pk), user=u, rc_user_id=f"R{u.pk:016d}", rc_username=u.username,
                                   site_username=u.username, status="synced")
    # A user whose key a link of a deleted user still names (re-used key, not bound): the user is the person.
    reused = User.objects.create_user("chunk-reused", "reused@example.org", "pw")
    AccountLink.objects.filter(user_key="gone-1").update(user_key=str(reused.pk))
    with CaptureQueriesContext(connection) as queries:
        people = list(iter_people(chunk=3))
    keys = [p.site_id for p in people]
    assert len(keys) == len(set(keys)) == 7 + 1 + 1  # users, the re-used key's user, one deleted person
    assert [p.site_id for p in people if p.deleted] == ["gone-0"]
    assert {p.site_id: p for p in people} == load_people(keys)[0]
    link_reads = [q["sql"] for q in queries.captured_queries
                  if 'FROM "django_hooks_accountlink"' in q["sql"] and '"user_key" IN (' in q["sql"]]
    assert len(link_reads) == 3, link_reads  # one per chunk of users (3 + 3 + 2): never all links at once
    assert not [q["sql"] for q in queries.captured_queries
                if 'FROM "django_hooks_accountlink"' in q["sql"] and "WHERE" not in q["sql"]]


def test_links_are_stored_a_chunk_of_people_at_a_time(stand_in, monkeypatch):
    _site(7)
    loaded: list[list[str]] = []
    load = SiteDirectory.load
    monkeypatch.setattr(SiteDirectory, "load", lambda self, keys: (loaded.append(list(keys)), load(self, keys))[1])
    monkeypatch.setattr(links_module, "SAVE_CHUNK", 3)
    run = run_reconcile(triggered_by="test: chunks")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert [len(keys) for keys in loaded] == [3, 3, 1]
    stored = {link.user_key: link for link in AccountLink.objects.all()}
    assert len(stored) == 7 and {link.status for link in stored.values()} == {"synced"}
    assert all(link.site_username == User.objects.get(pk=int(key)).username and link.rc_user_id
               for key, link in stored.items())
    # The audit rows name each person by their site username (looked up per person worked on).
    assert {op.username for op in run.operations.exclude(user_key="")} == {u.username for u in User.objects.all()}


def test_the_directory_answers_everyone_once_by_their_account_or_as_unlinked():
    """What the page-driven reconcile asks the site (sync_tasks.paged.LinkedPeople) gives the very people
    iter_people lists: linked ones (a deleted user's kept link and a re-used key included) by account,
    the others as unlinked, each once."""
    users = _site(7, deleted=2)
    for u in users[:4]:
        AccountLink.objects.create(user_key=str(u.pk), user=u, rc_user_id=f"R{u.pk:016d}", rc_username=u.username,
                                   site_username=u.username, status="synced")
    AccountLink.objects.create(user_key=str(users[4].pk), user=users[4], rc_user_id="", status="pending")
    reused = User.objects.create_user("chunk-reused", "reused@example.org", "pw")
    AccountLink.objects.filter(user_key="gone-1").update(user_key=str(reused.pk))
    directory = SiteDirectory(chunk=3)
    ids = list(directory.linked_account_ids())
    assert len(ids) == len(set(ids)) == 4 + 2
    by_account = list(directory.people_linked_to(ids[:3])) + list(directory.people_linked_to(ids[3:] + ["NOBODY"]))
    unlinked = list(directory.unlinked_people())
    assert sorted(p.link.rc_user_id for p in by_account) == sorted(ids)
    assert all(p.link is None for p in unlinked) and len(unlinked) == 3  # users[4] (empty link), [5], [6]
    everyone = sorted(by_account + unlinked, key=lambda p: p.site_id)
    assert everyone == sorted(iter_people(chunk=3), key=lambda p: p.site_id)
    assert [p.site_id for p in by_account if p.deleted] == ["gone-0"]
    assert next(p for p in by_account if p.site_id == str(reused.pk)).link.rc_user_id == "GONE0000000000001"
