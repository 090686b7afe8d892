"""The decision log: one chronological log of the decisions taken across all collaborations, for
the auditor's question "who decided what, when, on what evidence".

A tracked projection (``projections/tracked.py``: one locked transaction per batch, rows and
tracking position committed together, so exactly once, resumable and rebuildable) of the
``CollaborationRecords`` notification log. This module holds only what answers its question.

**What counts as a decision.** Every event of the ``Collaboration`` aggregate: each one records
a change the parties agreed to the agreement, with an effective date, an actor, a reason and,
optionally, evidence and an approval reference. Today that is ``Established`` (the agreement is
made), ``PartyJoined``, ``FunctionAdded``, ``FunctionBudgetSet``, ``ApportionmentAgreed``,
``ExitTermsAgreed``, ``JointAssetRegistered``, ``ContractCommitted``, ``ReviewHeld``,
``VariationAgreed``, ``WithdrawalNoticeServed``, ``NoticeWithdrawn``, ``FunctionDecoupled``,
``DirectionGiven``, ``PartyWithdrew`` and ``AgreementTerminated``, each with its own one-line
summary (``SUMMARISERS``). A ``Collaboration`` event of a type added later is logged
too, with a generic summary built from its type and data, until a release registers a
summariser for it (``@summarises(EventClass)``), after which a ``rebuild`` rewrites its rows.
Events of other aggregates are decisions only when a summariser is registered for them
(``collaboration_of`` then says which collaboration they belong to: an agreed settlement is a
decision, a payment or a benefit measurement is not); the others are not even decoded.

**A row** (``decision_log_entries``), one per decision event: its log ``position`` (its key),
``stream_id`` and ``version`` (the event's id), the ``collaboration_id`` and the collaboration's
``collaboration_name`` when it was taken, its ``type`` (``Collaboration.VariationAgreed``, as in
the history), the ``summary``, ``effective_on``, ``recorded_at``, ``actor``, ``reason``,
``evidence``, ``approval_ref``, the ``forces`` concerned (the collaboration's parties when it
was taken, joiners included) and the event's ``data`` as JSON, money and shares as exact strings.
``decision_log_forces`` indexes the forces for the force filter; ``decision_log_collaborations``
keeps what the summaries need of each collaboration (name, parties, function names).

**Order.** Chronological by ``effective_on``; decisions taking effect on the same day in the
order they were recorded (log ``position``). A back-dated decision therefore appears among the
decisions of its date, not at the end: to follow decisions as they are recorded, filter on
``recorded_from`` or read the event feed. An event without an effective date (there are none:
every event carries one) would be placed on the UTC date it was recorded.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from eventsourcing.utils import resolve_topic

from domain.collaboration import Collaboration
from domain.exit_case import ExitCase
from projections.event_documents import event_document
from projections.tracked import (
    PostgresTrackedView,
    SQLiteTrackedView,
    TrackedProjection,
    TrackedView,
)

PROJECTION_NAME = "decision_log"
MAX_PAGE_SIZE = 500
EXPORT_CHUNK = 500
SUMMARY_TEXT_LENGTH = 200  # characters of free text quoted in a summary before it is cut short

logger = logging.getLogger(__name__)


class UnknownDecision(ValueError):
    """``after`` names a position that holds no decision."""


# ---------------------------------------------------------------------- what the log knows
@dataclass
class CollaborationContext:
    """What the summaries need to know of a collaboration when a decision is taken."""

    id: str
    name: str | None = None
    parties: list[str] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)  # id -> name

    def function_name(self, function_id: str | None) -> str:
        return one_line(self.functions.get(function_id or "", function_id or "?"))


@dataclass(frozen=True)
class Summariser:
    """How one type of decision is summarised, and which collaboration it belongs to."""

    summarise: Callable[[Any, CollaborationContext], str]
    collaboration_of: Callable[[Any], UUID]


def originator(event: Any) -> UUID:
    return event.originator_id


SUMMARISERS: dict[type, Summariser] = {}
# How an event changes the context later summaries read (by the most specific class).
CONTEXT_CHANGES: dict[type, Callable[[CollaborationContext, Any], None]] = {}


def summarises(
    *event_classes: type, collaboration_of: Callable[[Any], UUID] = originator
) -> Callable[[Callable[[Any, CollaborationContext], str]], Callable[[Any, CollaborationContext], str]]:
    """Registers a summariser for decisions of these types (and their subclasses, unless they
    have their own). ``collaboration_of`` says which collaboration an event belongs to: its
    own stream for ``Collaboration`` events, e.g. ``lambda e: UUID(e.collaboration_id)`` for
    an exit case's settlement."""

    def register(summarise: Callable[[Any, CollaborationContext], str]) -> Callable[[Any, CollaborationContext], str]:
        for event_class in event_classes:
            SUMMARISERS[event_class] = Summariser(summarise, collaboration_of)
        summariser_for.cache_clear()
        concerns_decision_log.cache_clear()
        return summarise

    return register


