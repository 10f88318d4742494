"""`rcsync listen` against a Rocket.Chat that refuses connections (the stand-in's `outage(..., "refuse")`):
it retries with back-off, queues no catch-up reconcile while Rocket.Chat is unreachable, and queues
at most one per DRIFT_CATCH_UP_WINDOW once it is connected and logged in again (issue 14 M4).

Every `send_task` is counted at the edge (and still published to the real Redis broker, which is
read back), together with whether the stand-in was refusing connections at that moment.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time
from typing import Any, Callable

import pytest
from django.conf import settings
from django.test import override_settings

from django_hooks.catch_up import CatchUpGate

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(condition: Callable[[], bool], timeout: float, what: Callable[[], str] | str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


class Listener:
    """`listen_forever` on an event loop of its own thread, stopped through its `stop` event."""

    def __init__(self) -> None:
        self.ready = 0
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="drift-listener", daemon=True)

    def _main(self) -> None:
        from django.db import connections

        from django_hooks.drift import listen_forever

        async def run() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            await listen_forever(stop=self._stop, on_ready=self._on_ready)

        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001 - reported by stop()
            self.error = exc
        finally:
            connections.close_all()

    def _on_ready(self, ctx: Any) -> None:
        self.ready += 1

    def start(self) -> "Listener":
        self._thread.start()
        return self

    def stop(self) -> None:
        wait_for(lambda: self._stop is not None, 5, "the listener loop")
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
        assert not self._thread.is_alive(), "listener did not stop"
        assert self.error is None, self.error


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch, fresh_stand_in: Any) -> list[tuple[str, dict[str, Any], bool]]:
    """Every task the listener publishes: (name, kwargs, was Rocket.Chat refusing connections then)."""
    from sync_tasks.celery import app

    real = app.send_task
    seen: list[tuple[str, dict[str, Any], bool]] = []

    def recording(name: str, *args: Any, **kwargs: Any) -> Any:
        seen.append((name, dict(kwargs.get("kwargs") or {}), fresh_stand_in.server.faults.outage_active()))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(app, "send_task", recording)
    return seen


@pytest.fixture
def fast_listener_settings(monkeypatch: pytest.MonkeyPatch, fresh_stand_in: Any) -> Any:
    rcsync = copy.deepcopy(settings.RCSYNC)
    rcsync["TASKS"].update(DRIFT_RECONNECT_BASE=0.05, DRIFT_RECONNECT_MAX=0.25, DRIFT_CATCH_UP_WINDOW=600)
    monkeypatch.setenv("RCSYNC_RC_MAX_RETRIES", "0")  # a refused connection fails the start at once
    monkeypatch.setenv("RCSYNC_RC_CONNECT_TIMEOUT", "1")
    with override_settings(RCSYNC=rcsync):
        yield


def test_no_catch_up_while_unreachable_and_one_after_login(fresh_stand_in, sends, broker, fast_listener_settings,
                                                          caplog) -> None:
    caplog.set_level(logging.INFO)
    faults = fresh_stand_in.server.faults
    faults.outage(3.0, "refuse")  # Rocket.Chat unreachable when the listener starts
    listener = Listener().start()
    try:
        wait_for(lambda: listener.ready >= 1, 30, lambda: f"the listener connected; sends={sends}")
        restarts = sum("change feed stopped" in r.getMessage() for r in caplog.records)
        assert restarts >= 4, f"the start was retried while refused ({restarts} restarts)"
        wait_for(lambda: len(sends) >= 1, 10, "the catch-up after the first successful login")
        assert [(name, kw.get("kind"), refused) for name, kw, refused in sends] == [("rcsync.reconcile_all", "drift", False)]

        # Steady state, then the connection flaps three times: the feed reconnects by itself and each
        # reconnect wants a catch-up, but one was sent in this window already.
        for n in range(1, 4):
            faults.outage(0.5, "refuse")
            wait_for(lambda: sum("realtime: reconnected" in r.getMessage() for r in caplog.records) >= n, 30,
                     f"reconnect {n}")
        assert all(not refused for _, _, refused in sends), sends
        assert len(sends) == 1, sends
    finally:
        listener.stop()
    assert [task for task, _, _ in broker.messages()] == ["rcsync.reconcile_all"]  # what the broker got
    assert listener.ready == 1


def test_back_off_grows_with_jitter_up_to_the_cap(fresh_stand_in, sends, fast_listener_settings, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="rcsync.drift")
    fresh_stand_in.server.faults.outage(4.0, "refuse")
    listener = Listener().start()
    try:
        wait_for(lambda: listener.ready >= 1, 30, "the listener connected")
    finally:
        listener.stop()
    delays = [float(r.getMessage().rsplit("again in ", 1)[1].split()[0])
              for r in caplog.records if "change feed stopped" in r.getMessage()]
    assert len(delays) >= 4, delays
    assert all(0 < d <= 0.25 for d in delays), delays  # capped at DRIFT_RECONNECT_MAX
    assert delays[0] <= 0.05 and max(delays) > 0.1, delays  # starts near the base and grows
    assert len({round(d, 3) for d in delays if d > 0.125}) > 1, delays  # jittered at the cap, not in step
    assert [refused for _, _, refused in sends] == [False]


def test_the_gate_allows_one_per_window_and_remembers_one_owed() -> None:
    gate = CatchUpGate(window=600)
    assert gate.request(1000.0) is True
    assert gate.request(1001.0) is False and gate.request(1200.0) is False  # owed, once
    assert gate.due(1599.0) is False
    assert gate.due(1600.0) is True and gate.due(1601.0) is False
    assert gate.request(1700.0) is False  # the owed one was sent at 1600: a new window
    assert gate.request(2200.0) is True and gate.owed is False
