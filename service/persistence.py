"""Storage: maps ``DATABASE_URL`` onto eventsourcing's persistence modules, and extends the
library's application recorders with the side tables that must commit with the events.

The side tables are:

- ``idempotency_keys``: what replays each POST that carried an ``Idempotency-Key``: a small
  record of its answer (the aggregate's type, id and version, the ids the command returned,
  the log position; never the answer's document, see ``IdempotentRequest``), and when it was
  recorded (``created_at``, which ``prune_idempotency_keys`` expires by). It is inserted in the
  same transaction as the events the POST recorded (through the recorder's insert extension
  points), so a retried request either finds the first result or finds nothing was recorded:
  never both, never half.
- ``api_tokens``: bearer tokens, stored as SHA-256 hashes.
- ``event_chain``: the hash chain over the global log (``service/audit/chain.py``): one row
  per event, ``(seq, position, hash)``. It is extended in the same transaction as the events,
  while the writer holds the store's write lock (SQLite's single writer; the library's
  ``LOCK TABLE ... IN EXCLUSIVE MODE`` on PostgreSQL), so concurrent writers from several
  processes chain in commit order. Events stored before the chain existed are chained by the
  first write after it (or by ``flask --app wsgi audit chain``).
- ``audit_checkpoints``: signed checkpoints of the chain and the Merkle tree.
- ``audit_witnesses`` and ``audit_cosignatures``: the forces' witness keys, and the
  cosignatures of checkpoints their witnesses made (``service/audit/witnesses.py``).
- ``event_times``: when each event was recorded and the date it takes effect, one row per
  ``(originator_id, originator_version)``, inserted in the events' own transaction (as in the
  library's ``searchabletimestamps`` example). ``known_at`` reads use it to find the version of
  an aggregate that was known at a time without replaying the stream.
- ``log_clock``: one row, ``closed_at`` (the same fixed-width UTC text as ``recorded_at``): the
  log is closed up to that time, and no event recorded at or before it may be added any more.

Recorded times follow the log's order, so that what was known at a time answers the same
forever. An event's recorded time is its ``timestamp``, fixed (and hashed into the chain) when
the writer creates it, before it commits. So a write, under the store's write lock, refuses
(``RecordedOutOfOrder``: it rolls back, and the application runs the command again with fresh
events) any event recorded at or before ``closed_at``, and moves ``closed_at`` to its latest
event. A ``known_at`` read of a time ``T`` not yet closed first closes the log through the
present (``close_log_through``, under the same lock): from then on nothing recorded by ``T``
can be added, and the read is repeatable. A read of a time still in the future is repeatable
only once that time has passed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from service.audit.chain import GENESIS, LinkRow, StoredLink, canonical_bytes, stream_text
from service.audit.merkle import leaf_hash, node_hash

logger = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_DATABASE_URL = "sqlite:///instance/records.sqlite3"
SCHEMA_LOCK_KEY = 0x636F6C6C6162  # "collab": the advisory lock that serialises creating tables
PROJECTION_NAMES = ("register", "decision_log", "exit_cost_history", "benefits_realisation")
APPLICATION_NAME = "collab-records"  # each connection's application_name, followed by the process id
DEFAULT_MAX_CONNECTIONS = 3  # PostgreSQL connections one process may open (POSTGRES_MAX_CONNECTIONS)
DEFAULT_POOL_WAIT = 5  # seconds a request waits for a connection (POSTGRES_CONNECT_TIMEOUT), well below the worker's


class ChainBroken(RuntimeError):
    """The hash chain cannot be extended honestly: the log was changed by other means."""


class DatabaseUrlError(ValueError):
    """DATABASE_URL names no storage this service supports."""


class RecordedOutOfOrder(IntegrityError):
    """A write's events were recorded (created) at or before the time the log is closed to: a
    later event, or a ``known_at`` read, got in first. Nothing was written; the command is run
    again on fresh state, with fresh events. An ``IntegrityError``, as a conflict on a version is,
    so whatever retries one retries the other. ``closed_at``: the time the log was closed to."""

    def __init__(self, message: str, closed_at: str = "") -> None:
        super().__init__(message)
        self.closed_at = closed_at


EARLIEST_TEXT = "0000-01-01T00:00:00.000000Z"  # before any time a datetime can hold
LATEST_TEXT = "9999-12-31T23:59:59.999999Z"


def recorded_at_text(moment: datetime) -> str:
    """RFC 3339 UTC, fixed width (four-digit year, microseconds always written), so text order
    is time order. A time whose UTC form is outside the years 1 to 9999 (0001-01-01T00:00+01:00,
    say) is written as the earliest or latest text, which orders the same way."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return EARLIEST_TEXT if moment.year < 5000 else LATEST_TEXT
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


# The key that marks a bounded idempotency record in ``idempotency_keys.result`` (its value is the
# record's format). Rows written before issue 13 hold the whole answer document instead, which
# never has this key: both are read (``CollaborationRecords._replay``).
IDEMPOTENCY_RECORD = "$record"


@dataclass(frozen=True)
class IdempotentRequest:
    """A POST that carried an Idempotency-Key, and what replays its answer: ``result`` is the
    bounded record ``CollaborationRecords._save`` builds (marked with ``IDEMPOTENCY_RECORD``: the
    aggregate's type, id and version, the day the answer was built on, the ids the command
    returned), to which the recorder adds ``position``, the log position of the write's last event,
    once the insert has it. ``created_at`` (``recorded_at`` text) defaults to the time of the insert."""

    principal: str
    key: str
    fingerprint: str
    result: Mapping[str, Any]
    created_at: str | None = None


SIDE_TABLES = [
    "CREATE TABLE IF NOT EXISTS {schema}idempotency_keys ("
    " principal TEXT NOT NULL,"
    " idempotency_key TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " created_at TEXT NOT NULL,"  # added to older stores by migrate_idempotency_keys, with its index
    " PRIMARY KEY (principal, idempotency_key))",
    "CREATE TABLE IF NOT EXISTS {schema}api_tokens ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " force TEXT,"
    " token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL,"
    " revoked_at TEXT)",
    "CREATE TABLE IF NOT EXISTS {schema}event_chain ("
    " seq BIGINT PRIMARY KEY,"
    " position BIGINT NOT NULL UNIQUE,"
    " hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}audit_checkpoints ( size BIGINT PRIMARY KEY, checkpoint TEXT NOT NULL)",
    # The Merkle tree over the chained log (service/audit/merkle.py): every perfect subtree, the
    # hash of leaves [idx·2^level, (idx+1)·2^level), written once when its last leaf is chained.
    "CREATE TABLE IF NOT EXISTS {schema}merkle_nodes ("
    " level INTEGER NOT NULL,"
    " idx BIGINT NOT NULL,"
    " hash TEXT NOT NULL,"
    " PRIMARY KEY (level, idx))",
    # Its right edge (the perfect subtree of each set bit of its size: what the next leaves
    # complete) in one row, rewritten with the nodes: on PostgreSQL a write reads it with the
    # chain's head, in the same round trip (SQLite reads the edge's nodes, in process).
    "CREATE TABLE IF NOT EXISTS {schema}merkle_edge ("
    " id INTEGER PRIMARY KEY,"
    " size BIGINT NOT NULL,"
    " nodes TEXT NOT NULL)",
    # The parties' witness keys and their cosignatures of checkpoints (service/audit/witnesses.py).
    "CREATE TABLE IF NOT EXISTS {schema}audit_witnesses ("
    " name TEXT PRIMARY KEY,"
    " force TEXT NOT NULL,"
    " vkey TEXT NOT NULL,"
    " approval_ref TEXT NOT NULL,"
    " registered_by TEXT NOT NULL,"
    " registered_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {schema}audit_cosignatures ("
    " size BIGINT NOT NULL,"
    " witness TEXT NOT NULL,"
    " line TEXT NOT NULL,"
    " cosigned_at BIGINT NOT NULL,"
    " PRIMARY KEY (size, witness))",
    "CREATE TABLE IF NOT EXISTS {schema}event_times ("
    " originator_id TEXT NOT NULL,"
    " originator_version BIGINT NOT NULL,"
    " recorded_at TEXT NOT NULL,"
    " effective_on TEXT,"
    " PRIMARY KEY (originator_id, originator_version))",
    "CREATE INDEX IF NOT EXISTS event_times_recorded ON {schema}event_times (originator_id, recorded_at)",
    # The log is closed up to closed_at: no event recorded at or before it may be added (one row, id 1).
    "CREATE TABLE IF NOT EXISTS {schema}log_clock ( id INTEGER PRIMARY KEY, closed_at TEXT NOT NULL)",
]
# A write moves the clock to its latest event only if its earliest is after the clock (the row
# comes back); no row back: an event is out of order. One statement, under the write lock.
ADVANCE_LOG_CLOCK = (
    "INSERT INTO {schema}log_clock AS k (id, closed_at) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET closed_at = excluded.closed_at WHERE k.closed_at < ?"
    " RETURNING closed_at"
)
# A known_at read closes the log through the present (never moving the clock back).
CLOSE_LOG_CLOCK = (
    "INSERT INTO {schema}log_clock AS k (id, closed_at) VALUES (1, ?)"
    " ON CONFLICT (id) DO UPDATE SET closed_at = CASE WHEN k.closed_at < excluded.closed_at"
    " THEN excluded.closed_at ELSE k.closed_at END RETURNING closed_at"
)
SELECT_LOG_CLOCK = "SELECT closed_at FROM {schema}log_clock WHERE id = 1"
INSERT_EVENT_TIMES = (
    "INSERT INTO {schema}event_times (originator_id, originator_version, recorded_at, effective_on) VALUES (?, ?, ?, ?)"
)
SELECT_VERSION_KNOWN_AT = (
    "SELECT MAX(originator_version) AS originator_version FROM {schema}event_times"
    " WHERE originator_id = ? AND recorded_at <= ?"
)


