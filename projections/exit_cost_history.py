"""The exit-cost history: how the exit figures changed, event by event (what auditors replay).

A tracked projection (``projections/tracked.py``: one locked transaction per batch, rows and
tracking position committed together, so exactly once, resumable and rebuildable) of the
``CollaborationRecords`` notification log. It decodes only ``Collaboration`` and ``ExitCase``
events and keeps two kinds of chronological series, each numbered ``seq`` from 1:

**A force's standing exit figures** (subject ``force``, one series per party of each
collaboration; a party that joins starts its own). The figures after an event are
``quote_for_force(collaboration at that version, force=F, on=the event's effective_on,
claims=the current lines of F's withdrawal exit case on H2/H3/H6/H8)``: with a live notice,
N and E come from the notice (as moved by directions); without one, N is the event's effective
date and E is N plus the notice period. Candidates are every ``Collaboration`` event except
``Established``, ``ReviewHeld`` and ``VariationAgreed`` (which never change a figure), and the
``ClaimLodged``, ``Assessed``, ``SettlementAgreed`` and ``PaymentMade`` of F's withdrawal case
(``exit_case_id(collaboration, "withdrawal", F)``). A candidate is a row for F when F's figures
(``notice_on``, ``exit_on``, the amount of each head, the total) or its case's totals differ
from F's previous row; the first computable figure is always a row. Where no figure can be
computed (no exit terms in effect on N, a function without an apportionment: the calculator's
``DomainError``), the figures are null and ``note`` says why.

**An exit case's figures** (subject ``case``, one series per case): ``Opened`` is the first
row (all zeros) and every later event of the case that changes its figures (claims,
assessments, settlements, payments; a dispute, closing or reopening only if a figure changed)
is a row, the figures being ``{"by_head": {head: {"claimed", "assessed"}}, "claimed",
"assessed", "agreed", "written_off", "paid", "outstanding"}``.

**A row** carries ``seq``, the event's log ``position``, ``event_id`` ("<stream id>:<version>"),
``stream_id``, ``version``, ``type`` (``Collaboration.ApportionmentAgreed``, as in the history),
``recorded_at`` (RFC 3339 UTC), ``effective_on``, ``actor``, ``reason``, the
``collaboration_id``, ``force`` and ``exit_case_id`` it concerns, the versions the figures were
computed from (``collaboration_version``, ``case_version``: any row can be re-derived by loading
those versions), ``before`` (the previous row's ``after``, null for the first) and ``after``,
``note``, and the case's totals after the event (``claimed``, ``assessed``, ``agreed``,
``written_off``, ``paid``, ``outstanding``; null with no case, or none yet agreed). Money is
exact decimal text everywhere.

**Tables** (names start with the projection's name; on SQLite the view has a database file of
its own): ``exit_cost_history_rows`` keyed by (``subject_kind``, ``subject_id``, ``seq``), where
a force's ``subject_id`` is ``<collaboration id>/<force>`` and a case's is its id;
``exit_cost_history_subjects``, each series' last ``seq`` and figures (what the next batch
compares with); ``exit_cost_history_streams``, the last version of each collaboration and exit
case processed (so a case event is computed against the collaboration as the log stood, and
a collaboration event against the case as it stood, across restarts).

**Aggregates.** Computing needs each aggregate at the event's version. The projection keeps the
latest aggregate of recently seen streams in memory and advances it with ``event.mutate`` when
it is exactly one version behind; otherwise it loads the version from the repository (cheap
with snapshots). A batch takes the aggregates it uses out of that cache and gives them back only
once it has committed, so a failed batch leaves nothing half-applied behind, and every use
checks the exact version, so an aggregate is only ever used at the version the log says.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.collaboration import Collaboration
from domain.errors import DomainError
from domain.exit_case import ExitCase, exit_case_id
from domain.exit_costs import CLAIMED_HEADS, quote_for_force
from projections.event_documents import event_type, utc_text
from projections.tracked import (
    DEFAULT_BATCH_SIZE,
    AggregateCache,
    PostgresTrackedView,
    SQLiteTrackedView,
    TrackedProjection,
    TrackedView,
)

if TYPE_CHECKING:
    from service.application import CollaborationRecords

PROJECTION_NAME = "exit_cost_history"
FORCE = "force"
CASE = "case"
CACHED_EVENTS = 100_000  # the aggregates of recently seen streams, up to this many events in all

# Collaboration events that never change a figure: not even computed.
NOT_FORCE_CANDIDATES: tuple[type, ...] = (
    Collaboration.Established,
    Collaboration.ReviewHeld,
    Collaboration.VariationAgreed,
)
# Exit case events that may change the standing figures of the withdrawing force.
CASE_EVENTS_FOR_FORCE: tuple[type, ...] = (
    ExitCase.ClaimLodged,
    ExitCase.Assessed,
    ExitCase.SettlementAgreed,
    ExitCase.PaymentMade,
)
COLLABORATION_EVENTS: tuple[type, ...] = (Collaboration.Established, Collaboration.Event)
CASE_EVENTS: tuple[type, ...] = (ExitCase.Opened, ExitCase.Event)
TOTALS = ("claimed", "assessed", "agreed", "written_off", "paid", "outstanding")
NO_TOTALS: dict[str, str | None] = dict.fromkeys(TOTALS)


@cache
def concerns_exit_cost_history(topic: str) -> bool:
    """Whether events with this topic are worth decoding: those of collaborations and exit
    cases. Raises the library's TopicError for a topic no loaded code defines."""
    event_class = resolve_topic(topic)
    return isinstance(event_class, type) and issubclass(event_class, COLLABORATION_EVENTS + CASE_EVENTS)


