"""The Merkle tree kept by the store (issue 12): extended in each write's transaction on SQLite
and PostgreSQL, equal to the tree rebuilt from the chained log, its proofs verifying; a store
older than the tree brought in by ``catch_up_tree``, never over a tampered event."""

from __future__ import annotations

import hashlib
import threading

import pytest

from service.application import CollaborationRecords
from service.audit.chain import GENESIS, canonical_bytes
from service.audit.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from service.audit.tree import LogTree, TreeIncomplete
from service.persistence import ChainBroken
from tests.integration.audit_support import ADMIN, ON, RawDatabase, write_good_store


def rebuilt(records: CollaborationRecords) -> MemoryTree:
    """The tree of the chained log, worked out from the events themselves."""
    tree, previous = MemoryTree(), GENESIS
    for link in records.side_tables.select_links(None, 1_000_000):
        document = canonical_bytes(
            position=link.position,
            stream_id=link.stream_id,
            version=link.version,
            topic=link.topic,
            state=link.state,
            previous=previous,
        )
        previous = hashlib.sha256(document).hexdigest()
        tree.append(leaf_hash(document))
    return tree


def test_every_write_extends_the_tree_and_its_proofs_verify(records: CollaborationRecords) -> None:
    write_good_store(records)
    tree, memory = LogTree(records.side_tables), rebuilt(records)
    size = records.log_size()
    assert tree.size() == memory.size == size == 30
    for at_size in (1, 2, 7, 16, 29, 30):
        assert tree.root(at_size) == memory.root(at_size)
    for index in (0, 5, 15, 16, 29):
        proof = tree.inclusion(index, size)
        assert proof.leaf_hash == memory.perfect(0, index)
        verify_inclusion(proof.leaf_index, proof.tree_size, proof.leaf_hash, proof.path, proof.root)
    for old_size in (1, 8, 13, 29):
        proof = tree.consistency(old_size, size)
        verify_consistency(old_size, size, proof.old_root, proof.new_root, proof.path)
    with pytest.raises(TreeIncomplete):
        tree.root(size + 1)


def test_concurrent_writers_leave_one_tree(records: CollaborationRecords) -> None:
    ids = write_good_store(records, collaborations=4, rounds=1)
    errors: list[BaseException] = []

    def write(collaboration_id: str) -> None:
        try:
            for round_number in range(8):
                records.hold_review(collaboration_id, outcome=f"review {round_number}", caller=ADMIN, **ON)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(collaboration_id,)) for collaboration_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tree = LogTree(records.side_tables)
    assert tree.size() == records.log_size() == 4 * 2 + 32
    assert tree.root(tree.size()) == rebuilt(records).root()


def test_a_store_older_than_the_tree_is_brought_in_and_then_kept(
    records: CollaborationRecords, database_url: str
) -> None:
    ids = write_good_store(records)
    raw = RawDatabase(database_url)
    raw.run("DELETE FROM {tree}", "DELETE FROM {edge}")  # as a store chained before the tree existed
    tree = LogTree(records.side_tables)
    records.hold_review(ids[0], outcome="after the tree began", caller=ADMIN, **ON)
    assert tree.size() == 0  # a write does not build on a tree that lags the chain
    assert records.side_tables.catch_up_tree(batch_size=7) == 31
    assert tree.size() == 31 and tree.root(31) == rebuilt(records).root()
    records.hold_review(ids[1], outcome="kept from here on", caller=ADMIN, **ON)
    assert tree.size() == 32 and tree.root(32) == rebuilt(records).root()
    assert records.side_tables.catch_up_tree() == 0


def test_the_tree_never_takes_in_a_tampered_event(records: CollaborationRecords, database_url: str) -> None:
    write_good_store(records)
    raw = RawDatabase(database_url)
    raw.run("DELETE FROM {tree}", "DELETE FROM {edge}")
    position = raw.positions()[11]
    raw.edit_state(position, outcome="rewritten later")
    with pytest.raises(ChainBroken) as raised:
        records.side_tables.catch_up_tree()
    assert str(position) in str(raised.value)
    assert LogTree(records.side_tables).size() == 0  # the batch that met it was rolled back
