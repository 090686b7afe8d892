"""Signed notes, checkpoints and cosignatures against the C2SP specifications: the reference
note and key of Go's ``golang.org/x/mod/sumdb/note`` (facts: a key, a text and the signature
Ed25519 makes of it), and every edit of a signed note failing."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.audit import notes
from service.audit.notes import CheckpointBody, NoteError, Verifier

VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]  # after the type byte
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
SIGNED = TEXT + f"\n\u2014 PeterNeumann {SIGNATURE}\n"


def test_the_reference_key_and_signature_are_reproduced_byte_for_byte() -> None:
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    assert Verifier.of("PeterNeumann", key.public_key()).vkey == VKEY
    signature = notes.sign_note(TEXT, "PeterNeumann", key)
    assert str(notes.Note(TEXT, (signature,))) == SIGNED
    note = notes.parse_note(SIGNED)
    assert note.text == TEXT
    assert notes.verify_signature(note, Verifier.parse(VKEY))


def test_every_one_byte_edit_of_the_signed_note_fails() -> None:
    verifier = Verifier.parse(VKEY)
    data = SIGNED.encode()
    for index in range(len(data)):
        edited = bytearray(data)
        edited[index] ^= 0x01
        try:
            ok = notes.verify_signature(notes.parse_note(edited.decode()), verifier)
        except (NoteError, UnicodeDecodeError):
            continue
        assert not ok, f"an edit at byte {index} still verifies"


@pytest.mark.parametrize(
    "vkey",
    [
        VKEY[:-1],
        VKEY.replace("c74f20a3", "c74f20a4"),
        VKEY.replace("PeterNeumann", "PeterNeumanm"),
        "PeterNeumann+c74f20a3",
        VKEY + "+x",
        "",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(vkey)


def test_a_checkpoint_cosigned_by_two_witnesses_meets_a_policy_of_both() -> None:
    log, first, second = (Ed25519PrivateKey.generate() for _ in range(3))
    body = CheckpointBody("records.example/log", 12, bytes(range(32)))
    assert body.text == "records.example/log\n12\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    assert notes.parse_checkpoint(body.text) == body
    note = notes.Note(body.text, (notes.sign_note(body.text, "records.example/log", log),))
    note = note.with_signatures(
        notes.cosign(body.text, "kent.example/witness", first, 1_700_000_000),
        notes.cosign(body.text, "essex.example/witness", second, 1_700_000_001),
    )
    parsed = notes.parse_note(str(note))
    log_key = Verifier.of("records.example/log", log.public_key())
    witnesses = [
        Verifier.of("kent.example/witness", first.public_key(), notes.COSIGNATURE_V1),
        Verifier.of("essex.example/witness", second.public_key(), notes.COSIGNATURE_V1),
    ]
    assert notes.check_policy(parsed, log_key, witnesses).ok
    # Only the first cosignature: all-of-two fails, one-of-two passes, and says who is missing.
    only_first = notes.Note(parsed.text, parsed.signatures[:2])
    result = notes.check_policy(only_first, log_key, witnesses)
    assert (result.ok, result.vouched, result.missing) == (False, ("kent.example/witness",), ("essex.example/witness",))
    assert notes.check_policy(only_first, log_key, witnesses, needed=1).ok
    # The host re-signs a different root: the witnesses' lines no longer verify.
    forged_body = CheckpointBody(body.origin, body.size, bytes(32)).text
    forged = notes.Note(forged_body, (notes.sign_note(forged_body, body.origin, log), *parsed.signatures[1:]))
    with pytest.raises(NoteError):
        notes.check_policy(notes.parse_note(str(forged)), log_key, witnesses)


@pytest.mark.parametrize(
    "text",
    [
        "o\n12\n",
        "o\n012\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "o\n12\nAAEC\n",
        "\n12\nAA==\n",
        "o\n-1\nAA==\n",
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(NoteError):
        notes.parse_checkpoint(text)
