"""The public event catalogue (``service/event_catalogue.py``, docs/event-catalogue.md)."""

from __future__ import annotations

import marshmallow as ma

from service.resources.common import Schema


class EventTypeSchema(Schema):
    type = ma.fields.String(
        required=True,
        metadata={"description": "The type as the feed's `type` names it", "example": "Collaboration.ReviewHeld"},
    )
    version = ma.fields.Integer(
        required=True,
        metadata={
            "description": "The type's version (its event class's `class_version`): the shape of `data` every "
            "event of the type has in the feed, old ones upcast to it. Not the envelope's `version`, the event's "
            "place in its stream",
            "minimum": 1,
        },
    )
    aggregate = ma.fields.String(
        required=True,
        metadata={"description": "What records it: `Collaboration`, `ExitCase` or `Benefit`", "example": "Benefit"},
    )
    description = ma.fields.String(required=True, metadata={"description": "What the event records"})
    deprecated = ma.fields.Boolean(
        required=True,
        metadata={"description": "A retired type: no longer recorded, kept so that the events recorded under it read"},
    )
    data_schema = ma.fields.Dict(
        required=True,
        metadata={
            "description": "A JSON Schema (draft 2020-12) of the event's `data`: every field present (null where it "
            "may be), no other; money, shares and other decimals as strings, dates as YYYY-MM-DD"
        },
    )


class EventCatalogueSchema(Schema):
    items = ma.fields.List(
        ma.fields.Nested(EventTypeSchema),
        required=True,
        metadata={"description": "Every event type the record can hold, by type"},
    )
    envelope_schema = ma.fields.Dict(
        required=True,
        metadata={
            "description": "A JSON Schema (draft 2020-12) of an event as the feed publishes it, around its `data`; "
            "it may gain fields, so ignore those you do not know"
        },
    )
