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

The package has one module per backend, and one for what they share:

- ``common.py``: the interface the service reads and writes the store through
  (``SideTableAccess``), the side tables' SQL, and the values and errors all backends share;
- ``sqlite.py``: ``RecordsSQLiteRecorder``, on a file (``sqlite:///PATH``);
- ``memory.py``: the same recorder on SQLite's in-memory databases (``memory://[NAME]``), for
  tests and trying things out: nothing in it survives the process;
- ``postgres.py``: ``RecordsPostgresRecorder``, the process's one pool
  (``SharedPostgresDatastore``), and waiting for a server that cannot be reached yet
  (``postgresql://``);
- ``environment.py``: ``DATABASE_URL`` (or the library's own variables) to the library's
  environment;
- ``snapshots.py``: which snapshots of an aggregate are kept (the latest two and those at
  interval·2^k), the pruning both backends' snapshot recorders do in the transaction that inserts
  a snapshot (``PruningSQLiteSnapshotRecorder``, ``PruningPostgresSnapshotRecorder``), and the
  pruning of a whole store (``flask snapshots prune``).

Import from ``service.persistence`` itself: it re-exports what the service, the projections and
the tests use.
"""

from service.persistence.common import (
    ADD_IDEMPOTENCY_CREATED_AT,
    ADVANCE_LOG_CLOCK,
    CLOSE_LOG_CLOCK,
    EARLIEST_TEXT,
    IDEMPOTENCY_CREATED_INDEX,
    IDEMPOTENCY_RECORD,
    INSERT_EVENT_TIMES,
    INSERT_IDEMPOTENCY,
    LATEST_TEXT,
    PROJECTION_NAMES,
    PRUNE_IDEMPOTENCY,
    SELECT_LOG_CLOCK,
    SELECT_VERSION_KNOWN_AT,
    SIDE_TABLES,
    UPSERT_EDGE,
    WEBHOOKS_DATABASE,
    ChainBroken,
    DatabaseUrlError,
    Edge,
    EventTime,
    IdempotentRequest,
    OutcomeUnknown,
    RecordedOutOfOrder,
    SideTableAccess,
    TreeGrowth,
    _idempotency_params,
    edge_from_text,
    edge_levels,
    edge_text,
    recorded_at_text,
    row_document,
    tree_growth,
)
from service.persistence.environment import (
    DEFAULT_DATABASE_URL,
    environment_from,
    persistence_environment,
)
from service.persistence.memory import (
    MEMORY_SCHEME,
    is_memory_database,
    memory_database_name,
    memory_environment,
    memory_uri,
    store_in_memory,
)
from service.persistence.postgres import (
    APPLICATION_NAME,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_POOL_WAIT,
    PASSING_REFUSALS,
    SCHEMA_LOCK_KEY,
    SETTLE_SECONDS,
    SNAPSHOT_LOCK_CLASS,
    WRITE_ATTEMPTS,
    PruningPostgresSnapshotRecorder,
    RecordsPostgresRecorder,
    SharedPostgresDatastore,
    postgres_pool_settings,
    schema_lock,
    wait_for_store,
)
from service.persistence.snapshots import PruneReport, SnapshotPruning, SnapshotRetention
from service.persistence.sqlite import (
    InRecordedOrder,
    PruningSQLiteSnapshotRecorder,
    RecordsSQLiteRecorder,
    create_tables_despite_a_race,
    immediate_transaction,
    use_wal,
)

__all__ = [
    "ADD_IDEMPOTENCY_CREATED_AT",
    "ADVANCE_LOG_CLOCK",
    "APPLICATION_NAME",
    "CLOSE_LOG_CLOCK",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_POOL_WAIT",
    "EARLIEST_TEXT",
    "IDEMPOTENCY_CREATED_INDEX",
    "IDEMPOTENCY_RECORD",
    "INSERT_EVENT_TIMES",
    "INSERT_IDEMPOTENCY",
    "LATEST_TEXT",
    "MEMORY_SCHEME",
    "PASSING_REFUSALS",
    "PROJECTION_NAMES",
    "PRUNE_IDEMPOTENCY",
    "SCHEMA_LOCK_KEY",
    "SELECT_LOG_CLOCK",
    "SELECT_VERSION_KNOWN_AT",
    "SETTLE_SECONDS",
    "SIDE_TABLES",
    "SNAPSHOT_LOCK_CLASS",
    "UPSERT_EDGE",
    "WEBHOOKS_DATABASE",
    "WRITE_ATTEMPTS",
    "ChainBroken",
    "DatabaseUrlError",
    "Edge",
    "EventTime",
    "IdempotentRequest",
    "InRecordedOrder",
    "OutcomeUnknown",
    "PruneReport",
    "PruningPostgresSnapshotRecorder",
    "PruningSQLiteSnapshotRecorder",
    "RecordedOutOfOrder",
    "RecordsPostgresRecorder",
    "RecordsSQLiteRecorder",
    "SharedPostgresDatastore",
    "SideTableAccess",
    "SnapshotPruning",
    "SnapshotRetention",
    "TreeGrowth",
    "_idempotency_params",
    "create_tables_despite_a_race",
    "edge_from_text",
    "edge_levels",
    "edge_text",
    "environment_from",
    "immediate_transaction",
    "is_memory_database",
    "memory_database_name",
    "memory_environment",
    "memory_uri",
    "persistence_environment",
    "postgres_pool_settings",
    "recorded_at_text",
    "row_document",
    "schema_lock",
    "store_in_memory",
    "tree_growth",
    "use_wal",
    "wait_for_store",
]
