"""The central register of collaborations: which agreements exist, between whom, doing what.

A tracked projection (``projections/tracked.py``: one locked transaction per batch, rows and
tracking position committed together, so exactly once, resumable and rebuildable) of the
``CollaborationRecords`` notification log. This module holds only what answers the register's
question: its rows, what each event does to them, its tables and its searches.

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
  that changes what the register shows gets a handler that changes the row and sets
  ``details_changed``: ``WithdrawalNoticeServed`` sets ``status`` to ``notice_served`` and
  ``NoticeWithdrawn`` and ``PartyWithdrew`` to the status they carry (``active`` again once no
  notice is live), and ``AgreementTerminated`` to ``terminated``;
- events of other aggregates (exit cases, benefits) are not even decoded: they change nothing,
  but are tracked like every other notification.

For speed, a batch is coalesced: the rows it concerns are loaded once (or kept from the previous
batch, when the tracked position proves nobody else wrote since), every event is applied in
memory, and each changed row is written once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.collaboration import ACTIVE, NOTICE_SERVED, TERMINATED, Collaboration
from projections.event_documents import utc_text
from projections.tracked import (
    DEFAULT_BATCH_SIZE,
    PostgresTrackedView,
    SQLiteTrackedView,
    TrackedProjection,
    TrackedView,
)

if TYPE_CHECKING:
    from service.application import CollaborationRecords

PROJECTION_NAME = "register"
MAX_PAGE_SIZE = 500

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

    def notice_served(self, event: Collaboration.WithdrawalNoticeServed) -> None:
        self.set_status(event, NOTICE_SERVED)

    def notice_withdrawn(self, event: Collaboration.NoticeWithdrawn) -> None:
        self.set_status(event, event.status)

    def party_withdrew(self, event: Collaboration.PartyWithdrew) -> None:
        self.set_status(event, event.status)

    def agreement_terminated(self, event: Collaboration.AgreementTerminated) -> None:
        self.set_status(event, TERMINATED)

    def set_status(self, event: Collaboration.Event, status: str) -> None:
        row = self.touch(event)
        if row is not None and row.status != status:
            row.status = status
            row.details_changed = True

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
    Collaboration.WithdrawalNoticeServed: RegisterChanges.notice_served,
    Collaboration.NoticeWithdrawn: RegisterChanges.notice_withdrawn,
    Collaboration.PartyWithdrew: RegisterChanges.party_withdrew,
    Collaboration.AgreementTerminated: RegisterChanges.agreement_terminated,
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


class RegisterView(TrackedView):
    """The register's tables and the SQL both backends share."""

    projection_name = PROJECTION_NAME
    tables = ("collaborations", "parties", "functions")
    create_statements = CREATE_STATEMENTS
    other_identifiers = ("collaborations_order",)

    # ------------------------------------------------------------------------ writes
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


class SQLiteRegisterView(SQLiteTrackedView, RegisterView):
    """The register in its own SQLite file."""


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


class PostgresRegisterView(PostgresTrackedView, RegisterView):
    """The register in PostgreSQL, beside the event store, in tables named after the projection."""

    def write_many(self, cursor: Any, statement: str, values: list[tuple[Any, ...]]) -> None:
        cursor.execute(
            self.sql(POSTGRES_BULK_WRITES[statement]), [list(column) for column in zip(*values, strict=True)]
        )


class Register(TrackedProjection[RegisterView]):
    """The central register: search and read the collaborations, catch up with the log."""

    name = PROJECTION_NAME
    label = "the register"
    sqlite_view = SQLiteRegisterView
    postgres_view = PostgresRegisterView

    def __init__(
        self,
        env: Mapping[str, str],
        application: CollaborationRecords,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        super().__init__(env, application, batch_size=batch_size)
        # The rows of the last batch this instance committed, and the position they are at.
        self._carried: tuple[int, dict[UUID, RegisterRow]] | None = None
        self._carried_lock = threading.Lock()

    # ------------------------------------------------------------------------ reads
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
    def concerns(self, topic: str) -> bool:
        return concerns_register(topic)

    def apply_batch(self, cursor: Any, position: int, notifications: Sequence[Notification]) -> dict[UUID, RegisterRow]:
        """Loads the rows the notifications concern (except those carried over from the previous
        batch), applies the events in order, writes each changed row once. Returns the rows."""
        carried = self._carried_rows(position)
        events = [event for _, event in self.decoded(notifications)]
        collaboration_ids = {event.originator_id for event in events}
        rows = {collaboration_id: carried[collaboration_id] for collaboration_id in collaboration_ids & carried.keys()}
        if missing := {str(collaboration_id): collaboration_id for collaboration_id in collaboration_ids - rows.keys()}:
            rows.update((missing[row_id], row) for row_id, row in self.view.load_rows(cursor, missing).items())
        changes = RegisterChanges(rows)
        for event in events:
            changes.apply(event)
        self.view.write_rows(cursor, changes.changed.values())
        return changes.rows

    def batch_committed(self, position: int, outcome: dict[UUID, RegisterRow]) -> None:
        for row in outcome.values():
            row.mark_stored()
        self._carry((position, outcome))

    def forget(self) -> None:
        self._carry(None)

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
