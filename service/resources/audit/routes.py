"""Audit: verify the whole record against its hash chain, and the signed checkpoints of it.

Verification walks every event of the log: it reads the log in pages (bounded memory, a few
MB; short read transactions that never hold up writers) and recomputes every hash, so a request
costs time in proportion to the log: about 400,000 events a second on SQLite and 240,000 on
PostgreSQL (bench/README.md), and it occupies one worker meanwhile. So does signing a checkpoint,
which verifies the log first. Beyond a few million events, use ``flask --app wsgi audit verify``
and ``audit checkpoint`` instead, or raise the worker timeout (``GUNICORN_TIMEOUT``, 30 s).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.audit.checkpoints import CheckpointInvalid, SigningKeyMissing
from service.audit.configuration import audit_trail, signing_key, trusted_public_key
from service.audit.trail import LogDoesNotVerify
from service.audit.tree import EventNotChained, LogTree, SizesOutOfOrder, TreeIncomplete
from service.auth import ADMIN
from service.errors import NotPermitted
from service.resources.audit import schemas as s

blp = Blueprint(
    "audit",
    __name__,
    url_prefix="/api/v1/audit",
    description="Integrity of the whole record: the hash chain over the event log, signed checkpoints of it, and "
    "the RFC 9162 Merkle tree over it with inclusion and consistency proofs.",
)

CHECKPOINT_INVALID = "checkpoint-invalid"
LOG_DOES_NOT_VERIFY = "log-does-not-verify"
NO_CHECKPOINT = "no-checkpoint"
SIGNING_KEY_MISSING = "signing-key-missing"


@blp.route("/verify", methods=["GET"])
@blp.arguments(s.VerifyQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.VerificationSchema)
@blp.problems(404, 409, 422, 503)
def verify(args: dict[str, Any]) -> Response:
    """Verify the whole log

    Walks every event in log order and recomputes its SHA-256 from its stream, version,
    position, type, recorded time and data and the hash before it. The answer is 200 whether
    or not the log verifies: `ok` is the verdict, `first_bad_position` and `problem` say where
    the walk stopped and why.

    With `against_size`, the kept checkpoint of that size is checked first (its signature, with
    `public_key`, else the service's signing key; never with the key the checkpoint names itself,
    which anyone who can write the database can re-sign with) and the log must still hold its
    head, at the position it signs: that proves history up to it was not rewritten and the log
    only grew. The report then says which key was trusted (`trusted_key`: `given` or
    `configured`). 404 when no checkpoint of that size is kept; 409 (`checkpoint-invalid`) when
    its signature does not verify with that key; 422 when there is no key to check it with (pass
    `public_key`, or configure the service's signing key).

    Cost: one pass over the whole log, in proportion to its length: about 400,000 events a second
    on SQLite, 240,000 on PostgreSQL (bench/README.md).
    """
    trail = audit_trail()
    against = None
    public_key = trusted_key = None
    if args.get("against_size") is not None:
        against = _kept_checkpoint(args["against_size"])
        public_key, trusted_key = _trusted_public_key(args.get("public_key"))
    try:
        result = trail.verify(against=against, trusted_public_key=public_key)
    except CheckpointInvalid as error:
        web.fail(
            409, f"the checkpoint is rejected: {error}", problem_type=CHECKPOINT_INVALID, title="Checkpoint invalid"
        )
    report = result.as_report()
    if result.checkpoint is not None:
        report["checkpoint"] = result.checkpoint
        report["trusted_key"] = trusted_key
    return jsonify(report)


@blp.route("/checkpoint", methods=["GET"])
@blp.response(200, s.CheckpointSchema)
@blp.problems(404)
def latest_checkpoint() -> Response:
    """The latest signed checkpoint

    The log's size and head hash at a moment, signed with the service's Ed25519 key. Keep it:
    `GET /api/v1/audit/verify?against_size=<size>` (or `flask audit verify --against FILE`)
    later proves the log still holds that head. Check its signature with the public key you
    were given, not only the one it names. 404 (`no-checkpoint`) until one has been made.
    """
    checkpoint = _readable(audit_trail().latest_checkpoint)
    if checkpoint is None:
        web.fail(
            404,
            "no checkpoint has been made yet: `flask --app wsgi audit checkpoint` or POST /api/v1/audit/checkpoints",
            problem_type=NO_CHECKPOINT,
            title="No checkpoint",
        )
    return jsonify(checkpoint.as_dict())


@blp.route("/checkpoints", methods=["GET"])
@blp.response(200, s.CheckpointListSchema)
def list_checkpoints() -> Response:
    """Every kept checkpoint, by size

    Each is kept for good, so an auditor holding an old one can check that the log only grew:
    the event numbered with the old size must still carry the old head hash.
    """
    return jsonify({"items": [checkpoint.as_dict() for checkpoint in _readable(audit_trail().checkpoints)]})


@blp.route("/checkpoints", methods=["POST"])
@blp.arguments(s.CheckpointRequestSchema)
@blp.response(201, s.CheckpointSchema)
@blp.alt_response(200, schema=s.CheckpointSchema, description="A checkpoint of this size was already kept: that one")
@blp.problems(409, 503)
def make_checkpoint(body: dict[str, Any]) -> Response:
    """Sign a checkpoint of the log now (administrators)

    Chains any events not yet chained, verifies the whole log, then signs its size and head
    hash with the service's key. 201 with the new checkpoint; 200 with the kept one if the log
    has not grown since. 409 (`log-does-not-verify`) when the log does not verify: no
    checkpoint vouches for it. 503 (`signing-key-missing`) when the service has no signing key
    (`AUDIT_SIGNING_KEY_FILE` or `AUDIT_SIGNING_KEY`; `flask --app wsgi audit keygen` makes
    one). Send an empty JSON object as the body.
    """
    if web.current_principal().role != ADMIN:
        raise NotPermitted("only an administrator may sign checkpoints")
    try:
        key = signing_key()
    except SigningKeyMissing as error:
        web.fail(503, str(error), problem_type=SIGNING_KEY_MISSING, title="No signing key")
    trail = audit_trail()
    before = _readable(trail.latest_checkpoint)
    try:
        made = trail.make_checkpoint(key)
    except LogDoesNotVerify as error:
        web.fail(409, str(error), problem_type=LOG_DOES_NOT_VERIFY, title="The log does not verify")
    response = jsonify(made.as_dict())
    response.status_code = 200 if before is not None and before.size == made.size else 201
    return response


def _kept_checkpoint(size: int) -> Any:
    checkpoint = _readable(lambda: audit_trail().checkpoint(size))
    if checkpoint is None:
        web.fail(
            404,
            f"no checkpoint of size {size} is kept (GET /api/v1/audit/checkpoints lists them)",
            problem_type=NO_CHECKPOINT,
            title="No checkpoint",
        )
    return checkpoint


def _trusted_public_key(given: str | None) -> tuple[str, str]:
    """The key to check a checkpoint with: the one given, else the service's. Never the key
    the checkpoint names itself: that proves nothing about who signed it."""
    try:
        trusted = trusted_public_key(given)
    except SigningKeyMissing as error:
        web.fail(503, str(error), problem_type=SIGNING_KEY_MISSING, title="No signing key")
    if trusted is None:
        detail = (
            "no key to check the checkpoint's signature with: pass public_key (the base64 Ed25519 public key "
            "you were given), or configure the service's signing key (AUDIT_SIGNING_KEY_FILE)"
        )
        web.fail(422, detail, errors={"public_key": [detail]})
    return trusted


def _readable(read: Any) -> Any:
    """A kept checkpoint that is not even a checkpoint any more was altered in the store."""
    try:
        return read()
    except CheckpointInvalid as error:
        web.fail(
            409, f"a kept checkpoint was altered: {error}", problem_type=CHECKPOINT_INVALID, title="Checkpoint invalid"
        )


# ------------------------------------------------------------------------- the Merkle tree
TREE_INCOMPLETE = "tree-incomplete"


def _tree() -> LogTree:
    return LogTree(web.records().side_tables)


def _tree_answer(answer: Any) -> Any:
    """A tree answer, or the problem saying why there is none."""
    try:
        return answer()
    except EventNotChained as error:
        web.fail(404, str(error))
    except TreeIncomplete as error:
        web.fail(422, str(error), problem_type=TREE_INCOMPLETE, title="Beyond the tree", errors={"size": [str(error)]})
    except SizesOutOfOrder as error:
        web.fail(422, str(error), errors={"old_size": [str(error)]})


@blp.route("/tree", methods=["GET"])
@blp.arguments(s.TreeQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.TreeHeadSchema)
@blp.problems(422)
def tree_head(args: dict[str, Any]) -> Response:
    """The Merkle tree's head (an extension of the v1 contract)

    The RFC 9162 Merkle tree over the chained log: one leaf per event, the event's canonical
    document (what the hash chain hashes), hashed as SHA-256(0x00 || leaf); interior nodes
    SHA-256(0x01 || left || right). The root of the tree of `size` leaves (default: all of
    them). 422 (`tree-incomplete`) beyond the tree's size.
    """
    return jsonify(_tree_answer(lambda: _tree().head(args.get("size"))))


@blp.route("/proofs/inclusion", methods=["GET"])
@blp.arguments(s.InclusionQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.InclusionProofSchema)
@blp.problems(404, 422)
def inclusion_proof(args: dict[str, Any]) -> Response:
    """Prove that an event is in the log (an extension of the v1 contract)

    The RFC 9162 inclusion proof of the event at `position` in the tree of `size` leaves
    (default: the whole tree): its leaf (the canonical document), leaf hash, audit path and the
    root it leads to. Anyone can check it with the RFC's algorithm, and the root against a
    checkpoint they hold. 404 when no chained event has that position; 422 (`tree-incomplete`)
    when the event is not among the first `size` leaves or `size` is beyond the tree.
    """
    return jsonify(_tree_answer(lambda: _tree().event_inclusion(args["position"], args.get("size"))))


@blp.route("/proofs/consistency", methods=["GET"])
@blp.arguments(s.ConsistencyQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.ConsistencyProofSchema)
@blp.problems(422)
def consistency_proof(args: dict[str, Any]) -> Response:
    """Prove that the log only grew (an extension of the v1 contract)

    The RFC 9162 consistency proof that the tree of `new_size` leaves (default: the whole tree)
    extends the tree of `old_size`: a party holding the old root checks, with the RFC's
    algorithm, that nothing it saw was rewritten. 422 when `old_size` is above `new_size` or
    either is beyond the tree.
    """
    return jsonify(_tree_answer(lambda: _tree().growth(args["old_size"], args.get("new_size"))))