def changes_context(
    event_class: type,
) -> Callable[[Callable[[CollaborationContext, Any], None]], Callable[[CollaborationContext, Any], None]]:
    def register(change: Callable[[CollaborationContext, Any], None]) -> Callable[[CollaborationContext, Any], None]:
        CONTEXT_CHANGES[event_class] = change
        context_change_for.cache_clear()
        return change

    return register


def _most_specific(registry: Mapping[type, Any], event_class: type) -> Any:
    for cls in event_class.__mro__:
        if cls in registry:
            return registry[cls]
    return None


@cache
def summariser_for(event_class: type) -> Summariser | None:
    return _most_specific(SUMMARISERS, event_class)


@cache
def context_change_for(event_class: type) -> Callable[[CollaborationContext, Any], None] | None:
    return _most_specific(CONTEXT_CHANGES, event_class)


@cache
def concerns_decision_log(topic: str) -> bool:
    """Whether events with this topic are decisions (so are worth decoding). Raises the
    library's TopicError for a topic no loaded code defines."""
    event_class = resolve_topic(topic)
    return isinstance(event_class, type) and summariser_for(event_class) is not None


# ------------------------------------------------------------------------------ summaries
def one_line(text: object, limit: int = SUMMARY_TEXT_LENGTH) -> str:
    """Text on one line (runs of whitespace become one space), cut short with an ellipsis."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: object) -> str:
    return f"\u201c{one_line(text)}\u201d"


def money(amount: Decimal | str) -> str:
    return f"£{Decimal(amount):,.2f}"


def share_list(shares: Mapping[str, Any], context: CollaborationContext) -> str:
    """The shares in the order the forces became parties (stored state sorts its keys)."""
    order = {force: index for index, force in enumerate(context.parties)}
    ranked = sorted(shares.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
    return ", ".join(f"{force} {Decimal(share)}" for force, share in ranked)


def humanised(type_name: str) -> str:
    """``WithdrawalNoticeServed`` -> ``Withdrawal notice served``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", type_name.rsplit(".", 1)[-1]).split()
    return " ".join([words[0], *(word.lower() for word in words[1:])]) if words else type_name


@changes_context(Collaboration.Established)
def _established_context(context: CollaborationContext, event: Collaboration.Established) -> None:
    context.name = event.name
    context.parties = list(event.parties)
    context.functions = {}


@changes_context(Collaboration.PartyJoined)
def _party_joined_context(context: CollaborationContext, event: Collaboration.PartyJoined) -> None:
    if event.force not in context.parties:
        context.parties.append(event.force)


@changes_context(Collaboration.FunctionAdded)
def _function_added_context(context: CollaborationContext, event: Collaboration.FunctionAdded) -> None:
    context.functions[event.function_id] = event.name


@summarises(Collaboration.Established)
def _established(event: Collaboration.Established, context: CollaborationContext) -> str:
    text = (
        f"Collaboration {quoted(event.name)} established between {', '.join(event.parties)};"
        f" lead force {event.lead_force}"
    )
    if event.governance_body:
        text += f"; governed by {one_line(event.governance_body)}"
    if event.review_cycle_months:
        text += f"; reviewed every {event.review_cycle_months} months"
    return text


@summarises(Collaboration.PartyJoined)
def _party_joined(event: Collaboration.PartyJoined, context: CollaborationContext) -> str:
    return f"{event.force} joined as a party"


@summarises(Collaboration.FunctionAdded)
def _function_added(event: Collaboration.FunctionAdded, context: CollaborationContext) -> str:
    return (
        f"Function {quoted(event.name)} added ({event.kind}), hosted by {event.host_force},"
        f" annual budget {money(event.annual_budget)}"
    )


