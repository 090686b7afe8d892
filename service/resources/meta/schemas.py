"""Liveness."""

from __future__ import annotations

import marshmallow as ma

from service.resources.common import Schema


class HealthSchema(Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok"]})
