"""The central register of collaborations: which agreements exist, between whom, doing what.

A read model that follows the ``CollaborationRecords`` notification log. Each batch of
notifications is applied in memory and written, together with the tracking record of its last
notification, in ONE transaction of the view's database. Rows and position commit together or
not at all, so the register is exactly-once, resumes after a crash from the committed position,
and can be rebuilt from zero at any time.

Several gunicorn workers may catch up at once. Every batch first takes a lock that serialises
writers to the view (``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL) and only then reads the tracking position, so no notification is applied twice. The
library's tracking upsert, which refuses a position that does not increase, is a second guard.

Tables (names start with the projection's name; on SQLite the view has a database file of its own):

- ``register_collaborations``: one row per collaboration, numbered ``seq`` in the order they were
  established, with case-folded copies of its text for sorting and searching;
- ``register_parties`` and ``register_functions``: the parties and functions, keyed by ``seq``, so
  every filter runs in SQL and adding one appends a row;
- the library's tracking table (``tracking`` on SQLite, ``register_tracking`` on PostgreSQL).

What each event does to the register (``HANDLERS``):

- ``Established`` creates the row, ``PartyJoined`` adds a party, ``FunctionAdded`` adds a function;
- any other ``Collaboration`` event, including types added later, advances ``version`` and
  ``updated_at`` only, so ``version`` always equals the aggregate's version (its ETag). An event
  that changes what the register shows (e.g. a withdrawal that changes ``status``) gets a handler
  that changes the row and sets ``details_changed``;
- events of other aggregates (exit cases, benefits) are not even decoded: they change nothing,
  but are tracked like every other notification.

For speed, a batch is coalesced: the rows it concerns are loaded once (or kept from the previous
batch, when the tracked position proves nobody else wrote since), every event is applied in
memory, and each changed row is written once.

A notification whose topic cannot be resolved stops the projection with an error instead of
being skipped. Skipping would lose a change silently; stopping resumes correctly as soon as the
code that knows the topic is deployed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from time import monotonic
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    Notification,
    OperationalError,
    PersistenceError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresFactory, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteFactory, SQLiteTrackingRecorder
from eventsourcing.utils import Environment, resolve_topic

from domain.collaboration import ACTIVE, Collaboration
from service.documents import utc_text

if TYPE_CHECKING:
    from service.application import CollaborationRecords

PROJECTION_NAME = "register"
DEFAULT_BATCH_SIZE = 500
MAX_PAGE_SIZE = 500
MAX_RETRY_INTERVAL = 30.0

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------- the rows
@dataclass
class RegisterRow:
    """A collaboration's row in ``register_collaborations``. Its parties and functions are rows
    of the index tables, appended to as they are added, and keyed by ``seq``: the compact
    number the register gives each collaboration in the order it was established."""

    seq: int | None  # None until the row is first written
    id: str
    name: str
    purpose: str
    status: str
    lead_force: str
    governance_body: str | None
    review_cycle_months: int | None
    established_on: str
    version: int
    updated_at: str
    events_applied: int
    # What the current batch changed, so that each row is written once and no more than needed.
    # (Nothing removes a party or a function yet; an event that does will need a pending
    # deletion list beside ``new_parties``/``new_functions``.)
    is_stored: bool = False
    details_changed: bool = False  # any column besides version, updated_at and events_applied
    index_replaced: bool = False  # delete its index rows before inserting the new ones
    new_parties: list[tuple[str, int, int]] = field(default_factory=list)  # (force, version, index)
    new_functions: list[tuple[dict[str, str], int]] = field(default_factory=list)  # (function, version)
    last_event_at: datetime | None = None  # formatted into updated_at once, when written

    @property
    def search_text(self) -> str:
        return "\n".join(text.casefold() for text in (self.name, self.purpose, self.governance_body or ""))

    def as_item(self, parties: list[str], functions: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "purpose": self.purpose,
            "status": self.status,
            "lead_force": self.lead_force,
            "parties": parties,
            "functions": functions,
            "governance_body": self.governance_body,
            "review_cycle_months": self.review_cycle_months,
            "established_on": self.established_on,
            "version": self.version,
            "updated_at": self.updated_at,
        }

    def mark_stored(self) -> None:
        self.is_stored = True
        self.details_changed = self.index_replaced = False
        self.new_parties.clear()
        self.new_functions.clear()


class RegisterChanges:
    """The rows one batch touches: loaded once, changed in memory by each event in log order,
    then written once. Rows are keyed by the events' originator ids (UUIDs)."""

    def __init__(self, rows: Mapping[UUID, RegisterRow]):
        self.rows = dict(rows)
        self.changed: dict[UUID, RegisterRow] = {}

    def apply(self, event: Any) -> None:
        handler = handler_for(type(event))
        if handler is not None:
            handler(self, event)

    def established(self, event: Collaboration.Established) -> None:
        previous = self.rows.get(event.originator_id)
        replacing = previous is not None and previous.is_stored
        self.rows[event.originator_id] = RegisterRow(
            seq=previous.seq if replacing else None,
            id=str(event.originator_id),
            name=event.name,
            purpose=event.purpose,
            status=ACTIVE,
            lead_force=event.lead_force,
            governance_body=event.governance_body,
            review_cycle_months=event.review_cycle_months,
            established_on=event.effective_on.isoformat(),
            version=event.originator_version,
            updated_at="",
            events_applied=0,
            is_stored=replacing,
            details_changed=True,
            index_replaced=replacing,
            new_parties=[(force, event.originator_version, index) for index, force in enumerate(event.parties)],
        )
        self.touch(event)

    def party_joined(self, event: Collaboration.PartyJoined) -> None:
        row = self.touch(event)
        if row is not None:
            row.new_parties.append((event.force, event.originator_version, 0))

    def function_added(self, event: Collaboration.FunctionAdded) -> None:
        row = self.touch(event)
        if row is not None:
            function = {"id": event.function_id, "name": event.name, "kind": event.kind, "host_force": event.host_force}
            row.new_functions.append((function, event.originator_version))

    def touch(self, event: Collaboration.Event) -> RegisterRow | None:
        """Every event of a collaboration advances its version and last-changed time."""
        row = self.rows.get(event.originator_id)
        if row is None:
            logger.warning(
                "register: %s v%s of collaboration %s arrived before it was established; skipped",
                type(event).__qualname__,
                event.originator_version,
                event.originator_id,
            )
            return None
        row.version = event.originator_version
        row.last_event_at = event.timestamp
        row.events_applied += 1
        self.changed[event.originator_id] = row
        return row


