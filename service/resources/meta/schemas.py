"""Liveness."""

from __future__ import annotations

import marshmallow as ma

from service.resources.common import Schema


class HealthSchema(Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"]})


class ProjectionStateSchema(Schema):
    position = ma.fields.Integer(required=True, metadata={"description": "The last log position it has read"})
    lag = ma.fields.Integer(required=True, metadata={"description": "Events of the log it has still to read"})


class ReadinessSchema(Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ready"]})
    log_size = ma.fields.Integer(required=True, metadata={"description": "The log's last position"})
    max_lag = ma.fields.Integer(required=True, metadata={"description": "The lag allowed (READY_MAX_LAG)"})
    projections = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(ProjectionStateSchema),
        required=True,
        metadata={"description": "Each projection's position and lag"},
    )
