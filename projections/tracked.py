"""What every projection of this service shares: a view that follows the ``CollaborationRecords``
notification log with a tracking record, exactly once, resumably and rebuildably.

A projection is a ``TrackedProjection`` (the processing) over a ``TrackedView`` (its tables).
Each batch of notifications is processed in ONE transaction of the view's database:

1. take the view's writer lock (``BEGIN IMMEDIATE`` on SQLite; a transaction-scoped advisory
   lock on PostgreSQL), so that concurrent catch-ups from several threads or gunicorn workers
   run one after another;
2. read the tracking position, inside the lock, so no notification is processed twice;
3. select up to ``batch_size`` notifications after it from the application's recorder, and
   decode with the application's mapper only those whose topic the projection ``concerns``
   (the others are tracked like every notification, but cost nothing to skip);
4. let the projection write its rows (``apply_batch``);
5. record the position of the batch's last notification with the library's tracking upsert,
   which refuses a position that does not increase: a second guard.

Rows and position commit together or not at all. A crash resumes from the committed position;
``rebuild`` clears the rows and the tracking record in one transaction and processes the log
from the start. A notification whose topic no loaded code defines stops the projection with
the library's ``TopicError`` rather than being skipped: skipping would lose a change silently,
stopping resumes correctly once the code that knows the topic is deployed.

The view is built by the library's factory from an environment named after the projection
(as ``ProjectionRunner`` does): on SQLite ``<NAME>_SQLITE_DBNAME`` gives it a database file of
its own (the library's SQLite tracking table is one per file); on PostgreSQL its tables, the
tracking table included, are named ``<name>_*`` beside the event store.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from time import monotonic
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    Notification,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from service.persistence import create_tables_despite_a_race, immediate_transaction, schema_lock, use_wal

if TYPE_CHECKING:
    from service.application import CollaborationRecords

DEFAULT_BATCH_SIZE = 500
MAX_RETRY_INTERVAL = 30.0

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------- the views


@dataclass(frozen=True)
class CatchUp:
    """What one catching up did: the position it started from and got to, the end of the log
    when it began (its target), and how long it took."""

    start: int
    position: int
    target: int
    seconds: float

    @property
    def behind(self) -> bool:
        return self.position < self.target

    @property
    def rate(self) -> float:
        """Events read a second."""
        return (self.position - self.start) / max(self.seconds, 0.001)


class TrackedView(TrackingRecorder):
    """A projection's tables and the SQL both backends share. Statements are written once with
    ``?`` placeholders and ``{table}`` names (keys of ``table_names``: each name in ``tables``,
    ``prefix``, ``tracking``, and the dialect words ``sorted_text``, ``integer_key`` and
    ``without_rowid``); each backend turns them into its own dialect."""

    projection_name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]] = ()  # cleared, in this order, by ``clear``
    create_statements: ClassVar[tuple[str, ...]] = ()
    other_identifiers: ClassVar[tuple[str, ...]] = ()  # e.g. index names, without the prefix
    # (table, columns) the code expects: a view stored by older code without one of them is
    # dropped and rebuilt from the log (``upgrade_layout``). None: never checked.
    layout: ClassVar[tuple[str, tuple[str, ...]] | None] = None
    table_names: dict[str, str]

    def upgrade_layout(self, application_name: str) -> bool:
        """Where the stored table lacks a column of ``layout`` (written by an older release), drops
        the view's tables and tracking record and creates them again, in one locked transaction,
        so the projection processes the log from the start. Answers whether it did. Every
        projection is derived from the log, so nothing is lost. The columns are read first
        without the writer lock, so a process that starts while another runs a long batch does
        not wait for it; only an outdated table is checked again under the lock and rebuilt."""
        if self.layout is None:
            return False
        with self.read_transaction() as cursor:
            missing = self._missing_columns(cursor)
        if not missing:
            return False
        with self.locked_transaction() as cursor:
            missing = self._missing_columns(cursor)  # another process may have rebuilt it meanwhile
            if not missing:
                return False
            logger.warning("%s: the stored view lacks %s; rebuilding it from the log", self.projection_name, missing)
            for name in reversed(self.tables):
                cursor.execute(self.sql(f"DROP TABLE IF EXISTS {{{name}}}"))
            cursor.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (application_name,))
            for statement in self.create_statements:
                cursor.execute(self.sql(statement))
        return True

    def _missing_columns(self, cursor: Any) -> str:
        """The columns of ``layout`` the stored table lacks, as text ("" for none)."""
        assert self.layout is not None
        table, columns = self.layout
        cursor.execute(self.sql(f"SELECT * FROM {{{table}}} WHERE 1 = 0"))
        description = getattr(getattr(cursor, "sqlite_cursor", cursor), "description", None) or ()
        stored = {str(column[0]).lower() for column in description}
        return ", ".join(sorted(set(columns) - stored))

    # Provided by the backend's view class (or by the library's tracking recorder it extends).
    def locked_transaction(self) -> AbstractContextManager[Any]:
        """A write transaction that holds the view's writer lock from its start."""
        raise NotImplementedError

    def read_transaction(self) -> AbstractContextManager[Any]:
        """A read-only transaction that sees one consistent snapshot."""
        raise NotImplementedError

    def sql(self, template: str) -> str:
        raise NotImplementedError

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def write_many(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        """Runs one write statement for many rows."""
        cursor.executemany(self.sql(statement), values)

    def _max_tracking_id(self, application_name: str, c: Any) -> int | None:
        raise NotImplementedError

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------ tracking
    def position_in(self, cursor: Any, application_name: str) -> int:
        return self._max_tracking_id(application_name, cursor) or 0

    def record_position(self, cursor: Any, application_name: str, notification_id: int) -> None:
        self._insert_tracking(cursor, Tracking(application_name, notification_id))

    def clear(self, cursor: Any, application_name: str) -> None:
        """Deletes every row and the tracking record, in the caller's transaction."""
        for table in self.tables:
            cursor.execute(self.sql(f"DELETE FROM {{{table}}}"))
        cursor.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (application_name,))


