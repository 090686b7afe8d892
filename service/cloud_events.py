"""The log's events as CloudEvents 1.0, for tools that already speak CloudEvents.

Made with the CloudEvents SDK (``cloudevents``) from an event as the feed publishes it (a feed
item: ``position``, ``stream_id``, ``version``, ``type``, provenance, ``data``, ``hash``):

- ``id``: the event's log position, as text: unique within the source, and the same every time
  the event is read, so a consumer can de-duplicate by (``source``, ``id``);
- ``source``: the log (``CLOUDEVENTS_SOURCE``; by default ``/api/v1/events``, the feed's path);
- ``type``: ``collaboration-records.`` and the feed's type, e.g.
  ``collaboration-records.Collaboration.ReviewHeld``;
- ``subject``: the stream (the collaboration, exit case or benefit) the event belongs to;
- ``time``: when it was recorded; ``datacontenttype``: ``application/json``;
- ``dataschema``: where the event catalogue publishes the schema of a whole event of its type
  (``/api/v1/event-types/{type}/document-schema``: the schema of ``data``);
- extensions ``position`` (the log position), ``streamversion`` (the event's version in its
  stream), both as decimal text (a CloudEvents Integer is 32-bit), and ``hash`` (its place in
  the hash chain);
- ``data``: the feed item itself, whole, so nothing is lost in the envelope (and the hash can be
  checked as from the feed).

Structured mode (``application/cloudevents+json``) for one event; batch mode
(``application/cloudevents-batch+json``) is a JSON array of structured events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

STRUCTURED = JSONFormat.CONTENT_TYPE  # application/cloudevents+json
BATCH = "application/cloudevents-batch+json"
TYPE_PREFIX = "collaboration-records."
DEFAULT_SOURCE = "/api/v1/events"

BATCH_RESPONSE_DOC = {
    "description": "OK: the page as a CloudEvents 1.0 batch (`?format=cloudevents` or "
    "`Accept: application/cloudevents-batch+json`): a JSON array of structured events, each with `id` (the log "
    "position), `source`, `type`, `subject` (the stream), `time`, `datacontenttype`, `dataschema` and `data` (the "
    "feed's item); the next page is in the `Link` header (`rel=\"next\"`).",
    "schema": {"type": "array", "items": {"type": "object"}},
}

_FORMAT = JSONFormat()


def cloud_event(item: Mapping[str, Any], *, source: str, dataschema: str | None = None) -> CloudEvent:
    """The CloudEvent of one feed item."""
    attributes: dict[str, Any] = {
        "id": str(item["position"]),
        "source": source,
        "type": TYPE_PREFIX + str(item["type"]),
        "subject": str(item["stream_id"]),
        "time": datetime.fromisoformat(str(item["recorded_at"]).replace("Z", "+00:00")),
        "datacontenttype": "application/json",
        "position": str(item["position"]),  # text: a CloudEvents Integer is 32-bit, a log position is not
        "streamversion": str(item["version"]),
    }
    if item.get("hash"):
        attributes["hash"] = str(item["hash"])
    if dataschema:
        attributes["dataschema"] = dataschema
    return CloudEvent(attributes, dict(item))


def structured(item: Mapping[str, Any], *, source: str, dataschema: str | None = None) -> bytes:
    """One event in structured mode (``application/cloudevents+json``)."""
    return _FORMAT.write(cloud_event(item, source=source, dataschema=dataschema))


def batch(items: Iterable[Mapping[str, Any]], *, source: str, dataschema_of: Any = None) -> bytes:
    """Events in batch mode (``application/cloudevents-batch+json``): a JSON array of
    structured events, in log order. ``dataschema_of(type)`` gives each type's schema URI."""
    parts = [
        structured(item, source=source, dataschema=dataschema_of(item["type"]) if dataschema_of else None)
        for item in items
    ]
    return b"[" + b",".join(parts) + b"]"


def read_batch(body: bytes) -> list[CloudEvent]:
    """A batch read back with the SDK (what a consumer does; used by the tests and the example)."""
    import json

    return [_FORMAT.read(None, json.dumps(entry)) for entry in json.loads(body)]
