"""Triggers write one PendingSync row per user in the caller's transaction and enqueue after commit only
(a change of many people at once: one message for all of them).

Real PostgreSQL (committed transactions) and the real Redis broker queue; no worker runs here, so the
queue shows exactly what the commit hooks sent.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

import django_hooks
from django_hooks.models import PendingSync

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def rows() -> dict[str, PendingSync]:
    return {row.user_key: row for row in PendingSync.objects.all()}


def test_create_writes_row_and_enqueues_after_commit(broker) -> None:
    with transaction.atomic():
        user = User.objects.create_user("alice", "alice@example.org", "pw")
        assert broker.sync_user_keys() == []  # not before commit
        assert rows()[str(user.pk)].reason == "created"
    assert broker.sync_user_keys() == [str(user.pk)]
    row = rows()[str(user.pk)]
    assert row.enqueued_at is not None and row.generation == 1 and row.state == "queued"


def test_rollback_leaves_nothing(broker) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            User.objects.create_user("bob")
            raise RuntimeError("boom")
    assert rows() == {} and broker.messages() == []


def test_rolled_back_savepoint_leaves_nothing(broker) -> None:
    with transaction.atomic():
        keep = User.objects.create_user("keep")
        try:
            with transaction.atomic():
                gone = User.objects.create_user("gone")
                raise RuntimeError
        except RuntimeError:
            pass
    assert set(rows()) == {str(keep.pk)}
    assert str(gone.pk) not in broker.sync_user_keys()
    assert broker.sync_user_keys() == [str(keep.pk)]


def test_many_changes_one_row_one_message(broker) -> None:
    user = User.objects.create_user("carol")
    for i in range(10):  # each save its own transaction; no worker has picked the first message up
        user.first_name = f"Carol {i}"
        user.save()
    with transaction.atomic():
        for i in range(5):
            user.last_name = f"C{i}"
            user.save()
    row = rows()[str(user.pk)]
    assert row.generation == 16
    assert broker.sync_user_keys() == [str(user.pk)]


def test_role_change_is_named_in_the_reason() -> None:
    user = User.objects.create_user("dave")
    PendingSync.objects.all().delete()
    user = User.objects.get(pk=user.pk)
    user.role = "moderator"
    user.save()
    assert rows()[str(user.pk)].reason == "role changed: user -> moderator"


def test_last_login_only_save_is_not_a_change(broker) -> None:
    user = User.objects.create_user("erin")
    PendingSync.objects.all().delete()
    from django.contrib.auth.models import update_last_login

    update_last_login(None, user)
    assert rows() == {}


def test_delete_marks_the_user(broker) -> None:
    user = User.objects.create_user("frank")
    PendingSync.objects.all().delete()
    key = str(user.pk)
    user.delete()
    assert rows()[key].reason == "deleted"


def test_group_changes_from_both_sides(broker) -> None:
    vip = Group.objects.create(name="vip")
    a = User.objects.create_user("gina")
    b = User.objects.create_user("hank")
    PendingSync.objects.all().delete()

    a.groups.add(vip)
    assert set(rows()) == {str(a.pk)}
    PendingSync.objects.all().delete()

    vip.user_set.add(b)
    assert set(rows()) == {str(b.pk)}
    PendingSync.objects.all().delete()

    vip.user_set.clear()
    assert set(rows()) == {str(a.pk), str(b.pk)}
    PendingSync.objects.all().delete()

    b.groups.add(vip)
    PendingSync.objects.all().delete()
    vip.delete()
    assert set(rows()) == {str(b.pk)}


def test_a_group_change_of_many_people_is_one_message_not_one_per_person(broker, redis_conn) -> None:
    vip = Group.objects.create(name="vip")
    people = [User.objects.create_user(f"member{i}") for i in range(30)]
    PendingSync.objects.all().delete()
    redis_conn.delete(settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "rcsync")  # the creations' messages
    assert broker.messages() == []
    with transaction.atomic():
        vip.user_set.add(*people)
        assert broker.messages() == []  # not before commit
    keys = sorted(str(p.pk) for p in people)
    assert sorted(rows()) == keys and all(r.reason == "group vip changed (add)" for r in rows().values())
    sent = broker.messages()
    assert [task for task, _, _ in sent] == ["rcsync.enqueue_pending"]
    assert sorted(sent[0][1][0]) == keys and broker.sync_user_keys() == []


def test_group_rename_marks_members() -> None:
    group = Group.objects.create(name="vip")
    a = User.objects.create_user("ivan")
    a.groups.add(group)
    PendingSync.objects.all().delete()
    group.name = "vip-old"
    group.save()
    assert set(rows()) == {str(a.pk)}


def test_request_sync_accepts_instance_id_and_deleted_id(broker) -> None:
    user = User.objects.create_user("judy")
    PendingSync.objects.all().delete()
    assert django_hooks.request_sync(user, "vip purchase") == str(user.pk)
    assert rows()[str(user.pk)].reason == "vip purchase"
    assert django_hooks.request_sync(987654, "gone") == "987654"
    assert "987654" in rows()
    with pytest.raises(ValueError):
        django_hooks.request_sync(User(username="unsaved"), "x")


def test_request_sync_in_rolled_back_transaction_enqueues_nothing(broker) -> None:
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            django_hooks.request_sync(4242, "vip purchase")
            raise RuntimeError
    assert rows() == {} and broker.messages() == []


def test_task_arguments_carry_no_secrets(broker) -> None:
    User.objects.create_user("kate", "kate@example.org", "hunter2-secret")
    for task, args, kwargs in broker.messages():
        assert "hunter2" not in repr((task, args, kwargs))
        assert args == [args[0]] and kwargs == {}


def test_extra_trigger_model_marks_its_user() -> None:
    """RCSYNC['TASKS']['TRIGGER_MODELS'] entries: a related model's save means "sync its user"."""
    from django_hooks.models import AccountLink
    from django_hooks.signals import _extra_model_receiver

    user = User.objects.create_user("pat")
    PendingSync.objects.all().delete()
    receiver = _extra_model_receiver("user", "profiles.Profile")
    receiver(sender=AccountLink, instance=AccountLink(user_key=str(user.pk), user=user))
    assert rows()[str(user.pk)].reason == "profiles.Profile changed"
    receiver(sender=AccountLink, instance=AccountLink(user_key="x"))  # no user: nothing to do
    assert set(rows()) == {str(user.pk)}


def test_portable_upsert_path_for_other_databases() -> None:
    """The ORM path used where INSERT … ON CONFLICT … RETURNING is not available (e.g. MySQL)."""
    from django.utils import timezone

    from django_hooks.queue.pending import _upsert_portable

    with transaction.atomic():
        assert _upsert_portable("default", "77", "created", False, timezone.now())[0] == 1
        generation, state, enqueued_at = _upsert_portable("default", "77", "saved", True, timezone.now())
    assert (generation, state) == (2, "queued") and enqueued_at is not None
    row = rows()["77"]
    assert row.reason == "saved" and row.drift