@summarises(Collaboration.FunctionBudgetSet)
def _function_budget_set(event: Collaboration.FunctionBudgetSet, context: CollaborationContext) -> str:
    return (
        f"Budget of function {quoted(context.function_name(event.function_id))} for {event.financial_year}"
        f" set at {money(event.annual_budget)}"
    )


@summarises(Collaboration.ApportionmentAgreed)
def _apportionment_agreed(event: Collaboration.ApportionmentAgreed, context: CollaborationContext) -> str:
    scope = (
        "all functions" if event.function_id is None else f"function {quoted(context.function_name(event.function_id))}"
    )
    return f"Apportionment of {scope} agreed on the {event.basis} basis: {share_list(event.shares, context)}"


@summarises(Collaboration.ExitTermsAgreed)
def _exit_terms_agreed(event: Collaboration.ExitTermsAgreed, context: CollaborationContext) -> str:
    text = (
        f"Exit terms agreed: {event.notice_period_months} months' notice; stranded costs at rate"
        f" {event.stranded_cost_rate} for {event.stranded_cost_months} months"
    )
    if event.caps:
        text += "; caps " + ", ".join(f"{head} {money(amount)}" for head, amount in sorted(event.caps.items()))
    return text


@summarises(Collaboration.JointAssetRegistered)
def _joint_asset_registered(event: Collaboration.JointAssetRegistered, context: CollaborationContext) -> str:
    return (
        f"Joint asset {quoted(event.name)} registered: cost {money(event.cost)}, acquired"
        f" {event.acquired_on.isoformat()}, useful life {event.useful_life_months} months;"
        f" funded {share_list(event.funded_shares, context)}"
    )


@summarises(Collaboration.ContractCommitted)
def _contract_committed(event: Collaboration.ContractCommitted, context: CollaborationContext) -> str:
    return (
        f"Contract with {quoted(event.supplier)} committed for function"
        f" {quoted(context.function_name(event.function_id))}: {money(event.annual_value)} a year until"
        f" {event.ends_on.isoformat()}, break cost {money(event.break_cost)}"
    )


@summarises(Collaboration.ReviewHeld)
def _review_held(event: Collaboration.ReviewHeld, context: CollaborationContext) -> str:
    return f"Review held: {one_line(event.outcome)}"


@summarises(Collaboration.VariationAgreed)
def _variation_agreed(event: Collaboration.VariationAgreed, context: CollaborationContext) -> str:
    return f"Variation of clause {one_line(event.clause)} agreed: {one_line(event.summary)}"


@summarises(Collaboration.WithdrawalNoticeServed)
def _withdrawal_notice_served(event: Collaboration.WithdrawalNoticeServed, context: CollaborationContext) -> str:
    return f"{event.force} served notice to withdraw; earliest exit {event.earliest_exit_on.isoformat()}"


@summarises(Collaboration.NoticeWithdrawn)
def _notice_withdrawn(event: Collaboration.NoticeWithdrawn, context: CollaborationContext) -> str:
    return f"{event.force} withdrew its withdrawal notice; agreement status {event.status}"


@summarises(Collaboration.FunctionDecoupled)
def _function_decoupled(event: Collaboration.FunctionDecoupled, context: CollaborationContext) -> str:
    text = (
        f"Function {quoted(context.function_name(event.function_id))} decoupled (returned to a single force),"
        f" decided by {one_line(event.decided_by)}: {one_line(event.rationale)}"
    )
    if event.business_case_ref:
        text += f"; business case {one_line(event.business_case_ref)}"
    return text


@summarises(Collaboration.DirectionGiven)
def _direction_given(event: Collaboration.DirectionGiven, context: CollaborationContext) -> str:
    return f"s23G direction: exit date moved to {event.new_exit_on.isoformat()}: {one_line(event.summary)}"


@summarises(Collaboration.PartyWithdrew)
def _party_withdrew(event: Collaboration.PartyWithdrew, context: CollaborationContext) -> str:
    after = {
        "active": "the agreement continues with the other parties",
        "notice_served": "the agreement continues with the other parties, notice served",
        "terminated": "the agreement has ended",
    }.get(event.status, f"agreement status {event.status}")
    return f"{event.force} withdrew from the agreement; {after}"


@summarises(Collaboration.AgreementTerminated)
def _agreement_terminated(event: Collaboration.AgreementTerminated, context: CollaborationContext) -> str:
    return f"Agreement {quoted(context.name or '?')} terminated"