class SQLiteTrackedView(SQLiteTrackingRecorder, TrackedView):
    """A view in its own SQLite file (the library's tracking table is one per file)."""

    def create_table(self) -> None:
        create_tables_despite_a_race(super().create_table)

    # In WAL mode, NORMAL still commits each transaction atomically, rows and tracking record
    # together; it only lets an OS crash or power cut (not a process crash) undo the latest
    # commits, which the projection then simply processes again. It saves an fsync per batch.
    synchronous = "NORMAL"

    @cached_property
    def table_names(self) -> dict[str, str]:  # type: ignore[override]
        name = self.projection_name
        return {
            "prefix": name,
            **{table: f"{name}_{table}" for table in self.tables},
            "tracking": "tracking",
            "sorted_text": "TEXT",
            "integer_key": "INTEGER PRIMARY KEY",  # the rowid: rows are stored in key order
            "without_rowid": " WITHOUT ROWID",
        }

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *(self.sql(s) for s in self.create_statements)]

    def sql(self, template: str) -> str:
        return template.format(**self.table_names)

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def locked_transaction(self) -> AbstractContextManager[SQLiteCursor]:
        """``BEGIN IMMEDIATE`` takes the database's write lock before the first read, so a
        concurrent catch-up (another thread or process) waits for it, up to the lock timeout.
        The library's ``transaction()`` issues a deferred ``BEGIN``, which would let two
        writers read the same position."""
        return immediate_transaction(self.datastore, synchronous=self.synchronous)

    def read_transaction(self) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=False)


