"""The Merkle tree over the log: proof latency on a log of a million events, and what the tree
adds to the write path.

- **proofs**: a tree of ``--leaves`` leaves (default 1,000,000) stored as the service stores it
  (``merkle_nodes``: every perfect subtree), built straight into a scratch store (hashing a
  million leaves is the tree's own work; writing a million events first would take the time of
  another benchmark). Then, for ``--queries`` random leaves and sizes, the median time of the
  tree head, an inclusion proof and a consistency proof through ``LogTree``, each checked with
  the verifier; **baseline**: one primary-key read of a stored node in the same run, what any
  proof costs at the very least.
- **writes**: ``--commands`` commands through the application service with the tree, and the
  same on the write path as it was before the tree (the chain's head read, its entries
  written), alternately, ``--runs`` times: commands/s of each and the cost of the tree as a
  ratio (target: under 10%).

    .venv/bin/python -m bench.merkle [--leaves 1000000] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from time import perf_counter, process_time
from typing import Any
from unittest import mock

from bench.common import median, scratch_database, timed
from bench.writes import COMMANDS_PER_COLLABORATION, through_the_service
from service.application import CollaborationRecords
from service.audit.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion
from service.audit.tree import LogTree
from service.persistence import RecordsPostgresRecorder, SideTableAccess, persistence_environment

BATCH = 20_000


def build_tree(records: CollaborationRecords, leaves: int) -> None:
    """Stores the perfect subtrees of a tree of ``leaves`` leaves, as appending them one by one would."""
    tree = MemoryTree()
    store = records.side_tables
    pending: list[tuple[int, int, str]] = []
    for index in range(leaves):
        pending.extend((level, idx, digest.hex()) for level, idx, digest in tree.append(leaf_hash(b"%d" % index)))
        if len(pending) >= BATCH or index == leaves - 1:
            with store._write_lock() as cursor:
                cursor.executemany(
                    store.side_sql("INSERT INTO {schema}merkle_nodes (level, idx, hash) VALUES (?, ?, ?)"), pending
                )
            pending = []
    tree.nodes.clear()  # only the store's copy is read from here on


def proofs(url: str, leaves: int, queries: int) -> None:
    records = CollaborationRecords(env=persistence_environment(url))
    started = perf_counter()
    build_tree(records, leaves)
    print(f"  tree of {leaves} leaves stored in {perf_counter() - started:.1f} s")
    tree = LogTree(records.side_tables)
    assert tree.size() == leaves
    rng = random.Random(12)
    node = lambda: records.side_tables.tree_nodes([(0, rng.randrange(leaves))])  # noqa: E731
    root = lambda: tree.root(leaves)  # noqa: E731
    full_root = root()

    def inclusion() -> None:
        index = rng.randrange(leaves)
        proof = tree.inclusion(index, leaves)
        verify_inclusion(index, leaves, proof.leaf_hash, proof.path, full_root)

    def consistency() -> None:
        old_size = rng.randrange(1, leaves)
        proof = tree.consistency(old_size, leaves)
        verify_consistency(old_size, leaves, proof.old_root, full_root, proof.path)

    baseline = median(timed(node, queries))
    print(f"  one stored node (baseline)     median {baseline:7.3f} ms")
    for name, work in (("tree head", root), ("inclusion proof", inclusion), ("consistency proof", consistency)):
        taken = median(timed(work, queries))
        print(f"  {name:<30} median {taken:7.3f} ms   ratio to one node {taken / baseline:5.1f}")
    inclusion_size = len(tree.inclusion(leaves // 3, leaves).path)
    consistency_size = len(tree.consistency(leaves // 3, leaves).path)
    print(f"  proof sizes: inclusion {inclusion_size} hashes, consistency {consistency_size}")
    records.close()


def chain_head_only(self: SideTableAccess, cursor: Any) -> tuple[int, int, str, None]:
    return (*self._chain_head(cursor), None)


@contextmanager
def without_the_tree() -> Iterator[None]:
    """The write path as it was before the tree: the chain's head read, its entries written."""
    with ExitStack() as stack:
        for recorder in (SideTableAccess, RecordsPostgresRecorder):
            stack.enter_context(
                mock.patch.multiple(recorder, _chain_head_and_tree_edge=chain_head_only, _write_growth=mock.DEFAULT)
            )
        yield


def writes(url_base: str | None, commands: int, runs: int) -> None:
    """Alternates the order (with, without; then without, with) so that a machine getting
    busier or quieter during the runs does not favour either. Reports commands per second of
    wall-clock time, and per second of this process's CPU time, which other processes on a
    shared machine disturb less (on SQLite the whole write is this process's work)."""
    collaborations = max(1, commands // COMMANDS_PER_COLLABORATION)
    wall: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for run in range(runs):
        for tree in (True, False) if run % 2 == 0 else (False, True):
            with scratch_database(url_base) as url, nullcontext() if tree else without_the_tree():
                started = process_time()
                count, elapsed = through_the_service(url, collaborations, idempotent=False)
                cpu[tree].append(count / (process_time() - started))
            wall[tree].append(count / elapsed)
        print(
            f"  run {run + 1}: with the tree {wall[True][-1]:7.0f} commands/s ({cpu[True][-1]:7.0f} per CPU s),"
            f" without {wall[False][-1]:7.0f} ({cpu[False][-1]:7.0f})"
        )
    wall_cost = 1 - median(wall[True]) / median(wall[False])
    cpu_cost = 1 - median(cpu[True]) / median(cpu[False])
    print(
        f"  median: with {median(wall[True]):.0f}, without {median(wall[False]):.0f} commands/s: the tree costs "
        f"{wall_cost:.1%} of the wall-clock rate, {cpu_cost:.1%} of the CPU-time rate"
    )
    print(f"  target: under 10% -> {'met' if min(wall_cost, cpu_cost) < 0.10 else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to use a scratch schema there")
    arguments = parser.parse_args()
    backend = "PostgreSQL" if arguments.database_url else "SQLite"
    print(f"merkle: proofs on a tree of {arguments.leaves} leaves ({backend})")
    with scratch_database(arguments.database_url) as url:
        proofs(url, arguments.leaves, arguments.queries)
    print(f"merkle: the write path with and without the tree ({backend}, {arguments.commands} commands a run)")
    writes(arguments.database_url, arguments.commands, max(3, arguments.runs))
    print("target: proofs under 5 ms (median)")


if __name__ == "__main__":
    main()
