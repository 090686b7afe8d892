"""Webhook subscriptions and their delivery log (docs/webhooks.md)."""

from __future__ import annotations

import marshmallow as ma

from domain.values import REFERENCE_LENGTH
from service.fields import BoundedList, Code, OptionalText, QueryInteger, Text, WholeNumber, known_force, uuid_text
from service.queries import LIST_PAGE, MAX_LIST_PAGE
from service.resources.common import MAX_POSITION, Schema, next_after
from service.webhooks.store import OUTCOMES, STATUSES
from service.webhooks.subscriptions import published_event_types
from service.webhooks.targets import MAX_URL_LENGTH

EVENT_TYPES = sorted(published_event_types())
TIME = {"format": "date-time"}


# --------------------------------------------------------------------------------- requests
class SubscriptionRequestSchema(Schema):
    url = Text(
        required=True,
        max_length=MAX_URL_LENGTH,
        metadata={
            "description": "Where to POST each event: an http:// or https:// URL without user name, password or "
            "#fragment. Its host must be on the public internet (not loopback, private or link-local) unless "
            "the service allows otherwise (WEBHOOKS_ALLOW_PRIVATE_TARGETS)",
            "example": "https://finance.example.police.uk/hooks/collaborations",
        },
    )
    event_types = BoundedList(
        Code(
            validate=ma.validate.OneOf(
                EVENT_TYPES, error="{input} is not a type of event the feed publishes, e.g. Collaboration.ReviewHeld"
            )
        ),
        max_items=len(EVENT_TYPES),
        load_default=list,
        metadata={"description": "Only events of these types, as the feed names them; empty or absent: every type"},
    )
    collaboration_id = Code(
        validate=uuid_text,
        allow_none=True,
        load_default=None,
        metadata={
            "description": "Only the events of this collaboration, its exit cases and its benefits (422 when no "
            "collaboration has this id)"
        },
    )
    force = Code(
        validate=known_force,
        allow_none=True,
        load_default=None,
        metadata={"description": "Only the events of collaborations this force was party to when they were recorded"},
    )
    description = OptionalText(
        max_length=REFERENCE_LENGTH,
        load_default=None,
        metadata={"description": "What the subscription is for, for people"},
    )
    start_after = WholeNumber(
        within=range(0, MAX_POSITION + 1),
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        allow_none=True,
        load_default=None,
        metadata={
            "description": "Deliver the matching events after this log position; absent: after the end of the log "
            "now (only events recorded from now on). Beyond the end of the log: 422"
        },
    )


class ReplayRequestSchema(Schema):
    after = WholeNumber(
        required=True,
        within=range(0, MAX_POSITION + 1),
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={
            "description": "Deliver again from the first matching event after this log position (0: from the "
            "start). Beyond the end of the log: 422"
        },
    )


class SubscriptionActionSchema(Schema):
    """No fields: send an empty JSON object."""


class SubscriptionsQuerySchema(Schema):
    after = QueryInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Answer the subscriptions created after this one (its number): the last next_after"},
    )
    limit = QueryInteger(
        load_default=LIST_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_LIST_PAGE),
        metadata={"description": f"Subscriptions per page: {LIST_PAGE} by default, at most {MAX_LIST_PAGE}"},
    )


class DeliveriesQuerySchema(Schema):
    before = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_POSITION),
        metadata={"description": "Answer the attempts recorded before this one (its id): the last next_before"},
    )
    limit = QueryInteger(
        load_default=LIST_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_LIST_PAGE),
        metadata={"description": f"Attempts per page: {LIST_PAGE} by default, at most {MAX_LIST_PAGE}"},
    )


# --------------------------------------------------------------------------------- answers
def _time(description: str, *, nullable: bool = True) -> ma.fields.String:
    return ma.fields.String(required=True, allow_none=nullable, metadata={**TIME, "description": description})


