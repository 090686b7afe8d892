"""The Merkle tree over the log (RFC 9162 section 2.1): hashing against the published RFC 6962
vectors, proofs against the transparency-dev/merkle probes, and the verifier tested as that
project tests its own: every systematic corruption of a good proof must fail."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.audit.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

PROBES = json.loads((Path(__file__).parent / "data" / "merkle_probes.json").read_text())

# RFC 6962's eight test leaves, and the root of each tree of the first n of them (n = 0..8).
LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def tree_of(count: int) -> MemoryTree:
    tree = MemoryTree()
    for index in range(count):
        tree.append(leaf_hash(str(index).encode()))
    return tree


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


# --------------------------------------------------------------------------------- hashing
def test_hashing_follows_rfc_6962():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_the_root_of_every_tree_of_the_rfc_leaves():
    tree = MemoryTree()
    assert tree.root().hex() == ROOTS[0]
    for leaf in LEAVES:
        tree.append(leaf_hash(leaf))
    assert [tree.root(size).hex() for size in range(9)] == ROOTS


def test_appending_writes_each_perfect_subtree_once_when_its_last_leaf_arrives():
    tree = MemoryTree()
    written = [[(level, index) for level, index, _ in tree.append(leaf_hash(leaf))] for leaf in LEAVES]
    assert written == [
        [(0, 0)],
        [(0, 1), (1, 0)],
        [(0, 2)],
        [(0, 3), (1, 1), (2, 0)],
        [(0, 4)],
        [(0, 5), (1, 2)],
        [(0, 6)],
        [(0, 7), (1, 3), (2, 1), (3, 0)],
    ]
    assert tree.perfect(2, 1).hex() == "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"


# ------------------------------------------------------------------------- published probes
@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda probe: probe["file"])
def test_inclusion_probes(probe):
    arguments = (probe["leafIdx"], probe["treeSize"], b64(probe["leafHash"]), [b64(p) for p in probe["proof"] or []])
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*arguments, b64(probe["root"]))
    else:
        verify_inclusion(*arguments, b64(probe["root"]))


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda probe: probe["file"])
def test_consistency_probes(probe):
    arguments = (probe["size1"], probe["size2"], b64(probe["root1"]), b64(probe["root2"]))
    proof = [b64(p) for p in probe["proof"] or []]
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*arguments, proof)
    else:
        verify_consistency(*arguments, proof)


def test_our_proofs_are_the_published_ones():
    tree = MemoryTree()
    for leaf in LEAVES:
        tree.append(leaf_hash(leaf))
    good_inclusion = [p for p in PROBES["inclusion"] if not p["wantErr"] and p["treeSize"] <= 8]
    good_consistency = [p for p in PROBES["consistency"] if not p["wantErr"] and p["size1"] > 0 and p["size2"] <= 8]
    assert good_inclusion and good_consistency
    compared = 0
    for probe in good_inclusion:
        if b64(probe["root"]) == tree.root(probe["treeSize"]):
            assert tree.inclusion_proof(probe["leafIdx"], probe["treeSize"]) == [b64(p) for p in probe["proof"] or []]
            compared += 1
    for probe in good_consistency:
        if b64(probe["root2"]) == tree.root(probe["size2"]):
            expected = [b64(p) for p in probe["proof"] or []]
            assert tree.consistency_proof(probe["size1"], probe["size2"]) == expected, probe["file"]
            compared += 1
    assert compared >= 10  # the published proofs over the RFC leaves, each one ours too


# --------------------------------------------------------- every proof, every corruption
SIZES = range(1, 34)


@pytest.mark.parametrize("size", SIZES)
def test_every_inclusion_proof_verifies_and_every_corruption_of_it_fails(size):
    tree = tree_of(size)
    root = tree.root()
    for index in range(size):
        leaf, proof = tree.perfect(0, index), tree.inclusion_proof(index)
        verify_inclusion(index, size, leaf, proof, root)
        for corrupt in inclusion_corruptions(index, size, leaf, proof, root):
            with pytest.raises(ProofError):
                verify_inclusion(*corrupt)


def inclusion_corruptions(index, size, leaf, proof, root):
    """The corruptions transparency-dev/merkle tries on every inclusion proof, and swapped
    siblings. (A size off by one can keep the path's shape, and so verify: the signed tree head
    binds the size; a size of another height cannot.)"""
    for wrong_index in (index - 1, index + 1, index ^ 2):
        yield wrong_index, size, leaf, proof, root
    for wrong_size in (size * 2, size // 2):
        yield index, wrong_size, leaf, proof, root
    yield index, size, b"WrongLeaf", proof, root
    yield index, size, EMPTY_ROOT, proof, root
    yield index, size, leaf, proof, EMPTY_ROOT
    yield index, size, leaf, proof, bytes(range(32))
    yield index, size, leaf, [*proof, b""], root  # trailing garbage
    yield index, size, leaf, [*proof, root], root
    yield index, size, leaf, [b"", *proof], root  # preceding garbage
    yield index, size, leaf, [root, *proof], root
    for position in range(len(proof)):
        for byte in (0, 15, 31):
            yield index, size, leaf, [*proof[:position], flip(proof[position], byte), *proof[position + 1 :]], root
    if proof:
        yield index, size, leaf, proof[:-1], root  # removed component
    if len(proof) > 1:
        yield index, size, leaf, [proof[0], bytes(range(32)), *proof[1:]], root  # inserted component
    for position in range(len(proof) - 1):  # two siblings swapped
        if proof[position] != proof[position + 1]:
            swapped = list(proof)
            swapped[position], swapped[position + 1] = swapped[position + 1], swapped[position]
            yield index, size, leaf, swapped, root


@pytest.mark.parametrize("new_size", SIZES)
def test_every_consistency_proof_verifies_and_every_corruption_of_it_fails(new_size):
    tree = tree_of(new_size)
    new_root = tree.root()
    for old_size in range(1, new_size):
        old_root, proof = tree.root(old_size), tree.consistency_proof(old_size)
        verify_consistency(old_size, new_size, old_root, new_root, proof)
        for corrupt in consistency_corruptions(old_size, new_size, old_root, new_root, proof):
            with pytest.raises(ProofError):
                verify_consistency(*corrupt)


def consistency_corruptions(old_size, new_size, old_root, new_root, proof):
    """The corruptions transparency-dev/merkle tries on every consistency proof, and swapped
    siblings."""
    for wrong_old in (old_size - 1, old_size + 1, old_size ^ 2):
        if wrong_old != old_size:
            yield wrong_old, new_size, old_root, new_root, proof
    for wrong_new in (new_size * 2, new_size // 2):
        yield old_size, wrong_new, old_root, new_root, proof
    yield old_size, new_size, b"WrongRoot", new_root, proof
    yield old_size, new_size, old_root, b"WrongRoot", proof
    yield old_size, new_size, new_root, old_root, proof  # swapped roots
    yield old_size, new_size, old_root, new_root, []
    for extra in (b"", old_root, new_root):
        yield old_size, new_size, old_root, new_root, [*proof, extra]
        yield old_size, new_size, old_root, new_root, [extra, *proof]
    yield old_size, new_size, old_root, new_root, [proof[0], *proof]
    yield old_size, new_size, old_root, new_root, proof[:-1]  # truncated
    for position in range(len(proof)):
        for byte in (0, 31):
            corrupted = [*proof[:position], flip(proof[position], byte), *proof[position + 1 :]]
            yield old_size, new_size, old_root, new_root, corrupted
    for position in range(len(proof) - 1):
        if proof[position] != proof[position + 1]:
            swapped = list(proof)
            swapped[position], swapped[position + 1] = swapped[position + 1], swapped[position]
            yield old_size, new_size, old_root, new_root, swapped


def flip(value: bytes, byte: int) -> bytes:
    changed = bytearray(value)
    changed[byte] ^= 0x01
    return bytes(changed)


def test_the_edges_of_consistency():
    tree = tree_of(5)
    verify_consistency(5, 5, tree.root(), tree.root(), [])
    for bad in (
        (5, 5, tree.root(), tree.root(), [tree.root()]),
        (5, 5, tree.root(), tree.root(3), []),
        (0, 5, EMPTY_ROOT, tree.root(), []),  # as transparency-dev/merkle: nothing is proved from the empty tree
    ):
        with pytest.raises(ProofError):
            verify_consistency(*bad)
    with pytest.raises(ProofError):
        verify_consistency(3, 5, tree.root(3), tree.root(), [])  # empty proof between different sizes


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 3000), data=st.data())
def test_proofs_from_any_tree_verify(size, data):
    tree = tree_of(size)
    index = data.draw(st.integers(0, size - 1))
    at_size = data.draw(st.integers(index + 1, size))
    verify_inclusion(index, at_size, tree.perfect(0, index), tree.inclusion_proof(index, at_size), tree.root(at_size))
    old_size = data.draw(st.integers(1, size))
    old_root = tree.root(old_size)
    verify_consistency(old_size, size, old_root, tree.root(), tree.consistency_proof(old_size))
