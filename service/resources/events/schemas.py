"""The global event feed."""

from __future__ import annotations

import marshmallow as ma

from service.event_catalogue import catalogue
from service.fields import BoundedList, Code, QueryInteger, known_force, uuid_text
from service.resources.common import MAX_POSITION, EventDocument, ExportFormatSchema, Schema

MAX_LIMIT = 1000


MAX_TYPES = 100
EVENT_TYPES = sorted(entry.type for entry in catalogue().items)
FEED_FORMATS = ("json", "csv", "cloudevents")
STREAM_FORMATS = ("json", "cloudevents")


class DocumentsQuerySchema(Schema):
    documents = Code(
        load_default="false",
        validate=ma.validate.OneOf(("true", "false")),
        metadata={
            "enum": ["true", "false"],
            "description": "true: each event also carries `document`, the canonical text its `hash` is the SHA-256 "
            "of (its stored state, stream, version, position and the previous event's hash), so a consumer can "
            "check each event and the chain without trusting this service",
        },
    )


class FeedQuerySchema(ExportFormatSchema, DocumentsQuerySchema):
    format = Code(
        validate=ma.validate.OneOf(FEED_FORMATS),
        metadata={
            "enum": list(FEED_FORMATS),
            "description": "json (the default), csv, or cloudevents (a CloudEvents 1.0 batch, "
            "`application/cloudevents-batch+json`); when given, it wins over the Accept header",
        },
    )
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
    document = ma.fields.String(
        allow_none=True,
        metadata={"description": "With `documents=true`: the canonical text the event's `hash` is the SHA-256 of"},
    )


class FeedSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(FeedItemSchema), required=True)
    next_after = ma.fields.Integer(
        required=True, metadata={"description": "Pass as `after` to read on; equals `after` when nothing is new"}
    )


class StreamQuerySchema(DocumentsQuerySchema):
    after = QueryInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={
            "description": "Send the events after this log position. A `Last-Event-ID` header (sent by a "
            "reconnecting EventSource) wins over it"
        },
    )
    type = BoundedList(
        Code(
            validate=ma.validate.OneOf(
                EVENT_TYPES, error="{input} is not a type of event the feed publishes: GET /api/v1/event-types"
            )
        ),
        max_items=MAX_TYPES,
        metadata={
            "description": "Only events of these types (repeat the parameter for several), as the feed names "
            "them, e.g. `Collaboration.WithdrawalNoticeServed`; GET /api/v1/event-types lists them"
        },
    )
    collaboration_id = Code(
        validate=uuid_text,
        metadata={"description": "Only events of this collaboration, its exit cases and its benefits"},
    )
    force = Code(
        validate=known_force,
        metadata={"description": "Only events of collaborations this force was party to when they were recorded"},
    )
    format = Code(
        load_default="json",
        validate=ma.validate.OneOf(STREAM_FORMATS),
        metadata={
            "enum": list(STREAM_FORMATS),
            "description": "Each message's data: the feed's item as JSON (the default), or a CloudEvents 1.0 "
            "structured event (`application/cloudevents+json`)",
        },
    )
