"""What every backend shares: the interface the service reads and writes the store through
(``SideTableAccess``: plain SQL on the side tables, the hash chain and the Merkle tree, event
times and the log clock, idempotency keys), the side tables themselves (``SIDE_TABLES``, in SQL
written once for both backends with ``?`` placeholders and a ``{schema}`` prefix), the values a
recorder is given to write in them (``IdempotentRequest``, ``EventTime``), and the errors a
backend raises to the service. The package's docstring (``service/persistence/__init__.py``)
describes the side tables and the log clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from service.audit.chain import GENESIS, LinkRow, StoredLink, canonical_bytes, stream_text
from service.audit.merkle import leaf_hash, node_hash

PROJECTION_NAMES = ("register", "decision_log", "exit_cost_history", "benefits_realisation")
# Databases of the service's own beside the store on SQLite (a file each, named like a
# projection's), which are not projections: nothing rebuilds them from the log. On PostgreSQL their
# tables are in the store's schema. ``webhooks``: the subscriptions and their delivery log
# (``service/webhooks/store.py``).
WEBHOOKS_DATABASE = "webhooks"


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


class OutcomeUnknown(OperationalError):
    """A write's commit was sent and its answer lost, and the store could not be read in time to
    tell whether it committed. Only a retry with the same ``Idempotency-Key`` is safe."""


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

    def chained_documents(self, positions: Sequence[int]) -> dict[int, bytes]:
        """The canonical documents of the chained events at ``positions`` (as ``chained_document``,
        for a page at once): what each one's chain hash is the SHA-256 of."""
        if not positions:
            return {}
        marks = ", ".join("?" for _ in positions)
        rows = self.execute(
            f"SELECT c.position, e.originator_id, e.originator_version, e.topic, e.state, p.hash AS previous"
            f" FROM {{schema}}event_chain c JOIN {self.events_table_sql} e ON e.{self.position_column} = c.position"
            f" LEFT JOIN {{schema}}event_chain p ON p.seq = c.seq - 1 WHERE c.position IN ({marks})",
            tuple(positions),
        )
        return {row["position"]: row_document(row, row["previous"] or GENESIS) for row in rows}

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
