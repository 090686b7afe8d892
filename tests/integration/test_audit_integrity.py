"""The verifier against real databases, in the style of transparency-dev's verifier tests:
starting from a good store written through the application service, each systematic
corruption is made directly in the database with SQL, and verification must report the log
not ok at the right position. On SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator

import pytest

from service.application import CollaborationRecords
from service.audit.checkpoints import (
    Checkpoint,
    CheckpointInvalid,
    check_signature,
    generate_key_pem,
    load_signing_key,
    sign,
)
from service.audit.trail import AuditTrail, LogDoesNotVerify
from service.persistence import ChainBroken, DatabaseUrlError, persistence_environment
from service.queries import RecordQueries
from tests.integration.audit_support import ADMIN, GOOD_STORE_SIZE, ON, RawDatabase, write_good_store

REVIEW = "domain.collaboration:Collaboration.ReviewHeld"
VARIATION = "domain.collaboration:Collaboration.VariationAgreed"


@pytest.fixture
def records(database_url: str) -> Iterator[CollaborationRecords]:
    records = CollaborationRecords(env=persistence_environment(database_url))
    yield records
    records.close()


@pytest.fixture
def trail(records: CollaborationRecords) -> AuditTrail:
    write_good_store(records)
    return AuditTrail(records.side_tables)


@pytest.fixture
def raw(database_url: str, trail: AuditTrail) -> RawDatabase:
    return RawDatabase(database_url)


@pytest.fixture
def positions(raw: RawDatabase) -> list[int]:
    positions = raw.positions()
    assert len(positions) == GOOD_STORE_SIZE
    return positions


def key(number: int = 0):
    return load_signing_key({"AUDIT_SIGNING_KEY": KEYS[number]})


KEYS = [generate_key_pem().decode(), generate_key_pem().decode()]


def assert_bad_at(trail: AuditTrail, position: int | None, **verify_kwargs) -> str:
    report = trail.verify(**verify_kwargs)
    assert not report.ok, report.as_report()
    assert report.first_bad_position == position, report.as_report()
    assert report.problem
    return report.problem


# ---------------------------------------------------------------------------- a good store
def test_a_good_store_verifies(trail: AuditTrail, records: CollaborationRecords, positions: list[int]):
    report = trail.verify()
    assert report.as_report() == {
        "ok": True,
        "events_checked": GOOD_STORE_SIZE,
        "first_bad_position": None,
        "problem": None,
        "size": GOOD_STORE_SIZE,
        "head_hash": trail.head()[1],
    }
    assert report.head_position == positions[-1]
    feed = RecordQueries(records).feed(after=0, limit=100)
    assert [item["hash"] for item in feed][-1] == report.head_hash
    assert all(item["hash"] for item in feed)


def test_a_good_store_verifies_against_its_checkpoint_and_after_growing(trail: AuditTrail, records):
    checkpoint = trail.make_checkpoint(key())
    assert checkpoint.size == GOOD_STORE_SIZE
    assert trail.verify(against=checkpoint, trusted_public_key=checkpoint.public_key).ok
    write_good_store(records, collaborations=1, rounds=4)
    report = trail.verify(against=checkpoint)
    assert report.ok and report.events_checked == GOOD_STORE_SIZE + 5


def test_verification_reports_progress_and_reads_in_pages(trail: AuditTrail):
    seen: list[int] = []
    pages = list(trail.pages(page_size=7))
    assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
    trail.pages = lambda: iter(pages)  # type: ignore[method-assign]
    assert trail.verify(progress=seen.append).ok
    assert seen == [7, 14, 21, 28, 30]


# ------------------------------------------------------------------------- corruptions
@pytest.mark.parametrize(("index", "byte"), [(0, 0), (0, -1), (1, 40), (14, 100), (28, 7), (29, 0), (29, -1)])
def test_a_flipped_bit_in_any_events_data_is_found_there(trail, raw, positions, index, byte):
    raw.flip_bit(positions[index], byte, bit=index % 7)
    assert "does not match its hash" in assert_bad_at(trail, positions[index])


@pytest.mark.parametrize("index", [0, 15, 29])
def test_a_changed_type_is_found_there(trail, raw, positions, index):
    _, _, topic, _ = raw.event(positions[index])
    raw.set_topic(positions[index], REVIEW if topic != REVIEW else VARIATION)
    assert_bad_at(trail, positions[index])


@pytest.mark.parametrize("index", [0, 10, 29])
def test_a_changed_recorded_time_is_found_there(trail, raw, positions, index):
    state = json.loads(raw.event(positions[index])[3])
    recorded = state["timestamp"]["_data_"]
    earlier = recorded.replace(recorded[:4], str(int(recorded[:4]) - 1), 1)  # a year earlier
    raw.edit_state(positions[index], timestamp={**state["timestamp"], "_data_": earlier})
    assert json.loads(raw.event(positions[index])[3])["timestamp"]["_data_"] == earlier
    assert_bad_at(trail, positions[index])


@pytest.mark.parametrize("index", [0, 14, 28])
@pytest.mark.parametrize("with_chain_entry", [False, True], ids=["event", "event-and-chain-entry"])
def test_a_deleted_event_is_found_at_the_next_one(trail, raw, positions, index, with_chain_entry):
    raw.delete_event(positions[index], with_chain_entry=with_chain_entry)
    assert_bad_at(trail, positions[index + 1])


@pytest.mark.parametrize(("first", "second"), [(0, 1), (14, 15), (3, 20), (28, 29)])
@pytest.mark.parametrize("with_chain_entries", [False, True], ids=["events", "events-and-chain-entries"])
def test_two_swapped_events_are_found_at_the_first(trail, raw, positions, first, second, with_chain_entries):
    raw.swap_positions(positions[first], positions[second], with_chain_entries=with_chain_entries)
    assert_bad_at(trail, positions[first])


def test_two_events_with_swapped_contents_are_found_at_the_first(trail, raw, positions):
    first, second = raw.event(positions[4]), raw.event(positions[9])
    raw.run(
        (
            "UPDATE {events} SET originator_version = -originator_version WHERE {pos} IN (?, ?)",
            [positions[4], positions[9]],
        ),
        (
            "UPDATE {events} SET originator_id = ?, originator_version = ?, topic = ?, state = ? WHERE {pos} = ?",
            [*second, positions[4]],
        ),
        (
            "UPDATE {events} SET originator_id = ?, originator_version = ?, topic = ?, state = ? WHERE {pos} = ?",
            [*first, positions[9]],
        ),
    )
    assert raw.event(positions[4]) == second
    assert_bad_at(trail, positions[4])


def test_an_event_inserted_at_the_end_without_a_chain_entry_is_found_there(trail, raw, positions):
    position = raw.insert_event(None, copy_of=positions[5])
    assert position > positions[-1]
    assert "no chain entry" in assert_bad_at(trail, position)


def test_an_event_planted_at_the_end_stays_found_after_later_writes(records, trail, raw, positions):
    """A write chains only what it inserted itself: it never vouches for a planted event."""
    planted = raw.insert_event(None, copy_of=positions[5])
    write_good_store(records, collaborations=1, rounds=2)
    assert len(raw.positions()) == GOOD_STORE_SIZE + 1 + 3
    assert "no chain entry" in assert_bad_at(trail, planted)
    assert records.side_tables.chain_unchained() == 0  # the migration chains after the head only
    assert "no chain entry" in assert_bad_at(trail, planted)
    with pytest.raises(LogDoesNotVerify):
        trail.make_checkpoint(key())


def test_a_write_after_the_tail_was_deleted_is_refused_or_still_found(records, trail, raw, positions):
    raw.truncate(positions[-3], with_chain_entries=False)
    if raw.postgres:  # the sequence goes on: the write lands after the head, the cut stays found
        write_good_store(records, collaborations=1, rounds=1)
        report = trail.verify()  # found where the numbering breaks: at the first event after the cut
        assert not report.ok and "deleted" in report.problem and report.first_bad_position > positions[-3]
    else:  # SQLite would give the next event a deleted event's rowid again: refused
        with pytest.raises(ChainBroken, match="deleted from the end"):
            write_good_store(records, collaborations=1, rounds=1)
        assert assert_bad_at(trail, positions[-2])


def test_migration_refuses_an_unchained_event_after_the_head_unless_forced(records, trail, raw, positions):
    planted = raw.insert_event(None, copy_of=positions[5])
    with pytest.raises(ChainBroken, match=f"position {planted}"):
        records.side_tables.chain_unchained()
    assert "no chain entry" in assert_bad_at(trail, planted)
    assert records.side_tables.chain_unchained(force=True) == 1
    assert trail.verify().ok


@pytest.mark.parametrize("index", [0, 14, 28])
@pytest.mark.parametrize("with_chain_entries", [True, False], ids=["renumbered-chain-too", "chain-untouched"])
def test_an_event_inserted_mid_log_by_renumbering_is_found_there(trail, raw, positions, index, with_chain_entries):
    """The intruder takes the place after ``index``; the events after it move one place on
    (and so do their chain entries, if the intruder is careful)."""
    raw.make_room_after(positions[index], with_chain_entries=with_chain_entries)
    intruder = raw.insert_event(positions[index] + 1, copy_of=positions[index])
    assert raw.positions()[index + 1] == intruder
    assert_bad_at(trail, intruder)


@pytest.mark.parametrize("position", [0, -5])
def test_an_event_inserted_before_the_log_is_found_there(trail, raw, positions, position):
    assert positions[0] > position
    raw.insert_event(position, copy_of=positions[3])
    assert "no chain entry" in assert_bad_at(trail, position)


@pytest.mark.parametrize("index", [0, 20, 29])
def test_a_rewritten_and_rehashed_tail_is_found_only_against_an_earlier_checkpoint(trail, raw, positions, index):
    checkpoint = trail.make_checkpoint(key())
    for position in positions[index:]:
        raw.edit_state(position, reason="rewritten after the event")
    raw.rehash_from(positions[index])
    assert "Merkle tree's leaf" in assert_bad_at(trail, positions[index])  # the tree was not rewritten...
    raw.rebuild_tree()
    assert trail.verify().ok  # ...now it is, self-consistent: neither chain nor tree alone can tell...
    problem = assert_bad_at(trail, positions[-1], against=checkpoint)  # ...but it is not what was signed
    assert "rewritten" in problem
    assert checkpoint.head_position == positions[-1]


def test_a_rewritten_tail_is_found_at_the_checkpoints_head_when_the_log_grew_since(trail, raw, records, positions):
    checkpoint = trail.make_checkpoint(key())
    write_good_store(records, collaborations=1, rounds=4)
    all_positions = raw.positions()
    raw.edit_state(positions[25], reason="rewritten after the event")
    raw.rehash_from(positions[25])
    raw.rebuild_tree()
    assert trail.verify().ok
    report = trail.verify(against=checkpoint)
    assert not report.ok and report.first_bad_position == positions[-1] == all_positions[GOOD_STORE_SIZE - 1]
    assert report.events_checked == GOOD_STORE_SIZE - 1


@pytest.mark.parametrize("keep", [0, 1, 25, 29])
def test_a_truncated_tail_is_found_only_against_a_checkpoint(trail, raw, positions, keep):
    checkpoint = trail.make_checkpoint(key())
    raw.truncate(positions[keep - 1] if keep else 0, with_chain_entries=True)
    report = trail.verify()
    assert report.ok and report.size == keep  # a shorter log that verifies...
    report = trail.verify(against=checkpoint)  # ...but the checkpoint proves it was longer
    assert not report.ok and report.first_bad_position is None and report.size == keep
    assert "removed from its end" in report.problem


@pytest.mark.parametrize("keep", [0, 25, 29])
def test_a_truncated_tail_whose_chain_entries_remain_is_found_where_it_was_cut(trail, raw, positions, keep):
    raw.truncate(positions[keep - 1] if keep else 0, with_chain_entries=False)
    assert "removed from its end" in assert_bad_at(trail, positions[keep])


def test_a_changed_version_is_found_there(trail, raw, positions):
    raw.run(("UPDATE {events} SET originator_version = originator_version + 100 WHERE {pos} = ?", [positions[7]]))
    assert_bad_at(trail, positions[7])


def test_an_event_moved_to_another_stream_is_found_there(trail, raw, positions):
    stream = uuid.uuid4()
    raw.run(
        (
            "UPDATE {events} SET originator_id = ? WHERE {pos} = ?",
            [stream if raw.postgres else stream.hex, positions[8]],
        )
    )
    assert_bad_at(trail, positions[8])


@pytest.mark.parametrize("change", ["originator_version + 0.5", "originator_version || 'x'"])
def test_a_version_that_is_no_longer_an_integer_is_found_there(sqlite_url: str, change: str):
    """SQLite keeps whatever type is written. A version of 3.5 or '3x' is not the event that was
    hashed, even where formatting it as an integer would give back 3 (PostgreSQL's bigint column
    cannot hold either)."""
    records = CollaborationRecords(env=persistence_environment(sqlite_url))
    try:
        write_good_store(records, collaborations=1, rounds=3)
        raw = RawDatabase(sqlite_url)
        positions = raw.positions()
        raw.run((f"UPDATE {{events}} SET originator_version = {change} WHERE {{pos}} = ?", [positions[2]]))
        assert "malformed" in assert_bad_at(AuditTrail(records.side_tables), positions[2])
    finally:
        records.close()


def test_a_renumbered_chain_entry_is_found_there(trail, raw, positions):
    """The chain's numbering is what checkpoints count by: skipping a number is caught."""
    raw.run(
        ("UPDATE {chain} SET seq = -seq WHERE seq >= ?", [15]),
        ("UPDATE {chain} SET seq = 1 - seq WHERE seq < 0", []),
    )
    assert "numbered 16 where 15 was expected" in assert_bad_at(trail, positions[14])


