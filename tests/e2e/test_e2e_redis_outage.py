"""Redis (the broker) stopped while users change, then restarted empty: nothing is lost.

Uses a private redis-server on a free port (never the machine's shared one). The site's changes are
made by a separate "web" process so that its commit hooks really meet the dead broker.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model

from django_hooks.models import PendingSync
from e2e_support import ROOT, RedisServer, make_env, celery_beat, celery_worker, settled, wait_log, wait_ready, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
User = get_user_model()
DEADLINE = 45

SITE_SCRIPT = """
import django, sys, time
django.setup()
from django.contrib.auth import get_user_model
User = get_user_model()
started = time.monotonic()
for name in sys.argv[1].split(","):
    if name.startswith("mod:"):
        user = User.objects.get(username=name[4:]); user.role = "moderator"; user.save()
    else:
        User.objects.create_user(name, name + "@example.org", "pw")
print("committed in %.1f s" % (time.monotonic() - started))
"""


@pytest.fixture
def own_redis():
    server = RedisServer().start()
    yield server
    server.close()


def site(env: dict, changes: str) -> str:
    done = subprocess.run([sys.executable, "-c", SITE_SCRIPT, changes], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_broker_down_while_users_change_then_back(test_db_name, stand_in, own_redis, logdir) -> None:
    env = make_env(
        test_db_name, stand_in, RCSYNC_REDIS_URL=own_redis.url, RCSYNC_RELAY_INTERVAL="1", RCSYNC_RELAY_STALE_AFTER="2"
    )
    worker = wait_ready(celery_worker(env, "outage-worker", logdir, concurrency=2))
    beat = wait_log(celery_beat(env, "outage-beat", logdir), "beat: Starting")
    try:
        site(env, "anna")
        wait_until(lambda: stand_in.summary("anna") == (True, ("user",), ("general",), False), DEADLINE, "anna")

        own_redis.stop()
        out = site(env, "bert,cleo,mod:anna")
        assert PendingSync.objects.filter(enqueued_at__isnull=True).count() == 3, list(PendingSync.objects.values())
        assert stand_in.user("bert") is None and stand_in.user("cleo") is None

        own_redis.start()  # empty: whatever was queued before is gone too
        wait_until(lambda: stand_in.summary("bert") == (True, ("user",), ("general",), False), DEADLINE,
                   f"bert after the broker came back (beat log: {beat.log()[-1500:]})")
        wait_until(lambda: stand_in.summary("cleo") == (True, ("user",), ("general",), False), DEADLINE, "cleo")
        wait_until(lambda: stand_in.summary("anna") == (True, ("user",), ("general", "moderators"), True), DEADLINE, "anna moderator")
        wait_until(settled, DEADLINE, "nothing pending")
        assert "committed" in out
    finally:
        beat.stop()
        worker.stop()
