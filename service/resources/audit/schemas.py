"""The audit report and signed checkpoints."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow as ma

from service.fields import QueryInteger, Text
from service.resources.common import Schema

MAX_SIZE = 2**63 - 1
HASH = {"description": "SHA-256, 64 lowercase hex digits", "pattern": "^[0-9a-f]{64}$"}


def ed25519_public_key(value: str) -> None:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ma.ValidationError("must be base64, e.g. as `flask audit keygen` prints it") from None
    if len(raw) != 32:
        raise ma.ValidationError(f"an Ed25519 public key is 32 bytes; this is {len(raw)}")


class PublicKey(Text):
    """An Ed25519 public key in base64. In a query string an unencoded ``+`` arrives as a space;
    a space is never base64, so it is read back as the ``+`` it was."""

    def __init__(self, **kwargs: Any):
        super().__init__(max_length=100, validate=ed25519_public_key, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if isinstance(value, str):  # before any trimming: a key may start or end with '+'
            value = value.replace(" ", "+")
        return super()._deserialize(value, attr, data, **kwargs)


class CheckpointSchema(Schema):
    size = ma.fields.Integer(required=True, metadata={"description": "The log's size (number of events) signed"})
    head_hash = ma.fields.String(required=True, metadata={**HASH, "description": "The hash of event `size`"})
    head_position = ma.fields.Integer(required=True, metadata={"description": "The log position of event `size`"})
    created_at = ma.fields.String(required=True, metadata={"format": "date-time", "description": "When signed"})
    public_key = ma.fields.String(
        required=True,
        metadata={
            "description": "The Ed25519 public key (base64) that verifies the signature. Check it against "
            "the key you were given out of band: anyone can sign with a key of their own."
        },
    )
    signature = ma.fields.String(
        required=True,
        metadata={
            "description": "Ed25519 signature (base64) over the JSON object of size, head_hash, "
            "head_position and created_at, keys sorted, no whitespace"
        },
    )


class CheckpointListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(CheckpointSchema), required=True, metadata={"description": "By size"})


class CheckpointRequestSchema(Schema):
    """No fields: the checkpoint signs the log's current head."""


class VerifyQuerySchema(Schema):
    against_size = QueryInteger(
        validate=ma.validate.Range(min=0, max=MAX_SIZE),
        metadata={
            "description": "Also check against the kept checkpoint of this size (GET "
            "/api/v1/audit/checkpoints): the event numbered `against_size` must still carry its head hash"
        },
    )
    public_key = PublicKey(
        metadata={
            "description": "With `against_size`: the Ed25519 public key (base64) the checkpoint must be "
            "signed with. Default: the service's configured signing key; without one, 422 (the key the "
            "checkpoint names itself is never trusted)"
        },
    )

    @ma.validates_schema
    def public_key_needs_a_checkpoint(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("public_key") is not None and data.get("against_size") is None:
            raise ma.ValidationError("checks a checkpoint's signature: give against_size too", "public_key")


class VerificationSchema(Schema):
    ok = ma.fields.Boolean(required=True, metadata={"description": "Every event matches its hash and its place"})
    events_checked = ma.fields.Integer(required=True, metadata={"description": "Events that verified"})
    first_bad_position = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "Where the walk stopped: the log position of the first event that does not "
            "verify (null when ok, or when events are missing from the end of the log and nothing records where)"
        },
    )
    problem = ma.fields.String(required=True, allow_none=True, metadata={"description": "What is wrong there"})
    size = ma.fields.Integer(required=True, metadata={"description": "The verified log's size"})
    head_hash = ma.fields.String(required=True, metadata={**HASH, "description": "The hash of the last verified event"})
    checkpoint = ma.fields.Nested(
        CheckpointSchema, metadata={"description": "With `against_size`: the checkpoint checked against"}
    )
    trusted_key = ma.fields.String(
        validate=ma.validate.OneOf(["given", "configured"]),
        metadata={
            "description": "With `against_size`: the key the checkpoint's signature was checked with: "
            "`given` (the `public_key` parameter) or `configured` (the service's signing key)"
        },
    )


# ------------------------------------------------------------------------- the Merkle tree
class TreeQuerySchema(Schema):
    size = QueryInteger(
        validate=ma.validate.Range(min=0, max=MAX_SIZE),
        metadata={"description": "The tree's size (number of leaves); defaults to the whole tree"},
    )


class TreeHeadSchema(Schema):
    size = ma.fields.Integer(required=True, metadata={"description": "The number of leaves (events) covered"})
    root_hash = ma.fields.String(required=True, metadata={**HASH, "description": "The RFC 9162 Merkle tree hash"})
    tree_size = ma.fields.Integer(required=True, metadata={"description": "The whole tree's size now"})


class InclusionQuerySchema(Schema):
    position = QueryInteger(
        required=True,
        validate=ma.validate.Range(min=1, max=MAX_SIZE),
        metadata={"description": "The event's position in the global log (as the feed and every history give it)"},
    )
    size = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_SIZE),
        metadata={
            "description": "The tree size to prove inclusion in (e.g. a checkpoint's); defaults to the whole tree"
        },
    )


class InclusionProofSchema(Schema):
    position = ma.fields.Integer(required=True)
    leaf_index = ma.fields.Integer(
        required=True, metadata={"description": "The event's leaf: its seq in the chain - 1"}
    )
    tree_size = ma.fields.Integer(required=True)
    leaf = ma.fields.String(
        required=True,
        metadata={"description": "The leaf: the event's canonical JSON document (what the chain hashes), as text"},
    )
    leaf_hash = ma.fields.String(required=True, metadata={**HASH, "description": "SHA-256(0x00 || leaf)"})
    audit_path = ma.fields.List(
        ma.fields.String(metadata=HASH), required=True, metadata={"description": "RFC 9162 2.1.3, leaf to root"}
    )
    root_hash = ma.fields.String(required=True, metadata=HASH)


class ConsistencyQuerySchema(Schema):
    old_size = QueryInteger(required=True, validate=ma.validate.Range(min=1, max=MAX_SIZE))
    new_size = QueryInteger(
        validate=ma.validate.Range(min=1, max=MAX_SIZE),
        metadata={"description": "Defaults to the whole tree"},
    )


class ConsistencyProofSchema(Schema):
    old_size = ma.fields.Integer(required=True)
    new_size = ma.fields.Integer(required=True)
    old_root = ma.fields.String(required=True, metadata=HASH)
    new_root = ma.fields.String(required=True, metadata=HASH)
    proof = ma.fields.List(ma.fields.String(metadata=HASH), required=True, metadata={"description": "RFC 9162 2.1.4"})