# ------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_signed_with_one_key_fails_with_another(trail: AuditTrail):
    checkpoint = trail.make_checkpoint(key(0))
    other_public_key = sign(key(1), size=1, head_hash="0" * 64, head_position=1, created_at="x").public_key
    with pytest.raises(CheckpointInvalid):
        trail.verify(against=checkpoint, trusted_public_key=other_public_key)
    assert trail.verify(against=checkpoint, trusted_public_key=checkpoint.public_key).ok


def test_a_forged_checkpoint_for_a_rewritten_log_is_rejected_with_the_trusted_key(trail, raw, positions):
    genuine = trail.make_checkpoint(key(0))
    raw.edit_state(positions[10], reason="rewritten")
    raw.rehash_from(positions[10])
    raw.rebuild_tree()
    forged = sign(
        key(1),
        size=genuine.size,
        head_hash=raw.chain_hash(positions[-1]),
        head_position=positions[-1],
        created_at=genuine.created_at,
    )
    assert trail.verify(against=forged).ok  # self-signed, it proves nothing...
    with pytest.raises(CheckpointInvalid):  # ...and with the key the auditor trusts it is refused
        trail.verify(against=forged, trusted_public_key=genuine.public_key)


@pytest.mark.parametrize(
    "change",
    [
        {"size": GOOD_STORE_SIZE - 1},
        {"size": GOOD_STORE_SIZE + 1},
        {"head_hash": "ab" * 32},
        {"head_position": 1},
        {"created_at": "2000-01-01T00:00:00Z"},
        {"signature": "AAAA"},
        {"signature": "not base64"},
    ],
)
def test_a_checkpoint_whose_fields_or_signature_were_altered_is_rejected(trail: AuditTrail, change):
    checkpoint = trail.make_checkpoint(key())

    def verify_altered(**trust: str) -> None:
        trail.verify(against=Checkpoint.from_dict({**checkpoint.as_dict(), **change}), **trust)

    with pytest.raises(CheckpointInvalid):
        verify_altered()
    with pytest.raises(CheckpointInvalid):
        verify_altered(trusted_public_key=checkpoint.public_key)