HANDLERS: dict[type, Callable[[RegisterChanges, Any], object]] = {
    Collaboration.Established: RegisterChanges.established,
    Collaboration.PartyJoined: RegisterChanges.party_joined,
    Collaboration.FunctionAdded: RegisterChanges.function_added,
    Collaboration.Event: RegisterChanges.touch,
}


@cache
def handler_for(event_class: type) -> Callable[[RegisterChanges, Any], object] | None:
    """The handler of the most specific class an event is an instance of, or None."""
    for cls in event_class.__mro__:
        if cls in HANDLERS:
            return HANDLERS[cls]
    return None


@cache
def concerns_register(topic: str) -> bool:
    """Whether events with this topic can change the register (so are worth decoding).
    Raises the library's TopicError for a topic no loaded code defines."""
    event_class = resolve_topic(topic)
    return isinstance(event_class, type) and handler_for(event_class) is not None


# --------------------------------------------------------------------------------- the views
CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS {collaborations} ("
    " seq {integer_key},"
    " id {sorted_text} NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " sort_name {sorted_text} NOT NULL,"
    " purpose TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " lead_force TEXT NOT NULL,"
    " governance_body TEXT,"
    " review_cycle_months BIGINT,"
    " established_on TEXT NOT NULL,"
    " search_text TEXT NOT NULL,"
    " version BIGINT NOT NULL,"
    " events_applied BIGINT NOT NULL,"
    " updated_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {prefix}_collaborations_order ON {collaborations} (sort_name, id)",
    # The filters probe these by their primary keys (collaboration first), so they need no other
    # index. Keyed by seq rather than by the UUID, entries are small and stored together.
    "CREATE TABLE IF NOT EXISTS {parties} ("
    " collaboration_seq BIGINT NOT NULL,"
    " force_code TEXT NOT NULL,"
    " added_in_version BIGINT NOT NULL,"
    " list_index BIGINT NOT NULL,"
    " PRIMARY KEY (collaboration_seq, force_code)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {functions} ("
    " collaboration_seq BIGINT NOT NULL,"
    " function_id TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " name_folded TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " host_force TEXT NOT NULL,"
    " added_in_version BIGINT NOT NULL,"
    " PRIMARY KEY (collaboration_seq, function_id)){without_rowid}",
)
DETAIL_COLUMNS = (
    "id, name, sort_name, purpose, status, lead_force, governance_body, review_cycle_months, established_on,"
    " search_text, version, events_applied, updated_at"
)
INSERT_ROW = f"INSERT INTO {{collaborations}} ({DETAIL_COLUMNS}, seq) VALUES ({', '.join(['?'] * 14)})"
UPDATE_ROW = (
    "UPDATE {collaborations} SET id = ?, name = ?, sort_name = ?, purpose = ?, status = ?, lead_force = ?,"
    " governance_body = ?, review_cycle_months = ?, established_on = ?, search_text = ?, version = ?,"
    " events_applied = ?, updated_at = ? WHERE seq = ?"
)
UPDATE_PROGRESS = "UPDATE {collaborations} SET version = ?, events_applied = ?, updated_at = ? WHERE seq = ?"
INSERT_PARTY = (
    "INSERT INTO {parties} (collaboration_seq, force_code, added_in_version, list_index) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
INSERT_FUNCTION = (
    "INSERT INTO {functions} (collaboration_seq, function_id, name, name_folded, kind, host_force, added_in_version)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ESCAPE '\\') matching text anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class RegisterView(TrackingRecorder):
    """The register's tables and the SQL both backends share. Statements are written once with
    ``?`` placeholders and ``{table}`` names; each backend turns them into its own dialect."""

    table_names: dict[str, str]

    # Provided by the backend's view class (or by the library's tracking recorder it extends).
    def locked_transaction(self) -> AbstractContextManager[Any]:
        """A write transaction that holds the register's writer lock from its start."""
        raise NotImplementedError

    def read_transaction(self) -> AbstractContextManager[Any]:
        """A read-only transaction that sees one consistent snapshot."""
        raise NotImplementedError

    def sql(self, template: str) -> str:
        raise NotImplementedError

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        raise NotImplementedError

    def write_many(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        """Runs one of the write statements above for many rows."""
        cursor.executemany(self.sql(statement), values)

    def _max_tracking_id(self, application_name: str, c: Any) -> int | None:
        raise NotImplementedError

    def _insert_tracking(self, c: Any, tracking: Tracking) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------------ writes
    def position_in(self, cursor: Any, application_name: str) -> int:
        return self._max_tracking_id(application_name, cursor) or 0

    def record_position(self, cursor: Any, application_name: str, notification_id: int) -> None:
        self._insert_tracking(cursor, Tracking(application_name, notification_id))

    def load_rows(self, cursor: Any, collaboration_ids: Collection[str]) -> dict[str, RegisterRow]:
        if not collaboration_ids:
            return {}
        condition, params = self.in_clause("id", collaboration_ids)
        cursor.execute(self.sql(f"SELECT * FROM {{collaborations}} WHERE {condition}"), params)
        rows = (row_from_record(record) for record in cursor.fetchall())
        return {row.id: row for row in rows}

    def write_rows(self, cursor: Any, rows: Iterable[RegisterRow]) -> None:
        """Writes each changed row once: most only moved their version and time on."""
        inserted, rewritten, progressed = [], [], []
        for row in rows:
            if row.last_event_at is not None:
                row.updated_at = utc_text(row.last_event_at)
                row.last_event_at = None
            if not row.is_stored:
                inserted.append(row)
            else:
                (rewritten if row.details_changed else progressed).append(row)
        if progressed:
            progress = [(row.version, row.events_applied, row.updated_at, row.seq) for row in progressed]
            self.write_many(cursor, UPDATE_PROGRESS, progress)
        if rewritten:
            self.write_many(cursor, UPDATE_ROW, [(*row_details(row), row.seq) for row in rewritten])
        if inserted:  # numbered in log order; safe, as only the lock holder inserts
            cursor.execute(self.sql("SELECT COALESCE(MAX(seq), 0) AS top FROM {collaborations}"))
            top = cursor.fetchone()["top"]
            for number, row in enumerate(inserted, start=top + 1):
                row.seq = number
            self.write_many(cursor, INSERT_ROW, [(*row_details(row), row.seq) for row in inserted])
        written = inserted + rewritten + progressed
        if replaced := [row.seq for row in written if row.index_replaced]:
            condition, params = self.in_clause("collaboration_seq", replaced)
            cursor.execute(self.sql(f"DELETE FROM {{parties}} WHERE {condition}"), params)
            cursor.execute(self.sql(f"DELETE FROM {{functions}} WHERE {condition}"), params)
        if parties := [(row.seq, *party) for row in written for party in row.new_parties]:
            self.write_many(cursor, INSERT_PARTY, parties)
        if functions := [
            (row.seq, f["id"], f["name"], f["name"].casefold(), f["kind"], f["host_force"], version)
            for row in written
            for f, version in row.new_functions
        ]:
            self.write_many(cursor, INSERT_FUNCTION, functions)

    def clear(self, cursor: Any, application_name: str) -> None:
        for table in ("collaborations", "parties", "functions"):
            cursor.execute(self.sql(f"DELETE FROM {{{table}}}"))
        cursor.execute(self.sql("DELETE FROM {tracking} WHERE application_name = ?"), (application_name,))

    # ------------------------------------------------------------------------- reads
    def search(
        self,
        *,
        party: str | None,
        status: str | None,
        function: str | None,
        q: str | None,
        page: int,
        page_size: int,
    ) -> tuple[list[dict[str, Any]], int]:
        conditions: list[str] = []
        params: list[Any] = []
        if party := (party or "").strip():
            conditions.append(
                "EXISTS (SELECT 1 FROM {parties} p WHERE p.collaboration_seq = c.seq AND p.force_code = ?)"
            )
            params.append(party)
        if status := (status or "").strip():
            conditions.append("c.status = ?")
            params.append(status)
        if function := (function or "").strip():
            conditions.append(
                "EXISTS (SELECT 1 FROM {functions} f WHERE f.collaboration_seq = c.seq"
                " AND (f.function_id = ? OR f.kind = ? OR f.name_folded LIKE ? ESCAPE '\\'))"
            )
            params.extend([function, function.casefold(), like_pattern(function.casefold())])
        for term in (q or "").casefold().split():
            conditions.append("c.search_text LIKE ? ESCAPE '\\'")
            params.append(like_pattern(term))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self.read_transaction() as cursor:
            cursor.execute(self.sql(f"SELECT COUNT(*) AS total FROM {{collaborations}} c{where}"), params)
            total = cursor.fetchone()["total"]
            cursor.execute(
                self.sql(f"SELECT * FROM {{collaborations}} c{where} ORDER BY c.sort_name, c.id LIMIT ? OFFSET ?"),
                [*params, page_size, (page - 1) * page_size],
            )
            rows = [row_from_record(record) for record in cursor.fetchall()]
            return self._items(cursor, rows), total

    def entry(self, collaboration_id: str) -> dict[str, Any] | None:
        with self.read_transaction() as cursor:
            cursor.execute(self.sql("SELECT * FROM {collaborations} WHERE id = ?"), (collaboration_id,))
            record = cursor.fetchone()
            return self._items(cursor, [row_from_record(record)])[0] if record is not None else None

    def all_rows(self) -> list[RegisterRow]:
        with self.read_transaction() as cursor:
            cursor.execute(self.sql("SELECT * FROM {collaborations} ORDER BY sort_name, id"))
            return [row_from_record(record) for record in cursor.fetchall()]

    def _items(self, cursor: Any, rows: list[RegisterRow]) -> list[dict[str, Any]]:
        """The rows as JSON-ready items, with their parties and functions in the order added."""
        if not rows:
            return []
        parties: dict[int | None, list[str]] = {row.seq: [] for row in rows}
        functions: dict[int | None, list[dict[str, str]]] = {row.seq: [] for row in rows}
        condition, params = self.in_clause("collaboration_seq", list(parties))
        cursor.execute(
            self.sql(
                f"SELECT collaboration_seq, force_code FROM {{parties}} WHERE {condition}"
                " ORDER BY collaboration_seq, added_in_version, list_index"
            ),
            params,
        )
        for record in cursor.fetchall():
            parties[record["collaboration_seq"]].append(record["force_code"])
        cursor.execute(
            self.sql(
                f"SELECT collaboration_seq, function_id, name, kind, host_force FROM {{functions}} WHERE {condition}"
                " ORDER BY collaboration_seq, added_in_version"
            ),
            params,
        )
        for record in cursor.fetchall():
            functions[record["collaboration_seq"]].append(
                {
                    "id": record["function_id"],
                    "name": record["name"],
                    "kind": record["kind"],
                    "host_force": record["host_force"],
                }
            )
        return [row.as_item(parties[row.seq], functions[row.seq]) for row in rows]


def row_details(row: RegisterRow) -> tuple[Any, ...]:
    """The values of DETAIL_COLUMNS."""
    return (
        row.id,
        row.name,
        row.name.casefold(),
        row.purpose,
        row.status,
        row.lead_force,
        row.governance_body,
        row.review_cycle_months,
        row.established_on,
        row.search_text,
        row.version,
        row.events_applied,
        row.updated_at,
    )


def row_from_record(record: Any) -> RegisterRow:
    return RegisterRow(
        seq=record["seq"],
        id=record["id"],
        name=record["name"],
        purpose=record["purpose"],
        status=record["status"],
        lead_force=record["lead_force"],
        governance_body=record["governance_body"],
        review_cycle_months=record["review_cycle_months"],
        established_on=record["established_on"],
        version=record["version"],
        updated_at=record["updated_at"],
        events_applied=record["events_applied"],
        is_stored=True,
    )


class SQLiteRegisterView(SQLiteTrackingRecorder, RegisterView):
    """The register in its own SQLite file (the library's tracking table is one per file)."""

    # In WAL mode, NORMAL still commits each transaction atomically, rows and tracking record
    # together; it only lets an OS crash or power cut (not a process crash) undo the latest
    # commits, which the register then simply processes again. It saves an fsync per batch.
    synchronous = "NORMAL"

    table_names = {
        "prefix": PROJECTION_NAME,
        "collaborations": f"{PROJECTION_NAME}_collaborations",
        "parties": f"{PROJECTION_NAME}_parties",
        "functions": f"{PROJECTION_NAME}_functions",
        "tracking": "tracking",
        "sorted_text": "TEXT",
        "integer_key": "INTEGER PRIMARY KEY",  # the rowid: rows are stored in seq order
        "without_rowid": " WITHOUT ROWID",
    }

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *(self.sql(s) for s in CREATE_STATEMENTS)]

    def sql(self, template: str) -> str:
        return template.format(**self.table_names)

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    @contextmanager
    def locked_transaction(self) -> Iterator[SQLiteCursor]:
        """``BEGIN IMMEDIATE`` takes the database's write lock before the first read, so a
        concurrent catch-up (another thread or process) waits for it, up to the lock timeout.
        The library's ``transaction()`` issues a deferred ``BEGIN``, which would let two
        writers read the same position."""
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(f"PRAGMA synchronous = {self.synchronous}")
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

    def read_transaction(self) -> AbstractContextManager[SQLiteCursor]:
        return self.datastore.transaction(commit=False)


# On PostgreSQL, each write statement of a batch runs once, with a column of values per array
# parameter, instead of once per row (executemany costs a round trip's worth of work per row).
DETAIL_TYPES = "text, text, text, text, text, text, text, bigint, text, text, bigint, bigint, text, bigint"
POSTGRES_BULK_WRITES = {
    UPDATE_PROGRESS: (
        "UPDATE {collaborations} AS c"
        " SET version = v.version, events_applied = v.events_applied, updated_at = v.updated_at"
        " FROM unnest(?::int[], ?::int[], ?::text[], ?::bigint[]) AS v(version, events_applied, updated_at, seq)"
        " WHERE c.seq = v.seq"
    ),
    UPDATE_ROW: (
        "UPDATE {collaborations} AS c SET id = v.id, name = v.name, sort_name = v.sort_name, purpose = v.purpose,"
        " status = v.status, lead_force = v.lead_force, governance_body = v.governance_body,"
        " review_cycle_months = v.review_cycle_months, established_on = v.established_on,"
        " search_text = v.search_text, version = v.version, events_applied = v.events_applied,"
        " updated_at = v.updated_at"
        f" FROM unnest({', '.join(f'?::{t}[]' for t in DETAIL_TYPES.split(', '))})"
        f" AS v({DETAIL_COLUMNS}, seq) WHERE c.seq = v.seq"
    ),
    INSERT_ROW: (
        f"INSERT INTO {{collaborations}} ({DETAIL_COLUMNS}, seq)"
        f" SELECT * FROM unnest({', '.join(f'?::{t}[]' for t in DETAIL_TYPES.split(', '))})"
    ),
    INSERT_PARTY: (
        "INSERT INTO {parties} (collaboration_seq, force_code, added_in_version, list_index)"
        " SELECT * FROM unnest(?::bigint[], ?::text[], ?::int[], ?::int[]) ON CONFLICT DO NOTHING"
    ),
    INSERT_FUNCTION: (
        "INSERT INTO {functions}"
        " (collaboration_seq, function_id, name, name_folded, kind, host_force, added_in_version)"
        " SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[])"
        " ON CONFLICT DO NOTHING"
    ),
}


class PostgresRegisterView(PostgresTrackingRecorder, RegisterView):
    """The register in PostgreSQL, beside the event store, in tables named after the projection."""

    def __init__(
        self, datastore: PostgresDatastore, *, tracking_table_name: str = f"{PROJECTION_NAME}_tracking", **kwargs: Any
    ):
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        from psycopg.sql import SQL

        prefix = tracking_table_name.removesuffix("_tracking")
        schema = '"{}".'.format(self.datastore.schema.replace('"', '""'))
        self.table_names = {
            "prefix": prefix,
            "collaborations": f"{schema}{prefix}_collaborations",
            "parties": f"{schema}{prefix}_parties",
            "functions": f"{schema}{prefix}_functions",
            "tracking": f'{schema}"{self.tracking_table_name}"',
            "sorted_text": 'TEXT COLLATE "C"',  # byte order, as on SQLite
            "integer_key": "BIGINT PRIMARY KEY",
            "without_rowid": "",
        }
        self.check_identifier_length(f"{prefix}_collaborations_order")
        self.sql_create_statements.extend(SQL(self.sql(s)) for s in CREATE_STATEMENTS)  # type: ignore[arg-type]
        digest = hashlib.sha256(f"{self.datastore.schema}.{self.tracking_table_name}".encode()).digest()
        self.lock_key = int.from_bytes(digest[:8], "big", signed=True)

    def sql(self, template: str) -> str:
        return template.format(**self.table_names).replace("?", "%s")

    def in_clause(self, column: str, values: Collection[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def write_many(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        cursor.execute(
            self.sql(POSTGRES_BULK_WRITES[statement]), [list(column) for column in zip(*values, strict=True)]
        )

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


def register_view_class(factory: InfrastructureFactory[Any]) -> type[SQLiteRegisterView | PostgresRegisterView]:
    if isinstance(factory, SQLiteFactory):
        return SQLiteRegisterView
    if isinstance(factory, PostgresFactory):
        return PostgresRegisterView
    raise TypeError(f"the register needs SQLite or PostgreSQL, not {type(factory).__module__}")


class Register:
    """The central register: search and read the collaborations, catch up with the log."""

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
        # Named after the projection, as ProjectionRunner does: REGISTER_SQLITE_DBNAME gives the
        # view its own SQLite file, and on PostgreSQL the name prefixes the tracking table.
        self.factory = InfrastructureFactory.construct(env=Environment(PROJECTION_NAME, {**os.environ, **env}))
        try:
            self.view: RegisterView = self.factory.tracking_recorder(register_view_class(self.factory))
        except BaseException:
            self.factory.close()
            raise
        self._closed = False
        # The rows of the last batch this instance committed, and the position they are at.
        self._carried: tuple[int, dict[UUID, RegisterRow]] | None = None
        self._carried_lock = threading.Lock()

    # ------------------------------------------------------------------------ reads
    def position(self) -> int:
        """The position of the last notification the register has processed (0 for none)."""
        return self.view.max_tracking_id(self.application_name) or 0

    def search(
        self,
        *,
        party: str | None = None,
        status: str | None = None,
        function: str | None = None,
        q: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        """One page of the register, ordered by case-folded name, then id.

        - ``party``: a force code among the parties;
        - ``status``: the exact status, e.g. ``active``;
        - ``function``: a function's exact id, or its kind (``operational``/``enabling``), or a
          case-insensitive part of its name;
        - ``q``: every whitespace-separated term must occur, case-insensitively, in the name,
          the purpose or the governance body.

        Empty or blank filters are ignored. ``page`` counts from 1; ``page_size`` is 1 to
        MAX_PAGE_SIZE, else ValueError.
        """
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError("page must be a whole number of at least 1")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
        items, total = self.view.search(
            party=party, status=status, function=function, q=q, page=page, page_size=page_size
        )
        return {"items": items, "total": total, "page": page, "page_size": page_size}

    def entry(self, collaboration_id: str) -> dict[str, Any] | None:
        return self.view.entry(str(collaboration_id))

    # ------------------------------------------------------------------- processing
    def catch_up(self) -> int:
        """Process every notification recorded before this call, in batches of one transaction
        each. Returns the new position."""
        return self._catch_up()

    def wait_for(self, position: int | None, timeout: float = 5.0) -> bool:
        """Read-your-writes: True once the register has processed ``position`` (catching up
        itself rather than waiting for someone else), False if ``timeout`` seconds pass first.
        None means there is nothing to wait for. Errors of the projection propagate."""
        if position is None:
            return True
        deadline = monotonic() + timeout
        while True:
            if self._catch_up(until=position, deadline=deadline) >= position:
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
        self._carry(None)
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
    ) -> None:
        """Keep the register up to date until ``stop`` is set. Where the application recorder
        offers subscriptions (PostgreSQL LISTEN/NOTIFY), a new notification wakes the follower;
        elsewhere (SQLite) it polls every ``poll_interval`` seconds. Either way it processes
        through the batched, locked ``catch_up``. Errors are logged and retried with backoff.
        ``on_advance(position)`` is called whenever the position moves."""
        retry_interval = poll_interval
        while not stop.is_set():
            try:
                subscription = self.application.recorder.subscribe(gt=self.position())
            except NotImplementedError:
                subscription = None
            except Exception:
                logger.exception("register: cannot subscribe to %s; retrying", self.application_name)
                stop.wait(retry_interval)
                retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)
                continue
            try:
                if subscription is None:
                    self._follow_by_polling(stop, poll_interval, on_advance)
                else:
                    self._follow_subscription(subscription, stop, poll_interval, on_advance)
                retry_interval = poll_interval
            except Exception:
                logger.exception("register: following %s failed; retrying", self.application_name)
                stop.wait(retry_interval)
                retry_interval = min(retry_interval * 2, MAX_RETRY_INTERVAL)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.factory.close()

    def __enter__(self) -> Register:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------------ inner
    def _catch_up(self, *, until: int | None = None, deadline: float | None = None) -> int:
        position = self.position()
        target = until if until is not None else self.application.recorder.max_notification_id() or 0
        while position < target:
            position, count = self._process_batch(until=until)
            if count == 0 or (deadline is not None and monotonic() >= deadline):
                break
        return position

    def _process_batch(self, *, until: int | None = None) -> tuple[int, int]:
        """One transaction: take the lock, read the position, apply the notifications after it,
        write the changed rows and the new position. Returns (position, notifications processed)."""
        with self.view.locked_transaction() as cursor:
            position = self.view.position_in(cursor, self.application_name)
            if until is not None and position >= until:
                return position, 0
            notifications = self.application.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return position, 0
            rows = self._apply(cursor, notifications, self._carried_rows(position))
            position = notifications[-1].id
            self.view.record_position(cursor, self.application_name, position)
        for row in rows.values():
            row.mark_stored()
        self._carry((position, rows))
        return position, len(notifications)

    def _apply(
        self, cursor: Any, notifications: Sequence[Notification], carried: Mapping[UUID, RegisterRow]
    ) -> dict[UUID, RegisterRow]:
        """Loads the rows the notifications concern (except those carried over from the previous
        batch), applies the events in order, writes each changed row once. Returns the rows."""
        to_domain_event = self.application.mapper.to_domain_event
        events = [to_domain_event(n) for n in notifications if concerns_register(n.topic)]
        collaboration_ids = {event.originator_id for event in events}
        rows = {collaboration_id: carried[collaboration_id] for collaboration_id in collaboration_ids & carried.keys()}
        if missing := {str(collaboration_id): collaboration_id for collaboration_id in collaboration_ids - rows.keys()}:
            rows.update((missing[row_id], row) for row_id, row in self.view.load_rows(cursor, missing).items())
        changes = RegisterChanges(rows)
        for event in events:
            changes.apply(event)
        self.view.write_rows(cursor, changes.changed.values())
        return changes.rows

    def _carried_rows(self, position: int) -> dict[UUID, RegisterRow]:
        """The rows this instance committed in its previous batch, if the register is still at
        the position they were committed at. Every change to the rows advances the tracked
        position (a rebuild resets it), so an unchanged position proves nobody else wrote in
        between. Taking them clears them: a batch that fails leaves nothing half-applied behind."""
        with self._carried_lock:
            carried, self._carried = self._carried, None
        return carried[1] if carried is not None and carried[0] == position else {}

    def _carry(self, carried: tuple[int, dict[UUID, RegisterRow]] | None) -> None:
        with self._carried_lock:
            self._carried = carried

    def _advance(self, position: int, on_advance: Callable[[int], None] | None) -> int:
        new_position = self.catch_up()
        if new_position != position:
            logger.debug("register: at position %s", new_position)
            if on_advance is not None:
                on_advance(new_position)
        return new_position

    def _follow_by_polling(
        self, stop: threading.Event, poll_interval: float, on_advance: Callable[[int], None] | None
    ) -> None:
        position = self.position()
        while not stop.is_set():
            position = self._advance(position, on_advance)
            stop.wait(poll_interval)

    def _follow_subscription(
        self,
        subscription: Any,
        stop: threading.Event,
        poll_interval: float,
        on_advance: Callable[[int], None] | None,
    ) -> None:
        finished = threading.Event()

        def stop_subscription_when_stopped() -> None:
            while not finished.is_set() and not stop.wait(poll_interval):
                pass
            subscription.stop()

        watcher = threading.Thread(target=stop_subscription_when_stopped, name="register-follow-stop", daemon=True)
        with subscription:
            watcher.start()
            try:
                position = self._advance(self.position(), on_advance)
                for notification in subscription:  # each arrival wakes us; catch_up does the work
                    if stop.is_set():
                        break
                    if notification.id > position:
                        position = self._advance(position, on_advance)
            finally:
                finished.set()
        watcher.join()
