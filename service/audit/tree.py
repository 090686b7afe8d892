"""The Merkle tree over the stored log: its heads and proofs, read from the perfect subtrees the
store keeps (``merkle_nodes``, extended in each write's transaction).

Which stored nodes a root or a proof needs depends only on the sizes and the leaf index, never
on the hashes, so each answer is worked out twice: once to learn which nodes it needs, once
with those nodes, fetched in one query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from service.audit import merkle

T = TypeVar("T")
PLACEHOLDER = bytes(merkle.HASH_SIZE)


class TreeStore(Protocol):
    def tree_size(self) -> int: ...

    def tree_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]: ...

    def chained_document(self, position: int) -> tuple[int, bytes] | None: ...


class TreeIncomplete(LookupError):
    """The tree has fewer leaves than asked about (it has not caught up, or the size is ahead)."""


class EventNotChained(LookupError):
    """No chained event has that position."""


class SizesOutOfOrder(ValueError):
    """A consistency proof runs from a tree of at least one leaf to one at least as large."""


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    root: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: list[bytes]


class LogTree:
    """Heads and proofs of the tree of a store."""

    def __init__(self, store: TreeStore):
        self.store = store

    def size(self) -> int:
        return self.store.tree_size()

    def _answer(self, sizes: Collection[int], compute: Callable[[merkle.Perfect], T]) -> T:
        available = self.size()
        if any(size > available for size in sizes):
            raise TreeIncomplete(f"the tree has {available} leaves, fewer than {max(sizes)}")
        wanted: set[tuple[int, int]] = set()

        def record(level: int, index: int) -> bytes:
            wanted.add((level, index))
            return PLACEHOLDER

        compute(record)
        nodes = self.store.tree_nodes(wanted)
        if len(nodes) != len(wanted):
            missing = min(wanted - set(nodes))
            raise TreeIncomplete(f"the tree is missing the subtree at level {missing[0]}, index {missing[1]}")
        return compute(lambda level, index: nodes[level, index])

    def root(self, size: int) -> bytes:
        return self._answer([size], lambda perfect: merkle.tree_root(perfect, size))

    def inclusion(self, index: int, size: int) -> InclusionProof:
        def compute(perfect: merkle.Perfect) -> InclusionProof:
            return InclusionProof(
                index,
                size,
                perfect(0, index),
                merkle.inclusion_proof(perfect, index, size),
                merkle.tree_root(perfect, size),
            )

        return self._answer([size], compute)

    def consistency(self, old_size: int, new_size: int) -> ConsistencyProof:
        def compute(perfect: merkle.Perfect) -> ConsistencyProof:
            return ConsistencyProof(
                old_size,
                new_size,
                merkle.tree_root(perfect, old_size),
                merkle.tree_root(perfect, new_size),
                merkle.consistency_proof(perfect, old_size, new_size),
            )

        return self._answer([old_size, new_size], compute)

    # ------------------------------------------------------------ answers, JSON-ready
    def head(self, size: int | None = None) -> dict[str, Any]:
        """The root of the tree of ``size`` leaves (default: all), and the whole tree's size."""
        whole = self.size()
        size = whole if size is None else size
        return {"size": size, "root_hash": self.root(size).hex(), "tree_size": whole}

    def event_inclusion(self, position: int, size: int | None = None) -> dict[str, Any]:
        """The inclusion proof of the event at log ``position`` in the tree of ``size`` leaves
        (default: all), with its leaf: the canonical document, so anyone can rehash it."""
        chained = self.store.chained_document(position)
        if chained is None:
            raise EventNotChained(f"no chained event at position {position}")
        seq, leaf = chained
        size = self.size() if size is None else size
        if seq > size:
            raise TreeIncomplete(f"the event at position {position} is leaf {seq - 1}, not in a tree of {size}")
        proof = self.inclusion(seq - 1, size)
        return {
            "position": position,
            "leaf_index": proof.leaf_index,
            "tree_size": proof.tree_size,
            "leaf": leaf.decode(),
            "leaf_hash": proof.leaf_hash.hex(),
            "audit_path": [node.hex() for node in proof.path],
            "root_hash": proof.root.hex(),
        }

    def growth(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """The proof that the tree of ``new_size`` leaves (default: all) extends that of ``old_size``."""
        new_size = self.size() if new_size is None else new_size
        if not 1 <= old_size <= new_size:
            raise SizesOutOfOrder(f"old_size {old_size} must be from 1 to new_size {new_size}")
        proof = self.consistency(old_size, new_size)
        return {
            "old_size": proof.old_size,
            "new_size": proof.new_size,
            "old_root": proof.old_root.hex(),
            "new_root": proof.new_root.hex(),
            "proof": [node.hex() for node in proof.path],
        }


class TreeWalk:
    """Rebuilds the tree from the leaves a verifier walks (the events' canonical documents, in
    chain order) and compares every perfect subtree they complete with the one stored: a leaf
    that is not its event's document, or an interior node that is not the hash of its children,
    is found with the position of the event that completed it.

    Memory stays bounded: only the right edge (one node per level) is kept. It may start part
    way (``audit verify --since``): from the stored edge at ``start`` leaves, which a verified
    consistency proof from a signed root vouches for."""

    def __init__(self, store: Any, start: int = 0, mark: int | None = None):
        self.store = store
        self.size = start
        self.mark = mark  # a size whose root to keep (a checkpoint's), as the walk passes it
        self.marked_root: bytes | None = None
        self.edge: dict[int, bytes] = {}
        self.stored_size = store.tree_size()
        if start:
            keys = [(level, (start >> level) - 1) for level in range(start.bit_length()) if start >> level & 1]
            nodes = store.tree_nodes(keys)
            if len(nodes) != len(keys):
                raise TreeIncomplete(f"the tree has no right edge at {start} leaves")
            self.edge = {level: nodes[level, index] for level, index in keys}
        self.complete = self.stored_size >= start  # False once the walk passes the stored tree

    def page(self, leaves: list[bytes], positions: list[int]) -> tuple[int, str] | None:
        """Feeds a page of leaf hashes (with their events' positions); the first mismatch as
        (position, problem), else None."""
        if not leaves:
            return None
        first, end = self.size, self.size + len(leaves)
        if end > self.stored_size:
            self.complete = False
        stored = self._stored(first, min(end, self.stored_size))
        edge, sha256, stored_size, mark = self.edge, hashlib.sha256, self.stored_size, self.mark
        for offset, leaf in enumerate(leaves):
            index = first + offset
            checked = index < stored_size
            if checked and stored.get((0, index)) != leaf.hex():
                return positions[offset], self._problem(stored, 0, index)
            level, node_index, digest = 0, index, leaf
            while node_index & 1:
                digest = sha256(b"\x01" + edge.pop(level) + digest).digest()
                level, node_index = level + 1, node_index >> 1
                if checked and stored.get((level, node_index)) != digest.hex():
                    return positions[offset], self._problem(stored, level, node_index)
            edge[level] = digest
            if index + 1 == mark:
                self.size = index + 1
                self.marked_root = self.root()
        self.size = end
        return None

    @staticmethod
    def _problem(stored: dict[tuple[int, int], str], level: int, index: int) -> str:
        if (level, index) not in stored:
            return f"the Merkle tree has no node at level {level}, index {index} (it was deleted)"
        if level == 0:
            return "the Merkle tree's leaf for the event is not the hash of its document"
        return (
            f"the Merkle tree's node at level {level}, index {index} is not the hash of its children "
            "(it was altered)"
        )

    def _stored(self, first: int, end: int) -> dict[tuple[int, int], str]:
        """The stored perfect subtrees completed by leaves first..end-1 (one query: a range per level)."""
        if end <= first:
            return {}
        ranges = [
            (level, first >> level, end >> level)
            for level in range(end.bit_length())
            if (first >> level) < (end >> level) or level == 0
        ]
        # One indexed range per level (UNION ALL: an OR of ranges may not use the primary key).
        query = " UNION ALL ".join(
            "SELECT level, idx, hash FROM {schema}merkle_nodes WHERE level = ? AND idx >= ? AND idx < ?"
            for _ in ranges
        )
        rows = self.store.select_tuples(query, tuple(value for bounds in ranges for value in bounds))
        return {(level, index): digest for level, index, digest in rows}

    def root(self) -> bytes:
        """The root of the walked tree (its right edge folded, smallest subtree first)."""
        if self.size == 0:
            return merkle.tree_root(lambda level, index: PLACEHOLDER, 0)
        digest = None
        for level in sorted(self.edge):
            digest = self.edge[level] if digest is None else merkle.node_hash(self.edge[level], digest)
        assert digest is not None
        return digest
