"""The hash chain and checkpoint signatures, on links built in memory: every systematic
corruption is detected at the right position (in the style of transparency-dev's verifier
tests); the storage-level versions of these tests corrupt a real database."""

from __future__ import annotations

import dataclasses
import json

import pytest

from service.audit.chain import GENESIS, StoredLink, event_hash, verify_links
from service.audit.checkpoints import (
    Checkpoint,
    CheckpointInvalid,
    check_signature,
    generate_key_pem,
    load_signing_key,
    sign,
)

STREAM = "7a0c1a84-5f0e-4f8e-9e1d-3b3c2f1d2a10"


def good_log(size: int = 8, gap_at: int | None = 4) -> list[StoredLink]:
    links, previous, position = [], GENESIS, 0
    for seq in range(1, size + 1):
        position += 2 if seq == gap_at else 1  # PostgreSQL's sequence may skip numbers
        state = json.dumps({"outcome": f"review {seq}", "timestamp": "2020-01-01T00:00:00+00:00"}).encode()
        topic = "domain.collaboration:Collaboration.ReviewHeld"
        digest = event_hash(
            position=position, stream_id=STREAM, version=seq, topic=topic, state=state, previous=previous
        )
        links.append(StoredLink(position, STREAM, seq, topic, state, seq, digest))
        previous = digest
    return links


def test_a_good_log_verifies():
    report = verify_links(good_log())
    assert report.ok and report.events_checked == 8 and report.size == 8
    assert report.head_hash == good_log()[-1].hash


def replaced(links: list[StoredLink], index: int, **changes) -> list[StoredLink]:
    return [dataclasses.replace(link, **changes) if i == index else link for i, link in enumerate(links)]


@pytest.mark.parametrize("index", range(8))
def test_a_flipped_bit_in_any_events_data_is_found_there(index):
    links = good_log()
    state = bytearray(links[index].state)
    state[5] ^= 0x01
    report = verify_links(replaced(links, index, state=bytes(state)))
    assert not report.ok and report.first_bad_position == links[index].position


@pytest.mark.parametrize(
    "change",
    [{"topic": "domain.collaboration:Collaboration.VariationAgreed"}, {"version": 99}, {"stream_id": GENESIS[:8]}],
)
def test_a_changed_type_version_or_stream_is_found(change):
    links = good_log()
    report = verify_links(replaced(links, 3, **change))
    assert not report.ok and report.first_bad_position == links[3].position


def test_a_changed_recorded_time_is_found():
    links = good_log()
    state = links[2].state.replace(b"2020-01-01T00:00:00", b"2019-01-01T00:00:00")
    report = verify_links(replaced(links, 2, state=state))
    assert not report.ok and report.first_bad_position == links[2].position


def test_a_deleted_event_in_the_middle_is_found_at_the_next_one():
    links = good_log()
    report = verify_links(links[:3] + links[4:])
    assert not report.ok and report.first_bad_position == links[4].position


def test_two_swapped_events_are_found():
    links = good_log()
    swapped = [*links[:2], links[3], links[2], *links[4:]]
    report = verify_links(swapped)
    assert not report.ok and report.first_bad_position == links[3].position


def test_an_inserted_event_is_found():
    links = good_log(gap_at=None)
    intruder = dataclasses.replace(links[2], position=links[2].position, seq=None, hash=None)
    report = verify_links([*links[:2], intruder, *links[2:]])
    assert not report.ok and report.first_bad_position == links[2].position


def test_a_rewritten_and_rehashed_tail_is_found_only_against_an_earlier_checkpoint():
    links = good_log()
    checkpoint = (6, links[5].hash)
    tail, previous = [], links[3].hash
    for link in links[4:]:
        state = link.state.replace(b"review", b"REVIEW")
        digest = event_hash(
            position=link.position,
            stream_id=link.stream_id,
            version=link.version,
            topic=link.topic,
            state=state,
            previous=previous,
        )
        tail.append(dataclasses.replace(link, state=state, hash=digest))
        previous = digest
    rewritten = links[:4] + tail
    assert verify_links(rewritten).ok  # self-consistent...
    report = verify_links(rewritten, expected_head=checkpoint)
    assert not report.ok and report.first_bad_position == links[5].position  # ...but not what was signed


def test_a_truncated_tail_is_found_only_against_a_checkpoint():
    links = good_log()
    assert verify_links(links[:5]).ok
    report = verify_links(links[:5], expected_head=(8, links[7].hash))
    assert not report.ok and "removed from its end" in report.problem


