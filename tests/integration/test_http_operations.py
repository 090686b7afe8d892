"""What an operator runs the service by: a request id on every answer and every log line (JSON),
and a readiness check that knows whether the projections keep up."""

from __future__ import annotations

import io
import json
import logging

import pytest

from service.logs import JsonFormatter, RequestIdFilter
from service.queries import RecordQueries
from tests.integration import http_support
from tests.integration.http_support import Http, assert_problem

http = http_support.http  # the fixture


@pytest.fixture
def json_lines() -> io.StringIO:
    """The service's log lines, as JSON, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("service")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_every_answer_carries_a_request_id_which_every_log_line_of_the_request_names(http: Http, json_lines) -> None:
    made = http.get("/api/v1/collaborations")
    assert len(made.headers["X-Request-ID"]) == 32
    given = http.get("/api/v1/collaborations", **{"X-Request-ID": "trace-42"})
    assert given.headers["X-Request-ID"] == "trace-42"
    refused = http.get("/api/v1/collaborations", **{"X-Request-ID": "has space"})
    assert refused.headers["X-Request-ID"] not in ("has space", "")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "service.access"]
    assert [line["request_id"] for line in access] == [
        made.headers["X-Request-ID"],
        "trace-42",
        refused.headers["X-Request-ID"],
    ]
    assert access[1]["status"] == 200 and access[1]["path"] == "/api/v1/collaborations"
    assert access[1]["method"] == "GET" and access[1]["duration_ms"] >= 0


def test_problems_carry_the_request_id_too(http: Http) -> None:
    response = http.get("/api/v1/nowhere", **{"X-Request-ID": "abc"})
    assert response.status_code == 404 and response.headers["X-Request-ID"] == "abc"


def test_readiness_knows_when_the_projections_lag(http: Http) -> None:
    records = http.app.extensions["records"]
    ready = http.get("/readyz", token=None)
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    http.app.config["READY_MAX_LAG"] = 1
    http.establish()  # read-your-writes catches the register up, not the others
    http.add_function(RecordQueries(records).feed(after=0, limit=1)[0]["stream_id"])
    behind = http.get("/readyz", token=None)
    problem = assert_problem(behind, 503, "not-ready")
    assert "decision_log" in problem["detail"] and behind.headers["Retry-After"] == "5"
    for name in ("register", "decision_log", "exit_cost_history", "benefits_realisation"):
        http.app.extensions[name].catch_up()
    body = http.get("/readyz", token=None).get_json()
    assert body["log_size"] == records.log_size() and all(p["lag"] == 0 for p in body["projections"].values())
