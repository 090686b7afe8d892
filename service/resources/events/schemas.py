"""The global event feed."""

from __future__ import annotations

import marshmallow as ma

from service.fields import QueryInteger
from service.resources.common import MAX_POSITION, EventDocument, ExportFormatSchema, Schema

MAX_LIMIT = 1000


class FeedQuerySchema(ExportFormatSchema):
    after = QueryInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Answer events after this position (the previous page's next_after)"},
    )
    limit = QueryInteger(
        load_default=100,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={
            "description": "Events per JSON page; a CSV export runs to the end of the log, so `limit` with it is 422"
        },
    )


class FeedItemSchema(EventDocument):
    position = ma.fields.Integer(required=True, metadata={"description": "The event's place in the global log"})


class FeedSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(FeedItemSchema), required=True)
    next_after = ma.fields.Integer(
        required=True, metadata={"description": "Pass as `after` to read on; equals `after` when nothing is new"}
    )