@pytest.mark.parametrize("public_key", ["not base64", "AAAA", None])
def test_a_checkpoint_naming_another_public_key_is_rejected(trail: AuditTrail, public_key):
    checkpoint = trail.make_checkpoint(key(0))
    other = public_key or sign(key(1), size=1, head_hash="0" * 64, head_position=1, created_at="x").public_key
    with pytest.raises(CheckpointInvalid):
        trail.verify(against=dataclasses.replace(checkpoint, public_key=other))


def test_checkpoints_are_kept_one_per_size(trail: AuditTrail, records):
    first = trail.make_checkpoint(key())
    assert trail.make_checkpoint(key()) == first  # the log did not grow: the kept one
    first_stream = RecordQueries(records).feed(after=0, limit=1)[0]["stream_id"]
    records.hold_review(first_stream, outcome="again", caller=ADMIN, **ON)
    second = trail.make_checkpoint(key())
    assert second.size == GOOD_STORE_SIZE + 1
    assert trail.checkpoints() == [first, second]
    assert trail.latest_checkpoint() == second
    assert trail.checkpoint(GOOD_STORE_SIZE) == first
    check_signature(first)
    check_signature(second)


def test_no_checkpoint_vouches_for_a_log_that_does_not_verify(trail: AuditTrail, raw, positions):
    raw.flip_bit(positions[12], 30)
    with pytest.raises(LogDoesNotVerify) as caught:
        trail.make_checkpoint(key())
    assert caught.value.verification.first_bad_position == positions[12]
    assert trail.latest_checkpoint() is None


