"""Prometheus metrics: ``GET /metrics``, in the text exposition format (docs/operations.md).

Two kinds:

- **Counted by the workers** as they answer: requests by method, route (the Flask URL rule,
  e.g. ``/api/v1/collaborations/<uuid:collaboration_id>``, never the raw path, so the number
  of series stays bounded) and status, with a latency histogram; write conflicts (409 and 412
  answers to writes); writes run again after a refused save (``CollaborationRecords``); and
  idempotent replays (answers carrying ``Idempotent-Replayed``).
- **Read from the store at scrape time**, by ``StoreCollector`` in the process answering the
  scrape: the log's head position and size, the hash chain's head, the Merkle tree's size,
  each projection's position and lag (``projections/lag.py``, as ``GET /readyz`` reads it),
  and the last signed checkpoint's size and age. Every worker reads the same store, so any
  one of them answers these alike; nothing is pushed per worker.

Under gunicorn each worker is its own process, so counters are kept in prometheus_client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a directory where each worker writes its
counts to its own files, and the scrape sums them, whichever worker answers it (gunicorn.conf.py
makes the directory, and sets the variable before any worker imports prometheus_client). Without
the variable (the Flask test client, ``flask run``) the counts are this process's own, in
prometheus_client's default registry.

Access: like ``/healthz`` and ``/readyz``, open without a token by default (the metrics name
routes, counts, positions and ages, never a record, a force's data or a person). With
``METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <METRICS_TOKEN>``.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from projections.lag import projection_lag
from service.audit.trail import AuditTrail
from service.audit.tree import LogTree
from service.write_retries import RETRIES  # noqa: F401  (counted by the application, served here)

log = logging.getLogger(__name__)

PATH = "/metrics"
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
TOKEN_SETTING = "METRICS_TOKEN"  # noqa: S105  (the name of a setting, not a secret)
REALM = "collaboration-records-metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONFLICT_STATUSES = (409, 412)
UNMATCHED = "(unmatched)"  # the route of a request no URL rule matched (a 404 or 405)
# Seconds; past 30 gunicorn's timeout kills the worker, so nothing is slower.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "records_http_requests",
    "HTTP requests answered, by method, route (the URL rule, not the path) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "records_http_request_duration_seconds",
    "Seconds from a request's start to its answer's headers, by method and route.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
CONFLICTS = Counter(
    "records_write_conflicts",
    "Writes answered 409 (the record kept changing, or the change conflicts with its state) or 412 "
    "(a stale If-Match), by route and status.",
    ["route", "status"],
)
REPLAYS = Counter(
    "records_idempotent_replays",
    "Writes answered from an earlier request with the same Idempotency-Key (nothing recorded), by route.",
    ["route"],
)


# ------------------------------------------------------------------------ the requests
def install(app: Flask) -> None:
    """Counts every request of ``app`` and serves ``GET /metrics``."""
    app.before_request(_start)
    app.after_request(_count)
    app.add_url_rule(PATH, endpoint="metrics", view_func=metrics, methods=["GET"])


def _start() -> None:
    g.metrics_started = time.perf_counter()


def route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def _count(response: Response) -> Response:
    from service.web import IDEMPOTENT_REPLAYED  # here: service.web imports the application, which imports this

    route = route_label()
    method = request.method if request.method in METHODS else "other"
    status = response.status_code
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    started = g.get("metrics_started")
    if started is not None:
        LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
    if status in CONFLICT_STATUSES and request.method not in SAFE_METHODS:
        CONFLICTS.labels(route=route, status=str(status)).inc()
    if response.headers.get(IDEMPOTENT_REPLAYED) == "true":
        REPLAYS.labels(route=route).inc()
    return response


# -------------------------------------------------------------------------- the scrape
def metrics() -> Response:
    """The metrics, in the text format the scraper asks for (Prometheus' or OpenMetrics)."""
    _check_access()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(Scrape(current_app._get_current_object()))  # type: ignore[attr-defined]
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def _check_access() -> None:
    """Open unless ``METRICS_TOKEN`` is set; then its bearer token, or 401 (failures throttled
    per address like API tokens, 429)."""
    from service import web  # here: service.web imports the application, which imports this

    expected = str(current_app.config.get(TOKEN_SETTING) or os.environ.get(TOKEN_SETTING) or "")
    if not expected:
        return
    web.refuse_if_throttled()
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode()):
        return
    if header:
        web.failed_sign_ins().failed(request.remote_addr or "")
    web.fail(
        401,
        "the metrics need Authorization: Bearer <the METRICS_TOKEN of this service>",
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'},
    )


def counted() -> Any:
    """Where the workers' counts are read from: every worker's files in multiprocess mode, else
    this process's default registry."""
    if os.environ.get(MULTIPROC_DIR):
        return MultiProcessCollector(None)
    return REGISTRY


class Scrape:
    """What one scrape answers: the counts, then what the store says now."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        yield from counted().collect()
        yield from StoreCollector(self.app).collect()


class StoreCollector:
    """Gauges read from the record store of ``app`` when scraped."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterable[Metric]:
        extensions = self.app.extensions
        records = extensions["records"]
        up = GaugeMetricFamily("records_store_up", "1 when the record store answered this scrape's reads, else 0.")
        try:
            lag = projection_lag(records, extensions)
            trail = AuditTrail(records.side_tables)
            chain_size, _, chain_position = trail.head()
            tree_size = LogTree(records.side_tables).size()
            checkpoint = trail.latest_checkpoint()
        except Exception:
            log.exception("metrics: the record store did not answer; only the counts are answered")
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        found: list[Metric] = [
            up,
            GaugeMetricFamily(
                "records_log_head_position",
                "The position of the log's last event (what projections are compared with; positions have gaps).",
                value=lag.head,
            ),
            GaugeMetricFamily(
                "records_log_size_events",
                "Events in the log: the hash chain's length (numbered without gaps).",
                value=chain_size,
            ),
            GaugeMetricFamily(
                "records_chain_head_position",
                "The log position of the hash chain's last event (equal to the log's head when every event is "
                "chained).",
                value=chain_position,
            ),
            GaugeMetricFamily("records_merkle_tree_size", "Leaves of the Merkle tree over the chain.", value=tree_size),
        ]
        positions = GaugeMetricFamily(
            "records_projection_position", "The last log position each projection has processed.", labels=["projection"]
        )
        lags = GaugeMetricFamily(
            "records_projection_lag_events",
            "Log positions each projection has still to read: the log's head minus its position (as GET /readyz).",
            labels=["projection"],
        )
        for name, behind in lag.lags.items():
            positions.add_metric([name], lag.positions[name])
            lags.add_metric([name], behind)
        found += [positions, lags]
        if checkpoint is not None:
            signed_at = datetime.fromisoformat(checkpoint.created_at).timestamp()
            found += [
                GaugeMetricFamily(
                    "records_checkpoint_size", "Events the last signed checkpoint covers.", value=checkpoint.size
                ),
                GaugeMetricFamily(
                    "records_checkpoint_age_seconds",
                    "Seconds since the last signed checkpoint was made (absent before the first).",
                    value=max(0.0, time.time() - signed_at),
                ),
            ]
        return found
