"""The nightly reconcile exists as an editable django_celery_beat task after `migrate`, and stays edited."""

import json
from importlib import import_module

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from django_hooks.schedule import NIGHTLY_TASK_NAME, ensure_nightly_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("migrated")]


@pytest.fixture
def migrated() -> None:
    """The data migration's state. A transactional test flushes every table, migration data included;
    run serially, pytest-django runs those after this module, but a pytest-xdist worker of `make test`
    may have run one of another module first, so the migration's own step is applied again if its row
    is gone (what `migrate` runs; tests/packaging checks it after a real `migrate` of a new site)."""
    from django.apps import apps

    if not PeriodicTask.objects.filter(name=NIGHTLY_TASK_NAME).exists():
        import_module("django_hooks.migrations.0002_nightly_schedule").create_nightly(apps, None)


def test_migration_created_the_nightly_task_at_three_site_time(settings) -> None:
    task = PeriodicTask.objects.get(name=NIGHTLY_TASK_NAME)
    assert task.task == "rcsync.reconcile_all" and task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("3", "0")
    assert str(task.crontab.timezone) == settings.TIME_ZONE
    assert json.loads(task.kwargs)["kind"] == "nightly"
    assert "password" not in task.kwargs and "secret" not in task.kwargs


def test_bootstrap_keeps_an_admins_edit() -> None:
    task = PeriodicTask.objects.get(name=NIGHTLY_TASK_NAME)
    task.enabled = False
    task.crontab = CrontabSchedule.objects.create(minute="30", hour="4", timezone="UTC")
    task.save()
    again, created = ensure_nightly_task(PeriodicTask, CrontabSchedule, hour=3, minute=0, timezone="UTC")
    assert not created and again.pk == task.pk
    again.refresh_from_db()
    assert not again.enabled and again.crontab.hour == "4"