def force_subject(collaboration_id: str | UUID, force: str) -> str:
    return f"{collaboration_id}/{force}"


# ------------------------------------------------------------------------------ the figures
def standing_figures(
    collaboration: Collaboration, force: str, on: date, case: ExitCase | None
) -> tuple[dict[str, Any] | None, str | None]:
    """A force's standing exit figures (JSON-ready) on ``on``, and why there are none if none
    can be computed: ``quote_for_force`` with the case's current claimed lines."""
    claims = case.claimed_lines(CLAIMED_HEADS) if case is not None else ()
    try:
        quote = quote_for_force(collaboration, force=force, on=on, claims=claims)
    except DomainError as error:
        return None, error.detail
    return quote_figures(quote), None


def quote_figures(quote: Any) -> dict[str, Any]:
    """The figures of an ``ExitQuote`` as the history shows them."""
    return {
        "notice_on": quote.notice_on.isoformat(),
        "exit_on": quote.exit_on.isoformat(),
        "heads": {head: str(amount) for head, amount in sorted(quote.by_head().items())},
        "total": str(quote.total),
    }


def case_figures(case: ExitCase) -> dict[str, Any]:
    """An exit case's figures (JSON-ready): per head and in total."""
    figures = case.figures().as_dict()
    return {"by_head": figures["by_head"], **{name: figures[name] for name in TOTALS}}


def case_totals(case: ExitCase | None) -> dict[str, str | None]:
    if case is None:
        return dict(NO_TOTALS)
    figures = case.figures().as_dict()
    return {name: figures[name] for name in TOTALS}


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def json_or_none(value: Any) -> str | None:
    return None if value is None else json_text(value)


# ------------------------------------------------------------------------ applying a batch
@dataclass
class Subject:
    """A series' last row: what the next candidate is compared with."""

    kind: str
    id: str
    collaboration_id: str
    seq: int = 0
    after: dict[str, Any] | None = None
    totals: dict[str, str | None] = field(default_factory=lambda: dict(NO_TOTALS))


@dataclass(frozen=True)
class HistoryRow:
    subject_kind: str
    subject_id: str
    seq: int
    position: int
    stream_id: str
    version: int
    type: str
    recorded_at: str
    effective_on: str
    actor: str | None
    reason: str | None
    collaboration_id: str
    force: str | None
    exit_case_id: str | None
    collaboration_version: int | None
    case_version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None
    totals: Mapping[str, str | None]

    def values(self) -> tuple[Any, ...]:
        return (
            self.subject_kind,
            self.subject_id,
            self.seq,
            self.position,
            self.stream_id,
            self.version,
            self.type,
            self.recorded_at,
            self.effective_on,
            self.actor,
            self.reason,
            self.collaboration_id,
            self.force,
            self.exit_case_id,
            self.collaboration_version,
            self.case_version,
            json_or_none(self.before),
            json_or_none(self.after),
            self.note,
            *(self.totals[name] for name in TOTALS),
        )