def test_a_kept_checkpoint_altered_in_the_store_fails_its_signature(trail: AuditTrail, raw):
    checkpoint = trail.make_checkpoint(key())
    raw.run(("UPDATE {checkpoints} SET checkpoint = ?", [_json({**checkpoint.as_dict(), "size": 3})]))
    with pytest.raises(CheckpointInvalid):
        check_signature(trail.latest_checkpoint(), trusted_public_key=checkpoint.public_key)
    raw.run(("UPDATE {checkpoints} SET checkpoint = ?", ["not json"]))
    with pytest.raises(CheckpointInvalid):
        trail.latest_checkpoint()


def _json(data: dict) -> str:
    return json.dumps(data, sort_keys=True)


def test_the_log_is_read_page_by_page_from_its_very_start(trail: AuditTrail, positions: list[int]):
    """Bounded memory: one page at a time, each after the last position of the one before; the
    first page has no lower bound at all."""
    asked: list[tuple[int | None, int]] = []
    select = trail.store.select_link_rows

    def spy(after, limit):
        asked.append((after, limit))
        return select(after, limit)

    trail.store.select_link_rows = spy  # type: ignore[method-assign]
    try:
        pages = list(trail.pages(page_size=7))
    finally:
        del trail.store.select_link_rows
    assert asked == [(None, 7), (positions[6], 7), (positions[13], 7), (positions[20], 7), (positions[27], 7)]
    assert [row[0] for page in pages for row in page] == positions


