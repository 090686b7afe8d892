"""The forces known to the service."""

from __future__ import annotations

import marshmallow as ma

from service.resources.common import Schema


class ForceSchema(Schema):
    code = ma.fields.String(required=True, metadata={"example": "west-mercia"})
    name = ma.fields.String(required=True, metadata={"example": "West Mercia Police"})
    country = ma.fields.String(required=True, metadata={"enum": ["England", "Wales"]})


class ForcesSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ForceSchema), required=True)
