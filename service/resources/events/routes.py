"""The global ordered feed of events, for other tools."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.resources.events.schemas import FeedQuerySchema, FeedSchema

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="The global ordered event feed.")


@blp.route("", methods=["GET"])
@blp.arguments(FeedQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, FeedSchema)
def feed(args: dict[str, Any]) -> Response:
    """Events in the order they were recorded, after a position"""
    items = web.records().feed(after=args["after"], limit=args["limit"])
    return jsonify({"items": items, "next_after": items[-1]["position"] if items else args["after"]})
