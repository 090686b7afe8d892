"""Audit: verify the whole record against its hash chain, and the signed checkpoints of it.

Verification walks every event of the log: it reads the log in pages (bounded memory, a few
MB; short read transactions that never hold up writers) and recomputes every hash, so a request
costs time in proportion to the log: about 115,000 events a second on SQLite and 70,000 on
PostgreSQL with the Merkle tree rebuilt too (bench/README.md), and it occupies one worker
meanwhile; `?since_size=N` reads only what followed a checkpoint. So does signing a checkpoint,
which verifies the log first. Beyond a few million events, use ``flask --app wsgi audit verify``
and ``audit checkpoint`` instead, or raise the worker timeout (``GUNICORN_TIMEOUT``, 30 s).
"""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

import marshmallow as ma
from flask import jsonify
from flask.wrappers import Response

from service import web
from service.api import Blueprint
from service.audit import notes
from service.audit.bundles import EvidenceBundles, NoCoveringCheckpoint, canonical, seal, stream_positions
from service.audit.checkpoints import CheckpointInvalid, SigningKeyMissing
from service.audit.configuration import audit_trail, log_origin, signing_key, trusted_public_key, witness_registry
from service.audit.trail import LogDoesNotVerify
from service.audit.tree import EventNotChained, LogTree, SizesOutOfOrder, TreeIncomplete
from service.audit.witnesses import CosignatureRefused, UnknownWitness, WitnessKeyTaken
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
NO_TREE_HEAD = "no-tree-head"
WITNESS_KEY_TAKEN = "witness-key-taken"


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

    It also rebuilds the Merkle tree from the events and compares every stored node: a leaf or
    subtree that does not match is reported at the position of the event that completed it.

    With `since_size` instead, only what is new since the kept checkpoint of that size: its
    signature (as above), the RFC 9162 consistency proof from its signed root to the tree now,
    then the events after its head. 409 when that checkpoint predates the tree.

    Cost: one pass over the whole log, in proportion to its length: about 115,000 events a second
    on SQLite, 70,000 on PostgreSQL (bench/README.md); with `since_size`, in proportion to what
    is new.
    """
    trail = audit_trail()
    against = None
    public_key = trusted_key = None
    checkpoint_size = args.get("against_size", args.get("since_size"))
    if checkpoint_size is not None:
        against = _kept_checkpoint(checkpoint_size)
        public_key, trusted_key = _trusted_public_key(args.get("public_key"))
    try:
        if args.get("since_size") is not None:
            result = trail.verify_since(against, trusted_public_key=public_key)
        else:
            result = trail.verify(against=against, trusted_public_key=public_key)
    except CheckpointInvalid as error:
        web.fail(
            409, f"the checkpoint is rejected: {error}", problem_type=CHECKPOINT_INVALID, title="Checkpoint invalid"
        )
    report = result.as_report()
    if result.checkpoint is not None:
        report["checkpoint"] = _served(against)
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
    return jsonify(_served(checkpoint))


@blp.route("/checkpoint/note", methods=["GET"])
@blp.response(200, content_type="text/plain")
@blp.problems(404)
def latest_checkpoint_note() -> Response:
    """The latest checkpoint as a C2SP signed note, with its cosignatures (an extension of the v1 contract)

    The text tools outside Python read (`tlog-checkpoint`: origin, tree size, base64 root hash),
    signed by the service's Ed25519 key and cosigned by the forces' witnesses. 404
    (`no-checkpoint`) until a checkpoint with a tree root has been made.
    """
    latest = _readable(audit_trail().latest_checkpoint)
    if latest is None or latest.note is None:
        web.fail(404, "no checkpoint of the Merkle tree has been made yet", problem_type=NO_CHECKPOINT)
    return _note_response(latest)


@blp.route("/checkpoints/<int:size>", methods=["GET"])
@blp.response(200, s.CheckpointSchema)
@blp.problems(404)
def checkpoint_of_size(size: int) -> Response:
    """The kept checkpoint of a log size, with its cosignatures (an extension of the v1 contract)

    404 if no checkpoint of that size was signed. Its signed note is at `.../{size}/note`.
    """
    return jsonify(_served(_kept_checkpoint(size)))


@blp.route("/checkpoints/<int:size>/note", methods=["GET"])
@blp.response(200, content_type="text/plain")
@blp.problems(404)
def checkpoint_note(size: int) -> Response:
    """The kept checkpoint of a log size as a C2SP signed note, with its cosignatures (an extension of the v1 contract)

    404 when none of that size is kept, or it predates the Merkle tree (it has no note).
    """
    return _note_response(_kept_checkpoint(size))


@blp.route("/checkpoints/<int:size>/cosignatures", methods=["POST"])
@blp.arguments(s.CosignatureRequestSchema)
@blp.response(201, s.CheckpointSchema)
@blp.alt_response(200, schema=s.CheckpointSchema, description="This witness had already cosigned it: as kept")
@blp.problems(403, 404, 409, 422)
def cosign_checkpoint(body: dict[str, Any], size: int) -> Response:
    """A witness cosigns a checkpoint (an extension of the v1 contract)

    The witness (`collab-witness`, run by the force) has checked the consistency proof from the
    last checkpoint it cosigned, and sends one C2SP cosignature line over this checkpoint's note.
    It is kept only if it verifies with the key registered for that witness name; the
    checkpoint is answered with every cosignature kept. A force token may post only its own
    witness's cosignature; an administrator may relay any. 404 when no checkpoint of that size
    is kept; 409 when it predates the tree; 422 when the line is malformed, names no registered
    witness, or does not verify.
    """
    checkpoint = _kept_checkpoint(size)
    registry = witness_registry()
    principal = web.current_principal()
    try:
        if principal.role != ADMIN:
            named = _line_witness(body["cosignature"])
            witness = registry.witness(named) if named else None
            if witness is not None and witness.force != principal.force:
                raise NotPermitted(f"a {principal.force} token may post only {principal.force}'s cosignatures")
        _, created = _readable(lambda: registry.cosign(checkpoint, body["cosignature"]))
    except CosignatureRefused as error:
        if checkpoint.note is None:
            web.fail(409, str(error), problem_type=NO_TREE_HEAD, title="No tree head to cosign")
        web.fail(422, str(error), errors={"cosignature": [str(error)]})
    except UnknownWitness as error:
        web.fail(422, str(error), errors={"cosignature": [str(error)]})
    response = jsonify(_served(checkpoint))
    response.status_code = 201 if created else 200
    return response


@blp.route("/witnesses", methods=["GET"])
@blp.response(200, s.WitnessListSchema)
def list_witnesses() -> Response:
    """The forces' registered witness keys (an extension of the v1 contract)

    Each as a C2SP verifier key (`vkey`). A verifier should hold the keys it trusts from the
    forces themselves, not from this list: it shows which key each force registered here.
    """
    return jsonify({"items": [witness.as_dict() for witness in witness_registry().witnesses()]})


@blp.route("/witnesses", methods=["POST"])
@blp.arguments(s.WitnessRequestSchema)
@blp.response(201, s.WitnessSchema)
@blp.alt_response(200, schema=s.WitnessSchema, description="Already registered with this key: as kept")
@blp.problems(403, 409)
def register_witness(body: dict[str, Any]) -> Response:
    """Register a force's witness key (administrators, with the approval; an extension of the v1 contract)

    409 when the name is registered with another key or force, or the key under another name.
    """
    principal = web.current_principal()
    if principal.role != ADMIN:
        raise NotPermitted("only an administrator may register witness keys, on the force's approval")
    try:
        witness, created = witness_registry().register(
            force=body["force"],
            name=body["name"],
            public_key=base64.b64decode(body["public_key"]),
            approval_ref=body["approval_ref"],
            registered_by=principal.actor,
        )
    except WitnessKeyTaken as error:
        web.fail(409, str(error), problem_type=WITNESS_KEY_TAKEN, title="Witness key taken")
    response = jsonify(witness.as_dict())
    response.status_code = 201 if created else 200
    return response


def _line_witness(line: str) -> str | None:
    """The witness a cosignature line names (None when it is not one), read as the note parser reads it."""
    try:
        return notes.parse_note("-\n\n" + line.rstrip("\n") + "\n").signatures[0].name
    except notes.NoteError:
        return None


def _served(checkpoint: Any) -> dict[str, Any]:
    """A kept checkpoint as served: its note carrying the witnesses' cosignatures, and the list."""
    registry = witness_registry()
    if checkpoint.note is None:
        return checkpoint.as_dict()
    kept = registry.cosignatures(checkpoint.size)
    return {**_readable(lambda: registry.cosigned(checkpoint, kept)).as_dict(), "cosignatures": kept}


