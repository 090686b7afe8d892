"""Signed checkpoints: an Ed25519 signature over (log size, head hash, head position, time).

The signing key lives outside the database: a PEM file named by ``AUDIT_SIGNING_KEY_FILE``
(``flask --app wsgi audit keygen`` writes one, readable only by its owner) or the key itself,
PEM text, in ``AUDIT_SIGNING_KEY``. A checkpoint carries the public key that verifies it, but
an auditor checks it against the public key they were given out of band, so a forger who can
write the database still cannot make a checkpoint the auditor accepts.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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

    def signed_fields(self) -> dict[str, object]:
        return {
            "size": self.size,
            "head_hash": self.head_hash,
            "head_position": self.head_position,
            "created_at": self.created_at,
        }

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Checkpoint:
        try:
            return cls(
                size=int(data["size"]),  # type: ignore[arg-type]
                head_hash=str(data["head_hash"]),
                head_position=int(data["head_position"]),  # type: ignore[arg-type]
                created_at=str(data["created_at"]),
                public_key=str(data["public_key"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointInvalid(f"not a checkpoint: {error}") from None


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


def sign(key: Ed25519PrivateKey, *, size: int, head_hash: str, head_position: int, created_at: str) -> Checkpoint:
    fields = {"size": size, "head_hash": head_hash, "head_position": head_position, "created_at": created_at}
    return Checkpoint(
        **fields,  # type: ignore[arg-type]
        public_key=public_key_text(key.public_key()),
        signature=base64.b64encode(key.sign(signed_message(fields))).decode(),
    )


def check_signature(checkpoint: Checkpoint, trusted_public_key: str | None = None) -> None:
    """Raises CheckpointInvalid unless the checkpoint was signed by the trusted key (by
    default, the key it names) over exactly its fields."""
    public_key_b64 = trusted_public_key or checkpoint.public_key
    try:
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public_key.verify(
            base64.b64decode(checkpoint.signature, validate=True), signed_message(checkpoint.signed_fields())
        )
    except (InvalidSignature, ValueError) as error:
        raise CheckpointInvalid("the checkpoint's signature does not verify with the trusted public key") from error