class HistoryChanges:
    """The rows of one batch, and the series and stream versions they changed."""

    def __init__(
        self,
        application: CollaborationRecords,
        cache: AggregateCache,
        streams: Mapping[str, tuple[str, int]],
        subjects: Mapping[tuple[str, str], Subject],
    ):
        self.application = application
        self.cache = cache
        self.streams = dict(streams)  # stream id -> (collaboration id, last version processed)
        self.subjects = dict(subjects)
        self.aggregates: dict[UUID, Any] = {}  # this batch's, at the versions in ``streams``
        self.changed_streams: set[str] = set()
        self.changed_subjects: dict[tuple[str, str], Subject] = {}
        self.rows: list[HistoryRow] = []

    # ---------------------------------------------------------------- aggregates
    def advanced(self, event: Any) -> Any:
        """The event's aggregate at the event's version."""
        stream_id = event.originator_id
        version = event.originator_version
        aggregate = self._held(stream_id)
        if isinstance(event, CanInitAggregate):
            aggregate = event.mutate(None)
        elif aggregate is not None and aggregate.version == version - 1:
            aggregate = event.mutate(aggregate)
        else:
            aggregate = self.application.repository.get(stream_id, version=version)
        self.aggregates[stream_id] = aggregate
        return aggregate

    def at_version(self, stream_id: UUID, version: int) -> Any:
        """A stream's aggregate at ``version`` (the last the log gave so far)."""
        aggregate = self._held(stream_id)
        if aggregate is None or aggregate.version != version:
            aggregate = self.application.repository.get(stream_id, version=version)
        self.aggregates[stream_id] = aggregate
        return aggregate

    def _held(self, stream_id: UUID) -> Any | None:
        if stream_id in self.aggregates:
            return self.aggregates[stream_id]
        return self.cache.take(stream_id)

    def processed(self, stream_id: str, collaboration_id: str, version: int) -> None:
        self.streams[stream_id] = (collaboration_id, version)
        self.changed_streams.add(stream_id)

    def version_of(self, stream_id: str) -> int | None:
        known = self.streams.get(stream_id)
        return known[1] if known is not None else None

    # -------------------------------------------------------------------- events
    def apply(self, position: int, event: Any) -> None:
        if isinstance(event, COLLABORATION_EVENTS):
            self._collaboration_event(position, event)
        elif isinstance(event, CASE_EVENTS):
            self._case_event(position, event)

    def _collaboration_event(self, position: int, event: Any) -> None:
        collaboration = self.advanced(event)
        collaboration_id = str(collaboration.id)
        self.processed(collaboration_id, collaboration_id, collaboration.version)
        if isinstance(event, NOT_FORCE_CANDIDATES):
            return
        for force in collaboration.parties:
            self._force_candidate(position, event, collaboration, force)

    def _case_event(self, position: int, event: Any) -> None:
        case = self.advanced(event)
        case_id = str(case.id)
        collaboration_id = str(case.collaboration_id)
        self.processed(case_id, collaboration_id, case.version)
        collaboration_version = self.version_of(collaboration_id)
        subject = self._subject(CASE, case_id, collaboration_id)
        after = case_figures(case)
        if subject.seq == 0 or after != subject.after:
            self._row(
                subject,
                position,
                event,
                force=case.force,
                exit_case_id=case_id,
                collaboration_version=collaboration_version,
                case_version=case.version,
                after=after,
                note=None,
                totals={name: after[name] for name in TOTALS},
            )
        if (
            case.trigger == "withdrawal"
            and isinstance(event, CASE_EVENTS_FOR_FORCE)
            and case.force is not None
            and collaboration_version is not None
            and case.id == exit_case_id(collaboration_id, "withdrawal", case.force)
        ):
            collaboration = self.at_version(UUID(collaboration_id), collaboration_version)
            if case.force in collaboration.parties:
                self._force_candidate(position, event, collaboration, case.force)

    def _force_candidate(self, position: int, event: Any, collaboration: Collaboration, force: str) -> None:
        collaboration_id = str(collaboration.id)
        case_uuid = exit_case_id(collaboration_id, "withdrawal", force)
        case_version = self.version_of(str(case_uuid))
        case = self.at_version(case_uuid, case_version) if case_version is not None else None
        after, note = standing_figures(collaboration, force, event.effective_on, case)
        totals = case_totals(case)
        subject = self._subject(FORCE, force_subject(collaboration_id, force), collaboration_id)
        if after == subject.after and totals == subject.totals:
            return  # nothing changed (and before the first computable figure: nothing to show)
        self._row(
            subject,
            position,
            event,
            force=force,
            exit_case_id=str(case_uuid) if case is not None else None,
            collaboration_version=collaboration.version,
            case_version=case_version,
            after=after,
            note=note,
            totals=totals,
        )

    def _subject(self, kind: str, subject_id: str, collaboration_id: str) -> Subject:
        key = (kind, subject_id)
        subject = self.subjects.get(key)
        if subject is None:
            subject = self.subjects[key] = Subject(kind, subject_id, collaboration_id)
        return subject

    def _row(
        self,
        subject: Subject,
        position: int,
        event: Any,
        *,
        force: str | None,
        exit_case_id: str | None,
        collaboration_version: int | None,
        case_version: int | None,
        after: dict[str, Any] | None,
        note: str | None,
        totals: Mapping[str, str | None],
    ) -> None:
        effective_on = getattr(event, "effective_on", None)
        self.rows.append(
            HistoryRow(
                subject_kind=subject.kind,
                subject_id=subject.id,
                seq=subject.seq + 1,
                position=position,
                stream_id=str(event.originator_id),
                version=event.originator_version,
                type=event_type(event),
                recorded_at=utc_text(event.timestamp),
                effective_on=effective_on.isoformat()
                if isinstance(effective_on, date)
                else utc_text(event.timestamp)[:10],
                actor=getattr(event, "actor", None),
                reason=getattr(event, "reason", None),
                collaboration_id=subject.collaboration_id,
                force=force,
                exit_case_id=exit_case_id,
                collaboration_version=collaboration_version,
                case_version=case_version,
                before=subject.after if subject.seq else None,
                after=after,
                note=note,
                totals=dict(totals),
            )
        )
        subject.seq += 1
        subject.after = after
        subject.totals = dict(totals)
        self.changed_subjects[(subject.kind, subject.id)] = subject


