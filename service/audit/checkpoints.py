"""Signed checkpoints: an Ed25519 signature over (log size, head hash, head position, time).

The signing key lives outside the database: a PEM file named by ``AUDIT_SIGNING_KEY_FILE``
(``flask --app wsgi audit keygen`` writes one, readable only by its owner) or the key itself,
PEM text, in ``AUDIT_SIGNING_KEY``. A checkpoint carries the public key that verifies it, but
an auditor checks it against the public key they were given out of band, so a forger who can
write the database still cannot make a checkpoint the auditor accepts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.audit import notes

KEY_FILE_VARIABLE = "AUDIT_SIGNING_KEY_FILE"
KEY_VARIABLE = "AUDIT_SIGNING_KEY"


class SigningKeyMissing(RuntimeError):
    """No signing key is configured."""


class CheckpointInvalid(ValueError):
    """A checkpoint's signature does not verify, or its fields were altered."""


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head_hash: str
    head_position: int
    created_at: str
    public_key: str
    signature: str
    # Since the Merkle tree: its root at ``size`` (hex), signed with the fields above, and the
    # same tree head as a C2SP signed note (``service/audit/notes.py``) for tools outside Python.
    root_hash: str | None = None
    note: str | None = None

    def signed_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "size": self.size,
            "head_hash": self.head_hash,
            "head_position": self.head_position,
            "created_at": self.created_at,
        }
        if self.root_hash is not None:
            fields["root_hash"] = self.root_hash
        return fields

    def as_dict(self) -> dict[str, object]:
        return {name: value for name, value in asdict(self).items() if value is not None or name not in _OPTIONAL}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Checkpoint:
        """A checkpoint read back from JSON, exactly as signed: ``size`` and ``head_position``
        integers (not 12.9, "12" or true), ``head_hash`` 64 lower-case hex digits,
        ``public_key`` and ``signature`` non-empty base64. Anything else is CheckpointInvalid."""
        try:
            fields = {name: data[name] for name in _FIELDS}
        except (KeyError, TypeError) as error:
            raise CheckpointInvalid(f"not a checkpoint: missing {error}") from None
        for name in ("size", "head_position"):
            if type(fields[name]) is not int:
                raise CheckpointInvalid(f"not a checkpoint: {name} {fields[name]!r} is not an integer")
        if fields["size"] < 0:  # type: ignore[operator]
            raise CheckpointInvalid(f"not a checkpoint: size {fields['size']!r} is negative")
        head_hash = fields["head_hash"]
        if not isinstance(head_hash, str) or not _HASH.fullmatch(head_hash):
            raise CheckpointInvalid(f"not a checkpoint: head_hash {head_hash!r} is not 64 lower-case hex digits")
        if not isinstance(fields["created_at"], str):
            raise CheckpointInvalid(f"not a checkpoint: created_at {fields['created_at']!r} is not text")
        for name in ("public_key", "signature"):
            if not _is_base64(fields[name]):
                raise CheckpointInvalid(f"not a checkpoint: {name} {fields[name]!r} is not non-empty base64")
        root_hash, note = data.get("root_hash"), data.get("note")
        if root_hash is not None and (not isinstance(root_hash, str) or not _HASH.fullmatch(root_hash)):
            raise CheckpointInvalid(f"not a checkpoint: root_hash {root_hash!r} is not 64 lower-case hex digits")
        if note is not None and not isinstance(note, str):
            raise CheckpointInvalid("not a checkpoint: note is not text")
        return cls(**fields, root_hash=root_hash, note=note)  # type: ignore[arg-type]


_FIELDS = ("size", "head_hash", "head_position", "created_at", "public_key", "signature")
_OPTIONAL = ("root_hash", "note")
_HASH = re.compile(r"[0-9a-f]{64}")


def _is_base64(value: object) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def signed_message(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def generate_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_key_file(path: Path) -> None:
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite a signing key")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(generate_key_pem())


def load_signing_key(environ: dict[str, str] | os._Environ[str] = os.environ) -> Ed25519PrivateKey:
    if pem := environ.get(KEY_VARIABLE):
        data = pem.encode()
    elif path := environ.get(KEY_FILE_VARIABLE):
        data = Path(path).read_bytes()
    else:
        raise SigningKeyMissing(
            f"set {KEY_FILE_VARIABLE} to a key file (make one with: flask --app wsgi audit keygen) or {KEY_VARIABLE}"
        )
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyMissing("the audit signing key must be an Ed25519 key")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def sign(
    key: Ed25519PrivateKey,
    *,
    size: int,
    head_hash: str,
    head_position: int,
    created_at: str,
    root: bytes | None = None,
    origin: str | None = None,
) -> Checkpoint:
    """A checkpoint of the log's head; with the tree's ``root`` and the log's ``origin``, also
    of its tree head, as the JSON fields and as a C2SP checkpoint signed by the same key."""
    fields: dict[str, object] = {
        "size": size,
        "head_hash": head_hash,
        "head_position": head_position,
        "created_at": created_at,
    }
    note = None
    if root is not None:
        fields["root_hash"] = root.hex()
        if origin is None:
            origin = default_origin(key.public_key())
        text = notes.CheckpointBody(origin, size, root).text
        note = str(notes.Note(text, (notes.sign_note(text, origin, key),)))
    return Checkpoint(
        **fields,  # type: ignore[arg-type]
        public_key=public_key_text(key.public_key()),
        signature=base64.b64encode(key.sign(signed_message(fields))).decode(),
        note=note,
    )


def default_origin(key: Ed25519PublicKey) -> str:
    """The log's origin when none is configured: named after its signing key, so two
    deployments never share one."""
    raw = base64.b64decode(public_key_text(key))
    return f"collaboration-records/{hashlib.sha256(raw).hexdigest()[:16]}"


def check_signature(checkpoint: Checkpoint, trusted_public_key: str | None = None) -> None:
    """Raises CheckpointInvalid unless the checkpoint was signed by the trusted key over exactly
    its fields. With no trusted key (None) it is checked with the key it names itself, which
    proves only that it was not altered, not who signed it; an empty or blank key is refused,
    never taken to mean "no key"."""
    if trusted_public_key is None:
        public_key_b64 = checkpoint.public_key
    elif not trusted_public_key.strip():
        raise CheckpointInvalid("the trusted public key is empty")
    else:
        public_key_b64 = trusted_public_key
    try:
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public_key.verify(
            base64.b64decode(checkpoint.signature, validate=True), signed_message(checkpoint.signed_fields())
        )
    except (InvalidSignature, ValueError) as error:
        raise CheckpointInvalid("the checkpoint's signature does not verify with the trusted public key") from error
