"""The public shape of a recorded event, as the feed, the histories and the decision log show it,
and the JSON text of its values: money and shares as strings, decimals without an exponent,
dates as ISO text, times in UTC with a ``Z``. The projections store events in this shape and the
web layer sends it as it is (``service/documents.py`` builds the state documents on it)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.values import Money, Share

PROVENANCE_FIELDS = ("effective_on", "actor", "reason", "evidence", "approval_ref")
EVENT_ENVELOPE_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic")


def jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return str(value)
    if isinstance(value, Share):
        return str(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def decimal_text(value: Decimal) -> str:
    """A decimal as JSON carries it: positional digits, never an exponent (``1E-10``)."""
    return format(value, "f")


def event_type(event: Any) -> str:
    return type(event).__qualname__


def event_document(event: Any) -> dict[str, Any]:
    """One recorded event as auditors read it: provenance beside the event's own data."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    data = {name: value for name, value in fields.items() if name not in PROVENANCE_FIELDS + EVENT_ENVELOPE_FIELDS}
    return {
        "stream_id": str(event.originator_id),
        "version": event.originator_version,
        "type": event_type(event),
        "effective_on": jsonable(fields.get("effective_on")),
        "recorded_at": utc_text(event.timestamp),
        "actor": fields.get("actor"),
        "reason": fields.get("reason"),
        "evidence": fields.get("evidence"),
        "approval_ref": fields.get("approval_ref"),
        "data": jsonable(data),
    }


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
