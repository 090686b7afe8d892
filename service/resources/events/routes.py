"""The global ordered feed of events, for other tools."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import exports, web
from service.api import Blueprint
from service.resources.events.schemas import FeedQuerySchema, FeedSchema

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="The global ordered event feed.")


@blp.route("", methods=["GET"])
@blp.arguments(FeedQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, FeedSchema)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(406)
def feed(args: dict[str, Any]) -> Response:
    """Events in the order they were recorded, after a position

    Answers JSON pages of `limit` events, or CSV with `?format=csv` or `Accept: text/csv`
    (`format` wins): a streamed download of every event after `after` up to the end of the log
    when the export began, with the columns `position`, `stream_id`, `version`, `type`,
    `effective_on`, `recorded_at`, `actor`, `reason`, `evidence`, `approval_ref`, `hash` and `data`
    (JSON). A CSV export has no pages: `limit` with it is 422. A client that accepts neither
    gets 406.
    """
    if exports.wants_csv(args.pop("format", None)):
        exports.refuse_paging("limit")
        items = web.queries().feed_items(after=args["after"])
        filename = f"events-after-{args['after']}.csv"
        return exports.csv_response(items, exports.EVENT_COLUMNS, filename)
    items = web.queries().feed(after=args["after"], limit=args["limit"])
    return exports.negotiated(
        jsonify({"items": items, "next_after": items[-1]["position"] if items else args["after"]})
    )
