"""The decision log: who decided what, when, on what evidence."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import marshmallow as ma

from domain.values import NAME_LENGTH
from service.fields import FORCE_CODE, BoundedList, Code, Date, QueryInteger, known_force
from service.resources.common import MAX_PAGE, MAX_POSITION, ExportFormatSchema, Schema

MAX_TYPES = 20
# (field, field, their names in the query) of each date range, start first
RANGES = (
    ("effective_from", "effective_to", "from", "to"),
    ("recorded_from", "recorded_to", "recorded_from", "recorded_to"),
)


class UuidText(Code):
    """An id: a UUID in any of the spellings Python reads, answered in its canonical form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(UUID(text))
        except ValueError:
            raise ma.ValidationError("Not a valid UUID.") from None


class DecisionQuerySchema(ExportFormatSchema):
    force = Code(validate=known_force, metadata={**FORCE_CODE, "description": "Only decisions concerning this force"})
    collaboration = UuidText(
        metadata={"description": "Only decisions of this collaboration (its id)", "format": "uuid"}
    )
    type = BoundedList(
        Code(max_length=NAME_LENGTH),
        max_items=MAX_TYPES,
        metadata={
            "description": "Only decisions of these types; repeat for several. A full type "
            "(`Collaboration.VariationAgreed`) or its last part (`VariationAgreed`)",
            "example": ["VariationAgreed", "ReviewHeld"],
        },
    )
    effective_from = Date(data_key="from", metadata={"description": "Only decisions effective on or after this date"})
    effective_to = Date(data_key="to", metadata={"description": "Only decisions effective on or before this date"})
    recorded_from = Date(metadata={"description": "Only decisions recorded on or after this (UTC) date"})
    recorded_to = Date(metadata={"description": "Only decisions recorded on or before this (UTC) date"})
    after = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_POSITION),
        metadata={"description": "Start after this decision: the previous page's `next_after` (keyset paging)"},
    )
    page = QueryInteger(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_PAGE),
        metadata={"description": "The JSON page; not with CSV (422): a CSV export is every matching decision"},
    )
    page_size = QueryInteger(
        load_default=20,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "Decisions per JSON page; not with CSV (422)"},
    )

    @ma.validates_schema
    def check_ranges(self, data: dict[str, Any], **kwargs: Any) -> None:
        for start, end, start_name, end_name in RANGES:
            if data.get(start) is not None and data.get(end) is not None and data[start] > data[end]:
                raise ma.ValidationError(f"must not be before {start_name} ({data[start].isoformat()})", end_name)


class DecisionSchema(Schema):
    position = ma.fields.Integer(
        required=True, metadata={"description": "The decision event's place in the global log; pass as `after`"}
    )
    stream_id = ma.fields.String(required=True, metadata={"description": "With `version`, the event's id"})
    version = ma.fields.Integer(required=True)
    collaboration_id = ma.fields.String(required=True)
    collaboration_name = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "The collaboration's name when it was decided"}
    )
    type = ma.fields.String(required=True, metadata={"example": "Collaboration.VariationAgreed"})
    summary = ma.fields.String(required=True, metadata={"description": "What was decided, in one line"})
    effective_on = ma.fields.Date(required=True)
    recorded_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    actor = ma.fields.String(required=True, allow_none=True)
    reason = ma.fields.String(required=True, allow_none=True)
    evidence = ma.fields.String(required=True, allow_none=True)
    approval_ref = ma.fields.String(required=True, allow_none=True)
    forces = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The forces concerned: the collaboration's parties when it was decided"},
    )
    data = ma.fields.Dict(required=True, metadata={"description": "The event's own fields; money as strings"})


class DecisionPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionSchema), required=True)
    total = ma.fields.Integer(required=True, metadata={"description": "Decisions matching the filters"})
    page = ma.fields.Integer(required=True)
    page_size = ma.fields.Integer(required=True)
    next_after = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `after` for the next page; null when no decision follows"},
    )
