"""The benefits realisation: how each benefit is doing, and what they add up to (the 7F
framework, the Green Book stages, the three pillars).

A tracked projection (``projections/tracked.py``: one locked transaction per batch, rows and
tracking position committed together, so exactly once, resumable and rebuildable) of the
``CollaborationRecords`` notification log. It decodes only ``Benefit`` events.

**A row** (``benefits_realisation_benefits``), one per benefit, holds the benefit as it now
stands and its realisation figures:

- identity: ``benefit_id``, ``collaboration_id``, ``title``, ``category``, ``sub_category``,
  ``pillar``, ``direction``, ``measure``, ``unit``, ``tolerance``, ``owner``, ``function_id``,
  ``stage``, ``status``, ``baseline_value``/``baseline_on``, ``target_value``/``target_on``,
  ``attribution`` ({force: share}) and ``forces`` (the attribution's forces if any, else the
  collaboration's parties when the benefit was identified);
- figures (``Benefit.realisation``): ``cumulative`` (whether realisation compares the sum of
  the measurements, as for cash savings, rather than the latest one), ``latest_value``,
  ``latest_period_end``, ``cumulative_value``, ``realised_value`` (the value realisation
  compares with the target: the cumulative value of a cumulative benefit, the latest value of
  any other), ``realisation_percent``, ``expected_percent``, ``on_track``,
  ``within_tolerance``, ``trend`` and ``measurements_count``;
- ``version``: the benefit's version the row was computed from (any row can be re-derived by
  loading that version).

Values and percentages are exact decimal text, dates ISO 8601. ``benefits_realisation_forces``
indexes each benefit's forces for the portfolio's force filter.

**The day the figures are read on.** ``realisation(on)`` counts the measurements whose period
ends on or before ``on``. A row reads it on the latest period end among the benefit's current
(not restated) measurements, so every current measurement counts and the expected percentage
is read where the last measurement ends; with no measurement there are no figures whatever the
day (the target date, else the baseline date, else the identification date is passed). Rows
therefore never depend on the wall clock: a rebuild next year gives the same rows.

**Totals** (per pillar, per category and for all; every pillar and category is present, with
zeros where there are no benefits): ``benefits`` (how many), ``on_track`` (how many are on
track), ``measured`` (how many have a measurement), ``cash_savings`` (money text to the penny:
the sum of ``realised_value`` over the 1a Money savings counted cumulatively; "0.00" when there
are none), ``cost_avoided`` (the same over 1c Cost avoidance) and ``other_units`` ({unit:
how many}: every other benefit that has a unit, counted, never summed. A GBP benefit measured as
a level, e.g. a running cost to decrease, is counted here under "GBP" rather than added to the
savings: its latest value is a cost, not a saving). Benefits without a unit yet are in
``benefits`` only.

``dashboard_of(benefits)`` builds the same dashboard document from aggregates (the application
uses it for ``as_of``/``known_at`` dashboards); the projection's ``dashboard`` equals it for the
aggregates at the versions its rows were computed from.

**Aggregates.** As in the exit-cost history: the projection keeps the latest aggregate of
recently seen benefits in memory and advances it with ``event.mutate`` when it is exactly one
version behind; otherwise it loads the event's version from the repository. A batch takes the
aggregates it uses out of that cache and gives them back only once it has committed, so a failed
batch leaves nothing half-applied behind. The figures are computed once per benefit per batch,
from its aggregate after the batch's last event of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import CanInitAggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.benefit import CASH_SAVINGS, CATEGORIES, COST_AVOIDED, PILLARS, Benefit, money_total_of
from projections.event_documents import decimal_text
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

PROJECTION_NAME = "benefits_realisation"
CACHED_EVENTS = 100_000  # the latest aggregates of recently seen benefits, up to this many events in all
PENNY = Decimal("0.01")
BENEFIT_EVENTS: tuple[type, ...] = (Benefit.Identified, Benefit.Event)

# The row's fields, in the order of the JSON document (and of the table's columns).
IDENTITY_FIELDS = (
    "benefit_id",
    "collaboration_id",
    "title",
    "category",
    "sub_category",
    "pillar",
    "direction",
    "measure",
    "unit",
    "tolerance",
    "owner",
    "function_id",
    "stage",
    "status",
    "baseline_value",
    "baseline_on",
    "target_value",
    "target_on",
    "attribution",
    "forces",
    "kind",
    "reference",
    "objective",
    "senior_responsible_owner",
    "cash_releasing",
    "quantitative",
    "measurement_frequency",
    "confidence",
)
FIGURE_FIELDS = (
    "cumulative",
    "latest_value",
    "latest_period_end",
    "cumulative_value",
    "realised_value",
    "realisation_percent",
    "expected_percent",
    "on_track",
    "within_tolerance",
    "trend",
    "measurements_count",
    "planned_value",
    "expected_basis",
    "variance",
    "variance_percent",
    "rag_derived",
    "rag",
    "rag_overridden",
    "measurement_due_by",
)
ROW_FIELDS = (*IDENTITY_FIELDS, *FIGURE_FIELDS, "version")
JSON_FIELDS = ("attribution", "forces")
# booleans, stored as 0/1/NULL
FLAG_FIELDS = ("cumulative", "on_track", "within_tolerance", "cash_releasing", "quantitative", "rag_overridden")
RAG_COUNTS = ("green", "amber", "red", "not_assessed")


@cache
def concerns_benefits_realisation(topic: str) -> bool:
    """Whether events with this topic are worth decoding: those of benefits. Raises the
    library's TopicError for a topic no loaded code defines."""
    event_class = resolve_topic(topic)
    return isinstance(event_class, type) and issubclass(event_class, BENEFIT_EVENTS)