def _note_response(checkpoint: Any) -> Response:
    if checkpoint.note is None:
        web.fail(
            404,
            f"the checkpoint of size {checkpoint.size} predates the Merkle tree and has no signed note",
            problem_type=NO_TREE_HEAD,
            title="No tree head",
        )
    note = _readable(lambda: witness_registry().cosigned(checkpoint)).note
    return Response(note, status=200, mimetype="text/plain", content_type="text/plain; charset=utf-8")


@blp.route("/checkpoints", methods=["GET"])
@blp.response(200, s.CheckpointListSchema)
def list_checkpoints() -> Response:
    """Every kept checkpoint, by size

    Each is kept for good, so an auditor holding an old one can check that the log only grew:
    the event numbered with the old size must still carry the old head hash.
    """
    return jsonify({"items": [_served(checkpoint) for checkpoint in _readable(audit_trail().checkpoints)]})


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
        made = trail.make_checkpoint(key, log_origin())
    except notes.NoteError as error:
        web.fail(503, f"AUDIT_LOG_ORIGIN is not a valid key name: {error}", problem_type=SIGNING_KEY_MISSING)
    except LogDoesNotVerify as error:
        web.fail(409, str(error), problem_type=LOG_DOES_NOT_VERIFY, title="The log does not verify")
    response = jsonify(_served(made))
    response.status_code = 200 if before is not None and before.size == made.size else 201
    return response


