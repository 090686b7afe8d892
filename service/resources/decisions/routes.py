"""The decision log across all collaborations: who decided what, when, on what evidence."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import exports, web
from service.api import Blueprint
from service.queries import DecisionFilters, UnknownDecision
from service.resources.decisions.schemas import DecisionPageSchema, DecisionQuerySchema

blp = Blueprint(
    "decisions",
    __name__,
    url_prefix="/api/v1/decisions",
    description="The decision log: every decision across all collaborations, in the order they take effect.",
)

FILTERS = ("force", "collaboration", "effective_from", "effective_to", "recorded_from", "recorded_to")


@blp.route("", methods=["GET"])
@blp.arguments(DecisionQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, DecisionPageSchema)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.problems(406, 422)
def decisions(args: dict[str, Any]) -> Response:
    """The decision log: who decided what, when, on what evidence

    One row per decision (every change agreed to a collaboration: its establishment, parties,
    functions, budgets, apportionments, exit terms, assets, contracts, reviews, variations, and
    the types later releases add), in the order they take effect: by `effective_on`, then in the
    order recorded. Filter by `force` (among the parties when it was decided), `collaboration`,
    `type`, `from`/`to` (effective dates) and `recorded_from`/`recorded_to`; all inclusive.
    Paginated by `page` and `page_size` (at most 100), or by keyset with `after`.

    Answers JSON, or CSV with `?format=csv` or `Accept: text/csv` (`format` wins): a streamed
    download of every matching decision (from `after`, if given), with `forces` and `data` as
    JSON text. A CSV export has no pages: `page` or `page_size` with it is 422. A client that
    accepts neither gets 406.
    """
    as_csv = exports.wants_csv(args.pop("format", None))
    if as_csv:
        exports.refuse_paging("page", "page_size")
    filters = DecisionFilters(types=args.pop("type", None) or (), **{name: args.pop(name, None) for name in FILTERS})
    try:
        if as_csv:
            items = web.queries().decisions_export(filters, after=args.get("after"))
            return exports.csv_response(items, exports.DECISION_COLUMNS, "decisions.csv")
        return exports.negotiated(jsonify(web.queries().decisions(filters, **args)))
    except UnknownDecision as error:
        web.fail(422, str(error), errors={"after": [str(error)]})
