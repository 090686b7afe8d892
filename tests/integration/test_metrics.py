"""GET /metrics through the Flask test client (one process: prometheus_client's default
registry). The counters are the process's, shared by every app a test run builds, so each test
compares a scrape after its requests with one before them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from service import application
from service.audit.checkpoints import KEY_FILE_VARIABLE, KEY_VARIABLE, generate_key_pem
from service.audit.trail import AuditTrail
from tests.integration import http_support
from tests.integration.http_support import ALLIANCE, WHEN, Http, assert_problem
from tests.integration.test_http_concurrency import losing_saves

# Fixtures shared by the HTTP tests.
collaboration = http_support.collaboration
http = http_support.http
http_any = http_support.http_any  # on SQLite and PostgreSQL

BASE = "/api/v1/collaborations"
ONE = "/api/v1/collaborations/<uuid:collaboration_id>"
REVIEWS = "/api/v1/collaborations/<uuid:collaboration_id>/reviews"
REVIEW = {"outcome": "Continue as agreed", **WHEN}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(http: Http, **headers: str) -> Samples:
    response = http.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# ---------------------------------------------------------------------------- requests
def test_requests_are_counted_by_route_and_status_with_a_latency_histogram(
    http: Http, collaboration: dict[str, Any]
) -> None:
    before = scrape(http)
    for _ in range(2):
        assert http.get(BASE).status_code == 200
    assert http.get(f"{BASE}/{collaboration['id']}").status_code == 200
    assert http.get(f"{BASE}/{uuid.uuid4()}").status_code == 404
    assert http.get("/api/v1/nowhere").status_code == 404
    after = scrape(http)

    assert grew(before, after, "records_http_requests_total", method="GET", route=BASE, status="200") == 2
    # Two different paths, one route: the id is not a label.
    assert grew(before, after, "records_http_requests_total", method="GET", route=ONE, status="200") == 1
    assert grew(before, after, "records_http_requests_total", method="GET", route=ONE, status="404") == 1
    assert grew(before, after, "records_http_requests_total", method="GET", route="(unmatched)", status="404") == 1
    assert not [labels for _, labels in after if any(collaboration["id"] in v for _, v in labels)]

    histogram = "records_http_request_duration_seconds"
    assert grew(before, after, f"{histogram}_count", method="GET", route=BASE) == 2
    assert grew(before, after, f"{histogram}_bucket", method="GET", route=BASE, le="+Inf") == 2
    assert grew(before, after, f"{histogram}_sum", method="GET", route=BASE) > 0
    buckets = sorted(
        (float(dict(labels)["le"]), count)
        for (name, labels), count in after.items()
        if name == f"{histogram}_bucket" and dict(labels).get("route") == BASE and dict(labels)["method"] == "GET"
    )
    assert len(buckets) >= 10 and [count for _, count in buckets] == sorted(count for _, count in buckets)


def test_a_stale_if_match_is_counted_as_a_write_conflict(http: Http, collaboration: dict[str, Any]) -> None:
    before = scrape(http)
    response = http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW, **{"If-Match": '"7"'})
    assert_problem(response, 412, "version-mismatch")
    assert http.get(f"{BASE}/{collaboration['id']}", **{"If-Match": '"7"'}).status_code == 200  # a read: no conflict
    after = scrape(http)

    assert grew(before, after, "records_write_conflicts_total", route=REVIEWS, status="412") == 1
    assert grew(before, after, "records_write_conflicts_total", route=REVIEWS, status="409") == 0
    assert grew(before, after, "records_http_requests_total", method="POST", route=REVIEWS, status="412") == 1


def test_a_write_that_keeps_losing_the_race_counts_its_retries_and_its_409(
    http: Http, collaboration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = scrape(http)
    attempts = losing_saves(http, monkeypatch, losses=None)
    assert_problem(http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW), 409, "concurrent-update")
    monkeypatch.undo()
    after = scrape(http)

    assert len(attempts) == application.MAX_ATTEMPTS
    assert grew(before, after, "records_write_retries_total", reason="version-taken") == application.MAX_ATTEMPTS
    assert grew(before, after, "records_write_conflicts_total", route=REVIEWS, status="409") == 1


def test_a_write_retried_once_counts_one_retry_and_no_conflict(
    http: Http, collaboration: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = scrape(http)
    losing_saves(http, monkeypatch, losses=1)
    assert http.post(f"{BASE}/{collaboration['id']}/reviews", REVIEW).status_code == 201
    monkeypatch.undo()
    after = scrape(http)

    assert grew(before, after, "records_write_retries_total", reason="version-taken") == 1
    assert grew(before, after, "records_write_conflicts_total", route=REVIEWS, status="409") == 0


def test_an_idempotent_replay_is_counted_once_per_replay(http: Http) -> None:
    before = scrape(http)
    first = http.post(BASE, ALLIANCE, **{"Idempotency-Key": "metrics-1"})
    again = http.post(BASE, ALLIANCE, **{"Idempotency-Key": "metrics-1"})
    middle = scrape(http)
    http.post(BASE, ALLIANCE, **{"Idempotency-Key": "metrics-1"})
    after = scrape(http)

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first.headers and again.headers["Idempotent-Replayed"] == "true"
    assert grew(before, middle, "records_idempotent_replays_total", route=BASE) == 1
    assert grew(middle, after, "records_idempotent_replays_total", route=BASE) == 1
    assert grew(before, after, "records_http_requests_total", method="POST", route=BASE, status="201") == 3


# ------------------------------------------------------------------- read from the store
def test_projection_lag_is_the_log_head_minus_the_projections_position(http_any: Http) -> None:
    http = http_any
    records = http.app.extensions["records"]
    collaboration = http.establish()  # a write waits for no projection
    http.add_function(collaboration["id"])
    assert http.get("/api/v1/collaborations").status_code == 200  # a read catches its projection up first
    head = records.log_size()
    behind = http.app.extensions["decision_log"].position()
    assert head - behind > 0  # the decision log really lags

    samples = scrape(http)

    assert value(samples, "records_store_up") == 1
    assert value(samples, "records_log_head_position") == head
    assert value(samples, "records_projection_lag_events", projection="decision_log") == head - behind
    assert value(samples, "records_projection_position", projection="decision_log") == behind
    assert value(samples, "records_projection_lag_events", projection="register") == 0
    assert value(samples, "records_projection_position", projection="register") == head
    trail = AuditTrail(records.side_tables)
    assert value(samples, "records_log_size_events") == trail.log_count() == 2
    assert value(samples, "records_chain_head_position") == trail.head()[2] == head
    assert value(samples, "records_merkle_tree_size") == records.side_tables.tree_size()

    http.app.extensions["decision_log"].catch_up()
    assert value(scrape(http), "records_projection_lag_events", projection="decision_log") == 0


def test_the_last_checkpoints_age_appears_once_one_is_signed(http_any: Http, monkeypatch: pytest.MonkeyPatch) -> None:
    http = http_any
    monkeypatch.delenv(KEY_FILE_VARIABLE, raising=False)
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    http.establish()
    assert ("records_checkpoint_age_seconds", frozenset()) not in scrape(http)

    http.app.config[KEY_VARIABLE] = generate_key_pem().decode()
    signed = http.post("/api/v1/audit/checkpoints", {})
    assert signed.status_code == 201, signed.get_json()
    time.sleep(1.1)
    samples = scrape(http)

    assert 1.0 <= value(samples, "records_checkpoint_age_seconds") < 60
    assert value(samples, "records_checkpoint_size") == signed.get_json()["size"] == 1


def test_a_store_that_does_not_answer_leaves_the_counts_and_says_so(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> int:
        raise OSError("unable to open database file")

    monkeypatch.setattr(http.app.extensions["records"], "log_size", broken)
    samples = scrape(http)

    assert value(samples, "records_store_up") == 0
    assert ("records_projection_lag_events", frozenset({("projection", "register")})) not in samples
    assert any(name == "records_http_requests_total" for name, _ in samples)


# ------------------------------------------------------------------------------ access
def test_metrics_are_open_like_the_probes_unless_a_metrics_token_is_set(
    http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    assert http.client.get("/metrics").status_code == 200

    http.app.config["METRICS_TOKEN"] = "scrape-secret"
    assert_problem(http.client.get("/metrics"), 401)
    refused = http.client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert_problem(refused, 401)
    assert "Bearer" in refused.headers["WWW-Authenticate"]
    assert_problem(http.client.get("/metrics", headers={"Authorization": f"Bearer {http.admin}"}), 401)
    assert "records_http_requests_total" in http.client.get(
        "/metrics", headers={"Authorization": "Bearer scrape-secret"}
    ).get_data(as_text=True)


def test_guessing_the_metrics_token_is_throttled_like_api_tokens(http: Http) -> None:
    http.app.config["METRICS_TOKEN"] = "scrape-secret"
    http.app.extensions["failed_sign_ins"].limit = 3
    for _ in range(3):
        assert_problem(http.client.get("/metrics", headers={"Authorization": "Bearer guess"}), 401)

    throttled = http.client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})

    assert_problem(throttled, 429)
    assert int(throttled.headers["Retry-After"]) >= 1