def exit_case_collaboration(event: Any) -> UUID:
    return UUID(event.collaboration_id)


@summarises(ExitCase.DisputeRaised, collaboration_of=exit_case_collaboration)
def _dispute_raised(event: ExitCase.DisputeRaised, context: CollaborationContext) -> str:
    forum = event.forum.replace("_", " ")
    return f"{event.raised_by} took the exit case to the {forum}: {one_line(event.summary)}"


@summarises(ExitCase.SettlementAgreed, collaboration_of=exit_case_collaboration)
def _settlement_agreed(event: ExitCase.SettlementAgreed, context: CollaborationContext) -> str:
    instalments = len(event.instalments)
    return (
        f"Exit settlement agreed: {event.payer} pays {event.payee} {money(event.amount)}"
        f" in {instalments} instalment{'s' if instalments != 1 else ''}, {money(event.write_offs)} written off"
    )


@summarises(ExitCase.Closed, collaboration_of=exit_case_collaboration)
def _exit_case_closed(event: ExitCase.Closed, context: CollaborationContext) -> str:
    return "Exit case closed"


@summarises(ExitCase.Reopened, collaboration_of=exit_case_collaboration)
def _exit_case_reopened(event: ExitCase.Reopened, context: CollaborationContext) -> str:
    return f"Exit case reopened: {one_line(event.reason)}"


@summarises(Collaboration.Event)
def generic(event: Any, context: CollaborationContext) -> str:
    """Any Collaboration event without a summariser of its own: its type in words, and its
    plain (text, number, date) data fields."""
    data = event_document(event)["data"]
    plain = [
        f"{name} {one_line(value, 60)}"
        for name, value in sorted(data.items())
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    ]
    return humanised(type(event).__qualname__) + (f" ({'; '.join(plain)})" if plain else "")


# ------------------------------------------------------------------------ applying a batch
@dataclass(frozen=True)
class DecisionRow:
    position: int
    stream_id: str
    version: int
    collaboration_id: str
    collaboration_name: str | None
    type: str
    summary: str
    effective_on: str
    recorded_at: str
    actor: str | None
    reason: str | None
    evidence: str | None
    approval_ref: str | None
    forces: tuple[str, ...]
    data: str  # JSON

    def values(self) -> tuple[Any, ...]:
        return (
            self.position,
            self.stream_id,
            self.version,
            self.collaboration_id,
            self.collaboration_name,
            self.type,
            self.summary,
            self.effective_on,
            self.recorded_at,
            self.actor,
            self.reason,
            self.evidence,
            self.approval_ref,
            json_text(list(self.forces)),
            self.data,
        )


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


class DecisionLogChanges:
    """The decisions of one batch, and the collaboration contexts they changed."""

    def __init__(self, contexts: Mapping[str, CollaborationContext]):
        self.contexts = dict(contexts)
        self.changed: dict[str, CollaborationContext] = {}
        self.decisions: list[DecisionRow] = []

    def apply(self, position: int, event: Any) -> None:
        summariser = summariser_for(type(event))
        if summariser is None:
            return
        collaboration_id = str(summariser.collaboration_of(event))
        context = self.contexts.get(collaboration_id)
        if context is None:
            context = self.contexts[collaboration_id] = CollaborationContext(collaboration_id)
        parties_before = list(context.parties)
        if (change := context_change_for(type(event))) is not None:
            change(context, event)
            self.changed[collaboration_id] = context
        if context.name is None:
            logger.warning(
                "decision_log: %s at position %s concerns collaboration %s, which is not established yet",
                type(event).__qualname__,
                position,
                collaboration_id,
            )
        document = event_document(event)
        forces = [*parties_before, *(force for force in context.parties if force not in parties_before)]
        self.decisions.append(
            DecisionRow(
                position=position,
                stream_id=document["stream_id"],
                version=document["version"],
                collaboration_id=collaboration_id,
                collaboration_name=context.name,
                type=document["type"],
                summary=summariser.summarise(event, context),
                effective_on=document["effective_on"] or document["recorded_at"][:10],
                recorded_at=document["recorded_at"],
                actor=document["actor"],
                reason=document["reason"],
                evidence=document["evidence"],
                approval_ref=document["approval_ref"],
                forces=tuple(forces),
                data=json_text(document["data"]),
            )
        )


