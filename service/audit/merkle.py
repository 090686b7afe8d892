"""A Merkle tree over the global log, as RFC 9162 (Certificate Transparency 2.0) section 2.1
defines it: leaf hash SHA-256(0x00 || leaf), interior node SHA-256(0x01 || left || right), the
tree of n leaves split at the largest power of two smaller than n.

The tree is read through its **perfect subtrees**: the hash of the 2^level leaves starting at
index · 2^level, for every complete such block. A store keeps those (about two per leaf, each
written once, when its last leaf arrives), so the root of any size and every node of an
inclusion or consistency proof is worked out from O(log n) stored hashes, never by rehashing
leaves. ``MemoryTree`` keeps them in a dict; the event store keeps them in a table.

Proofs and their verification follow RFC 9162 sections 2.1.3 and 2.1.4. A verifier needs only
this module (the standard library), so an auditor can check a proof with nothing of the
service's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof does not prove what it claims; the message says why."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k, for n > 1: where RFC 9162 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


# A source of perfect subtrees: (level, index) -> the hash of leaves [index·2^level, (index+1)·2^level).
Perfect = Callable[[int, int], bytes]


def range_root(perfect: Perfect, start: int, end: int) -> bytes:
    """MTH(D[start:end]) for a range as RFC 9162 splits trees (``start`` aligned to the largest
    power of two not above its size), from the perfect subtrees that make it up."""
    size = end - start
    if size <= 0:
        raise ValueError("a subtree has at least one leaf")
    if size & (size - 1) == 0 and start % size == 0:
        return perfect(size.bit_length() - 1, start // size)
    split = largest_power_of_two_below(size)
    return node_hash(range_root(perfect, start, start + split), range_root(perfect, start + split, end))


def tree_root(perfect: Perfect, size: int) -> bytes:
    """The root hash of the tree of the first ``size`` leaves (the empty tree: SHA-256 of nothing)."""
    return EMPTY_ROOT if size == 0 else range_root(perfect, 0, size)


def inclusion_proof(perfect: Perfect, index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1), leaf
    to root."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:  # descend from the root, recording the sibling of each subtree taken
        split = start + largest_power_of_two_below(end - start)
        if index < split:
            path.append(range_root(perfect, split, end))
            end = split
        else:
            path.append(range_root(perfect, start, split))
            start = split
    return path[::-1]


def consistency_proof(perfect: Perfect, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``new_size`` leaves extends that of ``old_size`` (RFC 9162
    2.1.4.1); empty when the sizes are equal or the old tree is empty."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"a tree of {new_size} does not extend one of {old_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, complete = 0, new_size, True  # SUBPROOF(m, D[start:end], b)
    m = old_size
    while True:
        if m == end - start:
            if not complete:
                proof.append(range_root(perfect, start, end))
            return proof[::-1]
        split = largest_power_of_two_below(end - start)
        if m <= split:
            proof.append(range_root(perfect, start + split, end))
            end = start + split
        else:
            proof.append(range_root(perfect, start, start + split))
            start, m, complete = start + split, m - split, False


# --------------------------------------------------------------------------- verification
def _check_hashes(*hashes: bytes) -> None:
    """Every node of a proof is a SHA-256 hash (roots and leaf hashes are only compared)."""
    for value in hashes:
        if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
            length = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
            raise ProofError(f"a node of a proof is a hash of {HASH_SIZE} bytes, not {length}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root the audit path ``proof`` leads to from ``leaf`` (a leaf hash) at ``index`` in a
    tree of ``size`` (RFC 9162 2.1.3.2); ProofError where the path cannot be right for them."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    if len(leaf) != HASH_SIZE:
        raise ProofError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
    _check_hashes(*proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError(f"the proof is longer than a tree of {size} needs for leaf {index}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the proof is shorter than a tree of {size} needs for leaf {index}")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Checks that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` whose root is
    ``root``; raises ProofError saying why not."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof of leaf {index} does not lead to the root of the tree of {size}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Checks that the tree of ``new_size`` with root ``new_root`` extends the tree of
    ``old_size`` with root ``old_root`` (RFC 9162 2.1.4.2); raises ProofError saying why not."""
    _check_hashes(*proof)
    if old_size < 1:
        raise ProofError("consistency is proved from a tree of at least one leaf")
    if old_size > new_size:
        raise ProofError(f"a tree of {new_size} cannot extend one of {old_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("trees of the same size need an empty consistency proof")
        if old_root != new_root:
            raise ProofError(f"two trees of {old_size} leaves have different roots")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree: its root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"the consistency proof is longer than trees of {old_size} and {new_size} need")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"the consistency proof is shorter than trees of {old_size} and {new_size} need")
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {old_size}")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the root of the tree of {new_size}")


# ------------------------------------------------------------------------ in memory
class MemoryTree:
    """A tree held in memory: its leaf hashes appended one by one, every perfect subtree kept."""

    def __init__(self) -> None:
        self.size = 0
        self.nodes: dict[tuple[int, int], bytes] = {}

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Appends a leaf hash; answers the perfect subtrees completed by it (level, index, hash):
        what a store writes for this leaf."""
        _check_hashes(leaf)
        level, index, digest = 0, self.size, leaf
        written = [(level, index, digest)]
        self.nodes[level, index] = digest
        while index & 1:  # a right child completes its parent
            digest = node_hash(self.nodes[level, index - 1], digest)
            level, index = level + 1, index >> 1
            self.nodes[level, index] = digest
            written.append((level, index, digest))
        self.size += 1
        return written

    def perfect(self, level: int, index: int) -> bytes:
        return self.nodes[level, index]

    def root(self, size: int | None = None) -> bytes:
        return tree_root(self.perfect, self.size if size is None else size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.perfect, index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self.perfect, old_size, self.size if new_size is None else new_size)
