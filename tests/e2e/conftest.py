"""End-to-end fixtures: the stand-in Rocket.Chat (in this process), real Celery worker processes on the
test database (pytest-django's, passed by name) and this run's Redis key prefix."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import redis as redis_lib
from django.conf import settings

import e2e_support as support


@pytest.fixture(scope="session")
def test_db_name(django_db_setup, django_db_blocker) -> str:
    from django.db import connection

    return connection.settings_dict["NAME"]


@pytest.fixture(scope="module")
def stand_in(broker) -> Iterator[support.StandIn]:
    # One per broker: a test run on both must not meet the accounts its other run made.
    with support.serving_stand_in() as rc:
        yield rc


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("celery-logs")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that do not choose a broker run on Redis, as the same parameter value as the [redis] run of
    those that do, so a module's workers and stand-in are shared across both (not set up twice)."""
    chosen = any(m.args and m.args[0] == "broker" for m in metafunc.definition.iter_markers("parametrize"))
    if "broker" in metafunc.fixturenames and not chosen:
        metafunc.parametrize("broker", ["redis"], indirect=True, scope="module")


@pytest.fixture(scope="module")
def broker(request) -> str:
    """The broker of this module's workers: "redis" unless a test parametrizes it (indirect), e.g.
    ``@pytest.mark.parametrize("broker", BROKERS, indirect=True, scope="module")``."""
    return request.param


@pytest.fixture(scope="module")
def broker_env(broker) -> Iterator[dict[str, str]]:
    if broker == "redis":
        yield {}
        return
    assert broker == "rabbitmq", broker
    with support.rabbitmq_broker() as env:
        support.RABBITMQ_SENDER = support.sender_app(env["RCSYNC_BROKER_URL"])
        try:
            yield env
        finally:
            support.RABBITMQ_SENDER = None


@pytest.fixture(autouse=True)
def _send_through_this_broker(broker_env, settings) -> None:
    """On RabbitMQ, this process (the site) sends with an app on it, to this run's queue."""
    if broker_env:
        settings.RCSYNC = {**settings.RCSYNC, "TASKS": {
            **settings.RCSYNC["TASKS"], "CELERY_APP": "e2e_support.RABBITMQ_SENDER", "QUEUE": broker_env["RCSYNC_QUEUE"],
        }}


#: The workers' safety window unless a module says otherwise (its WORKER_ENV): these tests change a few
#: people many times within minutes, which the window (issue 14, max(10, 10 %) destructive changes an
#: hour) would rightly hold for review; tests/e2e/test_e2e_guard.py keeps the real limit.
LIFTED_WINDOW = {"RCSYNC_SAFETY_MIN_CHANGES": "1000000"}


@pytest.fixture(scope="module")
def worker_env(request, test_db_name, stand_in, broker_env) -> dict[str, str]:
    extra = {**LIFTED_WINDOW, **getattr(request.module, "WORKER_ENV", {})}
    return support.make_env(test_db_name, stand_in, **broker_env, **extra)


@pytest.fixture(scope="module")
def worker(worker_env, logdir) -> Iterator[support.Proc]:
    proc = support.wait_ready(support.celery_worker(worker_env, "w1", logdir, concurrency=2))
    yield proc
    proc.stop()


@pytest.fixture(scope="session", autouse=True)
def _wipe_prefix_at_end() -> Iterator[None]:
    yield
    conn = redis_lib.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])
    keys = list(conn.scan_iter(match=settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"] + "*", count=500))
    if keys:
        conn.delete(*keys)
