"""The Prometheus endpoint, scraped through the Django test client of the bundled site (/rcsync/metrics):
database gauges, the counters fed by the reconciler and by the bridge's call observer, and, in a
second process, multiprocess mode adding up what another process counted. No secret in any scrape."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from django_hooks.models import PendingSync
from django_hooks.queue.pending import mark_pending
from django_hooks.queue.worker import sync_pending_user
from django_hooks.runs import run_reconcile

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
ROOT = Path(__file__).resolve().parents[2]


def scrape(client) -> tuple[str, dict[tuple[str, tuple], float]]:
    response = client.get("/rcsync/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return text, samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_pending_gauges_come_from_the_database(client) -> None:
    text, samples = scrape(client)
    assert value(samples, "rcsync_pending_syncs", state="queued") == 0
    assert value(samples, "rcsync_pending_oldest_age_seconds") == 0
    assert value(samples, "rcsync_held_destructive_operations") == 0
    assert value(samples, "rcsync_metrics_database_up") == 1
    mark_pending("4242", "test")
    mark_pending("4343", "test")
    PendingSync.objects.filter(user_key="4242").update(first_requested_at=timezone.now() - timedelta(seconds=90))
    PendingSync.objects.filter(user_key="4343").update(state=PendingSync.State.RETRYING)
    _, samples = scrape(client)
    assert value(samples, "rcsync_pending_syncs", state="queued") == 1
    assert value(samples, "rcsync_pending_syncs", state="retrying") == 1
    assert 90 <= value(samples, "rcsync_pending_oldest_age_seconds") < 200
    assert "# HELP rcsync_held_destructive_operations" in text


def test_syncs_operations_and_rocketchat_calls_are_counted(client, stand_in) -> None:
    _, before = scrape(client)
    user = User.objects.create_user("mona", "mona@example.org", "pw", role="moderator")
    stand_in.server.faults.fail_next("users.info", 1, 429)
    assert sync_pending_user(str(user.pk)).status == "synced"
    text, after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("rcsync_sync_runs_total", kind="change", status="succeeded") == 1
    assert grew("rcsync_operations_total", kind="create_user", outcome="applied") == 1
    assert grew("rcsync_operations_total", kind="invite", outcome="applied") >= 1
    assert grew("rcsync_rocketchat_requests_total", route="users.create", method="POST", status="200") == 1
    assert grew("rcsync_rocketchat_requests_total", route="users.info", method="GET", status="429") == 1
    assert grew("rcsync_rocketchat_request_duration_seconds_count", route="users.create") == 1
    assert grew("rcsync_rocketchat_request_duration_seconds_bucket", route="users.create", le="+Inf") == 1
    assert value(after, "rcsync_accounts", status="synced") >= 1
    for secret in stand_in.secrets:
        assert secret not in text


def test_last_reconcile_time_and_duration(client, stand_in) -> None:
    _, samples = scrape(client)
    assert ("rcsync_last_reconcile_timestamp_seconds", (("kind", "manual"),)) not in samples
    run = run_reconcile(kind="manual", triggered_by="test")
    _, samples = scrape(client)
    assert value(samples, "rcsync_last_reconcile_timestamp_seconds", kind="manual") == pytest.approx(
        run.finished_at.timestamp())
    assert value(samples, "rcsync_last_reconcile_duration_seconds", kind="manual") == pytest.approx(run.duration_seconds)
    assert value(samples, "rcsync_last_reconcile_succeeded", kind="manual") == (1 if run.status == "succeeded" else 0)
    assert run.status == "succeeded"


_COUNT_IN_ANOTHER_PROCESS = """
import django; django.setup()
from django_hooks.rc import client
client().me()
client().close()
"""

_SCRAPE = """
import django; django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
response = Client().get("/rcsync/metrics")
assert response.status_code == 200, response.status_code
print(response.content.decode())
"""


def test_multiprocess_mode_adds_up_what_other_processes_counted(stand_in, tmp_path, django_db_setup) -> None:
    from django.db import connection

    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="settings.test",
               RCSYNC_DB_NAME=connection.settings_dict["NAME"], PYTHONPATH=str(ROOT))
    env.update(stand_in.env())
    for _ in range(2):  # two worker-like processes, each asking `me` once (the second reuses the shared token)
        done = subprocess.run([sys.executable, "-c", _COUNT_IN_ANOTHER_PROCESS], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    done = subprocess.run([sys.executable, "-c", _SCRAPE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    calls = re.findall(r'^rcsync_rocketchat_requests_total\{(?=[^}]*route="me")(?=[^}]*status="200")[^}]*\} (\S+)$',
                        done.stdout, re.M)
    assert calls and float(calls[0]) == 2.0, done.stdout
    assert "rcsync_pending_syncs" in done.stdout  # the database gauges are there too
    for secret in stand_in.secrets:
        assert secret not in done.stdout