def test_a_log_that_grew_since_the_checkpoint_verifies_against_it():
    links = good_log()
    assert verify_links(links, expected_head=(5, links[4].hash)).ok


@pytest.fixture
def key():
    return load_signing_key({"AUDIT_SIGNING_KEY": generate_key_pem().decode()})


def test_a_checkpoint_verifies_with_its_key_and_not_with_another(key):
    checkpoint = sign(key, size=8, head_hash="ab" * 32, head_position=9, created_at="2026-11-22T10:00:00Z")
    check_signature(checkpoint)
    other = load_signing_key({"AUDIT_SIGNING_KEY": generate_key_pem().decode()})
    forged = sign(other, size=8, head_hash="ab" * 32, head_position=9, created_at="2026-11-22T10:00:00Z")
    with pytest.raises(CheckpointInvalid):
        check_signature(forged, trusted_public_key=checkpoint.public_key)


@pytest.mark.parametrize(
    "change", [{"size": 9}, {"head_hash": "cd" * 32}, {"head_position": 10}, {"created_at": "2027-01-01T00:00:00Z"}]
)
def test_an_altered_checkpoint_is_rejected(key, change):
    checkpoint = sign(key, size=8, head_hash="ab" * 32, head_position=9, created_at="2026-11-22T10:00:00Z")
    altered = Checkpoint.from_dict({**checkpoint.as_dict(), **change})
    with pytest.raises(CheckpointInvalid):
        check_signature(altered)


def test_a_checkpoint_with_a_mangled_signature_is_rejected(key):
    checkpoint = sign(key, size=1, head_hash="ab" * 32, head_position=1, created_at="2026-11-22T10:00:00Z")
    with pytest.raises(CheckpointInvalid):
        check_signature(dataclasses.replace(checkpoint, signature="not base64!"))


@pytest.mark.parametrize("blank", ["", " ", "\n"])
def test_a_blank_trusted_key_is_refused_not_taken_for_the_key_the_checkpoint_names(key, blank):
    other = load_signing_key({"AUDIT_SIGNING_KEY": generate_key_pem().decode()})
    forged = sign(other, size=8, head_hash="ab" * 32, head_position=9, created_at="2026-11-22T10:00:00Z")
    check_signature(forged)  # self-signed: it verifies with the key it names...
    with pytest.raises(CheckpointInvalid, match="empty"):  # ...but a blank trusted key trusts nothing
        check_signature(forged, trusted_public_key=blank)


@pytest.mark.parametrize(
    "change",
    [
        {"size": 12.9},
        {"size": 12.0},
        {"size": "12"},
        {"size": True},
        {"size": None},
        {"size": -1},
        {"head_position": 9.5},
        {"head_position": "9"},
        {"head_position": False},
        {"head_hash": "AB" * 32},
        {"head_hash": "ab" * 31},
        {"head_hash": "ab" * 32 + "\n"},
        {"head_hash": "xy" * 32},
        {"head_hash": 123},
        {"created_at": 2026},
        {"public_key": ""},
        {"public_key": "  "},
        {"public_key": "not base64!"},
        {"public_key": None},
        {"signature": ""},
        {"signature": "not base64!"},
        {"signature": 42},
    ],
)
def test_a_checkpoint_must_hold_exactly_the_types_it_was_signed_with(key, change):
    checkpoint = sign(key, size=8, head_hash="ab" * 32, head_position=9, created_at="2026-11-22T10:00:00Z")
    assert Checkpoint.from_dict(checkpoint.as_dict()) == checkpoint
    with pytest.raises(CheckpointInvalid, match="not a checkpoint"):
        Checkpoint.from_dict({**checkpoint.as_dict(), **change})


@pytest.mark.parametrize("missing", ["size", "head_hash", "head_position", "created_at", "public_key", "signature"])
def test_a_checkpoint_missing_a_field_is_invalid(key, missing):
    data = sign(key, size=8, head_hash="ab" * 32, head_position=9, created_at="x").as_dict()
    del data[missing]
    with pytest.raises(CheckpointInvalid, match=missing):
        Checkpoint.from_dict(data)


def test_the_checkpoints_head_position_must_be_where_the_log_holds_its_head():
    links = good_log()  # a gap at seq 4: event 5 is at position 6
    assert verify_links(links, expected_head=(5, links[4].hash, links[4].position)).ok
    report = verify_links(links, expected_head=(5, links[4].hash, links[4].position + 1))
    assert not report.ok and report.first_bad_position == links[4].position
    assert "head position" in report.problem and report.size == 4