@dataclass(frozen=True)
class EventTime:
    """When an event was recorded (RFC 3339 UTC text, fixed width so that text order is time
    order) and the date it takes effect."""

    originator_id: str
    originator_version: int
    recorded_at: str
    effective_on: str | None


INSERT_IDEMPOTENCY = (
    "INSERT INTO {schema}idempotency_keys (principal, idempotency_key, fingerprint, result, created_at)"
    " VALUES (?, ?, ?, ?, ?)"
)
# Stores from before issue 13 have no created_at: the column is added with the time of the upgrade
# as its default, so the rows already there count as recorded then (they are at least that old:
# pruning never takes them early). A constant default is a change of the schema alone on both
# backends (PostgreSQL 11+, SQLite), not a rewrite of the table's rows.
ADD_IDEMPOTENCY_CREATED_AT = "ALTER TABLE {schema}idempotency_keys ADD COLUMN created_at TEXT NOT NULL DEFAULT '{now}'"
IDEMPOTENCY_CREATED_INDEX = (
    "CREATE INDEX IF NOT EXISTS idempotency_keys_created ON {schema}idempotency_keys (created_at)"
)
# One batch of the oldest keys recorded before a time: deleted, and counted by what comes back.
PRUNE_IDEMPOTENCY = (
    "DELETE FROM {schema}idempotency_keys WHERE (principal, idempotency_key) IN"
    " (SELECT principal, idempotency_key FROM {schema}idempotency_keys"
    " WHERE created_at < ? ORDER BY created_at LIMIT ?) RETURNING created_at"
)


def _idempotency_params(
    request: IdempotentRequest, positions: Sequence[int] | None = None
) -> tuple[str, str, str, str, str]:
    """The row of a keyed request. A bounded record gets the log position of the write's last
    event (``positions``: those the insert took), where the insert knows them."""
    result = dict(request.result)
    if IDEMPOTENCY_RECORD in result and positions:
        result["position"] = max(positions)
    return (
        request.principal,
        request.key,
        request.fingerprint,
        json.dumps(result, sort_keys=True, separators=(",", ":")),
        request.created_at or recorded_at_text(datetime.now(UTC)),
    )


def row_document(row: Mapping[str, Any], previous: str) -> bytes:
    """The canonical document of a stored event row (position, originator_id,
    originator_version, topic, state) chained after ``previous``: what the chain hashes and the
    tree's leaf."""
    return canonical_bytes(
        position=row["position"],
        stream_id=stream_text(row["originator_id"]),
        version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
        previous=previous,
    )


Edge = dict[int, bytes]  # level -> the perfect subtree at that level on the tree's right edge
UPSERT_EDGE = (
    "INSERT INTO {schema}merkle_edge (id, size, nodes) VALUES (1, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET size = excluded.size, nodes = excluded.nodes"
)


def edge_levels(size: int) -> list[int]:
    """The levels of the perfect subtrees on the right edge of a tree of ``size`` leaves, lowest first."""
    levels, level = [], 0
    while size:
        if size & 1:
            levels.append(level)
        size >>= 1
        level += 1
    return levels


@dataclass(frozen=True)
class TreeGrowth:
    """What appending leaves writes: the perfect subtrees they complete, as rows (level, idx,
    hex hash), and the tree's size and right edge afterwards."""

    nodes: list[tuple[int, int, str]]
    size: int
    edge: Edge


def tree_growth(size: int, edge: Edge | None, leaves: Sequence[bytes]) -> TreeGrowth | None:
    """What appending ``leaves`` to the tree of ``size`` leaves writes, given its right edge now.
    None where the edge is not the whole edge of a tree of that size (the tree lags the chain: a
    store whose chain is older than its tree is brought in by ``audit tree``)."""
    if edge is None or sorted(edge) != edge_levels(size):
        return None
    frontier = dict(edge)
    nodes = []
    for index, leaf in enumerate(leaves, start=size):
        level, digest = 0, leaf
        nodes.append((level, index, digest.hex()))
        while index & 1:  # a right child completes its parent
            digest = node_hash(frontier[level], digest)
            level, index = level + 1, index >> 1
            nodes.append((level, index, digest.hex()))
        frontier[level] = digest
    new_size = size + len(leaves)
    return TreeGrowth(nodes, new_size, {level: frontier[level] for level in edge_levels(new_size)})


def edge_text(edge: Edge) -> str:
    """The edge as its hashes in hex, lowest level first (the size says which levels they are)."""
    return "".join(edge[level].hex() for level in sorted(edge))


def edge_from_text(size: int, text: str) -> Edge | None:
    """The edge of a tree of ``size`` leaves from ``edge_text`` (None if it does not fit the size)."""
    levels = edge_levels(size)
    if len(text) != 64 * len(levels):
        return None
    return {level: bytes.fromhex(text[64 * n : 64 * (n + 1)]) for n, level in enumerate(levels)}


