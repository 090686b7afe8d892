"""Signed notes, checkpoints and cosignatures as the C2SP specifications describe them
(``signed-note``, ``tlog-checkpoint``, ``tlog-cosignature``), so tools outside Python (the
transparency-dev witnesses, Sigstore's and Go's note packages) read what this service signs.

A checkpoint is the note text::

    <origin>
    <tree size>
    <base64 root hash>

followed by a blank line and one signature line per signer: an em dash, a space, the key name,
a space, and base64(4-byte key ID || signature). The log signs the text with Ed25519
(signature type 0x01). A witness cosigns it with a timestamped Ed25519 cosignature (type 0x04)
over ``cosignature/v1\\ntime <seconds>\\n`` followed by the text. Key IDs are the first four
bytes of SHA-256(key name || "\\n" || type || public key). Keys are passed around as
verifier keys (``vkeys``): ``<name>+<8 hex key ID>+<base64(type || public key)>``.

This module needs only the standard library and ``cryptography``: the offline verifier and the
witness tool use it on machines that do not run the service.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014 "  # an em dash and a space open every signature line
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
_NAME = re.compile(r"[^\s+]+")


class NoteError(ValueError):
    """A note, key or signature that is malformed or does not verify."""


# ------------------------------------------------------------------------------ keys
def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_key_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise NoteError(f"a key name is non-empty, without spaces or '+': {name!r}")
    return name


@dataclass(frozen=True)
class Verifier:
    """A public key with its name and signature type: whose signature lines it checks."""

    name: str
    signature_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.signature_type, self.public_key)

    @property
    def vkey(self) -> str:
        material = base64.b64encode(bytes([self.signature_type]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def ed25519(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    @classmethod
    def of(cls, name: str, key: Ed25519PublicKey | bytes, signature_type: int = ED25519) -> Verifier:
        raw = key if isinstance(key, bytes) else raw_public_key(key)
        if len(raw) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
        return cls(check_key_name(name), signature_type, raw)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """A verifier key ``name+hexid+base64(type||key)``; NoteError if it is malformed or its
        ID does not match its name and key."""
        parts = vkey.split("+", 2) if isinstance(vkey, str) else []
        if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
            raise NoteError(f"not a verifier key (name+8 hex digits+base64 key): {vkey!r}")
        name, hex_id, material = parts
        try:
            decoded = base64.b64decode(material, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"a verifier key's key is not base64: {vkey!r}") from None
        if len(decoded) != 33 or decoded[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError(f"a verifier key must hold an Ed25519 key of type 0x01 or 0x04: {vkey!r}")
        verifier = cls.of(name, decoded[1:], decoded[0])
        if verifier.key_id.hex() != hex_id:
            raise NoteError(f"a verifier key's ID does not match its name and key: {vkey!r}")
        try:
            verifier.ed25519()
        except ValueError:
            raise NoteError(f"not an Ed25519 public key: {vkey!r}") from None
        return verifier


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise NoteError("the key must be an Ed25519 private key")
    return key


# ----------------------------------------------------------------------------- notes
@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes  # what follows the key ID

    @property
    def line(self) -> str:
        return f"{DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends with a newline; the signed part
    signatures: tuple[Signature, ...]

    def __str__(self) -> str:
        return self.text + "\n" + "".join(signature.line for signature in self.signatures)

    def with_signatures(self, *extra: Signature) -> Note:
        known = {(s.name, s.key_id) for s in self.signatures}
        return Note(self.text, self.signatures + tuple(s for s in extra if (s.name, s.key_id) not in known))


def parse_note(note: str) -> Note:
    """A signed note split into its text and signature lines (none verified yet)."""
    if not isinstance(note, str) or len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("not a note, or too large")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise NoteError("a note holds no control characters but newlines")
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("a note is its text, a blank line, and its signature lines, each ending in a newline")
    text, lines = note[: split + 1], note[split + 2 :].splitlines(keepends=True)
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note carries 1 to {MAX_SIGNATURES} signature lines")
    signatures = []
    for line in lines:
        if not line.startswith(DASH) or not line.endswith("\n"):
            raise NoteError(f"not a signature line: {line!r}")
        name, _, blob = line[len(DASH) : -1].partition(" ")
        try:
            check_key_name(name)
            raw = base64.b64decode(blob, validate=True)
        except (NoteError, binascii.Error, ValueError):
            raise NoteError(f"not a signature line: {line!r}") from None
        if len(raw) < 5:
            raise NoteError(f"a signature line too short: {line!r}")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return Note(text, tuple(signatures))


def sign_note(text: str, name: str, key: Ed25519PrivateKey) -> Signature:
    """The log's signature line over a note's text (type 0x01)."""
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    verifier = Verifier.of(name, key.public_key())
    return Signature(name, verifier.key_id, key.sign(text.encode()))


def verify_signature(note: Note, verifier: Verifier) -> bool:
    """Whether the note carries a valid signature by this key. A line with the key's name and ID
    that does not verify is a forgery: NoteError. No such line: False."""
    for signature in note.signatures:
        if signature.name != verifier.name or signature.key_id != verifier.key_id:
            continue
        if verifier.signature_type == COSIGNATURE_V1:
            timestamp = cosignature_time(signature)
            message = cosigned_message(note.text, timestamp)
            body = signature.signature[8:]
        else:
            message, body = note.text.encode(), signature.signature
        try:
            verifier.ed25519().verify(body, message)
        except InvalidSignature:
            raise NoteError(f"the signature by {verifier.name} does not verify") from None
        return True
    return False


# ------------------------------------------------------------------------ checkpoints
@dataclass(frozen=True)
class CheckpointBody:
    origin: str
    size: int
    root: bytes

    @property
    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> CheckpointBody:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint's text is its origin, size and root hash lines (and extension lines)")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise NoteError(f"a checkpoint's size is a decimal without leading zeros: {size_text!r}")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"a checkpoint's root hash is not base64: {root_text!r}") from None
    if len(root) != 32:
        raise NoteError("a checkpoint's root hash is 32 bytes")
    return CheckpointBody(origin, int(size_text), root)


# ---------------------------------------------------------------------- cosignatures
def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosignature_time(signature: Signature) -> int:
    if len(signature.signature) != 8 + 64:
        raise NoteError(f"a cosignature by {signature.name} is not a timestamp and an Ed25519 signature")
    return int(struct.unpack(">Q", signature.signature[:8])[0])


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> Signature:
    """A witness's timestamped cosignature (type 0x04) of a checkpoint's text."""
    if not 0 <= timestamp < 2**63:
        raise NoteError("a cosignature's time is a POSIX timestamp")
    verifier = Verifier.of(name, key.public_key(), COSIGNATURE_V1)
    return Signature(name, verifier.key_id, struct.pack(">Q", timestamp) + key.sign(cosigned_message(text, timestamp)))


@dataclass(frozen=True)
class PolicyResult:
    ok: bool
    log_signed: bool
    vouched: tuple[str, ...]  # the witnesses whose cosignatures verify
    missing: tuple[str, ...]  # the required witnesses without one
    needed: int

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "log_signed": self.log_signed,
            "vouched": list(self.vouched),
            "missing": list(self.missing),
            "needed": self.needed,
        }


def check_policy(note: Note, log_key: Verifier, witnesses: list[Verifier], needed: int | None = None) -> PolicyResult:
    """Whether the log signed the note and at least ``needed`` of ``witnesses`` (default: all)
    cosigned it. A signature line that claims a known key but does not verify raises NoteError:
    the note is forged, whatever else vouches for it."""
    log_signed = verify_signature(note, log_key)
    distinct = list({w.public_key: w for w in witnesses}.values())  # one key counts once, however named
    vouched = tuple(w.name for w in distinct if verify_signature(note, w))
    needed = len(distinct) if needed is None else needed
    missing = tuple(w.name for w in distinct if w.name not in vouched)
    return PolicyResult(log_signed and len(vouched) >= needed, log_signed, vouched, missing, needed)