def _kept_checkpoint(size: int) -> Any:
    checkpoint = _readable(lambda: audit_trail().checkpoint(size)) if size <= s.MAX_SIZE else None
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


# ------------------------------------------------------------------------- evidence bundles
NO_COVERING_CHECKPOINT = "no-covering-checkpoint"


def _bundle(kind: str, subject: dict[str, Any], figures: dict[str, Any], parties: list[str], **extra: Any) -> Any:
    """The bundle, sealed with the service's key, in its one canonical byte form (download it as
    it is: the verifier refuses it re-indented)."""
    try:
        key = signing_key()
    except SigningKeyMissing as error:
        web.fail(503, str(error), problem_type=SIGNING_KEY_MISSING, title="No signing key")
    bundles = EvidenceBundles(audit_trail(), witness_registry())
    try:
        bundle = _readable(lambda: bundles.build(kind, subject, figures, parties, **extra))
    except NoCoveringCheckpoint as error:
        web.fail(409, str(error), problem_type=NO_COVERING_CHECKPOINT, title="No checkpoint covers these events")
    return Response(canonical(seal(bundle, key)), status=200, mimetype="application/json")


@blp.route("/evidence/exit-costs", methods=["GET"])
@blp.arguments(s.QuoteEvidenceQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, s.EvidenceBundleSchema)
@blp.problems(404, 409, 422, 503)
def quote_evidence(args: dict[str, Any]) -> Response:
    """An evidence bundle for an exit-cost quote (an extension of the v1 contract)

    The quote exactly as `GET /api/v1/collaborations/{id}/exit-costs` answers it with the same
    parameters, every event its lines, payees and basis cite, each with its inclusion proof in
    the tree of the latest checkpoint, and that checkpoint cosigned by the witnesses.

    Check it offline with `collab-verify` (docs/evidence.md). The bundle is sealed with the
    service's key (`seal`) and sent in its canonical form (keys sorted, no whitespace): keep the
    bytes as they are. 409 (`no-covering-checkpoint`) when no checkpoint with a tree head covers
    the events yet: sign one and have the witnesses cosign it. 503 without a signing key.
    """
    collaboration_id = str(args.pop("collaboration_id"))
    queries = web.queries()
    figures = queries.exit_quote(collaboration_id, **args)
    parties = [party["force"] for party in queries.collaboration(collaboration_id)["parties"]]
    subject = {"collaboration_id": collaboration_id, **{k: str(v) for k, v in args.items()}}
    return _bundle("exit-cost-quote", subject, figures, parties)


@blp.route("/evidence/exit-cases/<uuid:case_id>", methods=["GET"])
@blp.response(200, s.EvidenceBundleSchema)
@blp.problems(404, 409, 503)
def exit_case_evidence(case_id: UUID) -> Response:
    """An evidence bundle for an exit case (an extension of the v1 contract)

    The case as `GET /api/v1/exit-cases/{id}` answers it, every event of its stream and every
    event it cites, each with its inclusion proof.

    Check it offline with `collab-verify` (docs/evidence.md). The bundle is sealed with the
    service's key (`seal`) and sent in its canonical form (keys sorted, no whitespace): keep the
    bytes as they are. 409 (`no-covering-checkpoint`) when no checkpoint with a tree head covers
    the events yet: sign one and have the witnesses cosign it. 503 without a signing key.
    """
    figures = web.queries().exit_case(str(case_id))
    positions = stream_positions(web.records().side_tables, str(case_id))
    return _bundle("exit-case", {"exit_case_id": str(case_id)}, figures, list(figures["parties"]), positions=positions)


@blp.route("/evidence/collaborations/<uuid:collaboration_id>/history", methods=["GET"])
@blp.response(200, s.EvidenceBundleSchema)
@blp.problems(404, 409, 503)
def history_evidence(collaboration_id: UUID) -> Response:
    """An evidence bundle for a collaboration's history (an extension of the v1 contract)

    Every event of the collaboration, its exit cases and its benefits, in log order, as
    `GET /api/v1/collaborations/{id}/history` answers them, each with its inclusion proof.

    Check it offline with `collab-verify` (docs/evidence.md). The bundle is sealed with the
    service's key (`seal`) and sent in its canonical form (keys sorted, no whitespace): keep the
    bytes as they are. 409 (`no-covering-checkpoint`) when no checkpoint with a tree head covers
    the events yet: sign one and have the witnesses cosign it. 503 without a signing key.
    """
    one = str(collaboration_id)
    queries = web.queries()
    _, history = queries.history(one)
    items = list(history)
    parties = [party["force"] for party in queries.collaboration(one)["parties"]]
    figures = {"collaboration_id": one, "items": items}
    return _bundle(
        "collaboration-history", {"collaboration_id": one}, figures, parties, positions=[i["position"] for i in items]
    )