# ------------------------------------------------------------------------------ the figures
def text(value: Decimal | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return decimal_text(value)
    return value.isoformat()


def benefit_row(benefit: Benefit) -> dict[str, Any]:
    """A benefit's row as a JSON-ready dict: its identity and its figures (see the module)."""
    figures = benefit.realisation(on=benefit.realisation_day)
    return {
        "benefit_id": str(benefit.id),
        "collaboration_id": str(benefit.collaboration_id),
        "title": benefit.title,
        "category": benefit.category,
        "sub_category": benefit.sub_category,
        "pillar": benefit.pillar,
        "direction": benefit.direction,
        "measure": benefit.measure,
        "unit": benefit.unit,
        "tolerance": text(benefit.tolerance),
        "owner": benefit.owner,
        "function_id": benefit.function_id,
        "stage": benefit.stage,
        "status": benefit.status,
        "baseline_value": text(benefit.baseline_value),
        "baseline_on": text(benefit.baseline_on),
        "target_value": text(benefit.target_value),
        "target_on": text(benefit.target_on),
        "attribution": {force: decimal_text(share) for force, share in sorted(benefit.attribution.items())},
        "forces": benefit.forces,
        "kind": benefit.kind,
        "reference": benefit.reference,
        "objective": benefit.objective,
        "senior_responsible_owner": benefit.senior_responsible_owner,
        "cash_releasing": benefit.is_cash_releasing,
        "quantitative": benefit.is_quantitative,
        "measurement_frequency": benefit.frequency,
        "confidence": None if benefit.confidence is None else benefit.confidence.confidence,
        "cumulative": benefit.is_cumulative,
        "latest_value": text(figures.latest_value),
        "latest_period_end": text(figures.latest_period_end),
        "cumulative_value": text(figures.cumulative_value),
        "realised_value": text(figures.compared_value),
        "realisation_percent": text(figures.realisation_percent),
        "expected_percent": text(figures.expected_percent),
        "on_track": figures.on_track,
        "within_tolerance": figures.within_tolerance,
        "trend": figures.trend,
        "measurements_count": figures.measurements_count,
        "planned_value": text(figures.planned_value),
        "expected_basis": figures.expected_basis,
        "variance": text(figures.variance),
        "variance_percent": text(figures.variance_percent),
        "rag_derived": figures.rag_derived,
        "rag": figures.rag,
        "rag_overridden": figures.rag_overridden,
        "measurement_due_by": text(benefit.measurement_due_by()),
        "version": benefit.version,
    }


def with_staleness(row: Mapping[str, Any], read_on: date) -> dict[str, Any]:
    """The row read on ``read_on``: ``stale`` is whether its next measurement was overdue by then
    (``Benefit.measurement_due_by``), so a figure "on track" on an old reading says so."""
    due_by = row["measurement_due_by"]
    return {**row, "stale": due_by is not None and read_on > date.fromisoformat(due_by)}


def row_order(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """Rows are listed by pillar, then title, then id (text compared by code point, as the
    views' byte-ordered columns compare them)."""
    return (row["pillar"], row["title"], row["benefit_id"])


MONEY_FIELDS = (CASH_SAVINGS, COST_AVOIDED, "cash_releasing", "non_cash_releasing", "dis_benefits_money", "net_money")


def empty_total() -> dict[str, Any]:
    return {
        "benefits": 0,
        "on_track": 0,
        "measured": 0,
        "dis_benefits": 0,
        "stale": 0,
        "rag": dict.fromkeys(RAG_COUNTS, 0),
        **{name: Decimal(0) for name in MONEY_FIELDS},
        "other_units": {},
    }


def add_to_total(total: dict[str, Any], row: Mapping[str, Any]) -> None:
    """Counts the row in the total. Money is summed by the domain's rule (``money_total_of``):
    a benefit's into cash savings or cost avoided, and into cash-releasing or not by its class;
    a dis-benefit's into ``dis_benefits_money`` only, never offset against the benefits' (the
    net is its own figure)."""
    total["benefits"] += 1
    if row["on_track"]:
        total["on_track"] += 1
    if row["measurements_count"]:
        total["measured"] += 1
    if row.get("stale"):
        total["stale"] += 1
    total["rag"][row["rag"] or "not_assessed"] += 1
    dis_benefit = row["kind"] == "dis_benefit"
    if dis_benefit:
        total["dis_benefits"] += 1
    money_total = money_total_of(row["sub_category"], row["unit"], bool(row["cumulative"]))  # the domain's rule
    if money_total is not None:
        value = Decimal(row["realised_value"]) if row["realised_value"] is not None else Decimal(0)
        if dis_benefit:
            total["dis_benefits_money"] += value
            total["net_money"] -= value
        else:
            total[money_total] += value
            total["cash_releasing" if row["cash_releasing"] else "non_cash_releasing"] += value
            total["net_money"] += value
    elif row["unit"] is not None:
        total["other_units"][row["unit"]] = total["other_units"].get(row["unit"], 0) + 1


def finished_total(total: dict[str, Any]) -> dict[str, Any]:
    return {
        **total,
        **{name: decimal_text(total[name].quantize(PENNY)) for name in MONEY_FIELDS},
        "rag": dict(total["rag"]),
        "other_units": dict(sorted(total["other_units"].items())),
    }


def totals_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The totals per pillar, per category and for all (see the module)."""
    by_pillar = {pillar: empty_total() for pillar in PILLARS}
    by_category = {category: empty_total() for category in CATEGORIES}
    overall = empty_total()
    for row in rows:
        add_to_total(by_pillar.setdefault(row["pillar"], empty_total()), row)
        add_to_total(by_category.setdefault(row["category"], empty_total()), row)
        add_to_total(overall, row)
    return {
        "by_pillar": {pillar: finished_total(total) for pillar, total in by_pillar.items()},
        "by_category": {category: finished_total(total) for category, total in by_category.items()},
        "all": finished_total(overall),
    }


def dashboard_document(
    collaboration_id: str | None, rows: Iterable[Mapping[str, Any]], read_on: date
) -> dict[str, Any]:
    """The dashboard read on ``read_on`` (which says which readings are stale)."""
    ordered = sorted((with_staleness(row, read_on) for row in rows), key=row_order)
    return {
        "collaboration_id": collaboration_id,
        "read_on": read_on.isoformat(),
        "benefits": ordered,
        "totals": totals_of(ordered),
    }


def dashboard_of(
    benefits: Iterable[Benefit], *, read_on: date, collaboration_id: str | UUID | None = None
) -> dict[str, Any]:
    """The realisation dashboard of these benefits (aggregates, e.g. ``as_of`` a day or as known
    at a time), the same document as ``BenefitsRealisation.dashboard``. The collaboration is
    ``collaboration_id`` if given, else the benefits' (which must all be of one collaboration),
    else None (no benefits)."""
    rows = [benefit_row(benefit) for benefit in benefits]
    collaborations = {row["collaboration_id"] for row in rows}
    if collaboration_id is not None:
        collaborations.add(str(collaboration_id))
    if len(collaborations) > 1:
        raise ValueError(f"a dashboard is of one collaboration, not of {sorted(collaborations)}")
    return dashboard_document(collaborations.pop() if collaborations else None, rows, read_on)


# ------------------------------------------------------------------------ applying a batch
class RealisationChanges:
    """The benefits one batch advanced, at the version of the batch's last event of each."""

    def __init__(self, application: CollaborationRecords, cache: AggregateCache):
        self.application = application
        self.cache = cache
        self.aggregates: dict[UUID, Benefit] = {}
        self.positions: dict[UUID, int] = {}

    def apply(self, position: int, event: Any) -> None:
        """Advances the event's benefit to the event's version."""
        stream_id = event.originator_id
        version = event.originator_version
        aggregate = self.aggregates[stream_id] if stream_id in self.aggregates else self.cache.take(stream_id)
        if isinstance(event, CanInitAggregate):
            aggregate = event.mutate(None)
        elif aggregate is not None and aggregate.version == version - 1:
            aggregate = event.mutate(aggregate)
        else:
            aggregate = self.application.repository.get(stream_id, version=version)
        self.aggregates[stream_id] = aggregate
        self.positions[stream_id] = position

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """(log position of its last event, row) of each benefit the batch changed."""
        return [(self.positions[stream_id], benefit_row(benefit)) for stream_id, benefit in self.aggregates.items()]


# --------------------------------------------------------------------------------- the views
CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS {benefits} ("
    " benefit_id {sorted_text} NOT NULL PRIMARY KEY,"
    " collaboration_id {sorted_text} NOT NULL,"
    " title {sorted_text} NOT NULL,"
    " category TEXT NOT NULL,"
    " sub_category TEXT NOT NULL,"
    " pillar {sorted_text} NOT NULL,"
    " direction TEXT,"
    " measure TEXT,"
    " unit TEXT,"
    " tolerance TEXT,"
    " owner TEXT,"
    " function_id TEXT,"
    " stage BIGINT NOT NULL,"
    " status TEXT NOT NULL,"
    " baseline_value TEXT,"
    " baseline_on TEXT,"
    " target_value TEXT,"
    " target_on TEXT,"
    " attribution TEXT NOT NULL,"
    " forces TEXT NOT NULL,"
    " cumulative SMALLINT NOT NULL,"
    " latest_value TEXT,"
    " latest_period_end TEXT,"
    " cumulative_value TEXT,"
    " realised_value TEXT,"
    " realisation_percent TEXT,"
    " expected_percent TEXT,"
    " on_track SMALLINT,"
    " within_tolerance SMALLINT,"
    " trend TEXT,"
    " measurements_count BIGINT NOT NULL,"
    " kind TEXT NOT NULL,"
    " reference TEXT,"
    " objective TEXT,"
    " senior_responsible_owner TEXT,"
    " cash_releasing SMALLINT NOT NULL,"
    " quantitative SMALLINT NOT NULL,"
    " measurement_frequency TEXT NOT NULL,"
    " confidence TEXT,"
    " planned_value TEXT,"
    " expected_basis TEXT,"
    " variance TEXT,"
    " variance_percent TEXT,"
    " rag_derived TEXT,"
    " rag TEXT,"
    " rag_overridden SMALLINT NOT NULL,"
    " measurement_due_by TEXT,"
    " version BIGINT NOT NULL,"
    " position BIGINT NOT NULL){without_rowid}",
    "CREATE INDEX IF NOT EXISTS {prefix}_benefits_collaboration"
    " ON {benefits} (collaboration_id, pillar, title, benefit_id)",
    "CREATE INDEX IF NOT EXISTS {prefix}_benefits_order ON {benefits} (pillar, title, benefit_id)",
    "CREATE TABLE IF NOT EXISTS {forces} ("
    " benefit_id {sorted_text} NOT NULL,"
    " force_code {sorted_text} NOT NULL,"
    " PRIMARY KEY (benefit_id, force_code)){without_rowid}",
    "CREATE INDEX IF NOT EXISTS {prefix}_forces_force ON {forces} (force_code, benefit_id)",
)
COLUMNS = (*ROW_FIELDS, "position")
UPSERT_BENEFIT = (
    f"INSERT INTO {{benefits}} ({', '.join(COLUMNS)}) VALUES ({', '.join(['?'] * len(COLUMNS))})"
    f" ON CONFLICT (benefit_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}"
)
DELETE_FORCES = "DELETE FROM {forces} WHERE benefit_id = ?"
INSERT_FORCE = "INSERT INTO {forces} (benefit_id, force_code) VALUES (?, ?)"
ORDER = " ORDER BY b.pillar, b.title, b.benefit_id"


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def stored_values(position: int, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row as the table's column values."""
    values: list[Any] = []
    for name in ROW_FIELDS:
        value = row[name]
        if name in JSON_FIELDS:
            value = json_text(value)
        elif name in FLAG_FIELDS and value is not None:
            value = int(value)
        values.append(value)
    return (*values, position)


def benefit_item(record: Any) -> dict[str, Any]:
    """A stored row as the JSON-ready dict ``benefit_row`` made."""
    item: dict[str, Any] = {}
    for name in ROW_FIELDS:
        value = record[name]
        if name in JSON_FIELDS:
            value = json.loads(value)
        elif name in FLAG_FIELDS and value is not None:
            value = bool(value)
        item[name] = value
    return item


class BenefitsRealisationView(TrackedView):
    """The realisation's tables and the SQL both backends share."""

    projection_name = PROJECTION_NAME
    tables = ("benefits", "forces")
    create_statements = CREATE_STATEMENTS
    other_identifiers = ("benefits_collaboration", "benefits_order", "forces_force")
    layout = ("benefits", COLUMNS)

    # ------------------------------------------------------------------------ writes
    def write(self, cursor: Any, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        if not rows:
            return
        self.write_many(cursor, UPSERT_BENEFIT, [stored_values(position, row) for position, row in rows])
        self.write_many(cursor, DELETE_FORCES, [(row["benefit_id"],) for _, row in rows])
        forces = [(row["benefit_id"], force) for _, row in rows for force in row["forces"]]
        if forces:
            self.write_many(cursor, INSERT_FORCE, forces)

    # ------------------------------------------------------------------------- reads
    def select(self, conditions: Sequence[str], params: Sequence[Any]) -> list[dict[str, Any]]:
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self.read_transaction() as cursor:
            cursor.execute(self.sql(f"SELECT * FROM {{benefits}} b{where}{ORDER}"), list(params))
            return [benefit_item(record) for record in cursor.fetchall()]


class SQLiteBenefitsRealisationView(SQLiteTrackedView, BenefitsRealisationView):
    """The benefits realisation in its own SQLite file."""


class PostgresBenefitsRealisationView(PostgresTrackedView, BenefitsRealisationView):
    """The benefits realisation in PostgreSQL, beside the event store, in ``benefits_realisation_*`` tables."""


# ----------------------------------------------------------------------- the realisation
class BenefitsRealisation(TrackedProjection[BenefitsRealisationView]):
    """The benefits realisation: a collaboration's dashboard, the portfolio across
    collaborations, catch up with the log."""

    name = PROJECTION_NAME
    label = "the benefits realisation"
    sqlite_view = SQLiteBenefitsRealisationView
    postgres_view = PostgresBenefitsRealisationView

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
    def dashboard(self, collaboration_id: str | UUID, *, read_on: date) -> dict[str, Any]:
        """``{"collaboration_id", "read_on", "benefits": [rows by pillar, then title], "totals":
        {"by_pillar", "by_category", "all"}}`` (see the module), its stale readings judged on
        ``read_on``. An unknown collaboration has no benefits and zero totals."""
        rows = self.view.select(["b.collaboration_id = ?"], [str(collaboration_id)])
        return dashboard_document(str(collaboration_id), rows, read_on)

    def portfolio(
        self,
        *,
        force: str | None = None,
        pillar: str | None = None,
        category: str | None = None,
        stage: int | None = None,
        status: str | None = None,
        collaboration_id: str | UUID | None = None,
    ) -> list[dict[str, Any]]:
        """The rows of every collaboration's benefits matching the filters (each run in SQL; None
        means any), by pillar, then title. ``force``: among the benefit's forces; ``category``: a
        category ("1") or a sub-category ("1a")."""
        conditions: list[str] = []
        params: list[Any] = []
        if force is not None:
            conditions.append(
                "EXISTS (SELECT 1 FROM {forces} f WHERE f.benefit_id = b.benefit_id AND f.force_code = ?)"
            )
            params.append(force)
        if pillar is not None:
            conditions.append("b.pillar = ?")
            params.append(pillar)
        if category is not None:
            conditions.append("b.category = ?" if category in CATEGORIES else "b.sub_category = ?")
            params.append(category)
        if stage is not None:
            conditions.append("b.stage = ?")
            params.append(stage)
        if status is not None:
            conditions.append("b.status = ?")
            params.append(status)
        if collaboration_id is not None:
            conditions.append("b.collaboration_id = ?")
            params.append(str(collaboration_id))
        return self.view.select(conditions, params)

    # ------------------------------------------------------------------- processing
    def concerns(self, topic: str) -> bool:
        return concerns_benefits_realisation(topic)

    def apply_batch(self, cursor: Any, position: int, notifications: Sequence[Notification]) -> list[Any]:
        """Advances each benefit the batch concerns through its events, then writes its row once,
        from its last version in the batch. Returns the aggregates, for the cache once committed."""
        decoded = self.decoded(notifications)
        if not decoded:
            return []
        changes = RealisationChanges(self.application, self.aggregates)
        for event_position, event in decoded:
            changes.apply(event_position, event)
        self.view.write(cursor, changes.rows())
        return list(changes.aggregates.values())

    def batch_committed(self, position: int, outcome: list[Any]) -> None:
        self.aggregates.give(outcome)

    def forget(self) -> None:
        self.aggregates.clear()
