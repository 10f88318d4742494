"""Fixtures for the django_hooks tests: real PostgreSQL (pytest-django, own database per run) and real
Redis (own key prefix per run, see settings/test.py), with helpers to read what reached the broker."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis as redis_lib
from django.conf import settings


def _prefix() -> str:
    return settings.RCSYNC["TASKS"]["REDIS_KEY_PREFIX"]


@pytest.fixture
def redis_conn() -> redis_lib.Redis:
    return redis_lib.Redis.from_url(settings.RCSYNC["TASKS"]["REDIS_URL"])


@pytest.fixture(autouse=True)
def _clean_redis_prefix(redis_conn: redis_lib.Redis) -> Any:
    """Each test starts with an empty broker queue and no locks under this run's prefix."""

    def wipe() -> None:
        keys = list(redis_conn.scan_iter(match=_prefix() + "*", count=500))
        if keys:
            redis_conn.delete(*keys)

    wipe()
    yield
    wipe()


class Broker:
    """What is waiting in a Celery queue (kombu's Redis list, under our prefix): rcsync's by default."""

    def __init__(self, conn: redis_lib.Redis) -> None:
        self.conn = conn

    def messages(self, queue: str = "rcsync") -> list[tuple[str, list[Any], dict[str, Any]]]:
        out = []
        for raw in self.conn.lrange(_prefix() + queue, 0, -1):
            message = json.loads(raw)
            args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
            out.append((message["headers"]["task"], args, kwargs))
        return out

    def sync_user_keys(self) -> list[str]:
        return [args[0] for task, args, _ in self.messages() if task == "rcsync.sync_user"]


@pytest.fixture
def broker(redis_conn: redis_lib.Redis) -> Broker:
    return Broker(redis_conn)


def _e2e_support():
    """tests/e2e/e2e_support.py, loaded by path (test dirs are not packages)."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "rcsync_e2e_support"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "e2e" / "e2e_support.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _serve():
    """The stand-in Rocket.Chat with a TOTP service account; this process's bridge client points at it."""
    import os

    with _e2e_support().serving_stand_in() as rc:
        yield rc


@pytest.fixture(scope="module")
def stand_in():
    yield from _serve()


@pytest.fixture
def fresh_stand_in():
    """A stand-in of its own (fresh state: only the GENERAL room), for tests that reshape the server."""
    yield from _serve()