# ------------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class DecisionFilters:
    """What a reader asks of the log. Every filter runs in SQL; None (or empty) means any.

    - ``force``: a force code among the forces concerned;
    - ``collaboration``: a collaboration's id;
    - ``types``: each a full type (``Collaboration.VariationAgreed``) or its last part
      (``VariationAgreed``); a decision of any of them;
    - ``effective_from``/``effective_to``: ``effective_on`` within these dates, inclusive;
    - ``recorded_from``/``recorded_to``: recorded on these UTC dates or between them, inclusive.
    """

    force: str | None = None
    collaboration: str | UUID | None = None
    types: Sequence[str] = ()
    effective_from: date | None = None
    effective_to: date | None = None
    recorded_from: date | None = None
    recorded_to: date | None = None

    def conditions(self) -> tuple[list[str], list[Any]]:
        conditions: list[str] = []
        params: list[Any] = []
        if force := (self.force or "").strip():
            conditions.append("EXISTS (SELECT 1 FROM {forces} f WHERE f.force_code = ? AND f.position = d.position)")
            params.append(force)
        if self.collaboration:
            conditions.append("d.collaboration_id = ?")
            params.append(str(self.collaboration))
        if types := [text.strip() for text in self.types if text and text.strip()]:
            alternatives = []
            for type_name in types:
                alternatives.append("d.type = ?")
                params.append(type_name)
                if "." not in type_name:  # a short name: the type's last part, exactly (not LIKE, which
                    # ignores case on SQLite but not on PostgreSQL); a shorter type's substr never equals it
                    suffix = "." + type_name
                    alternatives.append("substr(d.type, length(d.type) - ? + 1) = ?")
                    params.extend((len(suffix), suffix))
            conditions.append(f"({' OR '.join(alternatives)})")
        if self.effective_from is not None:
            conditions.append("d.effective_on >= ?")
            params.append(self.effective_from.isoformat())
        if self.effective_to is not None:
            conditions.append("d.effective_on <= ?")
            params.append(self.effective_to.isoformat())
        if self.recorded_from is not None:  # recorded_at is RFC 3339 UTC text: it sorts as time
            conditions.append("d.recorded_at >= ?")
            params.append(self.recorded_from.isoformat())
        if self.recorded_to is not None and self.recorded_to < date.max:  # the last day has no day after it
            conditions.append("d.recorded_at < ?")
            params.append((self.recorded_to + timedelta(days=1)).isoformat())
        return conditions, params


# --------------------------------------------------------------------------------- the views
CREATE_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS {entries} ("
    " position {integer_key},"
    " stream_id TEXT NOT NULL,"
    " version BIGINT NOT NULL,"
    " collaboration_id {sorted_text} NOT NULL,"
    " collaboration_name TEXT,"
    " type TEXT NOT NULL,"
    " summary TEXT NOT NULL,"
    " effective_on {sorted_text} NOT NULL,"
    " recorded_at {sorted_text} NOT NULL,"
    " actor TEXT,"
    " reason TEXT,"
    " evidence TEXT,"
    " approval_ref TEXT,"
    " forces TEXT NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {prefix}_entries_order ON {entries} (effective_on, position)",
    "CREATE INDEX IF NOT EXISTS {prefix}_entries_collaboration ON {entries} (collaboration_id, effective_on, position)",
    "CREATE TABLE IF NOT EXISTS {forces} ("
    " force_code TEXT NOT NULL,"
    " position BIGINT NOT NULL,"
    " PRIMARY KEY (force_code, position)){without_rowid}",
    "CREATE TABLE IF NOT EXISTS {collaborations} ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " name TEXT,"
    " parties TEXT NOT NULL,"
    " functions TEXT NOT NULL){without_rowid}",
)
ENTRY_COLUMNS = (
    "position, stream_id, version, collaboration_id, collaboration_name, type, summary, effective_on, recorded_at,"
    " actor, reason, evidence, approval_ref, forces, data"
)
INSERT_ENTRY = f"INSERT INTO {{entries}} ({ENTRY_COLUMNS}) VALUES ({', '.join(['?'] * 15)})"
INSERT_FORCE = "INSERT INTO {forces} (force_code, position) VALUES (?, ?)"
UPSERT_COLLABORATION = (
    "INSERT INTO {collaborations} (id, name, parties, functions) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET name = excluded.name, parties = excluded.parties, functions = excluded.functions"
)
ORDER = " ORDER BY d.effective_on, d.position"