class SideTableAccess:
    """Plain SQL on the side tables, written once for both backends with ``?`` placeholders
    and a ``{schema}`` prefix; and the hash chain, which both backends extend the same way."""

    position_column = "rowid"
    events_table_sql = ""
    stream_id_column = "e.originator_id"  # as the verifier reads it

    def side_sql(self, statement: str) -> str:
        raise NotImplementedError

    def _events_after(self, limit: int | None = None) -> str:
        return self.side_sql(
            f"SELECT {self.position_column} AS position, originator_id, originator_version, topic, state"
            f" FROM {self.events_table_sql} WHERE {self.position_column} > ? ORDER BY {self.position_column}"
            + (f" LIMIT {int(limit)}" if limit else "")
        )

    def _chain_head(self, cursor: Any) -> tuple[int, int, str]:
        cursor.execute(self.side_sql("SELECT seq, position, hash FROM {schema}event_chain ORDER BY seq DESC LIMIT 1"))
        head = cursor.fetchone()
        return (head["seq"], head["position"], head["hash"]) if head else (0, 0, GENESIS)

    def _extend_chain(
        self,
        cursor: Any,
        positions: Sequence[int] | None = None,
        limit: int | None = None,
        inserted: Sequence[StoredEvent] | None = None,
    ) -> int:
        """Adds chain entries inside the caller's transaction, which must hold the store's
        write lock, so entries are made in commit order. Returns how many it made.

        A write passes the ``positions`` it has just inserted, and exactly those are chained,
        after the head. An event that someone put into the table by other means is never
        chained by a later write: it stays without an entry, and verification reports it.
        The one exception is a store whose chain is still empty (it predates the chain): its
        first write chains every earlier event first, as ``audit chain`` would have.

        Without ``positions`` (the ``audit chain`` migration), the events after the head are
        chained, up to ``limit``. Where the backend pairs each position with the event given
        to it for certain (SQLite inserts one row at a time), ``inserted`` supplies the events
        and they are not read back."""
        if positions is not None and not positions:
            return 0
        seq, head_position, previous, edge = self._chain_head_and_tree_edge(cursor)
        rows: Sequence[Any]
        if positions is not None and seq > 0 and inserted is not None:
            rows = [
                {
                    "position": position,
                    "originator_id": event.originator_id,
                    "originator_version": event.originator_version,
                    "topic": event.topic,
                    "state": event.state,
                }
                for position, event in zip(positions, inserted, strict=True)
            ]
        elif positions is not None and seq > 0:
            marks = ", ".join("?" for _ in positions)
            cursor.execute(
                self.side_sql(
                    f"SELECT {self.position_column} AS position, originator_id, originator_version, topic, state"
                    f" FROM {self.events_table_sql} WHERE {self.position_column} IN ({marks})"
                    f" ORDER BY {self.position_column}"
                ),
                tuple(positions),
            )
            rows = cursor.fetchall()
        else:
            cursor.execute(self._events_after(limit), (head_position,))
            rows = cursor.fetchall()
        links = []
        leaves = []
        chained_before = seq
        for row in rows:
            if row["position"] <= head_position:
                raise ChainBroken(
                    f"a new event got position {row['position']}, at or before the chain's head "
                    f"{head_position}: events were deleted from the end of the log; run audit verify"
                )
            seq += 1
            document = row_document(row, previous)
            previous = hashlib.sha256(document).hexdigest()
            links.append((seq, row["position"], previous))
            leaves.append(leaf_hash(document))
        if links:
            cursor.executemany(
                self.side_sql("INSERT INTO {schema}event_chain (seq, position, hash) VALUES (?, ?, ?)"), links
            )
            self._write_growth(cursor, tree_growth(chained_before, edge, leaves))
        return len(links)

    def _chain_head_and_tree_edge(self, cursor: Any) -> tuple[int, int, str, Edge | None]:
        """The chain's head (seq, position, hash) and the Merkle tree's right edge at that size
        (None where the tree lags the chain)."""
        seq, position, digest = self._chain_head(cursor)
        return seq, position, digest, self._stored_edge(cursor, seq)

    def _stored_edge(self, cursor: Any, size: int) -> Edge | None:
        """The right edge of the tree of ``size`` leaves read from its nodes (None: incomplete)."""
        stored = self._frontier(cursor, size)
        return {level: digest for (level, _), digest in stored.items()} if len(stored) == size.bit_count() else None

    def _write_growth(self, cursor: Any, growth: TreeGrowth | None) -> None:
        if growth is not None:
            cursor.executemany(
                self.side_sql("INSERT INTO {schema}merkle_nodes (level, idx, hash) VALUES (?, ?, ?)"), growth.nodes
            )

    # ------------------------------------------------------------------ the Merkle tree
    def _tree_size(self, cursor: Any) -> int:
        cursor.execute(self.side_sql("SELECT MAX(idx) AS last FROM {schema}merkle_nodes WHERE level = 0"))
        row = cursor.fetchone()
        return 0 if row is None or row["last"] is None else row["last"] + 1

    def _extend_tree(self, cursor: Any, size: int, leaves: Sequence[bytes]) -> int:
        """Appends leaf hashes to the tree of the chain's first ``size`` events, inside the
        caller's transaction (which holds the store's write lock); returns how many it appended
        (none where the tree lags the chain)."""
        growth = tree_growth(size, self._stored_edge(cursor, size), leaves) if leaves else None
        self._write_growth(cursor, growth)
        return len(leaves) if growth else 0

    def _frontier(self, cursor: Any, size: int) -> dict[tuple[int, int], bytes]:
        """The perfect subtrees along the right edge of the tree of ``size`` leaves (one per set
        bit of the size): the left siblings the next leaves complete."""
        keys = [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]
        return self._select_tree_nodes(cursor, keys)

    def _select_tree_nodes(self, cursor: Any, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        condition = " OR ".join("(level = ? AND idx = ?)" for _ in keys)
        cursor.execute(
            self.side_sql(f"SELECT level, idx, hash FROM {{schema}}merkle_nodes WHERE {condition}"),
            tuple(value for key in keys for value in key),
        )
        return {(row["level"], row["idx"]): bytes.fromhex(row["hash"]) for row in cursor.fetchall()}

    def tree_size(self) -> int:
        """How many leaves the Merkle tree has (the chain's length once the tree has caught up)."""
        with self._read_cursor() as cursor:
            return self._tree_size(cursor)

    def tree_nodes(self, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The perfect subtrees asked for, (level, idx) -> hash, in one query."""
        with self._read_cursor() as cursor:
            return self._select_tree_nodes(cursor, keys)

    @contextmanager
    def _read_cursor(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            yield cursor

    def chained_document(self, position: int) -> tuple[int, bytes] | None:
        """The chained event at log ``position``: its seq and its canonical document, the leaf the
        tree holds for it (None: no chained event there)."""
        rows = self.execute(
            f"SELECT c.seq, c.position, e.originator_id, e.originator_version, e.topic, e.state, p.hash AS previous"
            f" FROM {{schema}}event_chain c JOIN {self.events_table_sql} e ON e.{self.position_column} = c.position"
            f" LEFT JOIN {{schema}}event_chain p ON p.seq = c.seq - 1 WHERE c.position = ?",
            (position,),
        )
        if not rows:
            return None
        return rows[0]["seq"], row_document(rows[0], rows[0]["previous"] or GENESIS)

    def _tree_backlog(self, cursor: Any, size: int, limit: int) -> list[bytes]:
        """The leaf hashes of the chained events after the tree's ``size`` leaves (up to
        ``limit``), rebuilt from the events and checked against the chain: the tree never
        takes in an event whose chain entry does not match it."""
        cursor.execute(
            self.side_sql(
                f"SELECT c.seq, c.hash, e.{self.position_column} AS position, e.originator_id,"
                f" e.originator_version, e.topic, e.state FROM {{schema}}event_chain c"
                f" JOIN {self.events_table_sql} e ON e.{self.position_column} = c.position"
                f" WHERE c.seq > ? ORDER BY c.seq LIMIT {int(limit)}"
            ),
            (size,),
        )
        rows = cursor.fetchall()
        previous = GENESIS
        if size:
            cursor.execute(self.side_sql("SELECT hash FROM {schema}event_chain WHERE seq = ?"), (size,))
            previous = cursor.fetchone()["hash"]
        leaves = []
        for expected_seq, row in enumerate(rows, start=size + 1):
            if row["seq"] != expected_seq:
                raise ChainBroken(f"chain entry {expected_seq} has no event: run audit verify before audit tree")
            document = row_document(row, previous)
            previous = hashlib.sha256(document).hexdigest()
            if previous != row["hash"]:
                raise ChainBroken(
                    f"the event at position {row['position']} does not match its chain entry {row['seq']}: "
                    "run audit verify before audit tree"
                )
            leaves.append(leaf_hash(document))
        return leaves

    def catch_up_tree(self, batch_size: int = 5000) -> int:
        """Brings the Merkle tree up to the chain (a store whose events were chained before the
        tree existed), in batches under the store's write lock; returns how many leaves it added."""
        added = 0
        while True:
            with self._write_lock() as cursor:
                size = self._tree_size(cursor)
                batch = self._extend_tree(cursor, size, self._tree_backlog(cursor, size, batch_size))
            added += batch
            if batch < batch_size:
                return added

    def _write_lock(self) -> Any:
        raise NotImplementedError

    def _check_migration_allowed(self, cursor: Any, force: bool) -> None:
        """``audit chain`` is for events stored before the chain existed. Once the chain has
        begun, an event after its head without an entry was put there by other means; chaining
        it would vouch for it, so that takes ``force``."""
        seq, head_position, _ = self._chain_head(cursor)
        if seq == 0 or force:
            return
        cursor.execute(self._events_after(1), (head_position,))
        stray = cursor.fetchone()
        if stray is not None:
            raise ChainBroken(
                f"the chain has begun, and the event at position {stray['position']} after its head has no "
                "entry: it was not written by this service. Investigate (audit verify); chain it only "
                "deliberately (audit chain --force)"
            )

    def chain_unchained(self, batch_size: int = 5000, *, force: bool = False) -> int:
        """Chains events stored before the chain existed, in batches, each under the store's
        write lock as writers take it; returns how many."""
        chained = 0
        first = True
        while True:
            with self._write_lock() as cursor:
                if first:
                    self._check_migration_allowed(cursor, force)
                    first = False
                added = self._extend_chain(cursor, limit=batch_size)
            chained += added
            if added < batch_size:
                return chained

    def _links_query(self, after_position: int | None, limit: int) -> tuple[str, tuple[int, ...]]:
        """The page after ``after_position``; with None, the first page, with no lower bound at
        all: a row someone inserted at position 0 or below must be walked too, not skipped."""
        position = f"e.{self.position_column}"
        # The chain is bounded too, so PostgreSQL's merge join starts at the page, not at seq 1.
        bound, where = (" AND c.position > ?", f" WHERE {position} > ?") if after_position is not None else ("", "")
        statement = self.side_sql(
            f"SELECT {position}, {self.stream_id_column}, e.originator_version, e.topic, e.state, c.seq, c.hash"
            f" FROM {self.events_table_sql} e"
            f" LEFT JOIN {{schema}}event_chain c ON c.position = {position}{bound}"
            f"{where} ORDER BY {position} LIMIT ?"
        )
        return statement, (limit,) if after_position is None else (after_position, after_position, limit)

    def select_link_rows(self, after_position: int | None, limit: int) -> list[LinkRow]:
        """A page of the log joined with its chain, as plain tuples (no per-row objects): what
        the verifier walks. Stream ids come as the backend stores them. ``after_position``
        None reads from the very start."""
        raise NotImplementedError

    def select_tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Plain SQL on the side tables (as ``execute``), its rows as plain tuples: for reads of
        many rows, such as the tree's nodes under a page of the log."""
        raise NotImplementedError

    def select_links(self, after_position: int | None, limit: int) -> list[StoredLink]:
        """A page of the log joined with its chain, one object per event."""
        return [
            StoredLink(
                position=position,
                stream_id=stream_text(stream),  # type: ignore[arg-type]
                version=version,
                topic=topic,
                state=bytes(state),
                seq=seq,
                hash=digest,
            )
            for position, stream, version, topic, state, seq, digest in self.select_link_rows(after_position, limit)
        ]

    def first_orphan_link(self, after_seq: int) -> tuple[int, int] | None:
        """(seq, position) of the first chain entry after ``after_seq`` whose event is not in
        the log (it was deleted), or None. Entries of events committed since are not orphans:
        an event and its entry commit together."""
        rows = self.execute(
            f"SELECT c.seq, c.position FROM {{schema}}event_chain c"
            f" LEFT JOIN {self.events_table_sql} e ON e.{self.position_column} = c.position"
            f" WHERE c.seq > ? AND e.{self.position_column} IS NULL ORDER BY c.seq LIMIT 1",
            (after_seq,),
        )
        return (rows[0]["seq"], rows[0]["position"]) if rows else None

    def stored_stream_id(self, originator_id: UUID) -> object:
        """The stream id as this backend stores it."""
        return originator_id

    def stream_chain(self, originator_id: UUID, versions: Collection[int] | None = None) -> dict[int, tuple[int, str]]:
        """version -> (position, hash) for every chained event of one stream (or only those
        ``versions``)."""
        params: list[Any] = [self.stored_stream_id(originator_id)]
        only = ""
        if versions is not None:
            if not versions:
                return {}
            only = f" AND e.originator_version IN ({', '.join('?' for _ in versions)})"
            params.extend(sorted(versions))
        rows = self.execute(
            f"SELECT e.originator_version, c.position, c.hash FROM {self.events_table_sql} e"
            f" JOIN {{schema}}event_chain c ON c.position = e.{self.position_column} WHERE e.originator_id = ?{only}",
            tuple(params),
        )
        return {row["originator_version"]: (row["position"], row["hash"]) for row in rows}

    def chain_hashes(self, positions: Sequence[int]) -> dict[int, str]:
        if not positions:
            return {}
        marks = ", ".join("?" for _ in positions)
        rows = self.execute(
            f"SELECT position, hash FROM {{schema}}event_chain WHERE position IN ({marks})", tuple(positions)
        )
        return {row["position"]: row["hash"] for row in rows}

    def _insert_event_times(self, cursor: Any, event_times: Sequence[EventTime] | None) -> None:
        """Inside the events' transaction: when each was recorded and takes effect."""
        if event_times:
            cursor.executemany(
                self.side_sql(INSERT_EVENT_TIMES),
                [(t.originator_id, t.originator_version, t.recorded_at, t.effective_on) for t in event_times],
            )

    def _advance_log_clock(self, cursor: Any, event_times: Sequence[EventTime] | None) -> None:
        """Inside a write's transaction, under the store's write lock: refuses the write if any
        of its events was recorded at or before the time the log is closed to
        (``RecordedOutOfOrder``; the transaction rolls back), else closes the log to its latest
        event. A write without times is not checked (none of this service's commands)."""
        if not event_times:
            return
        recorded = [event_time.recorded_at for event_time in event_times]
        earliest, latest = min(recorded), max(recorded)
        cursor.execute(self.side_sql(ADVANCE_LOG_CLOCK), (latest, earliest))
        if cursor.fetchone() is None:
            cursor.execute(self.side_sql(SELECT_LOG_CLOCK))
            closed_at = cursor.fetchone()["closed_at"]
            raise RecordedOutOfOrder(
                f"an event recorded at {earliest} would follow the log closed at {closed_at}: record it again",
                closed_at,
            )

    _closed_through = ""  # the latest closed_at this process has seen committed (it never goes back)

    def close_log_through(self, moment: str) -> None:
        """Makes what had been recorded by ``moment`` (``recorded_at`` text) final: once this
        returns, no event recorded at or before it can be added, so a read of what was known at
        ``moment`` answers the same forever. Where the log is closed to ``moment`` or later
        already (as this process last saw it, or as stored: one read), nothing is written.
        Otherwise it takes the store's write lock briefly, waiting for a write under way, and
        closes the log to now. A ``moment`` still to come is closed only up to now: a read of it
        is repeatable once that time has passed (and closed by the next such read)."""
        if moment <= self._closed_through:
            return
        rows = self.execute(SELECT_LOG_CLOCK)
        if rows and moment <= rows[0]["closed_at"]:
            self._closed_through = max(self._closed_through, rows[0]["closed_at"])
            return
        with self._in_turn(recorded_at_text(datetime.now(UTC))), self._write_lock() as cursor:
            cursor.execute(self.side_sql(CLOSE_LOG_CLOCK), (recorded_at_text(datetime.now(UTC)),))
            closed_at = cursor.fetchone()["closed_at"]
        self._closed_through = max(self._closed_through, closed_at)

    def _in_turn(self, recorded_at: str) -> AbstractContextManager[None]:
        """Where the backend does not queue this process's writers itself: their turn, in the
        order of their recorded times (``InRecordedOrder``)."""
        return nullcontext()

    def version_known_at(self, originator_id: UUID, recorded_at: str) -> int | None:
        """The last version of a stream recorded at or before ``recorded_at`` (None: none was,
        or none of its events has a row here, being stored before this table existed)."""
        rows = self.execute(SELECT_VERSION_KNOWN_AT, (str(originator_id), recorded_at))
        return rows[0]["originator_version"] if rows else None

    def first_timed_version(self, originator_id: UUID) -> int | None:
        """The first version of a stream with an ``event_times`` row (None: none has). Above 1
        when the stream began before the table existed."""
        rows = self.execute(
            "SELECT MIN(originator_version) AS first FROM {schema}event_times WHERE originator_id = ?",
            (str(originator_id),),
        )
        return rows[0]["first"] if rows else None

    # ------------------------------------------------------------------ idempotency keys
    def _idempotency_schema(self) -> tuple[bool, bool]:
        """Whether ``idempotency_keys`` has its ``created_at`` column, and its index on it."""
        with self._read_cursor() as cursor:
            return self._idempotency_schema_in(cursor)

    def migrate_idempotency_keys(self) -> bool:
        """Brings an ``idempotency_keys`` table from before issue 13 up to date: adds
        ``created_at`` (``ADD_IDEMPOTENCY_CREATED_AT``: the rows there count as recorded now) and
        its index. Run when the tables are created, on every start; once it is done it only reads
        the catalogue. Several processes may run it at once: the change is made under the store's
        write lock (PostgreSQL: also under ``schema_lock``), after looking again. Answers whether
        it added the column."""
        if self._idempotency_schema() == (True, True):
            return False
        with self._write_lock() as cursor:
            has_column, _ = self._idempotency_schema_in(cursor)
            if not has_column:
                now = recorded_at_text(datetime.now(UTC))
                cursor.execute(self.side_sql(ADD_IDEMPOTENCY_CREATED_AT.replace("{now}", now)))
            cursor.execute(self.side_sql(IDEMPOTENCY_CREATED_INDEX))
        return not has_column

    def _idempotency_schema_in(self, cursor: Any) -> tuple[bool, bool]:
        """``_idempotency_schema``, read in the caller's transaction."""
        raise NotImplementedError

    def prune_idempotency_keys(self, recorded_before: str, batch_size: int = 500) -> int:
        """Deletes the idempotency keys recorded before ``recorded_before`` (``recorded_at``
        text), oldest first, ``batch_size`` to a transaction (a key from before issue 13 may hold
        a whole answer of hundreds of KB); answers how many it deleted. A request that repeats a
        deleted key is a new request: it records again."""
        deleted = 0
        while True:
            batch = len(self.execute(PRUNE_IDEMPOTENCY, (recorded_before, batch_size), commit=True))
            deleted += batch
            if batch < batch_size:
                return deleted

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        raise NotImplementedError


def use_wal(path: str, attempts: int = 50) -> None:
    """Puts a SQLite file in WAL mode (creating it if need be) before the library opens it.
    The library switches each new file to WAL on its first connection; that needs the database
    to itself, so workers starting together on a fresh file got 'database is locked' however
    long the busy timeout, and a pool left waiting for its writer. Here it is done once, with
    retries, on a connection of its own; the library then finds the file in WAL already."""
    if path.startswith(":memory:") or "mode=memory" in path:
        return
    for attempt in range(attempts):
        connection = sqlite3.connect(path, timeout=5)
        try:
            if connection.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError:
            if attempt == attempts - 1:
                raise
        finally:
            connection.close()
        time.sleep(0.02 * (attempt + 1))


def create_tables_despite_a_race(create: Callable[[], None]) -> None:
    """Several gunicorn workers start at once on a fresh SQLite file and all create the view.
    The library's tracking recorder then inserts its migration record in each of them, and all
    but the first fail (IntegrityError). By then the tables exist, so creating again finds them
    and succeeds. (PostgreSQL takes turns instead: ``schema_lock``.)"""
    for attempt in range(5):
        try:
            create()
            return
        except DatabaseError:  # e.g. IntegrityError, ProgrammingError, 'tuple concurrently updated'
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


class InRecordedOrder:
    """Lets one of this process's writers at a time into the store, the earliest recorded first.

    Python's locks, like SQLite's busy wait, let waiting writers in in no particular order, so
    of several threads holding new events the one with the latest would often commit first,
    and every other then be refused by the log clock and run again (with 16 threads, commands
    failed after twelve tries). Queued by their earliest recorded time, they commit in order,
    and only a writer that arrives after a later one got in is refused. (PostgreSQL queues
    ``LOCK TABLE`` first come, first served, which is near enough.)"""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._waiting: list[tuple[str, int]] = []  # a heap: (recorded_at, arrival)
        self._arrivals = itertools.count()
        self._busy = False

    @contextmanager
    def turn(self, recorded_at: str) -> Iterator[None]:
        entry = (recorded_at, next(self._arrivals))
        with self._condition:
            heapq.heappush(self._waiting, entry)
            try:
                while self._busy or self._waiting[0] != entry:
                    self._condition.wait()
            except BaseException:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
                self._condition.notify_all()
                raise
            heapq.heappop(self._waiting)
            self._busy = True
        try:
            yield
        finally:
            with self._condition:
                self._busy = False
                self._condition.notify_all()


class RecordsSQLiteRecorder(SQLiteApplicationRecorder, SideTableAccess):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writers = InRecordedOrder()

    @property
    def events_table_sql(self) -> str:  # type: ignore[override]
        return self.events_table_name

    def _in_turn(self, recorded_at: str) -> AbstractContextManager[None]:
        return self._writers.turn(recorded_at)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The library's insert, in this process's writers' turn by recorded time."""
        event_times: Sequence[EventTime] | None = kwargs.get("event_times")
        if not event_times:
            return super().insert_events(stored_events, **kwargs)
        with self._in_turn(min(event_time.recorded_at for event_time in event_times)):
            return super().insert_events(stored_events, **kwargs)

    def stored_stream_id(self, originator_id: UUID) -> object:
        return originator_id.hex

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *(self.side_sql(s) for s in SIDE_TABLES)]

    def create_table(self) -> None:
        super().create_table()
        self.migrate_idempotency_keys()

    def _idempotency_schema_in(self, cursor: Any) -> tuple[bool, bool]:
        cursor.execute("PRAGMA table_info(idempotency_keys)")
        has_column = any(row[1] == "created_at" for row in cursor.fetchall())
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'idempotency_keys_created'")
        return has_column, cursor.fetchone() is not None

    def side_sql(self, statement: str) -> str:
        return statement.replace("{schema}", "")

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        # The insert took the store's write lock (SQLite's single writer): the clock read now is
        # the last one committed, and no other write can move it until this one ends.
        self._advance_log_clock(c, kwargs.get("event_times"))
        request: IdempotentRequest | None = kwargs.get("idempotency")
        if request is not None:
            c.execute(self.side_sql(INSERT_IDEMPOTENCY), _idempotency_params(request, notification_ids))
        self._insert_event_times(c, kwargs.get("event_times"))
        self._extend_chain(c, positions=notification_ids, inserted=stored_events)
        return notification_ids

    @contextmanager
    def _write_lock(self) -> Iterator[Any]:
        connection = self.datastore.get_connection(commit=True)
        with connection as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the store's write lock, as writers take it
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=commit) as c:
            c.execute(self.side_sql(statement), tuple(params))
            return [dict(row) for row in c.fetchall()]

    def select_link_rows(self, after_position: int | None, limit: int) -> list[LinkRow]:
        return self.select_tuples(*self._links_query(after_position, limit))  # type: ignore[return-value]

    def select_tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.transaction(commit=False) as c:
            c.sqlite_cursor.row_factory = None  # tuples, not sqlite3.Row
            c.execute(self.side_sql(statement), tuple(params))
            return c.fetchall()


