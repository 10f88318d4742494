"""`manage.py rcsync listen`: a member added to `vip` by hand in Rocket.Chat, or a managed role granted
by hand, is put back within seconds and the repair is recorded as drift."""

from __future__ import annotations

import sys

import httpx
import pytest
from django.contrib.auth import get_user_model

from django_hooks.models import SyncOperation, SyncRun
from e2e_support import PYTHON, Proc, settled, wait_log, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
DEADLINE = 20
#: One catch-up per second at most, so the reconnect's own catch-up is sent, not owed behind the start's.
WORKER_ENV = {"RCSYNC_DRIFT_CATCH_UP_WINDOW": "1"}


@pytest.fixture
def listener(worker_env, logdir):
    proc = Proc([PYTHON, "manage.py", "rcsync", "listen"], worker_env, "listen", logdir)
    yield wait_log(proc, "rcsync listen: ready", timeout=40)
    proc.stop()


def test_hand_made_changes_are_repaired_as_drift(stand_in, worker, request) -> None:
    user = User.objects.create_user("dora", "dora@example.org", "pw")
    plain = (True, ("user",), ("general",), False)
    wait_until(lambda: stand_in.summary("dora") == plain, DEADLINE, "dora synced")
    wait_until(settled, DEADLINE, "settled")
    # The listener starts while Rocket.Chat fails its first reads (more 503s than the bridge retries).
    stand_in.server.faults.fail_next("rooms.info", 6, 503)
    listener = request.getfixturevalue("listener")  # after the first sync created the managed rooms
    assert "change feed stopped" in listener.log()
    state = stand_in.server.state
    human = state.create_user("hugo-admin", password="pw-hugo", roles=["admin", "user"])
    vip = stand_in.room_id("vip")
    state.add_member(vip, "hugo-admin")
    headers = stand_in.server.headers_for("hugo-admin")
    dora_id = stand_in.user("dora")["_id"]

    reply = httpx.post(f"{stand_in.server.url}/api/v1/groups.invite", headers=headers, json={"roomId": vip, "userId": dora_id})
    assert reply.status_code == 200, reply.text
    assert "vip" in stand_in.rooms_of("dora")
    logs = lambda: f"listener: {listener.log()[-1500:]}\nworker: {worker.log()[-3000:]}"  # noqa: E731
    wait_until(lambda: stand_in.summary("dora") == plain, DEADLINE, lambda: f"dora removed from vip again; {logs()}")
    # The listener came back after failing, so it also asked for a catch-up (a full drift run): whichever of the
    # two reaches dora first kicks her, and the other finds her in sync and keeps no run row. What holds either way
    # is that the kick is recorded in a finished drift run.
    wait_until(lambda: SyncOperation.objects.filter(run__kind="drift", run__status="succeeded", user_key=str(user.pk),
                                                    operation="kick", target="vip", outcome="applied").exists(),
               DEADLINE, lambda: f"the kick in a drift run; {logs()}")
    catch_ups = SyncRun.objects.filter(kind="drift", scope="all", triggered_by="listen:reconnected")
    wait_until(lambda: catch_ups.filter(status="succeeded").exists(), DEADLINE,
               lambda: f"the catch-up of the listener's restart; {logs()}")

    reply = httpx.post(f"{stand_in.server.url}/api/v1/roles.addUserToRole", headers=headers, json={"roleId": "admin", "username": "dora"})
    assert reply.status_code == 200, reply.text
    wait_until(lambda: stand_in.summary("dora") == plain, DEADLINE, lambda: f"admin role taken away again; {logs()}")
    wait_until(lambda: SyncOperation.objects.filter(run__kind="drift", operation="remove_role", target="admin").exists(),
               DEADLINE, "the role repair in the audit trail")
    assert human["_id"] != dora_id

    # Dropped websockets: the client reconnects by itself, and since events may have been missed in
    # between, the listener asks for a catch-up (full, drift) reconcile.
    before = max(catch_ups.values_list("pk", flat=True))
    stand_in.server.faults.drop_websockets()
    wait_until(lambda: catch_ups.filter(pk__gt=before, status="succeeded").exists(), DEADLINE,
               lambda: f"a catch-up reconcile after the reconnect; {logs()}")

    for secret in stand_in.secrets:
        assert secret not in listener.log() and secret not in worker.log()