class DecisionLogView(TrackedView):
    """The decision log's tables and the SQL both backends share."""

    projection_name = PROJECTION_NAME
    tables = ("entries", "forces", "collaborations")
    create_statements = CREATE_STATEMENTS
    other_identifiers = ("entries_order", "entries_collaboration")

    # ------------------------------------------------------------------------ writes
    def load_contexts(self, cursor: Any, collaboration_ids: Collection[str]) -> dict[str, CollaborationContext]:
        if not collaboration_ids:
            return {}
        condition, params = self.in_clause("id", collaboration_ids)
        cursor.execute(self.sql(f"SELECT * FROM {{collaborations}} WHERE {condition}"), params)
        return {
            record["id"]: CollaborationContext(
                id=record["id"],
                name=record["name"],
                parties=json.loads(record["parties"]),
                functions=json.loads(record["functions"]),
            )
            for record in cursor.fetchall()
        }

    def write(self, cursor: Any, changes: DecisionLogChanges) -> None:
        if changes.decisions:
            self.write_many(cursor, INSERT_ENTRY, [row.values() for row in changes.decisions])
            forces = [(force, row.position) for row in changes.decisions for force in row.forces]
            if forces:
                self.write_many(cursor, INSERT_FORCE, forces)
        if changes.changed:
            self.write_many(
                cursor,
                UPSERT_COLLABORATION,
                [(c.id, c.name, json_text(c.parties), json_text(c.functions)) for c in changes.changed.values()],
            )

    # ------------------------------------------------------------------------- reads
    def search(
        self, filters: DecisionFilters, *, after: int | None, page: int, page_size: int
    ) -> tuple[list[dict[str, Any]], int, bool]:
        """A page of decisions, the number matching the filters, and whether more follow."""
        conditions, params = filters.conditions()
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        with self.read_transaction() as cursor:
            cursor.execute(self.sql(f"SELECT COUNT(*) AS total FROM {{entries}} d{where}"), params)
            total = cursor.fetchone()["total"]
            if after is not None:
                cursor.execute(self.sql("SELECT effective_on FROM {entries} WHERE position = ?"), (after,))
                anchor = cursor.fetchone()
                if anchor is None:
                    raise UnknownDecision(f"no decision is at position {after}; pass a next_after from a page")
                conditions, params = self._after(conditions, params, anchor["effective_on"], after)
                where = f" WHERE {' AND '.join(conditions)}"
            cursor.execute(
                self.sql(f"SELECT * FROM {{entries}} d{where}{ORDER} LIMIT ? OFFSET ?"),
                [*params, page_size + 1, (page - 1) * page_size],
            )
            records = cursor.fetchall()
        return [decision_item(record) for record in records[:page_size]], total, len(records) > page_size

    def export(
        self, filters: DecisionFilters, *, after: int | None, upto: int, chunk: int = EXPORT_CHUNK
    ) -> Iterator[dict[str, Any]]:
        """Every decision matching the filters, in order, in chunks of one read each, among the
        decisions at positions up to ``upto``: rows are only ever added, so the export is the log
        as it stood at that position, however long the reader takes."""
        conditions, params = filters.conditions()
        conditions, params = [*conditions, "d.position <= ?"], [*params, upto]
        anchor: tuple[str, int] | None = None
        if after is not None:
            with self.read_transaction() as cursor:
                cursor.execute(self.sql("SELECT effective_on FROM {entries} WHERE position = ?"), (after,))
                record = cursor.fetchone()
            if record is None:
                raise UnknownDecision(f"no decision is at position {after}; pass a next_after from a page")
            anchor = (record["effective_on"], after)
        while True:
            page_conditions, page_params = conditions, params
            if anchor is not None:
                page_conditions, page_params = self._after(conditions, params, *anchor)
            statement = f"SELECT * FROM {{entries}} d WHERE {' AND '.join(page_conditions)}{ORDER} LIMIT ?"
            with self.read_transaction() as cursor:
                cursor.execute(self.sql(statement), [*page_params, chunk])
                records = cursor.fetchall()
            for record in records:
                yield decision_item(record)
            if len(records) < chunk:
                return
            anchor = (records[-1]["effective_on"], records[-1]["position"])

    @staticmethod
    def _after(
        conditions: list[str], params: list[Any], effective_on: str, position: int
    ) -> tuple[list[str], list[Any]]:
        """Keyset: the decisions after (effective_on, position) in the log's order."""
        return (
            [*conditions, "(d.effective_on > ? OR (d.effective_on = ? AND d.position > ?))"],
            [*params, effective_on, effective_on, position],
        )

    def all_items(self) -> list[dict[str, Any]]:
        with self.read_transaction() as cursor:
            cursor.execute(self.sql(f"SELECT * FROM {{entries}} d{ORDER}"))
            return [decision_item(record) for record in cursor.fetchall()]


