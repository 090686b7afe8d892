"""Liveness and readiness: open to anyone. Liveness answers once the record store has answered;
readiness also needs every projection within ``READY_MAX_LAG`` events of the log."""

from __future__ import annotations

import os

from flask import current_app, jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.resources.meta.schemas import HealthSchema, ReadinessSchema

blp = Blueprint("meta", __name__, description="Liveness and readiness.")
DEFAULT_MAX_LAG = 1000


@blp.route("/healthz", methods=["GET"])
@blp.public
@blp.response(200, HealthSchema)
@blp.problems(503)
def healthz() -> Response:
    """Liveness: the service is up and its record store answers

    200 while the process can read the store; a store that does not answer is 503. For a load
    balancer's liveness probe; readiness (projections caught up) is `GET /readyz`.
    """
    web.records().log_size()
    return jsonify({"status": "ok"})


@blp.route("/readyz", methods=["GET"])
@blp.public
@blp.response(200, ReadinessSchema)
@blp.problems(503)
def readyz() -> Response:
    """Readiness: the record store answers and every projection is within the allowed lag

    A projection's lag is how many events of the log it has still to read. A load balancer
    should send traffic only to a ready host: one whose projections lag by more than
    `READY_MAX_LAG` events (1000 by default) would answer reads late while it catches up.
    503 (`not-ready`) names the projections behind.
    """
    lag = web.queries().projection_lag()
    allowed = int(current_app.config.get("READY_MAX_LAG") or os.environ.get("READY_MAX_LAG") or DEFAULT_MAX_LAG)
    projections = lag.as_dict()
    behind = [name for name, state in projections.items() if state["lag"] > allowed]
    if behind:
        web.fail(
            503,
            f"projections behind the log by more than {allowed} events: " + ", ".join(behind),
            problem_type="not-ready",
            title="Not ready",
            headers={"Retry-After": "5"},
        )
    return jsonify({"status": "ready", "log_size": lag.head, "max_lag": allowed, "projections": projections})