class PostgresTrackedView(PostgresTrackingRecorder, TrackedView):
    """A view in PostgreSQL, beside the event store, in tables named after the projection (the
    library's factory names the tracking table ``<name>_tracking``)."""

    def create_table(self) -> None:
        with schema_lock(self.datastore):
            super().create_table()

    def __init__(self, datastore: PostgresDatastore, *, tracking_table_name: str | None = None, **kwargs: Any):
        tracking_table_name = tracking_table_name or f"{self.projection_name}_tracking"
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        from psycopg.sql import SQL

        prefix = tracking_table_name.removesuffix("_tracking")
        schema = '"{}".'.format(self.datastore.schema.replace('"', '""'))
        self.table_names = {
            "prefix": prefix,
            **{table: f"{schema}{prefix}_{table}" for table in self.tables},
            "tracking": f'{schema}"{self.tracking_table_name}"',
            "sorted_text": 'TEXT COLLATE "C"',  # byte order, as on SQLite
            "integer_key": "BIGINT PRIMARY KEY",
            "without_rowid": "",
        }
        for identifier in (*self.tables, *self.other_identifiers):
            self.check_identifier_length(f"{prefix}_{identifier}")
        self.sql_create_statements.extend(SQL(self.sql(s)) for s in self.create_statements)  # type: ignore[arg-type]
        digest = hashlib.sha256(f"{self.datastore.schema}.{self.tracking_table_name}".encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)

    def sql(self, template: str) -> str:
        return template.format(**self.table_names).replace("?", "%s")

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    @contextmanager
    def locked_transaction(self) -> Iterator[Any]:
        """A READ COMMITTED transaction that first takes an advisory lock held until it ends.
        Each later statement sees what the previous holder committed. (Under REPEATABLE READ
        the snapshot would be taken before the lock was granted.)"""
        with self.datastore.transaction(commit=True) as cursor:
            if self.datastore.lock_timeout:
                cursor.execute(f"SET LOCAL lock_timeout = '{int(self.datastore.lock_timeout)}s'")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self.lock_key,))
            yield cursor

    @contextmanager
    def read_transaction(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield cursor


# --------------------------------------------------------------------------- the processing
V = TypeVar("V", bound=TrackedView)


class AggregateCache:
    """The latest aggregate of recently seen streams, for a projection's next batch to advance
    with ``mutate`` instead of loading it. A batch ``take``s what it uses (so the cache never
    holds an object a batch is changing) and ``give``s its aggregates back once it has
    committed; the newer version wins.

    It is sized by the events its aggregates hold (the sum of their versions, a measure of their
    state), not by how many there are, so that it fits the set of streams being written: two
    hundred agreements written at once at a hundred events each, or one agreement of fifty
    thousand. The least recently given go once the sum passes ``events``; the latest given is
    always kept, however large."""

    def __init__(self, events: int):
        self.events = events
        self._aggregates: OrderedDict[UUID, Any] = OrderedDict()
        self._held = 0  # the sum of the held aggregates' versions
        self._lock = threading.Lock()

    def take(self, stream_id: UUID) -> Any | None:
        with self._lock:
            aggregate = self._aggregates.pop(stream_id, None)
            if aggregate is not None:
                self._held -= aggregate.version
            return aggregate

    def give(self, aggregates: Iterable[Any]) -> None:
        with self._lock:
            for aggregate in aggregates:
                cached = self._aggregates.get(aggregate.id)
                if cached is None or cached.version <= aggregate.version:
                    self._held += aggregate.version - (cached.version if cached is not None else 0)
                    self._aggregates[aggregate.id] = aggregate
                    self._aggregates.move_to_end(aggregate.id)
            while self._held > self.events and len(self._aggregates) > 1:
                _, dropped = self._aggregates.popitem(last=False)
                self._held -= dropped.version

    def __len__(self) -> int:
        return len(self._aggregates)

    def clear(self) -> None:
        with self._lock:
            self._aggregates.clear()
            self._held = 0


class TrackedProjection(Generic[V]):
    """Follows the application's notification log into a view: ``catch_up``, ``wait_for``,
    ``rebuild``, ``follow``, ``position``, ``close``. A subclass names itself (``name``, which
    is also its environment's name, and ``label`` for people), gives its backend view classes
    and says which topics it ``concerns`` and what a batch does (``apply_batch``)."""

    name: ClassVar[str]
    label: ClassVar[str]
    sqlite_view: ClassVar[type[SQLiteTrackedView]]
    postgres_view: ClassVar[type[PostgresTrackedView]]

    def __init__(
        self,
        env: Mapping[str, str],
        application: CollaborationRecords,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.application = application
        self.application_name = application.name
        self.batch_size = batch_size
        # Named after the projection, as ProjectionRunner does: e.g. REGISTER_SQLITE_DBNAME gives
        # the view its own SQLite file, and on PostgreSQL the name prefixes the tracking table.
        environment = Environment(self.name, {**os.environ, **env})
        if sqlite_file := environment.get("SQLITE_DBNAME"):
            use_wal(sqlite_file)  # before the library's connections race to switch it
        self.factory = InfrastructureFactory.construct(env=environment)
        # On PostgreSQL the view lives beside the event store and uses the application's pool
        # (one per process, one connection per thread: ``SharedPostgresDatastore``), so a batch
        # reads the log in its own transaction and the process's connections stay few. The
        # factory's own datastore was never opened.
        self._shares_datastore = isinstance(self.factory, PostgresFactory) and isinstance(
            application.factory, PostgresFactory
        )
        if self._shares_datastore:
            self.factory.datastore = application.factory.datastore  # type: ignore[attr-defined]
        try:
            self.view: V = self.factory.tracking_recorder(self.view_class(self.factory))  # type: ignore[arg-type]
            self.view.upgrade_layout(self.application_name)
        except BaseException:
            if not self._shares_datastore:
                self.factory.close()
            raise
        self._closed = False

    @classmethod
    def view_class(cls, factory: InfrastructureFactory[Any]) -> type[TrackedView]:
        if isinstance(factory, SQLiteFactory):
            return cls.sqlite_view
        if isinstance(factory, PostgresFactory):
            return cls.postgres_view
        raise TypeError(f"{cls.label} needs SQLite or PostgreSQL, not {type(factory).__module__}")

    # ---------------------------------------------------------------- what subclasses say
    def concerns(self, topic: str) -> bool:
        """Whether notifications with this topic are worth decoding. Raises the library's
        TopicError for a topic no loaded code defines."""
        raise NotImplementedError

    def apply_batch(self, cursor: Any, position: int, notifications: Sequence[Notification]) -> Any:
        """Writes what the notifications after ``position`` change, inside the batch's locked
        transaction. What it returns is passed to ``batch_committed`` once the batch commits."""
        raise NotImplementedError

    def batch_committed(self, position: int, outcome: Any) -> None:
        """Called after a batch committed at ``position`` (e.g. to keep its rows for the next)."""

    def forget(self) -> None:
        """Called after a rebuild cleared the view: drop anything kept from earlier batches."""

    def decoded(self, notifications: Sequence[Notification]) -> list[tuple[int, Any]]:
        """(position, domain event) of each notification this projection concerns, in order."""
        to_domain_event = self.application.mapper.to_domain_event
        concerns = self.concerns
        return [(n.id, to_domain_event(n)) for n in notifications if concerns(n.topic)]

    # ------------------------------------------------------------------------- reads
    def position(self) -> int:
        """The position of the last notification processed (0 for none)."""
        return self.view.max_tracking_id(self.application_name) or 0

    # -------------------------------------------------------------------- processing
    def catch_up(self) -> int:
        """Process every notification recorded before this call, in batches of one transaction
        each. Returns the new position."""
        return self._catch_up().position

    def catch_up_within(self, seconds: float) -> CatchUp:
        """As ``catch_up``, but within ``seconds``: no batch is begun that would end past them,
        judged by how long the last one took (one batch always runs; each commits, so the next
        call goes on from there). Says where it started, where it got to
        and where the log ended when it began."""
        return self._catch_up(deadline=monotonic() + seconds)

    def wait_for(self, position: int | None, timeout: float = 5.0) -> bool:
        """Read-your-writes: True once the view has processed ``position`` (catching up
        itself rather than waiting for someone else), False if ``timeout`` seconds pass first.
        None means there is nothing to wait for. Errors of the projection propagate."""
        if position is None:
            return True
        deadline = monotonic() + timeout
        while True:
            if self._catch_up(until=position, deadline=deadline).position >= position:
                return True
            remaining = deadline - monotonic()
            if remaining <= 0:
                return False
            try:  # e.g. the position is not in the log yet: poll, with the library's backoff
                self.view.wait(self.application_name, position, timeout=min(remaining, 0.5))
            except TimeoutError:
                continue
            return True

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Clear the rows and the tracking record in one transaction, then process the log
        from the start. Calls ``progress(position, last)`` after each batch: the log position
        reached, and the last position when the rebuild began (on a gap-free log, events
        processed and events in total). Returns the number of events this call processed."""
        last = self.application.recorder.max_notification_id() or 0
        with self.view.locked_transaction() as cursor:
            self.view.clear(cursor, self.application_name)
        self.forget()
        if progress is not None:
            progress(0, last)
        processed = position = 0
        while position < last:
            position, count = self._process_batch()
            if count == 0:
                break
            processed += count
            if progress is not None:
                progress(position, max(position, last))
        return processed

    def follow(
        self,
        stop: threading.Event,
        poll_interval: float = 0.2,
        *,
        on_advance: Callable[[int], None] | None = None,
        doorbell: LogDoorbell | None = None,
    ) -> None:
        """Keep the view up to date until ``stop`` is set, through the batched, locked
        ``catch_up``. With a ``doorbell`` (PostgreSQL's LISTEN/NOTIFY, one connection for every
        follower in the process) a new event wakes it at once, and it also looks every second in
        case a ring was missed; without one it polls every ``poll_interval`` seconds. Errors (the
        store restarting, no connection in time) are logged and retried with backoff, never
        fatal. ``on_advance(position)`` is called whenever the position moves."""
        retry_interval = poll_interval
        position = rung = 0
        while not stop.is_set():
            try:
                position = self._advance(position, on_advance)
            except Exception as error:
                if _waited_for_a_connection(error):  # the process's other followers had them all: its turn next
                    logger.info("%s: waited for a connection; trying again", self.name)
                    continue
                logger.exception("%s: following %s failed; retrying", self.name, self.application_name)
                stop.wait(retry_interval)
                retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)
                continue
            retry_interval = poll_interval
            if doorbell is None:
                stop.wait(poll_interval)
            else:
                rung = doorbell.wait(rung, timeout=max(poll_interval, 1.0))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if not self._shares_datastore:  # a shared pool is the application's to close
                self.factory.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ inner
    def _catch_up(self, *, until: int | None = None, deadline: float | None = None) -> CatchUp:
        began = monotonic()
        start = position = self.position()
        target = until if until is not None else self.application.recorder.max_notification_id() or 0
        while position < target:
            batch_began = monotonic()
            position, count = self._process_batch(until=until)
            now = monotonic()
            # Stop where the next batch, taking as long as this one, would end past the deadline.
            if count == 0 or (deadline is not None and now + (now - batch_began) >= deadline):
                break
        return CatchUp(start, position, target, monotonic() - began)

    def _process_batch(self, *, until: int | None = None) -> tuple[int, int]:
        """One transaction: take the lock, read the position, apply the notifications after it,
        write the rows and the new position. Returns (position, notifications processed)."""
        with self.view.locked_transaction() as cursor:
            position = self.view.position_in(cursor, self.application_name)
            if until is not None and position >= until:
                return position, 0
            notifications = self.application.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return position, 0
            outcome = self.apply_batch(cursor, position, notifications)
            position = notifications[-1].id
            self.view.record_position(cursor, self.application_name, position)
        self.batch_committed(position, outcome)
        return position, len(notifications)

    def _advance(self, position: int, on_advance: Callable[[int], None] | None) -> int:
        new_position = self.catch_up()
        if new_position != position:
            logger.debug("%s: at position %s", self.name, new_position)
            if on_advance is not None:
                on_advance(new_position)
        return new_position


def _waited_for_a_connection(error: BaseException) -> bool:
    from psycopg_pool import PoolTimeout

    return isinstance(error.__cause__ or error, PoolTimeout)


class LogDoorbell:
    """Rings whenever the application records events, for every follower in one process: a
    thread LISTENs on the event store's channel (PostgreSQL; the library NOTIFYs it in each
    write's transaction) on one connection, and reconnects with backoff if the server goes away.
    ``wait(rung)`` returns as soon as the bell has rung more than ``rung`` times (or on timeout,
    or once closed) and answers the new count."""

    def __init__(self, application: CollaborationRecords):
        self.application = application
        self._rings = 0
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="log-doorbell", daemon=True)

    @classmethod
    def for_application(cls, application: CollaborationRecords) -> LogDoorbell | None:
        """A started doorbell where the store can ring one and the pool can spare a connection
        for it beside the followers' work; else None (followers then poll)."""
        recorder = application.recorder
        datastore = getattr(recorder, "datastore", None)
        if not hasattr(recorder, "channel_name") or datastore is None or datastore.pool.max_size < 2:
            return None
        doorbell = cls(application)
        doorbell._thread.start()
        return doorbell

    def wait(self, rung: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._rings != rung or self._closed.is_set(), timeout=timeout)
            return self._rings

    def wake(self) -> None:
        """Wakes every waiting follower now (e.g. to notice that it was asked to stop)."""
        self._ring()

    def close(self) -> None:
        self._closed.set()
        self._ring()
        self._thread.join(timeout=5)

    def _ring(self) -> None:
        with self._changed:
            self._rings += 1
            self._changed.notify_all()

    def _listen(self) -> None:
        from psycopg.sql import SQL, Identifier

        recorder = self.application.recorder
        retry_interval = 0.2
        while not self._closed.is_set():
            try:
                with recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                    try:
                        conn.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))  # type: ignore[attr-defined]
                        self._ring()  # whatever was recorded while not listening
                        retry_interval = 0.2
                        while not self._closed.is_set():
                            for _ in conn.notifies(timeout=0.5, stop_after=1):
                                self._ring()
                    finally:
                        with suppress(Exception):  # the connection goes back to the pool quiet
                            conn.execute("UNLISTEN *")
            except Exception:
                logger.warning("the log doorbell lost its connection; listening again in %.1f s", retry_interval)
                self._closed.wait(retry_interval)
                retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)
