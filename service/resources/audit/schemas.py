"""The audit report and signed checkpoints."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import marshmallow as ma

from service.fields import FORBIDDEN_CHARACTERS, WHITESPACE, Code, Date, QueryInteger, Text, known_force
from service.resources.common import Schema, TemporalQuerySchema

MAX_SIZE = 2**63 - 1
HASH = {"description": "SHA-256, 64 lowercase hex digits", "pattern": "^[0-9a-f]{64}$"}


class Ed25519PublicKey:
    """A validator: 32 bytes in padded base64, which is 43 base64 characters and one '='."""

    json_schema = {"minLength": 44, "maxLength": 44, "pattern": "^[A-Za-z0-9+/]{43}=$"}

    def __call__(self, value: str) -> None:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ma.ValidationError("must be base64, e.g. as `flask audit keygen` prints it") from None
        if len(raw) != 32:
            raise ma.ValidationError(f"an Ed25519 public key is 32 bytes; this is {len(raw)}")


ed25519_public_key = Ed25519PublicKey()


class KeyName:
    """A validator: a C2SP signed-note key name, without whitespace or '+'."""

    json_schema = {"pattern": f"^[^{FORBIDDEN_CHARACTERS}{WHITESPACE}+]+$"}
    shape = re.compile(r"[^\s+]+")

    def __call__(self, value: str) -> None:
        if not self.shape.fullmatch(value):
            raise ma.ValidationError("a key name has no spaces and no '+'")


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
            "head_position and created_at (and root_hash where present), keys sorted, no whitespace"
        },
    )
    root_hash = ma.fields.String(
        metadata={**HASH, "description": "The Merkle tree's root at `size` (checkpoints made since the tree)"}
    )
    note = ma.fields.String(
        metadata={
            "description": "The same tree head as a C2SP tlog-checkpoint signed note (origin, size, base64 root; "
            "the service's Ed25519 note signature, then each witness's cosignature line)"
        }
    )
    cosignatures = ma.fields.List(
        ma.fields.Nested(lambda: CosignatureSchema()),
        metadata={"description": "The witnesses' cosignatures kept for this checkpoint (each verified on receipt)"},
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

    since_size = QueryInteger(
        validate=ma.validate.Range(min=0, max=MAX_SIZE),
        metadata={
            "description": "Verify only what is new since the kept checkpoint of this size: the consistency "
            "proof from its signed tree root, then the events after it (not with against_size)"
        },
    )

    @ma.validates_schema
    def public_key_needs_a_checkpoint(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("against_size") is not None and data.get("since_size") is not None:
            raise ma.ValidationError("give against_size or since_size, not both", "since_size")
        if data.get("public_key") is not None and data.get("against_size", data.get("since_size")) is None:
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


# ------------------------------------------------------------------------- witnesses
class WitnessRequestSchema(Schema):
    force = Code(required=True, validate=known_force, metadata={"description": "The force whose witness this is"})
    name = Text(
        required=True,
        max_length=200,
        validate=KeyName(),
        metadata={"description": "The witness's key name, e.g. `west-mercia.police.uk/witness` (C2SP signed-note)"},
    )
    public_key = PublicKey(
        required=True, metadata={"description": "The witness's Ed25519 public key, base64 (`collab-witness keygen`)"}
    )
    approval_ref = Text(
        required=True,
        max_length=200,
        metadata={"description": "The approval of this key, e.g. the force's letter or a board minute"},
    )


class WitnessSchema(Schema):
    name = ma.fields.String(required=True)
    force = ma.fields.String(required=True)
    vkey = ma.fields.String(
        required=True,
        metadata={"description": "The verifier key: name+key ID+base64(0x04 || key), as C2SP witnesses write it"},
    )
    approval_ref = ma.fields.String(required=True)
    registered_by = ma.fields.String(required=True)
    registered_at = ma.fields.String(required=True, metadata={"format": "date-time"})


class WitnessListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(WitnessSchema), required=True)


def one_line(value: str) -> None:
    if "\n" in value.rstrip("\n"):
        raise ma.ValidationError("one cosignature line, with no other lines")


class CosignatureRequestSchema(Schema):
    cosignature = Text(
        required=True,
        max_length=400,
        validate=one_line,
        metadata={
            "description": "One C2SP tlog-cosignature line: an em dash, a space, the witness's name, a space, "
            "base64(key ID || 8-byte time || Ed25519 signature)"
        },
    )


class CosignatureSchema(Schema):
    witness = ma.fields.String(required=True)
    force = ma.fields.String(required=True, allow_none=True)
    cosigned_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    line = ma.fields.String(required=True)


# ------------------------------------------------------------------------- evidence bundles
class QuoteEvidenceQuerySchema(TemporalQuerySchema):
    collaboration_id = Code(required=True, metadata={"description": "The collaboration's id"})
    force = Code(required=True, validate=known_force, metadata={"description": "The withdrawing party"})
    exit_on = Date(metadata={"description": "The exit date E, as for the quote itself"})


class EvidenceBundleSchema(Schema):
    format = ma.fields.String(required=True, metadata={"description": "collaboration-records/evidence-bundle/v1"})
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["exit-cost-quote", "exit-case", "collaboration-history"])
    )
    subject = ma.fields.Dict(
        required=True, metadata={"description": "What the figures are of, and how they were asked"}
    )
    parties = ma.fields.List(ma.fields.String(), required=True, metadata={"description": "Whose witnesses vouch"})
    figures = ma.fields.Raw(required=True, metadata={"description": "The figures, exactly as the service answers them"})
    events = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata={
            "description": "Every event the figures cite: `position`, `leaf_index`, `document` (the canonical "
            "document, the tree's leaf) and `audit_path` (its RFC 9162 inclusion proof in the checkpoint's tree)"
        },
    )
    checkpoint = ma.fields.String(
        required=True,
        metadata={"description": "The checkpoint as a C2SP signed note, with the witnesses' cosignatures"},
    )
    witnesses = ma.fields.List(
        ma.fields.Dict(), required=True, metadata={"description": "The parties' witness keys as registered here"}
    )
    seal = ma.fields.String(
        required=True,
        metadata={
            "description": "The service's Ed25519 signature (base64) over the rest of the bundle in canonical "
            "form, after the line `collaboration-records/evidence-bundle/v1 seal`"
        },
    )
