"""Metrics from the processes that do the work: a real Celery worker and `rcsync listen`, both with
PROMETHEUS_MULTIPROC_DIR, counted in their own processes and added up by the web's endpoint (scraped
in a separate process with the same directory, as a gunicorn worker would)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from e2e_support import PYTHON, ROOT, Proc, celery_worker, settled, wait_log, wait_ready, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()

_SCRAPE = """
import django; django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
response = Client().get("/rcsync/metrics")
assert response.status_code == 200, response.status_code
print(response.content.decode())
"""


@pytest.fixture(scope="module")
def metrics_env(worker_env, tmp_path_factory) -> dict[str, str]:
    return dict(worker_env, PROMETHEUS_MULTIPROC_DIR=str(tmp_path_factory.mktemp("prometheus-multiproc")))


def scrape(env: dict[str, str]) -> str:
    done = subprocess.run([PYTHON, "-c", _SCRAPE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def total(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    found = 0.0
    for match in re.finditer(rf"^{name}(?:\{{([^}}]*)\}})? (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            found += float(match.group(2))
    return found


def test_worker_and_listener_counters_reach_the_endpoint(stand_in, metrics_env, logdir: Path) -> None:
    worker = wait_ready(celery_worker(metrics_env, "metrics-w", logdir, concurrency=2))
    try:
        User.objects.create_user("mira", "mira@example.org", "pw", role="moderator")
        wait_until(lambda: stand_in.summary("mira") == (True, ("user",), ("general", "moderators"), True) and settled(),
                   30, lambda: f"mira synced by the worker:\n{worker.log()[-3000:]}")
        text = scrape(metrics_env)
        assert total(text, "rcsync_sync_runs_total", kind="change", status="succeeded") >= 1
        assert total(text, "rcsync_operations_total", kind="create_user", outcome="applied") >= 1
        assert total(text, "rcsync_rocketchat_requests_total", route="users.create", status="200") >= 1
        assert total(text, "rcsync_rocketchat_request_duration_seconds_count", route="users.create") >= 1
        assert total(text, "rcsync_pending_syncs") == 0
    finally:
        worker.stop()
    before = total(scrape(metrics_env), "rcsync_rocketchat_requests_total")
    listener = Proc([PYTHON, "manage.py", "rcsync", "listen"], metrics_env, "metrics-listen", logdir)
    try:
        wait_log(listener, "rcsync listen: ready", timeout=40)
        text = scrape(metrics_env)
        assert total(text, "rcsync_rocketchat_requests_total") > before  # the listener's own reads
        assert "rcsync_drift_events_total" in text and "rcsync_feed_restarts_total" in text
    finally:
        listener.stop()
    text = scrape(metrics_env)
    for secret in stand_in.secrets:
        assert secret not in text