class SubscriptionFilterDocument(Schema):
    event_types = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "Only these types; empty: every type"}
    )
    collaboration_id = ma.fields.String(required=True, allow_none=True, metadata={"format": "uuid"})
    force = ma.fields.String(required=True, allow_none=True)


class SubscriptionFailingDocument(Schema):
    attempts = ma.fields.Integer(
        required=True, metadata={"description": "Failed attempts at the next event to deliver (0: none failing)"}
    )
    since = _time("When the first of those attempts was made")
    next_attempt_at = _time("When the next attempt is due (null: at once, or never while paused or disabled)")


class SubscriptionLinks(Schema):
    self = ma.fields.String(required=True)
    deliveries = ma.fields.String(required=True)


class SubscriptionDocument(Schema):
    id = ma.fields.String(required=True, metadata={"format": "uuid"})
    number = ma.fields.Integer(required=True, metadata={"description": "Its place in the list (pages' next_after)"})
    url = ma.fields.String(required=True)
    description = ma.fields.String(required=True, allow_none=True)
    filter = ma.fields.Nested(SubscriptionFilterDocument, required=True)
    status = ma.fields.String(
        required=True,
        metadata={
            "enum": list(STATUSES),
            "description": "active: delivering; paused: by an administrator; disabled: after persistent failure "
            "(see disabled_reason), until resumed",
        },
    )
    disabled_reason = ma.fields.String(required=True, allow_none=True)
    position = ma.fields.Integer(
        required=True, metadata={"description": "The log position delivered through: the next event is after it"}
    )
    delivered = ma.fields.Integer(required=True, metadata={"description": "Events delivered (2xx), in all"})
    failed_attempts = ma.fields.Integer(required=True, metadata={"description": "Attempts that failed, in all"})
    failing = ma.fields.Nested(SubscriptionFailingDocument, required=True)
    last_attempt_at = _time("The last attempt")
    last_delivered_at = _time("The last attempt answered 2xx")
    created_at = _time("", nullable=False)
    created_by = ma.fields.String(required=True, metadata={"description": "The administrator, as events name actors"})
    updated_at = _time("The last change by an administrator", nullable=False)
    links = ma.fields.Nested(SubscriptionLinks, required=True)


class CreatedSubscriptionDocument(SubscriptionDocument):
    secret = ma.fields.String(
        required=True,
        metadata={
            "description": "The signing secret (whsec_ and base64), shown only in this answer: keep it to verify "
            "each delivery's webhook-signature"
        },
    )


class SubscriptionsPageDocument(Schema):
    items = ma.fields.List(ma.fields.Nested(SubscriptionDocument), required=True)
    next_after = next_after("number")


class DeliveryDocument(Schema):
    id = ma.fields.Integer(required=True, metadata={"description": "The attempt's number in the delivery log"})
    position = ma.fields.Integer(required=True, metadata={"description": "The event's position in the log"})
    webhook_id = ma.fields.String(
        required=True, metadata={"description": "The webhook-id header: the same for every attempt at this event"}
    )
    attempt = ma.fields.Integer(required=True, metadata={"description": "1 for the first attempt at this event"})
    outcome = ma.fields.String(
        required=True,
        metadata={
            "enum": list(OUTCOMES),
            "description": "delivered (2xx); retrying (failed, tried again at next_attempt_at); gave_up (failed, "
            "the subscription disabled); superseded (a replay moved the position while it was under way)",
        },
    )
    status = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The receiver's HTTP status; null: no answer"}
    )
    error = ma.fields.String(required=True, allow_none=True, metadata={"description": "What went wrong"})
    latency_ms = ma.fields.Integer(required=True, metadata={"description": "Milliseconds the attempt took"})
    attempted_at = _time("", nullable=False)
    next_attempt_at = _time("When the event is tried again (retrying only)")


class DeliveriesPageDocument(Schema):
    items = ma.fields.List(ma.fields.Nested(DeliveryDocument), required=True)
    next_before = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `before` for the next (older) page: the last item's id; null: the end"},
    )
