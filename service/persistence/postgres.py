"""PostgreSQL: the event store, the side tables and the projections' tables in one schema of
one database, shared by any number of processes and machines.

``RecordsPostgresRecorder`` is the library's application recorder with the side tables
(``common.py``) written in the events' own transaction, under the library's table lock, and
with a write whose commit went unanswered settled rather than run twice.
``SharedPostgresDatastore`` is the one pool of a process; ``postgres_pool_settings`` its size;
``schema_lock`` serialises creating tables; ``wait_for_store`` waits for a server that cannot
be reached yet.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore

from service.audit.chain import GENESIS, LinkRow
from service.persistence.common import (
    INSERT_IDEMPOTENCY,
    SIDE_TABLES,
    UPSERT_EDGE,
    DatabaseUrlError,
    Edge,
    IdempotentRequest,
    OutcomeUnknown,
    SideTableAccess,
    TreeGrowth,
    _idempotency_params,
    edge_from_text,
    edge_text,
)
from service.persistence.snapshots import SnapshotPruning, SnapshotRetention

logger = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_LOCK_KEY = 0x636F6C6C6162  # "collab": the advisory lock that serialises creating tables
# "snap": with a stream id's hashtext, the transaction-scoped advisory lock (the two-int4 form, a key
# space apart from the one-bigint locks above and the projections') that gives a stream's snapshot
# writers their turn.
SNAPSHOT_LOCK_CLASS = 0x736E6170
# What the library sets on its tables for events that are never deleted (autovacuum after 100
# million dead rows): wrong for snapshots, which are pruned. Reset to the server's defaults.
SNAPSHOT_VACUUM_OPTIONS = ("autovacuum_vacuum_threshold", "autovacuum_vacuum_scale_factor")
APPLICATION_NAME = "collab-records"  # each connection's application_name, followed by the process id
DEFAULT_MAX_CONNECTIONS = 3  # PostgreSQL connections one process may open (POSTGRES_MAX_CONNECTIONS)
DEFAULT_POOL_WAIT = 5  # seconds a request waits for a connection (POSTGRES_CONNECT_TIMEOUT), well below the worker's


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
        # Each new row's stream and version beside its position, so that the chain pairs every
        # position with the event given for it for certain, without reading the events back
        # under the lock (the library's statement ends "RETURNING notification_id").
        self.insert_events_statement += SQL(", originator_id, originator_version")

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
        returned = curs.fetchall()
        if len(returned) != len(stored_events):
            raise ProgrammingError(f"{len(returned)} positions came back for {len(stored_events)} events")
        given = {(str(event.originator_id), event.originator_version): event for event in stored_events}
        paired = sorted(
            (row["notification_id"], given[str(row["originator_id"]), row["originator_version"]]) for row in returned
        )
        notification_ids = [position for position, _ in paired]
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
        self._extend_chain(curs, positions=notification_ids, inserted=[event for _, event in paired])
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


class PruningPostgresSnapshotRecorder(PostgresAggregateRecorder, SnapshotPruning):
    """The library's snapshot recorder, which inserts a snapshot and deletes the stream's
    snapshots the retention rule no longer keeps (``snapshots.py``) in one transaction. The
    transaction first takes the stream's advisory lock (``SNAPSHOT_LOCK_CLASS``), so two processes
    snapshotting one stream take turns and the later one's pruning sees the earlier one's snapshot
    (READ COMMITTED reads what committed before each statement). Readers take no lock."""

    def __init__(self, datastore: Any, *, events_table_name: str, retention: SnapshotRetention) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.retention = retention

    @classmethod
    def replacing(
        cls, recorder: PostgresAggregateRecorder, retention: SnapshotRetention
    ) -> PruningPostgresSnapshotRecorder:
        """This recorder on the table and datastore of the library's snapshot recorder, with the
        table's autovacuum settings made fit for deletes (``reset_vacuum_settings``)."""
        pruning = cls(recorder.datastore, events_table_name=recorder.events_table_name, retention=retention)
        pruning.reset_vacuum_settings()
        return pruning

    @property
    def _table(self) -> str:
        return f'"{self.datastore.schema}"."{self.events_table_name}"'

    def reset_vacuum_settings(self) -> bool:
        """The library creates the snapshot table with autovacuum only after 100 million dead rows
        (``SNAPSHOT_VACUUM_OPTIONS``; its TOAST table, which holds the states, follows them): the
        space of pruned snapshots would never be reused. Resets them to the server's defaults
        (vacuum once a fifth of the rows are dead), where they are set; answers whether it did.
        Run at every start (a store restored from an older dump gets them back), under
        ``schema_lock``; once done it only reads the catalogue."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s",
                (self.datastore.schema, self.events_table_name),
            )
            row = curs.fetchone()
            options = (row or {}).get("reloptions") or []
            if not any(option.split("=", 1)[0] in SNAPSHOT_VACUUM_OPTIONS for option in options):
                return False
            curs.execute(f"ALTER TABLE {self._table} RESET ({', '.join(SNAPSHOT_VACUUM_OPTIONS)})")
            return True

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """The snapshots, and the pruning of their streams, in one transaction. Not tried again on
        failure, unlike the library's insert (ten tries, each of which may wait out the lock
        timeout): a snapshot is a cache, and the application logs one not taken and takes the
        next at the next interval, rather than hold the request that triggered it."""
        if stored_events:
            stored_ids = sorted({self._stored_id(event.originator_id) for event in stored_events}, key=str)
            with self.datastore.transaction(commit=True) as curs:
                self._take_turns(curs, stored_ids)
                self._insert_stored_events(curs, stored_events, **kwargs)
                for stored_id in stored_ids:
                    self._prune_stream(curs, stored_id)
        return None

    def _take_turns(self, curs: Any, stored_ids: Sequence[Any]) -> None:
        """The streams' advisory locks, in id order (no two writers wait on each other in a cycle),
        waiting at most the store's lock timeout."""
        curs.execute(f"SET LOCAL lock_timeout = '{int(self.datastore.lock_timeout or 0)}s'")
        for stored_id in stored_ids:
            curs.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SNAPSHOT_LOCK_CLASS, str(stored_id)))

    def _sql(self, statement: str) -> str:
        return statement.replace("{table}", self._table).replace("?", "%s")

    @contextmanager
    def _pruning_turn(self, stored_id: Any) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as curs:
            self._take_turns(curs, [stored_id])
            yield curs

    def _read_transaction(self) -> Any:
        return self.datastore.transaction(commit=False)