# --------------------------------------------------------------------------------- the views
CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS {rows} ("
    " subject_kind {sorted_text} NOT NULL,"
    " subject_id {sorted_text} NOT NULL,"
    " seq BIGINT NOT NULL,"
    " position BIGINT NOT NULL,"
    " stream_id TEXT NOT NULL,"
    " version BIGINT NOT NULL,"
    " type TEXT NOT NULL,"
    " recorded_at TEXT NOT NULL,"
    " effective_on TEXT NOT NULL,"
    " actor TEXT,"
    " reason TEXT,"
    " collaboration_id TEXT NOT NULL,"
    " force_code TEXT,"
    " exit_case_id TEXT,"
    " collaboration_version BIGINT,"
    " case_version BIGINT,"
    " figures_before TEXT,"
    " figures_after TEXT,"
    " note TEXT,"
    " claimed TEXT,"
    " assessed TEXT,"
    " agreed TEXT,"
    " written_off TEXT,"
    " paid TEXT,"
    " outstanding TEXT,"
    " PRIMARY KEY (subject_kind, subject_id, seq)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {subjects} ("
    " subject_kind {sorted_text} NOT NULL,"
    " subject_id {sorted_text} NOT NULL,"
    " collaboration_id {sorted_text} NOT NULL,"
    " seq BIGINT NOT NULL,"
    " figures_after TEXT,"
    " totals TEXT NOT NULL,"
    " PRIMARY KEY (subject_kind, subject_id)){without_rowid}",
    # A page of a series read from where the previous one ended, not from the series' start.
    "CREATE INDEX IF NOT EXISTS {prefix}_rows_by_position ON {rows} (subject_kind, subject_id, position)",
    "CREATE INDEX IF NOT EXISTS {prefix}_subjects_collaboration ON {subjects} (collaboration_id)",
    "CREATE TABLE IF NOT EXISTS {streams} ("
    " stream_id {sorted_text} NOT NULL PRIMARY KEY,"
    " collaboration_id {sorted_text} NOT NULL,"
    " version BIGINT NOT NULL){without_rowid}",
    "CREATE INDEX IF NOT EXISTS {prefix}_streams_collaboration ON {streams} (collaboration_id)",
)
ROW_COLUMNS = (
    "subject_kind, subject_id, seq, position, stream_id, version, type, recorded_at, effective_on, actor, reason,"
    " collaboration_id, force_code, exit_case_id, collaboration_version, case_version, figures_before,"
    " figures_after, note, claimed, assessed, agreed, written_off, paid, outstanding"
)
INSERT_ROW = f"INSERT INTO {{rows}} ({ROW_COLUMNS}) VALUES ({', '.join(['?'] * 25)})"
UPSERT_SUBJECT = (
    "INSERT INTO {subjects} (subject_kind, subject_id, collaboration_id, seq, figures_after, totals)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (subject_kind, subject_id) DO UPDATE SET"
    " seq = excluded.seq, figures_after = excluded.figures_after, totals = excluded.totals"
)
UPSERT_STREAM = (
    "INSERT INTO {streams} (stream_id, collaboration_id, version) VALUES (?, ?, ?)"
    " ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version"
)