def test_stored_links_and_rows_agree(trail: AuditTrail):
    links = list(trail.links(page_size=4))
    rows = [row for page in trail.pages(page_size=4) for row in page]
    assert [(link.position, link.seq, link.hash) for link in links] == [(row[0], row[5], row[6]) for row in rows]


@pytest.mark.postgres
def test_the_librarys_database_function_insert_path_is_refused(postgres_url: str):
    """It would store events without their chain entries (and idempotency keys)."""
    env = persistence_environment(postgres_url)
    env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "y"
    with pytest.raises(DatabaseUrlError, match="hash chain"):
        CollaborationRecords(env=env)


# ------------------------------------------------------------------------ the Merkle tree
@pytest.mark.parametrize(("level", "index", "completed_by"), [(0, 0, 0), (0, 17, 17), (2, 1, 7), (4, 0, 15)])
def test_a_tampered_tree_node_is_found_at_the_event_that_completed_it(
    trail, raw, positions, level, index, completed_by
):
    raw.run(("UPDATE {tree} SET hash = ? WHERE level = ? AND idx = ?", ["ab" * 32, level, index]))
    problem = assert_bad_at(trail, positions[completed_by])
    assert ("leaf" if level == 0 else f"level {level}, index {index}") in problem


def test_verify_since_a_checkpoint_reads_only_what_is_new(trail, raw, records, positions):
    checkpoint = trail.make_checkpoint(key())
    assert checkpoint.root_hash is not None and checkpoint.note is not None
    write_good_store(records, collaborations=1, rounds=4)
    new = len(raw.positions()) - GOOD_STORE_SIZE
    result = trail.verify_since(checkpoint, trusted_public_key=checkpoint.public_key)
    assert result.ok and result.events_checked == new and result.size == GOOD_STORE_SIZE + new

    later = raw.positions()[GOOD_STORE_SIZE + 2]
    raw.edit_state(later, reason="rewritten after the checkpoint")
    result = trail.verify_since(checkpoint, trusted_public_key=checkpoint.public_key)
    assert not result.ok and result.first_bad_position == later


def test_verify_since_finds_history_rewritten_before_the_checkpoint(trail, raw, records, positions):
    """Rewritten, rehashed and the tree rebuilt: every check of the store alone passes, but the
    stored tree no longer extends the checkpoint's root."""
    checkpoint = trail.make_checkpoint(key())
    write_good_store(records, collaborations=1, rounds=2)
    raw.edit_state(positions[4], reason="rewritten")
    raw.rehash_from(positions[4])
    raw.rebuild_tree()
    assert trail.verify().ok
    result = trail.verify_since(checkpoint, trusted_public_key=checkpoint.public_key)
    assert not result.ok and "does not extend the checkpoint's tree" in result.problem
    report = trail.verify(against=checkpoint, trusted_public_key=checkpoint.public_key)
    assert not report.ok


def test_verify_since_refuses_a_checkpoint_from_before_the_tree(trail, positions):
    old = sign(key(), size=GOOD_STORE_SIZE, head_hash="0" * 64, head_position=positions[-1], created_at="x")
    with pytest.raises(CheckpointInvalid, match="predates the Merkle tree"):
        trail.verify_since(old, trusted_public_key=old.public_key)


@pytest.mark.parametrize("position", [0, "between"])
def test_verify_since_finds_an_event_planted_before_the_checkpoints_head(trail, raw, records, positions, position):
    checkpoint = trail.make_checkpoint(key())
    write_good_store(records, collaborations=1, rounds=1)
    if position == "between":
        raw.make_room_after(positions[9], with_chain_entries=True)
        raw.insert_event(positions[9] + 1, copy_of=positions[3])
    else:
        raw.insert_event(position, copy_of=positions[3])
    result = trail.verify_since(checkpoint, trusted_public_key=checkpoint.public_key)
    assert not result.ok
    assert position != 0 or "events were added or removed before it" in result.problem
