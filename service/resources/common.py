"""Schemas and helpers shared by the resources."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma

from domain.values import REFERENCE_LENGTH, TEXT_LENGTH
from service.exports import FORMATS
from service.fields import Code, Date, OptionalText, QueryInteger, Text, Timestamp
from service.limits import MAX_HEADER_FIELD_BYTES
from service.queries import HISTORY_PAGE, LIST_PAGE, MAX_HISTORY_PAGE, MAX_LIST_PAGE
from service.web import (
    IDEMPOTENCY_KEY,
    IDEMPOTENCY_KEY_LENGTH,
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    PREFER,
    PREFER_PATTERN,
    PREFERENCE_APPLIED,
)

MAX_PAGE = 1_000_000
MAX_POSITION = 2**63 - 1  # versions and log positions are 64-bit signed integers in the store

# Response headers documented on every response about one collaboration.
ETAG_HEADER = {
    "ETag": {
        "description": 'The collaboration\'s version, e.g. "7"; send it back in If-Match',
        "schema": {"type": "string"},
    }
}
WRITE_HEADERS = {
    **ETAG_HEADER,
    "Location": {
        "description": "The URL of the collaboration, exit case or benefit written (its links.self)",
        "schema": {"type": "string"},
    },
    PREFERENCE_APPLIED: {
        "description": "`return=minimal` or `return=representation` when the answer is the one the request's "
        "Prefer header asked for (RFC 7240)",
        "schema": {"type": "string", "enum": ["return=minimal", "return=representation"]},
    },
    "Vary": {"description": "`Prefer`: the answer depends on it", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
# What a write answers (``service/web.py``, ``record``): by default, and with return=minimal.
COMPACT_ANSWER = (
    "By default (or with `Prefer: return=minimal`), the compact answer: the id and version, the ids this write "
    "made, the fields whose size does not grow with the record, and `links` (`self`, `history`). With `Prefer: "
    "return=representation`, the whole document, as a GET of `links.self` answers it, with the same ids."
)
WRITE_PARAMETERS = [
    {
        "in": "header",
        "name": "If-Match",
        "required": False,
        "description": 'The ETag of the version this change was based on, e.g. "7". A stale value gets 412.',
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_HEADER_FIELD_BYTES - len("If-Match: "),
            "pattern": IF_MATCH_PATTERN,
        },
    },
    {
        "in": "header",
        "name": PREFER,
        "required": False,
        "description": "RFC 7240. `return=minimal` (the default): answer the compact document; "
        "`return=representation`: answer the whole document, as a GET of it does. Other preferences are ignored.",
        "schema": {"type": "string", "maxLength": MAX_HEADER_FIELD_BYTES - len("Prefer: "), "pattern": PREFER_PATTERN},
    },
    {
        "in": "header",
        "name": IDEMPOTENCY_KEY,
        "required": False,
        "description": "Repeat a POST safely: the same key from the same token returns the first answer (the "
        "compact or the whole document, as the first request asked, whatever the repeat's Prefer) and "
        "records nothing new; the same key with a different request is refused with 422. 1 to "
        f"{IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, e.g. a UUID.",
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": IDEMPOTENCY_KEY_LENGTH,
            "pattern": IDEMPOTENCY_KEY_PATTERN,
        },
    },
]


def write_route(blp: Any, rule: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A POST route of ``blp``, documented with the If-Match, Prefer and Idempotency-Key headers it honours."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        return blp.route(rule, methods=["POST"])(blp.doc(parameters=WRITE_PARAMETERS)(func))

    return decorator


def write_answer(blp: Any, compact: type[ma.Schema], whole: type[ma.Schema], headers: dict[str, Any]) -> Any:
    """Documents a write's 201: ``compact`` by default, ``whole`` with Prefer: return=representation."""
    return blp.response(201, {"oneOf": [compact, whole]}, description=f"Recorded. {COMPACT_ANSWER}", headers=headers)


# The Link header of a page that has a next one.
NEXT_PAGE_HEADER = {
    "Link": {
        "description": 'The next page, when there is one: `<...?after=N...>; rel="next"` (N is next_after)',
        "schema": {"type": "string"},
    }
}


# How many members an object (a body, a query string, a claim line) may have beyond its schema's
# fields and still have each unknown one named; with more, it is refused at once with one error.
MAX_UNKNOWN_FIELDS = 20


