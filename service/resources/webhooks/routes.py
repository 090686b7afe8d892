"""Webhook subscriptions (administrators only): other tools are sent the log's events as they are
recorded, signed as the Standard Webhooks specification says. docs/webhooks.md says how a
receiver verifies them; the Procfile's worker delivers them (``service/webhooks/delivery.py``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import marshmallow as ma
from flask import current_app, g, jsonify, request
from flask.wrappers import Response

from service.api import Blueprint
from service.auth import ADMIN
from service.errors import NotPermitted
from service.resources.common import NEXT_PAGE_HEADER
from service.resources.webhooks import schemas as s
from service.web import current_principal, with_next_page
from service.webhooks.subscriptions import WebhookSubscriptions

blp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/api/v1/webhooks",
    description="Webhook subscriptions (administrators only): the log's events POSTed to other tools as they are "
    "recorded, in order, at least once, signed as the Standard Webhooks specification says (docs/webhooks.md).",
)
ONE = "/subscriptions/<uuid:subscription_id>"
LOCATION = {"Location": {"description": "The subscription's URL (links.self)", "schema": {"type": "string"}}}
OLDER_PAGE_HEADER = {
    "Link": {
        "description": 'The next (older) page, when there is one: `<...?before=N...>; rel="next"` (N is next_before)',
        "schema": {"type": "string"},
    }
}


@blp.before_request
def administrators_only() -> None:
    """After the token is checked (the blueprint's own first step): only an administrator may see or
    change subscriptions, which name other systems' endpoints."""
    principal = g.get("principal")
    if principal is not None and principal.role != ADMIN:
        raise NotPermitted(f"only an administrator may manage webhook subscriptions; a {principal.role} token may not")


def subscriptions() -> WebhookSubscriptions:
    return current_app.extensions["webhooks"]


@blp.route("/subscriptions", methods=["POST"])
@blp.arguments(s.SubscriptionRequestSchema)
@blp.response(201, s.CreatedSubscriptionDocument, headers=LOCATION)
@blp.problems(403)
def create_subscription(body: dict[str, Any]) -> Response:
    """Subscribe a receiver to the log's events (an extension of the v1 contract)

    From the first matching event after `start_after` (by default, the end of the log now), each
    event is POSTed to `url` as the feed shows it, with the Standard Webhooks headers
    `webhook-id`, `webhook-timestamp` and `webhook-signature`. The answer holds the signing
    `secret`, shown this once. 422 when the URL is not http(s), names a user or password, or is
    an internal address; when an event type is not one the feed publishes, the collaboration does
    not exist, the force is unknown, or `start_after` is beyond the end of the log. Nothing is
    recorded then.
    """
    collaboration_id = body.pop("collaboration_id")
    document, secret = subscriptions().create(
        **body,
        collaboration_id=str(collaboration_id) if collaboration_id is not None else None,
        created_by=current_principal().actor,
    )
    response = jsonify({**document, "secret": secret})
    response.status_code = 201
    response.headers["Location"] = document["links"]["self"]
    return response


@blp.route("/subscriptions", methods=["GET"])
@blp.arguments(s.SubscriptionsQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.SubscriptionsPageDocument, headers=NEXT_PAGE_HEADER)
@blp.problems(403)
def list_subscriptions(args: dict[str, Any]) -> Response:
    """Every webhook subscription, a page at a time (an extension of the v1 contract)

    In the order created, after the one numbered `after` (0, the default: from the first);
    `next_after` (also `Link: <...>; rel="next"`) is the last one's `number`, null on the last
    page. Never the secrets.
    """
    page = subscriptions().page(after=args["after"], limit=args["limit"])
    return with_next_page(jsonify({"items": page.items, "next_after": page.next_cursor}), page.next_cursor)


@blp.route(ONE, methods=["GET"])
@blp.response(200, s.SubscriptionDocument)
@blp.problems(403, 404)
def subscription(subscription_id: UUID) -> Response:
    """A webhook subscription (an extension of the v1 contract)

    Its status (`active`, `paused`, or `disabled` with `disabled_reason`), the log position it
    has been delivered through, its filter, and its counts; `failing` says how often the next
    event has failed and when it is tried again. Never the secret.
    """
    return jsonify(subscriptions().subscription(str(subscription_id)))


@blp.route(ONE, methods=["DELETE"])
@blp.response(204)
@blp.problems(403, 404)
def delete_subscription(subscription_id: UUID) -> Response:
    """Delete a webhook subscription (an extension of the v1 contract)

    Its secret and its delivery log go with it; nothing more is delivered (an attempt under way
    finishes). To stop for a while instead, pause it.
    """
    subscriptions().delete(str(subscription_id))
    return Response(status=204)


@blp.route(f"{ONE}/pause", methods=["POST"])
@blp.arguments(s.SubscriptionActionSchema)
@blp.response(200, s.SubscriptionDocument)
@blp.problems(403, 404)
def pause_subscription(body: dict[str, Any], subscription_id: UUID) -> Response:
    """Pause a webhook subscription (an extension of the v1 contract)

    No attempt is begun until it is resumed; one under way finishes and is recorded. Its
    position stays: resuming delivers what was recorded meanwhile. A disabled subscription
    stays disabled. Send an empty JSON object.
    """
    return jsonify(subscriptions().pause(str(subscription_id)))


@blp.route(f"{ONE}/resume", methods=["POST"])
@blp.arguments(s.SubscriptionActionSchema)
@blp.response(200, s.SubscriptionDocument)
@blp.problems(403, 404)
def resume_subscription(body: dict[str, Any], subscription_id: UUID) -> Response:
    """Resume a paused or disabled webhook subscription (an extension of the v1 contract)

    Deliveries go on from its position at once, the failures counted so far forgotten (a
    subscription waiting to retry is tried now). Send an empty JSON object.
    """
    return jsonify(subscriptions().resume(str(subscription_id)))


@blp.route(f"{ONE}/replay", methods=["POST"])
@blp.arguments(s.ReplayRequestSchema)
@blp.response(200, s.SubscriptionDocument)
@blp.problems(403, 404)
def replay_subscription(body: dict[str, Any], subscription_id: UUID) -> Response:
    """Deliver again from a log position (an extension of the v1 contract)

    The subscription's position becomes `after`: the matching events after it are delivered
    again, in order, with the same `webhook-id` as before (a receiver that de-duplicates by it
    drops those it has processed). Its status is unchanged. 422 when `after` is beyond the end
    of the log.
    """
    return jsonify(subscriptions().replay(str(subscription_id), after=body["after"]))


@blp.route(f"{ONE}/secret", methods=["POST"])
@blp.arguments(s.SubscriptionActionSchema)
@blp.response(200, s.CreatedSubscriptionDocument)
@blp.problems(403, 404)
def rotate_secret(body: dict[str, Any], subscription_id: UUID) -> Response:
    """Give a webhook subscription a new secret (an extension of the v1 contract)

    Every attempt from now on is signed with the new secret, shown only in this answer; the old
    one no longer signs anything. Send an empty JSON object.
    """
    document, secret = subscriptions().rotate_secret(str(subscription_id))
    return jsonify({**document, "secret": secret})


@blp.route(f"{ONE}/deliveries", methods=["GET"])
@blp.arguments(s.DeliveriesQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.DeliveriesPageDocument, headers=OLDER_PAGE_HEADER)
@blp.problems(403, 404)
def deliveries(args: dict[str, Any], subscription_id: UUID) -> Response:
    """A webhook subscription's delivery log, newest first (an extension of the v1 contract)

    Every attempt: the event's position, its `webhook-id`, the attempt's number at that event,
    the receiver's HTTP status or what went wrong, how long it took, and when the event is tried
    again. Older attempts with `before` (the last page's `next_before`; also `Link: <...>;
    rel="next"`). Attempts are kept for WEBHOOKS_DELIVERY_LOG_DAYS (30) days.
    """
    page = subscriptions().deliveries(str(subscription_id), before=args.get("before"), limit=args["limit"])
    response = jsonify({"items": page.items, "next_before": page.next_cursor})
    if page.next_cursor is not None:
        query = [(name, value) for name, value in request.args.items(multi=True) if name != "before"]
        query.append(("before", str(page.next_cursor)))
        response.headers.add("Link", f'<{request.path}?{urlencode(query)}>; rel="next"')
    return response