@contextmanager
def schema_lock(datastore: Any) -> Iterator[None]:
    """Serialises creating tables on one PostgreSQL database. Several workers starting at once
    on a fresh database would otherwise race in CREATE ... IF NOT EXISTS and CREATE OR REPLACE
    FUNCTION, which PostgreSQL answers with duplicate-key or 'tuple concurrently updated'
    errors, or deadlocks. A session-level advisory lock, held on a connection of its own while
    the library creates the tables on another, makes them take turns."""
    with datastore.get_connection() as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


WRITE_ATTEMPTS = 5  # a write that failed before its commit was sent is tried again, at most this often
SETTLE_SECONDS = 10.0  # how long a write whose commit went unanswered looks for its outcome


class OutcomeUnknown(OperationalError):
    """A write's commit was sent and its answer lost, and the store could not be read in time to
    tell whether it committed. Only a retry with the same ``Idempotency-Key`` is safe."""


class _StillRunning(Exception):
    """The backend of a lost commit had not ended yet."""


@dataclass
class _WriteOutcome:
    backend_pid: int | None = None
    commit_sent: bool = False


@dataclass(frozen=True)
class _Recorded:
    positions: Sequence[int] | None


def _connection_lost(error: BaseException) -> bool:
    """Whether the connection itself failed (rather than the server refusing a statement, which
    rolls the transaction back): then a commit on its way may or may not have been made."""
    sqlstate = getattr(error.__cause__ or error, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P"))


def _passing(error: BaseException) -> bool:
    """Whether a failed write may be tried again at once: its connection failed, or the server
    rolled it back as a deadlock or serialisation failure. Not a wait that already ran out (no
    connection in time, a lock not granted), a full disk or a read-only store."""
    from psycopg_pool import PoolTimeout

    cause = error.__cause__ or error
    if isinstance(cause, PoolTimeout):
        return False
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(("08", "57P", "40"))


class SharedPostgresDatastore(PostgresDatastore):
    """The library's datastore, shared by everything in one process that talks to PostgreSQL (the
    application, its snapshot store and every projection), with two changes to how a connection
    is handed out:

    - **One connection per thread.** A checkout made while the same thread already holds one
      gets that connection again (inside a transaction, the library's ``transaction()`` becomes
      a savepoint). A sync gunicorn worker therefore uses one connection however deeply its
      request nests reads in a projection's batch, and start-up takes the schema lock and
      creates the tables on one connection: a pool of one is enough.
    - **Never a stale connection.** Each outermost checkout first pings the connection (an empty
      statement, one round trip) and, if the server has gone (restarted, failed over, or the
      backend terminated), closes it, so the pool discards it and opens another, and tries the
      next: no request fails because the pool kept a dead connection. (The library's
      ``POSTGRES_PRE_PING`` does the same through psycopg_pool's check, which sleeps 1 s, 2 s,
      4 s ... between dead connections and so could outwait a worker's timeout.)

    The library's factory constructs a ``PostgresDatastore`` itself; ``share`` gives that
    instance this behaviour (it adds no state, only methods)."""

    _held = threading.local()

    @classmethod
    def share(cls, datastore: PostgresDatastore) -> SharedPostgresDatastore:
        if not isinstance(datastore, cls):
            datastore.__class__ = cls
            assert isinstance(datastore, cls)
            datastore.pool.kwargs.update(datastore.connection_settings())  # type: ignore[union-attr]
            # Opened here, once, waiting for its first connection (bounded by the same wait as a
            # checkout; on failure the pool is closed and this raises), so that the first request
            # does not find it empty and open a second. Later checkouts find it open.
            with _as_persistence_errors():
                try:
                    datastore.pool.open(wait=True, timeout=datastore.pool.timeout)
                except Exception:
                    datastore.raise_why_it_cannot_connect()
                    raise
        assert isinstance(datastore, cls)
        return datastore

    def connection_settings(self) -> dict[str, Any]:
        """What each connection is opened with, besides the library's: a name (so that an operator
        can count each process's connections in ``pg_stat_activity``), a bound on connecting, and
        TCP keepalives with a user timeout, so that a server that stops answering (a network cut,
        not a refusal) fails a statement in about ten seconds instead of TCP's fifteen minutes."""
        wait = max(1, int(self.pool.timeout))
        return {
            "application_name": f"{APPLICATION_NAME} {os.getpid()}",
            "connect_timeout": wait,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 3,
            "tcp_user_timeout": 10_000,  # milliseconds
        }

    def raise_why_it_cannot_connect(self) -> None:
        """After the pool could not open a connection in time (psycopg_pool only says it timed
        out), one connection straight to the server, to raise its own reason: a wrong password or
        database name is raised as such, and is not waited out. Returns if that connection opens
        (the pool was only slow) or fails for a passing reason (the server is not there)."""
        refusal = self._connect_directly(timeout=self.pool.timeout)
        if refusal is not None and not _unreachable(refusal):
            raise refusal

    def _connect_directly(self, timeout: float) -> Exception | None:
        """One connection straight to the server, outside the pool, closed at once: None if it
        opened, else psycopg's error saying why not."""
        import psycopg

        try:
            psycopg.connect(**{**self.pool.kwargs, "connect_timeout": max(1, int(timeout))}).close()  # type: ignore[arg-type]
        except psycopg.Error as error:
            return error
        return None

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        held = self._held.__dict__.get(id(self))
        if held is not None:
            with _as_persistence_errors():
                yield held
            return
        if time.monotonic() < self._refusing_until:
            raise OperationalError("PostgreSQL cannot be reached: a connection could not be had just now")
        last_failure: Exception | None = None
        for _ in range(self.pool.max_size + 1):
            with ExitStack() as checkout:
                try:
                    conn = checkout.enter_context(super().get_connection())
                except OperationalError:
                    self._note_a_wait_ran_out()
                    raise
                if (last_failure := _ping(conn)) is not None:
                    conn.close()  # the pool discards a closed connection and opens another
                    continue
                self._held.__dict__[id(self)] = conn
                try:
                    yield conn
                finally:
                    del self._held.__dict__[id(self)]
                return
        raise OperationalError("PostgreSQL did not answer on a new connection") from last_failure

    _refusing_until = 0.0

    def _note_a_wait_ran_out(self) -> None:
        """No connection came in the pool's wait. If the server cannot be reached either, further
        checkouts fail at once for as long as one wait (rather than each waiting again, ten times
        over under the library's own retries, past a worker's timeout); if it can, the pool was
        only busy (a follower's threads taking turns) and nothing changes."""
        if self._connect_directly(timeout=2) is not None:
            self._refusing_until = time.monotonic() + self.pool.timeout


@contextmanager
def _as_persistence_errors() -> Iterator[None]:
    """psycopg's errors as the library's, as its ``get_connection`` raises them (most specific
    first), for the checkouts that reuse this thread's connection."""
    import psycopg
    from eventsourcing import persistence

    try:
        yield
    except psycopg.Error as error:
        for name in (
            "InterfaceError",
            "OperationalError",
            "DataError",
            "IntegrityError",
            "InternalError",
            "ProgrammingError",
            "NotSupportedError",
            "DatabaseError",
        ):
            if isinstance(error, getattr(psycopg, name)):
                raise getattr(persistence, name)(str(error)) from error
        raise persistence.PersistenceError(str(error)) from error


def _ping(conn: Any) -> Exception | None:
    """None if the connection's server answers (and notes the server's own process id on it,
    ``server_pid``: behind a connection pooler it is not ``conn.info.backend_pid``); else why not."""
    if conn.closed or conn.broken:
        return OperationalError("the connection is closed")
    try:
        row = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()
    except Exception as error:  # psycopg.OperationalError and the like: the server is gone
        return error
    conn.server_pid = row["pid"]
    return None


def wait_for_store(open_store: Callable[[], T], *, patience: float) -> T:
    """``open_store()``, tried again with backoff for up to ``patience`` seconds
    (``DATABASE_STARTUP_WAIT``) while the database cannot be reached or has no connection to
    spare (starting, restarting, ``max_connections`` reached), or its start-up was the victim of
    a deadlock (creating tables while a running writer holds its locks): a follower, a ``flask``
    command or a worker starting then waits for it rather than exiting (a gunicorn worker that
    exits at boot stops its master). Other errors are raised at once."""
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return open_store()
        except (InterfaceError, OperationalError) as error:
            if time.monotonic() + delay > deadline or not _unreachable(error):
                raise
            logger.warning("the record store cannot be reached (%s); trying again in %.1f s", error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


def _unreachable(error: BaseException) -> bool:
    """No connection to PostgreSQL could be had (the pool's wait ran out, the server refused or is
    starting). An embedded SQLite file is always there: its errors are not waited out."""
    from psycopg import Error as PostgresError
    from psycopg_pool import PoolTimeout

    cause = error.__cause__ or error
    if not isinstance(cause, PostgresError):
        return False
    if isinstance(cause, PoolTimeout):
        return True
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is None:  # a connection that failed: libpq gives the server's refusal as text only
        text = str(cause)
        return "FATAL:" not in text or any(reason in text for reason in PASSING_REFUSALS)
    # Too many connections, the connection lost, the backend ended (a restart, a failover,
    # pg_terminate_backend) or starting up, and a deadlock or serialisation failure (creating
    # tables at start-up takes locks that a running writer's may cross): trying again will do.
    return sqlstate == "53300" or sqlstate.startswith(("08", "57P", "40"))


# What a server that refuses a connection says when trying again later will do (no connection
# slot free, starting, stopping, recovering); any other refusal (a wrong password, database or
# role) is said at once.
PASSING_REFUSALS = (
    "too many clients",
    "remaining connection slots",
    "starting up",
    "shutting down",
    "in recovery",
    "not yet accepting connections",
)


def postgres_pool_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The pool settings of one process: at most ``POSTGRES_MAX_CONNECTIONS`` connections
    (default 3), of which ``POSTGRES_POOL_SIZE`` (default 1) stay open while idle, and a request
    waits at most ``POSTGRES_CONNECT_TIMEOUT`` seconds (default 5) for one. Without
    ``POSTGRES_MAX_CONNECTIONS``, the library's ``POSTGRES_MAX_OVERFLOW`` is honoured as it is
    (the cap is then pool size plus overflow)."""

    def whole(name: str, default: int, least: int) -> int:
        text = environ.get(name, "").strip()
        try:
            value = int(text) if text else default
        except ValueError:
            raise DatabaseUrlError(f"{name} must be a whole number, not {text!r}") from None
        if value < least:
            raise DatabaseUrlError(f"{name} must be at least {least}, not {value}")
        return value

    pool_size = whole("POSTGRES_POOL_SIZE", 1, 1)
    if environ.get("POSTGRES_MAX_CONNECTIONS", "").strip() or not environ.get("POSTGRES_MAX_OVERFLOW", "").strip():
        cap = whole("POSTGRES_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS, 1)
        if pool_size > cap:
            raise DatabaseUrlError(f"POSTGRES_POOL_SIZE ({pool_size}) is more than POSTGRES_MAX_CONNECTIONS ({cap})")
        overflow = cap - pool_size
    else:
        overflow = whole("POSTGRES_MAX_OVERFLOW", 0, 0)
    return {
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(whole("POSTGRES_CONNECT_TIMEOUT", DEFAULT_POOL_WAIT, 1)),
    }


class RecordsPostgresRecorder(PostgresApplicationRecorder, SideTableAccess):
    position_column = "notification_id"
    stream_id_column = "e.originator_id::text"  # canonical UUID text; building uuid.UUID objects is slow

    @property
    def events_table_sql(self) -> str:  # type: ignore[override]
        return f'"{self.datastore.schema}"."{self.events_table_name}"'

    def __init__(self, datastore: Any, **kwargs: Any):
        if datastore.enable_db_functions:
            # The library's database-function insert path skips _insert_events and
            # _fetch_ids_after_insert_events: events would be stored without their chain
            # entries and idempotency keys.
            raise DatabaseUrlError("POSTGRES_ENABLE_DB_FUNCTIONS is not supported: it would bypass the hash chain")
        super().__init__(datastore, **kwargs)
        from psycopg.sql import SQL

        self.sql_create_statements.extend(SQL(self.side_sql(s)) for s in SIDE_TABLES)  # type: ignore[arg-type]

    def create_table(self) -> None:
        with schema_lock(self.datastore):
            super().create_table()
            self.migrate_idempotency_keys()

    def side_sql(self, statement: str) -> str:
        schema = self.datastore.schema
        return statement.replace("{schema}", f'"{schema}".').replace("?", "%s")

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        request: IdempotentRequest | None = kwargs.get("idempotency")
        if request is not None and not stored_events:  # else once the events have their positions
            curs.execute(self.side_sql(INSERT_IDEMPOTENCY), _idempotency_params(request))
        self._insert_event_times(curs, kwargs.get("event_times"))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        # Still inside the insert's transaction and its table lock.
        request: IdempotentRequest | None = kwargs.get("idempotency")
        if request is not None:
            # Its record takes the events' log position. Read back at once, so that a key another
            # request took meanwhile fails here, under the lock, and rolls the write back.
            curs.execute(
                self.side_sql(INSERT_IDEMPOTENCY + " RETURNING created_at"),
                _idempotency_params(request, notification_ids),
            )
            curs.fetchone()
        self._extend_chain(curs, positions=notification_ids or [])
        return notification_ids

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """The library's table lock, notification and insert, with the log clock checked and
        moved under the lock before the insert: a refused write has inserted nothing and taken
        no positions from the sequence. (The library then takes the lock again: a no-op.)"""
        self._lock_table(curs)
        self._advance_log_clock(curs, kwargs.get("event_times"))
        super()._insert_stored_events(curs, stored_events, **kwargs)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Records the events, and settles what happened when the connection fails on the way.

        A failure before the commit was sent (no connection in time, the lock not granted, the
        backend gone mid-transaction) recorded nothing: the server rolls back a transaction whose
        connection ends. The write is tried again, at most ``WRITE_ATTEMPTS`` times.

        A failure while the commit was on its way is unknown: the server may have committed. It
        is never simply run again. Once the old backend has certainly ended (ended here if it
        is still there), the store is read: if the events are there, exactly as sent, the write
        committed and its positions are answered; if not, nothing was recorded and it is tried
        again. Anything else raises ``OutcomeUnknown``."""
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            outcome = _WriteOutcome()
            try:
                return self._insert_once(stored_events, outcome, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if outcome.commit_sent and _connection_lost(error):
                    request = kwargs.get("idempotency")
                    recorded = self._settle_unknown_commit(outcome.backend_pid, stored_events, request)
                    if recorded is not None:
                        return recorded.positions
                if attempt == WRITE_ATTEMPTS or not _passing(error):
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _insert_once(
        self, stored_events: Sequence[StoredEvent], outcome: _WriteOutcome, **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert (eventsourcing 9.5, less its database-function path, which
        ``__init__`` refuses), with two changes. An exception raised under the table lock (by
        the log clock or the chain) rolls the transaction back: the library keeps such an
        exception until its transaction block has exited, and that block then commits whatever
        the server itself had not refused (the idempotency key and event times of a write
        recorded out of order, or events without their chain entries). And ``outcome`` notes the
        backend and whether the commit was sent, for ``insert_events`` to settle a failure."""
        from psycopg import Rollback

        failure: Exception | None = None
        notification_ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            # The backend to end if the commit's answer is lost. Behind a connection pooler the
            # connection's process id is the pooler's, and the server's may change between
            # transactions: then a lost commit cannot be settled (``OutcomeUnknown``).
            direct = getattr(conn, "server_pid", None) == conn.info.backend_pid
            outcome.backend_pid = conn.info.backend_pid if direct else None
            try:
                with conn.pipeline() as pipeline, conn.transaction():
                    with conn.cursor() as curs:
                        self._insert_events(curs, stored_events, **kwargs)
                    if stored_events:
                        with conn.cursor() as curs:
                            try:
                                self._insert_stored_events(curs, stored_events, **kwargs)
                                pipeline.sync()  # a duplicate version is refused here, not at the commit
                                notification_ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                            except Exception as error:  # raised outside the pipeline, as the library does
                                failure = error
                    if failure is not None:
                        raise Rollback  # the transaction block rolls back, and swallows this
                    outcome.commit_sent = True  # from here until the block has exited, the outcome is the server's
            except Rollback:
                # Not swallowed when the connection itself had failed (the block cannot roll back
                # a connection that is gone, and the server has already): ``failure`` says why.
                if failure is None:
                    raise
            if failure is not None:
                raise failure
        return notification_ids

    def _settle_unknown_commit(
        self, backend_pid: int | None, stored_events: Sequence[StoredEvent], request: IdempotentRequest | None
    ) -> _Recorded | None:
        """After a commit whose answer was lost: ends the old backend if it is still there (so
        that it cannot commit later), then reads whether the write is in the store. Answers its
        positions if it is, None if nothing was recorded; raises ``OutcomeUnknown`` if it cannot
        tell."""
        if backend_pid is None:
            raise OutcomeUnknown(
                "the store may or may not have recorded this write: its commit was sent, the connection failed"
                " before the answer came back, and through a connection pooler the service cannot tell which"
            )
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            try:
                with self.datastore.transaction(commit=True) as curs:
                    if self._backend_alive(curs, backend_pid):
                        curs.execute("SELECT pg_terminate_backend(%s)", (backend_pid,))
                        raise _StillRunning
                    return self._recorded(curs, stored_events, request)
            except OutcomeUnknown:
                raise
            except (_StillRunning, PersistenceError) as error:  # e.g. not allowed to end it: cannot tell
                if time.monotonic() >= deadline:
                    raise OutcomeUnknown(
                        "the store may or may not have recorded this write: its commit was sent and the"
                        " connection failed before the answer came back"
                    ) from error
                time.sleep(0.1)

    @staticmethod
    def _backend_alive(curs: Any, backend_pid: int) -> bool:
        curs.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend_pid,))
        return curs.fetchone() is not None

    def _recorded(
        self, curs: Any, stored_events: Sequence[StoredEvent], request: IdempotentRequest | None
    ) -> _Recorded | None:
        if not stored_events:
            if request is None:
                return None  # nothing to look for, and nothing that a retry could duplicate
            curs.execute(
                self.side_sql("SELECT 1 FROM {schema}idempotency_keys WHERE principal = ? AND idempotency_key = ?"),
                (request.principal, request.key),
            )
            return _Recorded(None) if curs.fetchone() is not None else None
        found: list[int] = []
        for event in stored_events:
            curs.execute(
                f"SELECT notification_id, state FROM {self.events_table_sql}"
                " WHERE originator_id = %s AND originator_version = %s",
                (event.originator_id, event.originator_version),
            )
            row = curs.fetchone()
            if row is None or bytes(row["state"]) != event.state:
                if found:
                    raise OutcomeUnknown("the store holds part of this write: it must be checked by hand")
                return None  # not recorded (or another writer took the version: a retry is refused)
            found.append(row["notification_id"])
        return _Recorded(found)

    @contextmanager
    def _write_lock(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            self._lock_table(cursor)  # the library's write lock on the events table
            yield cursor

    def _chain_head_and_tree_edge(self, cursor: Any) -> tuple[int, int, str, Edge | None]:
        """One round trip: the chain's head and the tree's right edge row (read from the nodes
        only when that row is not for the chain's size)."""
        cursor.execute(
            self.side_sql(
                "SELECT h.seq, h.position, h.hash, e.size AS edge_size, e.nodes AS edge"
                " FROM (SELECT seq, position, hash FROM {schema}event_chain ORDER BY seq DESC LIMIT 1) h"
                " LEFT JOIN {schema}merkle_edge e ON e.id = 1"
            )
        )
        head = cursor.fetchone()
        if head is None:
            return 0, 0, GENESIS, {}
        seq = head["seq"]
        edge = edge_from_text(seq, head["edge"]) if head["edge_size"] == seq else None
        if edge is None:
            edge = self._stored_edge(cursor, seq)
        return seq, head["position"], head["hash"], edge

    def _write_growth(self, cursor: Any, growth: TreeGrowth | None) -> None:
        """The new nodes, and the edge row the next write reads with the chain's head."""
        super()._write_growth(cursor, growth)
        if growth is not None:
            cursor.execute(self.side_sql(UPSERT_EDGE), (growth.size, edge_text(growth.edge)))

    def _select_tree_nodes(self, cursor: Any, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        if not keys:
            return {}
        levels, indexes = zip(*keys, strict=True)
        cursor.execute(
            self.side_sql(
                "SELECT n.level, n.idx, n.hash FROM unnest(?::integer[], ?::bigint[]) AS k(level, idx)"
                " JOIN {schema}merkle_nodes n ON n.level = k.level AND n.idx = k.idx"
            ),
            (list(levels), list(indexes)),
        )
        return {(row["level"], row["idx"]): bytes.fromhex(row["hash"]) for row in cursor.fetchall()}

    def stream_chain(self, originator_id: UUID, versions: Collection[int] | None = None) -> dict[int, tuple[int, str]]:
        if not versions:
            return super().stream_chain(originator_id, versions)
        # Driven by the versions asked for: each is one primary-key probe and one chain probe
        # (LATERAL, with LIMIT 1 so the planner cannot flatten them into joins), whatever its
        # statistics say. With an IN list, fresh tables get the whole stream scanned and
        # hash-joined with the whole chain.
        rows = self.execute(
            f"SELECT v.version AS originator_version, c.position, c.hash FROM unnest(?::bigint[]) AS v(version)"
            f" CROSS JOIN LATERAL (SELECT {self.position_column} AS position FROM {self.events_table_sql}"
            f"  WHERE originator_id = ? AND originator_version = v.version LIMIT 1) e"
            f" CROSS JOIN LATERAL (SELECT position, hash FROM {{schema}}event_chain"
            f"  WHERE position = e.position LIMIT 1) c",
            (sorted(versions), self.stored_stream_id(originator_id)),
        )
        return {row["originator_version"]: (row["position"], row["hash"]) for row in rows}

    def _idempotency_schema_in(self, cursor: Any) -> tuple[bool, bool]:
        schema = self.datastore.schema
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
            " AND table_name = 'idempotency_keys' AND column_name = 'created_at') AS has_column,"
            " EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = %s"
            " AND indexname = 'idempotency_keys_created') AS has_index",
            (schema, schema),
        )
        row = cursor.fetchone()
        return bool(row["has_column"]), bool(row["has_index"])

    def execute(self, statement: str, params: Sequence[Any] = (), *, commit: bool = False) -> list[dict[str, Any]]:
        with self.datastore.transaction(commit=commit) as curs:
            curs.execute(self.side_sql(statement), tuple(params))
            return [dict(row) for row in curs.fetchall()] if curs.description else []

    def select_link_rows(self, after_position: int | None, limit: int) -> list[LinkRow]:
        return self._tuples(*self._links_query(after_position, limit), binary=True)  # type: ignore[return-value]

    def select_tuples(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._tuples(self.side_sql(statement), tuple(params))

    def _tuples(self, statement: str, params: tuple[Any, ...], *, binary: bool = False) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        with (
            self.datastore.get_connection() as conn,
            conn.transaction(force_rollback=True),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            curs.execute(statement, params, prepare=True, binary=binary)
            return curs.fetchall()


def environment_from(environ: Mapping[str, str], *, base_dir: Path | None = None) -> dict[str, str]:
    """The persistence environment for this process: ``DATABASE_URL`` if set; else the
    library's own ``PERSISTENCE_MODULE`` and ``POSTGRES_*``/``SQLITE_*`` variables if set;
    else the embedded SQLite default."""
    if environ.get("DATABASE_URL") or not environ.get("PERSISTENCE_MODULE"):
        return persistence_environment(environ.get("DATABASE_URL"), base_dir=base_dir, environ=environ)
    env = {
        key: value for key, value in environ.items() if key.startswith(("PERSISTENCE_MODULE", "POSTGRES_", "SQLITE_"))
    }
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsPostgresRecorder)
        env.update(postgres_pool_settings(environ))
    elif env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        env["APPLICATION_RECORDER_TOPIC"] = get_topic(RecordsSQLiteRecorder)
        path = Path(env.get("SQLITE_DBNAME", ""))
        for name in PROJECTION_NAMES:
            env.setdefault(f"{name.upper()}_SQLITE_DBNAME", str(path.with_name(f"{path.stem}.{name}{path.suffix}")))
    else:
        raise DatabaseUrlError(f"PERSISTENCE_MODULE {env['PERSISTENCE_MODULE']!r} is not supported")
    return env


def persistence_environment(
    database_url: str | None = None, *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The eventsourcing environment for a DATABASE_URL.

    ``sqlite:///PATH`` (relative to ``base_dir``) or ``sqlite:////ABSOLUTE/PATH`` selects
    ``eventsourcing.sqlite``; each projection gets its own file beside it, because the
    library's SQLite tracking table is per database. ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
    [?schema=NAME]`` selects ``eventsourcing.postgres``; projections get prefixed tables.
    """
    environ = os.environ if environ is None else environ
    url = database_url or DEFAULT_DATABASE_URL
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        raw_path = unquote(parsed.path)
        if not raw_path or raw_path == "/":
            raise DatabaseUrlError(f"DATABASE_URL {url!r} names no file")
        path = Path(raw_path[1:])  # sqlite:///relative or sqlite:////absolute
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": environ.get("SQLITE_LOCK_TIMEOUT", "30"),
            "APPLICATION_RECORDER_TOPIC": get_topic(RecordsSQLiteRecorder),
        }
        for name in PROJECTION_NAMES:
            env[f"{name.upper()}_SQLITE_DBNAME"] = str(path.with_name(f"{path.stem}.{name}{path.suffix}"))
        return env
    if parsed.scheme in ("postgresql", "postgres"):
        if not parsed.hostname or not parsed.path.strip("/"):
            raise DatabaseUrlError(f"DATABASE_URL {url!r} needs a host and a database name")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.strip("/")),
            "POSTGRES_HOST": parsed.hostname,
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_LOCK_TIMEOUT": environ.get("POSTGRES_LOCK_TIMEOUT", "10"),
            "APPLICATION_RECORDER_TOPIC": get_topic(RecordsPostgresRecorder),
            **postgres_pool_settings(environ),
        }
        schema = parse_qs(parsed.query).get("schema", [""])[0]
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env
    raise DatabaseUrlError(f"DATABASE_URL must start sqlite:/// or postgresql://, not {url!r}")
