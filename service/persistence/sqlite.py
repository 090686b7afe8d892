"""SQLite: the event store in one file, shared by the processes on one machine (gunicorn's
workers, a follower) in WAL mode, with each projection in a file of its own beside it; or in
memory (``memory.py``), the same recorder on SQLite's in-memory databases.

``RecordsSQLiteRecorder`` is the library's application recorder with the side tables
(``common.py``) written in the events' own transaction, under SQLite's single writer lock.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import DatabaseError, IntegrityError, OperationalError, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from eventsourcing.utils import get_topic

from service.audit.chain import LinkRow
from service.persistence.common import (
    INSERT_IDEMPOTENCY,
    PROJECTION_NAMES,
    SIDE_TABLES,
    WEBHOOKS_DATABASE,
    EventTime,
    IdempotentRequest,
    SideTableAccess,
    _idempotency_params,
)
from service.persistence.snapshots import SnapshotPruning, SnapshotRetention


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


@contextmanager
def immediate_transaction(datastore: Any, *, synchronous: str | None = None) -> Iterator[Any]:
    """A transaction of the library's SQLite ``datastore`` that takes the database's write lock
    with ``BEGIN IMMEDIATE`` before its first read, so that two writers never read the same
    state (the library's ``transaction()`` issues a deferred ``BEGIN``); SQLite's errors come
    out as the library's. ``synchronous``: the connection's ``PRAGMA synchronous`` first."""
    with datastore.get_connection(commit=True) as connection:
        cursor = connection.cursor()
        try:
            if synchronous is not None:
                cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        except sqlite3.IntegrityError as error:
            raise IntegrityError(error) from error
        except sqlite3.OperationalError as error:
            raise OperationalError(error) from error
        except sqlite3.Error as error:
            raise PersistenceError(error) from error
        finally:
            cursor.sqlite_cursor.close()


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


class PruningSQLiteSnapshotRecorder(SQLiteAggregateRecorder, SnapshotPruning):
    """The library's snapshot recorder, which also deletes, in the transaction that inserts a
    snapshot, the stream's snapshots the retention rule no longer keeps (``snapshots.py``). The
    insert is the transaction's first statement, so it holds SQLite's write lock (every process's
    writers wait for it) before the stream's versions are read: the pruning sees every snapshot
    committed before it."""

    def __init__(self, datastore: Any, events_table_name: str, retention: SnapshotRetention) -> None:
        super().__init__(datastore, events_table_name)
        self.retention = retention

    @classmethod
    def replacing(
        cls, recorder: SQLiteAggregateRecorder, retention: SnapshotRetention
    ) -> PruningSQLiteSnapshotRecorder:
        """This recorder on the table and datastore of the library's snapshot recorder."""
        return cls(recorder.datastore, recorder.events_table_name, retention)

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        super()._insert_events(c, stored_events, **kwargs)
        for stored_id in sorted({self._stored_id(event.originator_id) for event in stored_events}):
            self._prune_stream(c, stored_id)
        return None

    def _sql(self, statement: str) -> str:
        return statement.replace("{table}", self.events_table_name)

    def _stored_id(self, originator_id: Any) -> Any:
        return originator_id.hex if isinstance(originator_id, UUID) else originator_id

    def _stream_name(self, stored_id: Any) -> str:
        return str(self.convert_originator_id(stored_id))

    @contextmanager
    def _pruning_turn(self, stored_id: Any) -> Iterator[Any]:
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")  # the write lock first, as an insert takes it
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def _read_transaction(self) -> AbstractContextManager[Any]:
        return self.datastore.transaction(commit=False)


def sqlite_environment(
    store: str, projection_database: Callable[[str], str], environ: Mapping[str, str]
) -> dict[str, str]:
    """The eventsourcing environment of a SQLite store: the database ``store`` (a file's path, or
    an in-memory URI), and each projection's own database, ``projection_database(name)`` (the
    library's SQLite tracking table is one per database); the webhooks' database is named the same way."""
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": store,
        "SQLITE_LOCK_TIMEOUT": environ.get("SQLITE_LOCK_TIMEOUT", "30"),
        "APPLICATION_RECORDER_TOPIC": get_topic(RecordsSQLiteRecorder),
    }
    for name in (*PROJECTION_NAMES, WEBHOOKS_DATABASE):
        env[f"{name.upper()}_SQLITE_DBNAME"] = projection_database(name)
    return env
