"""Liveness: open to anyone, and answers only once the record store has answered."""

from __future__ import annotations

from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.resources.meta.schemas import HealthSchema

blp = Blueprint("meta", __name__, description="Liveness.")


@blp.route("/healthz", methods=["GET"])
@blp.public
@blp.response(200, HealthSchema)
@blp.problems(503)
def healthz() -> Response:
    """Liveness: the service is up and its record store answers"""
    web.records().log_size()
    return jsonify({"status": "ok"})