class ExitCostHistoryView(TrackedView):
    """The history's tables and the SQL both backends share."""

    projection_name = PROJECTION_NAME
    tables = ("rows", "subjects", "streams")
    create_statements = CREATE_STATEMENTS
    other_identifiers = ("subjects_collaboration", "streams_collaboration")

    # ------------------------------------------------------------------------ writes
    def load_streams(
        self, cursor: Any, *, stream_ids: Collection[str] = (), collaboration_ids: Collection[str] = ()
    ) -> dict[str, tuple[str, int]]:
        """Stream id -> (collaboration id, last version processed), of the streams named and of
        every stream of the collaborations named."""
        found: dict[str, tuple[str, int]] = {}
        for column, values in (("stream_id", stream_ids), ("collaboration_id", collaboration_ids)):
            if not values:
                continue
            condition, params = self.in_clause(column, values)
            cursor.execute(self.sql(f"SELECT * FROM {{streams}} WHERE {condition}"), params)
            for record in cursor.fetchall():
                found[record["stream_id"]] = (record["collaboration_id"], record["version"])
        return found

    def load_subjects(self, cursor: Any, collaboration_ids: Collection[str]) -> dict[tuple[str, str], Subject]:
        if not collaboration_ids:
            return {}
        condition, params = self.in_clause("collaboration_id", collaboration_ids)
        cursor.execute(self.sql(f"SELECT * FROM {{subjects}} WHERE {condition}"), params)
        return {
            (record["subject_kind"], record["subject_id"]): Subject(
                kind=record["subject_kind"],
                id=record["subject_id"],
                collaboration_id=record["collaboration_id"],
                seq=record["seq"],
                after=json.loads(record["figures_after"]) if record["figures_after"] is not None else None,
                totals=json.loads(record["totals"]),
            )
            for record in cursor.fetchall()
        }

    def write(self, cursor: Any, changes: HistoryChanges) -> None:
        if changes.rows:
            self.write_many(cursor, INSERT_ROW, [row.values() for row in changes.rows])
        if changes.changed_subjects:
            self.write_many(
                cursor,
                UPSERT_SUBJECT,
                [
                    (s.kind, s.id, s.collaboration_id, s.seq, json_or_none(s.after), json_text(s.totals))
                    for s in changes.changed_subjects.values()
                ],
            )
        if changes.changed_streams:
            self.write_many(
                cursor,
                UPSERT_STREAM,
                [(stream_id, *changes.streams[stream_id]) for stream_id in sorted(changes.changed_streams)],
            )

    # ------------------------------------------------------------------------- reads
    def series(
        self, subject_kind: str, subject_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """A series' rows of events after log position ``after``, in order (a series' rows are
        in log order), at most ``limit`` of them."""
        statement = (
            "SELECT * FROM {rows} WHERE subject_kind = ? AND subject_id = ? AND position > ? ORDER BY position"
            + (f" LIMIT {int(limit)}" if limit is not None else "")
        )
        with self.read_transaction() as cursor:
            cursor.execute(self.sql(statement), (subject_kind, subject_id, after))
            return [history_item(record) for record in cursor.fetchall()]


def history_item(record: Any) -> dict[str, Any]:
    """A row as the JSON-ready item the API answers with."""
    return {
        "seq": record["seq"],
        "position": record["position"],
        "event_id": f"{record['stream_id']}:{record['version']}",
        "stream_id": record["stream_id"],
        "version": record["version"],
        "type": record["type"],
        "recorded_at": record["recorded_at"],
        "effective_on": record["effective_on"],
        "actor": record["actor"],
        "reason": record["reason"],
        "collaboration_id": record["collaboration_id"],
        "force": record["force_code"],
        "exit_case_id": record["exit_case_id"],
        "collaboration_version": record["collaboration_version"],
        "case_version": record["case_version"],
        "before": json.loads(record["figures_before"]) if record["figures_before"] is not None else None,
        "after": json.loads(record["figures_after"]) if record["figures_after"] is not None else None,
        "note": record["note"],
        **{name: record[name] for name in TOTALS},
    }


class SQLiteExitCostHistoryView(SQLiteTrackedView, ExitCostHistoryView):
    """The exit-cost history in its own SQLite file."""


class PostgresExitCostHistoryView(PostgresTrackedView, ExitCostHistoryView):
    """The exit-cost history in PostgreSQL, beside the event store, in ``exit_cost_history_*`` tables."""


# --------------------------------------------------------------------------- the history
class ExitCostHistory(TrackedProjection[ExitCostHistoryView]):
    """The exit-cost history: read a force's or an exit case's series, catch up with the log."""

    name = PROJECTION_NAME
    label = "the exit-cost history"
    sqlite_view = SQLiteExitCostHistoryView
    postgres_view = PostgresExitCostHistoryView

    def __init__(
        self,
        env: Mapping[str, str],
        application: CollaborationRecords,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        super().__init__(env, application, batch_size=batch_size)
        self.aggregates = AggregateCache(CACHED_EVENTS)

    # ------------------------------------------------------------------------ reads
    def force_history(
        self, collaboration_id: str | UUID, force: str, *, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``force``'s standing exit figures in ``collaboration_id``, in order
        (empty for an unknown collaboration or a force that was never a party): those of events
        after log position ``after``, at most ``limit``."""
        return self.view.series(FORCE, force_subject(collaboration_id, force), after=after, limit=limit)

    def case_history(
        self, exit_case_id: str | UUID, *, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The rows of an exit case's figures, in order (empty for an unknown case): those of
        events after log position ``after``, at most ``limit``."""
        return self.view.series(CASE, str(exit_case_id), after=after, limit=limit)

    # ------------------------------------------------------------------- processing
    def concerns(self, topic: str) -> bool:
        return concerns_exit_cost_history(topic)

    def apply_batch(self, cursor: Any, position: int, notifications: Sequence[Notification]) -> list[Any]:
        """Loads what the batch's streams need (their last versions, those of the other streams
        of their collaborations, the series of those collaborations), computes the rows event by
        event and writes them. Returns the aggregates, for the cache once committed."""
        decoded = self.decoded(notifications)
        if not decoded:
            return []
        stream_ids = {str(event.originator_id) for _, event in decoded}
        known = self.view.load_streams(cursor, stream_ids=stream_ids)
        collaboration_ids = {known[stream_id][0] for stream_id in stream_ids if stream_id in known}
        for _, event in decoded:
            if isinstance(event, COLLABORATION_EVENTS):
                collaboration_ids.add(str(event.originator_id))
            elif isinstance(event, ExitCase.Opened):
                collaboration_ids.add(str(event.collaboration_id))
        streams = {**known, **self.view.load_streams(cursor, collaboration_ids=collaboration_ids)}
        changes = HistoryChanges(
            self.application, self.aggregates, streams, self.view.load_subjects(cursor, collaboration_ids)
        )
        for event_position, event in decoded:
            changes.apply(event_position, event)
        self.view.write(cursor, changes)
        return list(changes.aggregates.values())

    def batch_committed(self, position: int, outcome: list[Any]) -> None:
        self.aggregates.give(outcome)

    def forget(self) -> None:
        self.aggregates.clear()
