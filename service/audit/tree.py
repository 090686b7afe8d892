"""The Merkle tree over the stored log: its heads and proofs, read from the perfect subtrees the
store keeps (``merkle_nodes``, extended in each write's transaction).

Which stored nodes a root or a proof needs depends only on the sizes and the leaf index, never
on the hashes, so each answer is worked out twice: once to learn which nodes it needs, once
with those nodes, fetched in one query.
"""

from __future__ import annotations

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
