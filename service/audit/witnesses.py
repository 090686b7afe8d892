"""The parties as witnesses: each force registers an Ed25519 witness key (an administrator
approves it, with a reference), and its witness cosigns the log's checkpoints once it has
checked for itself that each extends the last one it cosigned (``service/audit/witness.py``).

A cosignature is kept only if it verifies with the registered key over the checkpoint's note
text, so what the service hands out as a cosigned checkpoint is exactly what each witness
signed. A verifier never trusts this registry: it checks cosignatures with the forces' public
keys as it was given them (``service/audit/offline.py``). The registry says which key a force
named, and lets the service refuse cosignatures that would not verify.
"""

from __future__ import annotations

import base64
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from service.audit import notes
from service.audit.checkpoints import Checkpoint, CheckpointInvalid
from service.persistence import SideTableAccess

MAX_CLOCK_SKEW = 600  # seconds a cosignature's time may run ahead of the service's clock


class WitnessKeyTaken(ValueError):
    """A witness of that name is registered with another key, or that key under another name."""


class UnknownWitness(LookupError):
    """No witness of that name is registered."""


class CosignatureRefused(ValueError):
    """A cosignature that is malformed, for another checkpoint, or does not verify."""


@dataclass(frozen=True)
class Witness:
    name: str
    force: str
    vkey: str
    approval_ref: str
    registered_by: str
    registered_at: str

    @property
    def verifier(self) -> notes.Verifier:
        return notes.Verifier.parse(self.vkey)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class WitnessRegistry:
    def __init__(self, store: SideTableAccess):
        self.store = store

    def register(
        self, *, force: str, name: str, public_key: bytes, approval_ref: str, registered_by: str
    ) -> tuple[Witness, bool]:
        """Registers ``force``'s witness key; (the witness, whether it is new). Registering the
        same name, force and key again is answered with the registration kept."""
        verifier = notes.Verifier.of(name, public_key, notes.COSIGNATURE_V1)
        for existing in (self.witness(name), self._by_key(verifier.vkey)):
            if existing is None:
                continue
            if (existing.name, existing.force, existing.vkey) != (name, force, verifier.vkey):
                raise WitnessKeyTaken(
                    f"witness {existing.name} of {existing.force} is already registered with "
                    f"{'that key' if existing.vkey == verifier.vkey else 'another key'}; register a new name"
                )
            return existing, False
        registered_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.store.execute(
            "INSERT INTO {schema}audit_witnesses (name, force, vkey, approval_ref, registered_by, registered_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (name, force, verifier.vkey, approval_ref, registered_by, registered_at),
            commit=True,
        )
        kept = self.witness(name)
        assert kept is not None
        if kept.vkey != verifier.vkey or kept.force != force:  # a concurrent registration won
            raise WitnessKeyTaken(f"witness {name} was just registered with another key or force")
        return kept, kept.registered_at == registered_at

    def witness(self, name: str) -> Witness | None:
        rows = self.store.execute("SELECT * FROM {schema}audit_witnesses WHERE name = ?", (name,))
        return _witness(rows[0]) if rows else None

    def _by_key(self, vkey: str) -> Witness | None:
        key_material = vkey.split("+", 2)[2]
        rows = self.store.execute("SELECT * FROM {schema}audit_witnesses")
        return next((_witness(row) for row in rows if row["vkey"].split("+", 2)[2] == key_material), None)

    def witnesses(self, forces: list[str] | None = None) -> list[Witness]:
        rows = self.store.execute("SELECT * FROM {schema}audit_witnesses ORDER BY force, name")
        return [_witness(row) for row in rows if forces is None or row["force"] in forces]

    # ------------------------------------------------------------------ cosignatures
    def cosign(self, checkpoint: Checkpoint, line: str, now: float | None = None) -> tuple[str, bool]:
        """Keeps a witness's cosignature line of ``checkpoint``; (its witness, whether it is
        new). Refused unless it is one signature line by a registered witness whose key ID it
        carries and whose key verifies it over the checkpoint's note text, timed no later than
        a few minutes from now. A witness cosigns a checkpoint once: a second line is answered
        with the first."""
        if checkpoint.note is None:
            raise CosignatureRefused(
                f"the checkpoint of size {checkpoint.size} predates the Merkle tree; cosign a later one"
            )
        text = _note(checkpoint).text
        line = line if line.endswith("\n") else line + "\n"
        try:
            [signature] = notes.parse_note(text + "\n" + line).signatures
        except (notes.NoteError, ValueError):
            raise CosignatureRefused(
                "not one cosignature line: an em dash, a space, the witness name, a space, base64"
            ) from None
        witness = self.witness(signature.name)
        if witness is None:
            raise UnknownWitness(f"no witness named {signature.name} is registered (POST /api/v1/audit/witnesses)")
        verifier = witness.verifier
        if signature.key_id != verifier.key_id:
            raise CosignatureRefused(f"the cosignature's key ID is not that of witness {witness.name}'s registered key")
        try:
            timestamp = notes.cosignature_time(signature)
            verified = notes.verify_signature(notes.Note(text, (signature,)), verifier)
        except notes.NoteError as error:
            raise CosignatureRefused(f"{error} over the checkpoint of size {checkpoint.size}") from None
        if not verified:
            raise CosignatureRefused(f"the cosignature does not verify with witness {witness.name}'s key")
        if timestamp > (time.time() if now is None else now) + MAX_CLOCK_SKEW:
            raise CosignatureRefused(f"the cosignature is timed {timestamp}, in the future")
        kept = self.store.execute(
            "SELECT line FROM {schema}audit_cosignatures WHERE size = ? AND witness = ?",
            (checkpoint.size, witness.name),
        )
        if kept:
            return witness.name, False
        self.store.execute(
            "INSERT INTO {schema}audit_cosignatures (size, witness, line, cosigned_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (checkpoint.size, witness.name, signature.line, timestamp),
            commit=True,
        )
        return witness.name, True

    def cosignatures(self, size: int) -> list[dict[str, Any]]:
        rows = self.store.execute(
            "SELECT c.witness, c.line, c.cosigned_at, w.force FROM {schema}audit_cosignatures c"
            " LEFT JOIN {schema}audit_witnesses w ON w.name = c.witness"
            " WHERE c.size = ? ORDER BY c.cosigned_at, c.witness",
            (size,),
        )
        return [
            {
                "witness": row["witness"],
                "force": row["force"],
                "cosigned_at": datetime.fromtimestamp(row["cosigned_at"], UTC).isoformat().replace("+00:00", "Z"),
                "line": row["line"],
            }
            for row in rows
        ]

    def cosigned(self, checkpoint: Checkpoint, kept: list[dict[str, Any]] | None = None) -> Checkpoint:
        """The checkpoint with its note carrying every kept cosignature after the log's own
        (``kept``: its cosignatures, where the caller has read them already)."""
        if checkpoint.note is None:
            return checkpoint
        note = _note(checkpoint)
        rows = self.cosignatures(checkpoint.size) if kept is None else kept
        try:
            lines = [notes.parse_note(note.text + "\n" + row["line"]).signatures[0] for row in rows]
        except notes.NoteError as error:
            raise CheckpointInvalid(f"a kept cosignature of size {checkpoint.size} was altered: {error}") from None
        return replace(checkpoint, note=str(note.with_signatures(*lines)))


def _note(checkpoint: Checkpoint) -> notes.Note:
    """A kept checkpoint's note, which must still be the tree head the checkpoint signs, signed
    with its key (CheckpointInvalid: it was altered in the store)."""
    try:
        note = notes.parse_note(checkpoint.note or "")
        body = notes.parse_checkpoint(note.text)
        signer = notes.Verifier.of(body.origin, base64.b64decode(checkpoint.public_key))
        signed = notes.verify_signature(note, signer)
    except (notes.NoteError, ValueError) as error:
        raise CheckpointInvalid(f"the kept checkpoint of size {checkpoint.size} has an altered note: {error}") from None
    if not signed or body.size != checkpoint.size or body.root.hex() != checkpoint.root_hash:
        raise CheckpointInvalid(f"the kept checkpoint of size {checkpoint.size} has a note that is not its tree head")
    return note


def _witness(row: dict[str, Any]) -> Witness:
    return Witness(
        name=row["name"],
        force=row["force"],
        vkey=row["vkey"],
        approval_ref=row["approval_ref"],
        registered_by=row["registered_by"],
        registered_at=row["registered_at"],
    )