def decision_item(record: Any) -> dict[str, Any]:
    """A row as the JSON-ready item the API answers with."""
    return {
        "position": record["position"],
        "stream_id": record["stream_id"],
        "version": record["version"],
        "collaboration_id": record["collaboration_id"],
        "collaboration_name": record["collaboration_name"],
        "type": record["type"],
        "summary": record["summary"],
        "effective_on": record["effective_on"],
        "recorded_at": record["recorded_at"],
        "actor": record["actor"],
        "reason": record["reason"],
        "evidence": record["evidence"],
        "approval_ref": record["approval_ref"],
        "forces": json.loads(record["forces"]),
        "data": json.loads(record["data"]),
    }


class SQLiteDecisionLogView(SQLiteTrackedView, DecisionLogView):
    """The decision log in its own SQLite file."""


class PostgresDecisionLogView(PostgresTrackedView, DecisionLogView):
    """The decision log in PostgreSQL, beside the event store, in ``decision_log_*`` tables."""


# ------------------------------------------------------------------------------- the log
class DecisionLog(TrackedProjection[DecisionLogView]):
    """The decision log: search and export the decisions, catch up with the log."""

    name = PROJECTION_NAME
    label = "the decision log"
    sqlite_view = SQLiteDecisionLogView
    postgres_view = PostgresDecisionLogView

    # ------------------------------------------------------------------------ reads
    def search(
        self,
        filters: DecisionFilters | None = None,
        *,
        after: int | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        """One page of decisions in the log's order (``effective_on``, then position).

        ``after`` (a ``next_after`` of an earlier page: the position of a decision) starts the
        page after that decision; ``page`` then counts pages from there. ``total`` counts every
        decision matching the filters, wherever the page starts. ``next_after`` is the position
        to pass as ``after`` for the next page, or None when no decision follows. An ``after``
        that names no decision raises UnknownDecision; ``page`` below 1 or ``page_size`` outside
        1 to MAX_PAGE_SIZE raise ValueError."""
        if isinstance(page, bool) or not isinstance(page, int) or page < 1:
            raise ValueError("page must be a whole number of at least 1")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
        items, total, more = self.view.search(filters or DecisionFilters(), after=after, page=page, page_size=page_size)
        return {
            "items": items,
            "total": total,
            "page": page,
            "page_size": page_size,
            "next_after": items[-1]["position"] if more and items else None,
        }

    def export(
        self, filters: DecisionFilters | None = None, *, after: int | None = None, chunk: int = EXPORT_CHUNK
    ) -> Iterator[dict[str, Any]]:
        """Every decision matching the filters (after ``after``, if given), in the log's order,
        read in chunks: the log as it stood at this call, however long the reader takes. An
        ``after`` that names no decision raises UnknownDecision when the first item is read."""
        return self.view.export(filters or DecisionFilters(), after=after, upto=self.position(), chunk=chunk)

    # ------------------------------------------------------------------- processing
    def concerns(self, topic: str) -> bool:
        return concerns_decision_log(topic)

    def apply_batch(self, cursor: Any, position: int, notifications: Sequence[Notification]) -> None:
        """Loads the contexts of the collaborations the batch's decisions concern, turns each
        decision into a row in log order, and writes the rows and the changed contexts."""
        decoded = self.decoded(notifications)
        collaboration_ids = set()
        for _, event in decoded:
            summariser = summariser_for(type(event))
            if summariser is not None:
                collaboration_ids.add(str(summariser.collaboration_of(event)))
        changes = DecisionLogChanges(self.view.load_contexts(cursor, collaboration_ids))
        for event_position, event in decoded:
            changes.apply(event_position, event)
        self.view.write(cursor, changes)
