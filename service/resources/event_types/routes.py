"""The public event catalogue: every event type, its version and the JSON Schema of its data."""

from __future__ import annotations

from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.event_catalogue import catalogue, document_schema
from service.resources.event_types.schemas import EventCatalogueSchema, EventTypeSchema

blp = Blueprint(
    "event_types",
    __name__,
    url_prefix="/api/v1/event-types",
    description="The public event catalogue: each event type's version and the JSON Schema of its data "
    "(docs/event-catalogue.md).",
)


@blp.route("", methods=["GET"])
@blp.response(200, EventCatalogueSchema)
def event_types() -> Response:
    """Every event type, with its version and the JSON Schema of its data

    The contract of the feed (`GET /api/v1/events`) and of everything that delivers its events:
    each type's `version` and a JSON Schema (draft 2020-12) of its `data`, generated from the
    event classes the service records, and `envelope_schema`, the fields every event has around
    its `data`. A type's `data` changes only with a new `version`; old events are upcast, so
    the feed always shows the current version's shape. docs/event-catalogue.md is the promise.
    """
    return jsonify(catalogue().as_dict())


TYPE_PARAMETER = {
    "in": "path",
    "name": "type",
    "required": True,
    "description": "An event type as the feed names it",
    "schema": {"type": "string", "enum": [entry.type for entry in catalogue().items]},
}


@blp.route("/<string:type>", methods=["GET"], parameters=[TYPE_PARAMETER])
@blp.response(200, EventTypeSchema)
@blp.problems(404)
def event_type(type: str) -> Response:
    """One event type, with its version and the JSON Schema of its data

    `type` as the feed names it, e.g. `Collaboration.ReviewHeld`; 404 for a type the catalogue
    does not list.
    """
    entry = catalogue().get(type)
    if entry is None:
        web.fail(404, f"no event type {type[:200]!r}: GET /api/v1/event-types lists them")
    return jsonify(entry.as_dict())


@blp.route("/<string:type>/document-schema", methods=["GET"], parameters=[TYPE_PARAMETER])
@blp.response(200, description="A JSON Schema (draft 2020-12) of one whole event of this type")
@blp.problems(404)
def event_document_schema(type: str) -> Response:
    """The JSON Schema of one whole event of this type, as the feed publishes it

    The envelope with this `type` and this type's `data`: what each item of the feed, each message
    of the stream and each webhook's body is for an event of this type, and the `dataschema` of
    its CloudEvent (whose `data` is the whole event).
    """
    entry = catalogue().get(type)
    if entry is None:
        web.fail(404, f"no event type {type[:200]!r}: GET /api/v1/event-types lists them")
    return jsonify(document_schema(entry, catalogue().envelope_schema))
