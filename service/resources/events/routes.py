"""The global ordered feed of events, and the live stream of it, for other tools."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import marshmallow as ma
from flask import current_app, jsonify, request, url_for
from flask.wrappers import Response

from service import cloud_events, exports, web
from service.api import Blueprint
from service.event_filters import EventFilter
from service.resources.common import MAX_POSITION
from service.resources.events.schemas import FeedQuerySchema, FeedSchema, StreamQuerySchema
from service.streams import EventStreams, StreamsBusy, event_stream, filtered, plain_json

EVENT_STREAM = "text/event-stream"
STREAM_SEND_TIMEOUT = 30.0  # seconds a stream waits for a client to take a message before it ends

blp = Blueprint("events", __name__, url_prefix="/api/v1/events", description="The global ordered event feed.")


@blp.route("", methods=["GET"])
@blp.arguments(FeedQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, FeedSchema)
@blp.alt_response(200, content_type=exports.CSV, **exports.CSV_RESPONSE_DOC)
@blp.alt_response(200, content_type=cloud_events.BATCH, **cloud_events.BATCH_RESPONSE_DOC)
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
    answer = exports.negotiated_format(
        args.pop("format", None), {exports.JSON: "json", exports.CSV: "csv", cloud_events.BATCH: "cloudevents"}
    )
    if answer == "cloudevents":
        items = web.queries().feed(after=args["after"], limit=args["limit"], with_documents=args["documents"] == "true")
        response = Response(
            cloud_events.batch(items, source=cloud_events_source(), dataschema_of=dataschema_of),
            mimetype=cloud_events.BATCH,
        )
        next_after = items[-1]["position"] if items else args["after"]
        next_page = url_for(
            ".feed", after=next_after, limit=args["limit"], format="cloudevents", documents=args["documents"]
        )
        response.headers["Link"] = f'<{next_page}>; rel="next"'
        return exports.negotiated(response)
    if answer == "csv":
        exports.refuse_paging("limit")
        if args["documents"] == "true":
            detail = "a CSV export has no document column: ask for JSON or CloudEvents pages with documents=true"
            web.fail(422, detail, errors={"documents": [detail]})
        items = web.queries().feed_items(after=args["after"])
        filename = f"events-after-{args['after']}.csv"
        return exports.csv_response(items, exports.EVENT_COLUMNS, filename)
    items = web.queries().feed(after=args["after"], limit=args["limit"], with_documents=args["documents"] == "true")
    return exports.negotiated(
        jsonify({"items": items, "next_after": items[-1]["position"] if items else args["after"]})
    )


@blp.route("/stream", methods=["GET"])
@blp.arguments(StreamQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, content_type=EVENT_STREAM, description="Server-sent events: a message per event, `id:` its position")
@blp.problems(400, 503)
def stream(args: dict[str, Any]) -> Response:
    """The log as it grows: server-sent events

    A `text/event-stream` of the events after `after` (or after the `Last-Event-ID` a reconnecting
    client sends), then of each event as it is recorded. Each message's `id:` is the event's log
    position and its `data:` the event as the feed gives it (or as a CloudEvent with
    `format=cloudevents`). Filters: `type` (repeatable), `collaboration_id`, `force`. A message with
    an `id:` and no data moves a filtered stream's place past events it skipped. A comment line
    every `EVENT_STREAM_HEARTBEAT_SECONDS` keeps idle connections open. A stream ends after
    `EVENT_STREAM_MAX_SECONDS` and the client reconnects from its last id; a worker serving
    `EVENT_STREAMS_PER_WORKER` streams answers another 503 with `Retry-After`.
    """
    after = resumed_after(args["after"])
    streams: EventStreams = current_app.extensions["event_streams"]
    records = web.records()
    queries = web.queries()
    collaboration_id = args.get("collaboration_id")
    event_filter = EventFilter.of(args.get("type"), collaboration_id and str(UUID(collaboration_id)), args.get("force"))
    render = plain_json
    if args["format"] == "cloudevents":
        source, catalogue = cloud_events_source(), catalogue_root()  # read now: the stream outlives the request

        def render(item: dict[str, Any]) -> str:
            dataschema = catalogue + item["type"] + "/document-schema"
            return cloud_events.structured(item, source=source, dataschema=dataschema).decode()

    try:
        release = streams.open_streams.admit()
    except StreamsBusy as busy:
        web.fail(503, f"{busy}; try again shortly", headers={"Retry-After": "5"})
    try:
        wait_for_news = streams.news_waiter()
    except BaseException:
        release()
        raise

    def messages() -> Any:
        try:
            yield from event_stream(
                read_page=lambda position, limit: queries.feed(
                    after=position, limit=limit, with_documents=args["documents"] == "true"
                ),
                matches=filtered(event_filter, records),
                render=render,
                after=after,
                settings=streams.settings,
                wait_for_news=wait_for_news,
            )
        finally:
            release()

    client = request.environ.get("gunicorn.socket")
    if client is not None:  # a client that stops reading must not hold the thread past its heartbeats
        client.settimeout(max(STREAM_SEND_TIMEOUT, 2 * streams.settings.heartbeat_seconds))
    response = Response(messages(), mimetype=EVENT_STREAM)
    response.call_on_close(release)  # also when the body is never read (the client went at once)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must pass each message on at once
    return response


def resumed_after(after: int) -> int:
    """Where a stream starts: after the ``Last-Event-ID`` a reconnecting client sends, else
    after ``after``. A Last-Event-ID that is not a log position is 400."""
    last_event_id = request.headers.get("Last-Event-ID")
    if last_event_id is None or last_event_id.strip() == "":
        return after
    text = last_event_id.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > MAX_POSITION:
        web.fail(400, "Last-Event-ID must be the log position of the last event received (a whole number)")
    return int(text)


def cloud_events_source() -> str:
    return str(current_app.config.get("CLOUDEVENTS_SOURCE") or cloud_events.DEFAULT_SOURCE)


def catalogue_root() -> str:
    """The absolute URI under which the event catalogue publishes each type (its entry, and at
    ``{type}/document-schema`` the schema of a whole event, which is a CloudEvent's ``data``)."""
    return request.url_root.rstrip("/") + "/api/v1/event-types/"


def dataschema_of(event_type: str) -> str:
    """Where the event catalogue publishes the schema of a whole event of ``event_type`` (an
    absolute URI): a CloudEvent's ``data``."""
    return catalogue_root() + event_type + "/document-schema"