class Schema(ma.Schema):
    """Unknown fields are refused: a misspelt field must not be silently dropped. An object with
    many more members than the schema has fields is refused with one error, before any member is
    looked at, rather than with one error for each of perhaps 100,000 unknown members."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def not_too_many_members(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, Mapping) and len(data) > len(self.load_fields) + MAX_UNKNOWN_FIELDS:
            raise ma.ValidationError(
                f"has {len(data)} members, most of them unknown: this object has {len(self.load_fields)} fields."
            )
        return data


class WriteSchema(Schema):
    """What every write says about itself. The actor comes from the token, never the body."""

    effective_on = Date(required=True, metadata={"description": "When this takes effect in the world (YYYY-MM-DD)"})
    reason = Text(required=True, max_length=TEXT_LENGTH, metadata={"description": "Why this is being recorded"})
    evidence = OptionalText(
        max_length=REFERENCE_LENGTH, metadata={"description": "A document reference; blank is recorded as null"}
    )
    approval_ref = OptionalText(
        max_length=REFERENCE_LENGTH, metadata={"description": "e.g. a board minute; blank is recorded as null"}
    )


class ApprovedWriteSchema(WriteSchema):
    """A write of an act that is no one party's own (an s23G direction, a decoupling, the end of the
    agreement, a settlement): recorded by an administrator, on the evidence of its approval."""

    approval_ref = Text(
        required=True,
        max_length=REFERENCE_LENGTH,
        metadata={"description": "Required here: the direction, minute or agreement approving the act"},
    )


class ExportFormatSchema(Schema):
    """For resources that also answer as CSV (``service/exports.py``)."""

    format = Code(
        validate=ma.validate.OneOf(FORMATS),
        metadata={
            "enum": list(FORMATS),
            "description": "json (the default) or csv; when given, it wins over the Accept header",
        },
    )


class TemporalQuerySchema(Schema):
    """The bitemporal reads (``as_of`` and ``known_at``): combine them to see exactly what a board saw on the
    day it decided."""

    as_of = Date(
        metadata={
            "description": "The state of the world on this date: only facts effective on or before it, as known "
            "now (or at known_at). Before the thing existed: 404"
        }
    )
    known_at = Timestamp(
        metadata={
            "description": "Only facts recorded at or before this RFC 3339 time (e.g. 2019-04-01T09:30:00Z), "
            "back-dated corrections recorded later left out. Before the thing was recorded: 404"
        }
    )


class HistoryPageQuerySchema(Schema):
    """A page of a history, in log order: read on with the previous page's ``next_after``."""

    after = QueryInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Answer the events after this log position: the previous page's next_after"},
    )
    limit = QueryInteger(
        load_default=HISTORY_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_HISTORY_PAGE),
        metadata={
            "description": f"Events per JSON page: {HISTORY_PAGE} by default, at most {MAX_HISTORY_PAGE}. A CSV "
            "export runs to the end, so `limit` with it is 422"
        },
    )


class ListPageQuerySchema(Schema):
    """A page of a list kept in the order recorded: read on with the previous page's ``next_after``."""

    after = QueryInteger(
        load_default=0,
        validate=ma.validate.Range(min=0, max=MAX_POSITION),
        metadata={"description": "Answer the entries recorded after this version: the previous page's next_after"},
    )
    limit = QueryInteger(
        load_default=LIST_PAGE,
        validate=ma.validate.Range(min=1, max=MAX_LIST_PAGE),
        metadata={"description": f"Entries per page: {LIST_PAGE} by default, at most {MAX_LIST_PAGE}"},
    )


def next_after(what: str) -> ma.fields.Integer:
    """The cursor of the next page: the last item's place (``what``), or null at the end."""
    return ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": f"Pass as `after` for the next page: the last item's {what}; null: this is the end"},
    )


def money_figure(description: str, *, nullable: bool = False) -> ma.fields.String:
    return ma.fields.String(
        required=True, allow_none=nullable, metadata={"description": description, "example": "10500000.00"}
    )


class EventDocument(Schema):
    stream_id = ma.fields.String(required=True, metadata={"description": "The collaboration's id"})
    version = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, metadata={"example": "Collaboration.ApportionmentAgreed"})
    effective_on = ma.fields.Date(required=True, allow_none=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    evidence = ma.fields.String(required=True, allow_none=True)
    approval_ref = ma.fields.String(required=True, allow_none=True)
    data = ma.fields.Dict(required=True, metadata={"description": "The event's own fields; money as strings"})
    position = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The event's position in the global log"}
    )
    hash = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "SHA-256 of the event in the hash chain over the global log (hex); "
            "GET /api/v1/audit/verify checks every one"
        },
    )


class ExitCaseHistoryRowDocument(Schema):
    seq = ma.fields.Integer(required=True, metadata={"description": "The row's place in the case's history, from 1"})
    position = ma.fields.Integer(required=True, metadata={"description": "The event's position in the global log"})
    event_id = ma.fields.String(required=True, metadata={"description": "<stream id>:<version>"})
    stream_id = ma.fields.String(required=True)
    version = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, metadata={"example": "ExitCase.ClaimLodged"})
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    effective_on = ma.fields.Date(required=True, allow_none=True)
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    collaboration_id = ma.fields.String(required=True)
    force = ma.fields.String(required=True, allow_none=True)
    exit_case_id = ma.fields.String(required=True, allow_none=True)
    collaboration_version = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The collaboration version the figures were computed from"},
    )
    case_version = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The case version the figures were computed from"}
    )
    before = ma.fields.Dict(
        required=True, allow_none=True, metadata={"description": "The figures before the event; null on the first row"}
    )
    after = ma.fields.Dict(
        required=True,
        allow_none=True,
        metadata={"description": "The figures after it: by_head {head: {claimed, assessed}} and the totals"},
    )
    note = ma.fields.String(required=True, allow_none=True)
    claimed = money_figure("The case's total claimed after the event", nullable=True)
    assessed = money_figure("The latest assessment after the event", nullable=True)
    agreed = money_figure("The latest settlement after the event", nullable=True)
    written_off = money_figure("The latest settlement's write-offs after the event", nullable=True)
    paid = money_figure("Paid by then", nullable=True)
    outstanding = money_figure("Outstanding after the event", nullable=True)
