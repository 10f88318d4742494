"""Rocket.Chat comes back empty while the worker and the drift listener run: the listener's catch-up
reconcile restores rooms and accounts, the listener follows the re-created rooms (new ids), and a
hand-made change in one of them is drift again."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from e2e_support import PYTHON, Proc, settled, wait_log, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync_tasks"))
from standin_features import empty_restart  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
DEADLINE = 40


@pytest.fixture
def listener(worker_env, logdir):
    proc = Proc([PYTHON, "manage.py", "rcsync", "listen"], worker_env, "listen-recovery", logdir)
    yield wait_log(proc, "rcsync listen: ready", timeout=40)
    proc.stop()


def test_after_an_empty_restart_the_catch_up_restores_and_the_listener_follows_new_rooms(stand_in, worker,
                                                                                       listener) -> None:
    logs = lambda: f"listener: {listener.log()[-2000:]}\nworker: {worker.log()[-3000:]}"  # noqa: E731
    vera = User.objects.create_user("vera", "vera@example.org", "pw")
    vera.groups.add(Group.objects.get_or_create(name="vip")[0])
    # One at a time: two first syncs at once would both create the missing rooms (one of them loses).
    wait_until(lambda: "vip" in stand_in.rooms_of("vera"), DEADLINE, lambda: f"vera synced; {logs()}")
    User.objects.create_user("dora", "dora@example.org", "pw")
    wait_until(lambda: stand_in.user("dora") is not None, DEADLINE, lambda: f"dora synced; {logs()}")
    wait_until(settled, DEADLINE, "settled")
    old_vip = stand_in.room_id("vip")

    empty_restart(stand_in.server)
    assert stand_in.user("vera") is None and stand_in.room_id("vip") is None

    # The feed reconnects and asks for a catch-up reconcile, which restores everything.
    wait_until(lambda: stand_in.room_id("vip") not in (None, old_vip) and "vip" in stand_in.rooms_of("vera")
               and stand_in.user("dora") is not None, DEADLINE, lambda: f"restored; {logs()}")
    wait_until(lambda: "managed room vip appeared; watching it" in listener.log(), DEADLINE,
               lambda: f"the listener watches the new vip; {logs()}")

    # Drift in the re-created room is seen and repaired like before the restart.
    state = stand_in.server.state
    state.create_user("hugo-admin", password="pw-hugo", roles=["admin", "user"])
    vip = stand_in.room_id("vip")
    state.add_member(vip, "hugo-admin")
    reply = httpx.post(f"{stand_in.server.url}/api/v1/groups.invite", headers=stand_in.server.headers_for("hugo-admin"),
                       json={"roomId": vip, "userId": stand_in.user("dora")["_id"]})
    assert reply.status_code == 200, reply.text
    wait_until(lambda: "vip" not in stand_in.rooms_of("dora"), DEADLINE, lambda: f"dora removed from vip; {logs()}")
