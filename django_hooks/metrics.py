"""Prometheus metrics: what a site's own monitoring can watch, mounted in its URLs.

``path("rcsync/metrics", django_hooks.metrics.view)`` (or ``include("django_hooks.urls")``) serves:

* computed from the database at scrape time, so they are right whichever process answers:
  pending syncs by state and the oldest one's age, account links by status, the last full
  reconcile per kind (finish time, duration, success), held destructive operations
  (`django_hooks.holds`);
* counted in the process that does the work: sync runs by kind and status, operations by kind and
  outcome, Rocket.Chat requests by route, method and status (429s included) with a latency histogram
  (fed by the bridge's call observer), drift events and change-feed restarts of ``rcsync listen``.

Workers and the listener are other processes. With ``PROMETHEUS_MULTIPROC_DIR`` set (the same
directory for the web, workers and listener on one host, emptied when they start) every process
writes its counters there and this view adds them all up (prometheus_client's multiprocess mode);
without it the view shows the counters of the process that answered. docs/operations.md says why.
No label or value carries a credential: routes are REST route names, nothing from headers or bodies.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Iterable, Iterator

from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from bridge.observe import CallObserved
from django_hooks.holds import held_destructive_operations

__all__ = ["view", "observe_call", "run_finished", "operation_recorded", "drift_event", "feed_restarted",
           "DatabaseCollector", "scrape"]

log = logging.getLogger("rcsync.metrics")

# This process's own series. A registry of our own (not prometheus_client's global REGISTRY), so a site
# that exports its own metrics meets no name clash and this view shows rcsync's series only.
PROCESS = CollectorRegistry(auto_describe=True)

SYNC_RUNS = Counter("rcsync_sync_runs", "Sync runs finished, by kind (change, drift, manual, nightly) and status.",
                    ["kind", "status"], registry=PROCESS)
OPERATIONS = Counter("rcsync_operations", "Operations the sync applied or tried, by kind and outcome.",
                     ["kind", "outcome"], registry=PROCESS)
RC_REQUESTS = Counter("rcsync_rocketchat_requests", "HTTP requests to Rocket.Chat by route, method and status "
                      "('error': no answer).", ["route", "method", "status"], registry=PROCESS)
RC_LATENCY = Histogram("rcsync_rocketchat_request_duration_seconds", "Latency of Rocket.Chat HTTP requests by route.",
                       ["route"], registry=PROCESS,
                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
DRIFT_EVENTS = Counter("rcsync_drift_events", "Rocket.Chat-side changes the listener marked for repair.",
                       registry=PROCESS)
FEED_RESTARTS = Counter("rcsync_feed_restarts", "Times the listener's change feed stopped and was started again.",
                        registry=PROCESS)


# --- feeding the counters (called from the bridge observer, the reconciler and the listener) -----------

def observe_call(event: CallObserved) -> None:
    """The bridge's call observer (`RocketChat(config, observer=observe_call)`)."""
    status = str(event.status) if event.status is not None else "error"
    RC_REQUESTS.labels(event.route, event.method, status).inc()
    RC_LATENCY.labels(event.route).observe(event.seconds)


def run_finished(kind: str, status: str) -> None:
    SYNC_RUNS.labels(kind, status).inc()


def operation_recorded(kind: str, outcome: str) -> None:
    OPERATIONS.labels(kind, outcome).inc()


def drift_event() -> None:
    DRIFT_EVENTS.inc()


def feed_restarted() -> None:
    FEED_RESTARTS.inc()


# --- computed at scrape time ---------------------------------------------------------------------------

RECONCILE_KINDS = ("nightly", "manual", "drift")


class DatabaseCollector:
    """Gauges read from the database on every scrape (pending rows, links, last reconciles, holds)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("rcsync_metrics_database_up", "1 if the database answered this scrape.")
        try:
            families = list(self._families())
        except DatabaseError as exc:
            log.warning("metrics: database unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterable[Metric]:
        from django_hooks.models import AccountLink, PendingSync, SyncRun  # in-function: apps load first

        now = timezone.now()
        pending = GaugeMetricFamily("rcsync_pending_syncs", "Committed changes not yet applied, by state.",
                                    labels=["state"])
        by_state = dict(PendingSync.objects.values_list("state").annotate(n=Count("id")).order_by())
        for state, _label in PendingSync.State.choices:
            pending.add_metric([state], by_state.get(state, 0))
        yield pending
        oldest = PendingSync.objects.aggregate(oldest=Min("first_requested_at"))["oldest"]
        yield GaugeMetricFamily("rcsync_pending_oldest_age_seconds",
                                "Age of the oldest pending sync (0 when none is pending).",
                                value=(now - oldest).total_seconds() if oldest else 0.0)
        links = GaugeMetricFamily("rcsync_accounts", "Account links by status.", labels=["status"])
        by_status = dict(AccountLink.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status, _label in AccountLink.Status.choices:
            links.add_metric([status], by_status.get(status, 0))
        yield links
        yield GaugeMetricFamily("rcsync_held_destructive_operations",
                                "Destructive operations held back by the safety guard until released.",
                                value=held_destructive_operations())
        finished = GaugeMetricFamily("rcsync_last_reconcile_timestamp_seconds",
                                     "When the last full reconcile of this kind finished (Unix time).", labels=["kind"])
        took = GaugeMetricFamily("rcsync_last_reconcile_duration_seconds",
                                 "How long the last full reconcile of this kind took.", labels=["kind"])
        ok = GaugeMetricFamily("rcsync_last_reconcile_succeeded",
                               "1 if the last full reconcile of this kind succeeded, else 0.", labels=["kind"])
        for kind in RECONCILE_KINDS:
            run = (SyncRun.objects.filter(kind=kind, scope="all", dry_run=False, finished_at__isnull=False)
                   .order_by("-started_at").only("started_at", "finished_at", "status").first())
            if run is None:
                continue
            finished.add_metric([kind], run.finished_at.timestamp())
            took.add_metric([kind], run.duration_seconds or 0.0)
            ok.add_metric([kind], 1 if run.status == SyncRun.Status.SUCCEEDED else 0)
        yield from (finished, took, ok)


class _Scrape:
    """What one scrape shows: the counters (this process's, or every process's in multiprocess mode)
    and the database gauges."""

    def __init__(self, sources: list[Any]) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def scrape() -> bytes:
    """The exposition text of one scrape."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        counters = CollectorRegistry()
        multiprocess.MultiProcessCollector(counters)
    else:
        counters = PROCESS
    return generate_latest(_Scrape([counters, DatabaseCollector()]))  # type: ignore[arg-type]


def view(request: HttpRequest) -> HttpResponse:
    """The Prometheus endpoint. Counts only, no names or secrets; restrict it like any internal page."""
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
