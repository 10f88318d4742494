"""rcsync's messages go to its own queue whichever way they are sent (django_hooks.dispatch, RcsyncTask),
read back from the real Redis broker; the app rcsync sends with (RCSYNC["TASKS"]["CELERY_APP"])."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from django_hooks.conf import parse_hook_settings
from django_hooks.dispatch import celery_app, destination, route_task, send_task

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def test_destination_fills_in_rcsyncs_queue_unless_the_caller_chose_one() -> None:
    assert destination({}) == {"queue": "rcsync"}
    assert destination({"queue": "", "exchange": "", "routing_key": None, "countdown": 3}) == {"queue": "rcsync",
                                                                                              "countdown": 3}
    assert destination({"queue": "mine"}) == {"queue": "mine"}
    assert destination({"exchange": "x", "routing_key": "k"}) == {"exchange": "x", "routing_key": "k"}


def test_the_router_names_rcsyncs_queue_for_rcsync_tasks_only() -> None:
    assert route_task("rcsync.sync_user") == {"queue": "rcsync"}
    assert route_task("shop.send_invoice") is None


def test_a_change_is_sent_to_the_rcsync_queue_not_the_default_one(broker) -> None:
    user = User.objects.create_user("queued", "queued@example.org", "pw")
    assert broker.sync_user_keys() == [str(user.pk)]
    assert broker.messages("celery") == []


def test_the_queue_is_configurable(broker, settings) -> None:
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "QUEUE": "rcsync-site2"}}
    send_task("rcsync.relay_pending")
    assert [t for t, _, _ in broker.messages("rcsync-site2")] == ["rcsync.relay_pending"]
    assert broker.messages() == [] and broker.messages("celery") == []


def test_a_task_sent_as_beat_sends_it_lands_on_the_rcsync_queue(broker, settings) -> None:
    # Beat takes the registered task from its app (`app.tasks[name]`) and passes the periodic task's
    # empty queue ("") through apply_async. Another queue name than the bundled app's default queue,
    # so only RcsyncTask can have put it there.
    import sync_tasks.tasks  # noqa: F401  (registers the shared tasks)

    relay_pending = celery_app().tasks["rcsync.relay_pending"]
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "QUEUE": "rcsync-beat"}}
    relay_pending.apply_async(queue="", exchange="", routing_key="")
    assert [t for t, _, _ in broker.messages("rcsync-beat")] == ["rcsync.relay_pending"]
    assert broker.messages() == [] and broker.messages("celery") == []


def test_the_app_rcsync_sends_with(settings) -> None:
    from sync_tasks.celery import app as bundled

    assert celery_app() is bundled  # this test site has no Celery app of its own
    settings.RCSYNC = {**settings.RCSYNC, "TASKS": {**settings.RCSYNC["TASKS"], "CELERY_APP": "sync_tasks.celery.app"}}
    assert celery_app() is bundled


def test_bad_queue_and_app_settings_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="QUEUE"):
        parse_hook_settings({"QUEUE": "two words"})
    with pytest.raises(ImproperlyConfigured, match="CELERY_APP"):
        parse_hook_settings({"CELERY_APP": "nodots"})
    with pytest.raises(ImproperlyConfigured, match="defaults to CELERY_BROKER_URL"):
        parse_hook_settings({}, broker_url="amqp://guest:guest@127.0.0.1:5672//")
