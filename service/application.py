"""The application service: commands that take and return simple types.

Every command loads the aggregate, lets the domain check its rules, and saves the new events
in one transaction, together with the result of the request when it carried an
Idempotency-Key. A concurrent writer to the same aggregate makes the save fail on the event
store's unique (id, version) key; the command is then retried on fresh state, so nothing is
lost and nothing is recorded twice. So does a save whose events were created before the log
was closed past them (``RecordedOutOfOrder``: a later event, or a ``known_at`` read, got in
first): recorded times follow the log's order, and what was known at a time never changes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, InfrastructureFactory, IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.postgres import PostgresFactory
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment

import domain.benefit
import domain.collaboration
import domain.exit_case
from domain.benefit import Benefit
from domain.collaboration import Collaboration
from domain.errors import DomainError
from domain.exit_case import ExitCase
from domain.values import Provenance
from projections.event_documents import jsonable
from service import access, write_retries
from service.access import Caller
from service.benefits_import import ImportPlan, plan_import
from service.benefits_workbook import Register
from service.documents import (
    benefit_document,
    benefit_links,
    collaboration_document,
    collaboration_links,
    compact_benefit_document,
    compact_collaboration_document,
    compact_exit_case_document,
    exit_case_document,
    exit_case_links,
)
from service.errors import (
    BenefitNotFound,
    BenefitReferenceTaken,
    CollaborationNotFound,
    ConcurrentUpdate,
    ExitCaseExists,
    ExitCaseNotFound,
    IdempotencyKeyReused,
    NotYetInEffect,
    VersionMismatch,
)
from service.persistence import (
    IDEMPOTENCY_RECORD,
    EventTime,
    IdempotentRequest,
    PruneReport,
    PruningPostgresSnapshotRecorder,
    PruningSQLiteSnapshotRecorder,
    RecordedOutOfOrder,
    SharedPostgresDatastore,
    SideTableAccess,
    SnapshotPruning,
    SnapshotRetention,
    recorded_at_text,
    schema_lock,
    use_wal,
)
from service.transcodings import state_transcodings

logger = logging.getLogger(__name__)

WRITE_TURN_STRIPES = 64  # locks this process's writers of one aggregate take turns on (_writers_of)
MAX_ATTEMPTS = 12  # saves refused for a version another writer took, before a 409
# How long a command is run again while its saves are refused as recorded out of order (and
# at least MAX_ATTEMPTS times). Each refusal means another write (or a ``known_at`` read)
# committed first, so the store as a whole is moving; with several workers on PostgreSQL one
# request could lose a dozen such races in a row within milliseconds (5 of 3,600 writes from 8
# clients to 8 collaborations were 409 under a count of 12 alone). Bounded by both, a write is
# answered 409 only when the store is stuck, not merely busy, nor when each try is slow.
OUT_OF_ORDER_PATIENCE_SECONDS = 5.0
STATE_MODULES = (domain.collaboration, domain.exit_case, domain.benefit)  # whose state dataclasses snapshots hold
SNAPSHOT_INTERVAL = 500  # events between snapshots of one aggregate (see README: snapshots)


def recorded_in_log_order(command: Callable[..., Written]) -> Callable[..., Written]:
    """Runs a creating command again from the start (its checks, its reads, new events with
    fresh timestamps) while its save is refused as recorded out of order: a later event, or a
    ``known_at`` read, closed the log past the events' recorded time first. Nothing was written
    by a refused save, its idempotency key neither."""

    @functools.wraps(command)
    def run(self: CollaborationRecords, *args: Any, **kwargs: Any) -> Written:
        deadline = time.monotonic() + OUT_OF_ORDER_PATIENCE_SECONDS
        refusals = 0
        while True:
            try:
                return command(self, *args, **kwargs)
            except RecordedOutOfOrder as refused:
                refusals += 1
                if refusals >= MAX_ATTEMPTS and time.monotonic() >= deadline:
                    raise ConcurrentUpdate("the log kept moving past this request's events; try again") from None
                write_retries.write_retried(write_retries.OUT_OF_ORDER)
                wait_for_the_clock(refused.closed_at)

    return run


def wait_for_the_clock(closed_at: str) -> None:
    """Before a refused command runs again: if this process's clock is behind the time the log
    was closed to (another host's clock ahead of it, or this one set back), waits until it has
    passed it, a second at most, so that the next attempt's events are recorded after it. After
    a ``known_at`` read or a later write of this host it is past already, and nothing waits."""
    if not closed_at:
        return
    behind = (datetime.fromisoformat(closed_at) - datetime.now(UTC)).total_seconds()
    if behind > 0:
        time.sleep(min(behind + 0.000001, 1.0))


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


# How long an Idempotency-Key is kept (``IDEMPOTENCY_RETENTION_DAYS``; ``idempotency prune``
# deletes older keys). A client must not retry a request with a key older than this: it would be
# recorded again.
IDEMPOTENCY_RETENTION_DAYS = 30

# The two answers a write may give, named as RFC 7240's ``return`` preference names them: the
# compact document of the aggregate (the default) or its whole document, as a GET answers it.
MINIMAL = "minimal"
REPRESENTATION = "representation"
ANSWERS = (MINIMAL, REPRESENTATION)


@dataclass(frozen=True)
class AnswerDocuments:
    """How the answers about one kind of aggregate are built: its class, its whole document, its
    compact document (constant in size, built without working anything out), and its links."""

    aggregate: type[Aggregate]
    whole: Callable[[Any], dict[str, Any]]
    compact: Callable[[Any], dict[str, Any]]
    links: Callable[[Any], dict[str, str]]


# The aggregates a write answers about, by type name (as the write's idempotency record names them).
ANSWER_DOCUMENTS: dict[str, AnswerDocuments] = {
    "Collaboration": AnswerDocuments(
        Collaboration, collaboration_document, compact_collaboration_document, lambda c: collaboration_links(str(c.id))
    ),
    "ExitCase": AnswerDocuments(
        ExitCase,
        exit_case_document,
        compact_exit_case_document,
        lambda case: exit_case_links(str(case.id), case.collaboration_id),
    ),
    "Benefit": AnswerDocuments(
        Benefit, benefit_document, compact_benefit_document, lambda b: benefit_links(str(b.id), b.collaboration_id)
    ),
}


def answer_document(aggregate: Any, on: date) -> dict[str, Any]:
    """The document a write answered with about ``aggregate`` (as it stood after the write),
    built as it was on the day ``on``. A collaboration's document says which budget and shares
    are in effect today (``collaboration_document``), so a replay on a later day builds it as on
    the first answer's day: that document takes "today" from the view's date when there is one
    (and names it as ``as_of``), so the date is set on the aggregate while the document is built,
    and ``as_of`` is given back its value. The other documents do not depend on the day."""
    document = ANSWER_DOCUMENTS[type(aggregate).__name__].whole
    if not isinstance(aggregate, Collaboration):
        return document(aggregate)
    viewed_as_of = aggregate.viewed_as_of
    aggregate.viewed_as_of = on
    try:
        return {**document(aggregate), "as_of": jsonable(viewed_as_of)}
    finally:
        aggregate.viewed_as_of = viewed_as_of


@dataclass(frozen=True)
class IdempotencyKey:
    """An Idempotency-Key header, whose request it was and what that request said, and the
    answer it asked for (``ANSWERS``), which its replays give again."""

    principal: str
    key: str
    fingerprint: str
    answer: str = MINIMAL

    @staticmethod
    def fingerprint_of(method: str, path: str, body: Any) -> str:
        canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Written:
    """The outcome of a command: the aggregate as it stood after it, the ids the command
    returned (``extra``), the day its answer is built as on, the log position of its last event
    (for read-your-writes), and whether it was replayed from an earlier request, and then the
    answer that request got (``ANSWERS``).

    The answer's documents are built when asked for, once: ``compact`` (constant in size, cheap)
    or ``result`` (the whole document). A replay of a key stored before issue 13 has no aggregate,
    only the whole answer it stored (``stored_answer``), which is both."""

    aggregate: Any
    extra: Mapping[str, Any]
    on: date
    position: int | None
    replayed: bool = False
    answer: str = MINIMAL
    stored_answer: dict[str, Any] | None = None

    @functools.cached_property
    def result(self) -> dict[str, Any]:
        """The whole document, with the ids the command returned."""
        if self.stored_answer is not None:
            return self.stored_answer
        return {**answer_document(self.aggregate, self.on), **self.extra}

    @functools.cached_property
    def compact(self) -> dict[str, Any]:
        """The compact document, with the ids the command returned."""
        if self.stored_answer is not None:
            return self.stored_answer
        return {**ANSWER_DOCUMENTS[type(self.aggregate).__name__].compact(self.aggregate), **self.extra}

    def document(self, answer: str) -> dict[str, Any]:
        """The answer of that kind: ``MINIMAL``, the compact document; ``REPRESENTATION``, the whole."""
        return self.result if answer == REPRESENTATION else self.compact

    @property
    def location(self) -> str | None:
        """The URL of what was written (None for a whole answer stored before issue 13)."""
        if self.aggregate is None:
            return None
        return ANSWER_DOCUMENTS[type(self.aggregate).__name__].links(self.aggregate)["self"]


class CollaborationRecords(Application[UUID]):
    """The collaboration record: every agreement change as an immutable event."""

    name = "CollaborationRecords"
    # The library's aggregate cache, fast-forwarded from the store on every read (so several
    # processes never serve stale state) and copied out to each caller. Defaults; the
    # environment may override them.
    env: ClassVar[dict[str, str]] = {"AGGREGATE_CACHE_MAXSIZE": "256", "AGGREGATE_CACHE_FASTFORWARD": "y"}
    # Loading an aggregate reads its latest snapshot and the events after it, not the whole
    # stream (the exit-cost quote on a 10,000-event collaboration stays in milliseconds).
    snapshotting_intervals: ClassVar[dict[type[Aggregate], int]] = {
        Collaboration: SNAPSHOT_INTERVAL,
        ExitCase: SNAPSHOT_INTERVAL,
        Benefit: SNAPSHOT_INTERVAL,
    }

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        for transcoding in state_transcodings(*STATE_MODULES):
            transcoder.register(transcoding)
        # Stored state is canonical JSON (sorted keys, no whitespace, decimals and dates as
        # strings), so the hash chain can bind the stored bytes as they are.
        transcoder.encoder = json.JSONEncoder(
            default=transcoder._encode_obj,  # the library's own hook for transcodings
            separators=(",", ":"),
            ensure_ascii=False,
            sort_keys=True,
        )

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        if env and env.get("SQLITE_DBNAME"):
            use_wal(env["SQLITE_DBNAME"])  # before the library's connections race to switch it
        self._write_turns = tuple(threading.RLock() for _ in range(WRITE_TURN_STRIPES))
        super().__init__(env=env)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots are a cache taken after the events have committed: failing to take one
        (the store busy, say) must not turn a recorded write into an error the client retries."""
        try:
            super()._take_snapshots(processing_event)
        except Exception:
            logger.exception("snapshot not taken; the events are recorded and the next interval will take one")

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """The library's factory; on PostgreSQL its datastore becomes the process's one
        ``SharedPostgresDatastore``: one pool, one connection per thread, never a stale one. The
        snapshot store and every projection use it too (``projections/tracked.py``)."""
        factory = super().construct_factory(env)
        if isinstance(factory, PostgresFactory):
            SharedPostgresDatastore.share(factory.datastore)
        return factory

    @property
    def snapshot_interval(self) -> int:
        """Events between snapshots of one aggregate: the retention rule's interval. One for every
        aggregate type (``SNAPSHOT_INTERVAL``); were they to differ, the smallest (the rule then
        keeps fewer of the others' snapshots, never a wrong one)."""
        return min(self.snapshotting_intervals.values(), default=SNAPSHOT_INTERVAL)

    def construct_snapshot_store(self) -> Any:
        """The library's snapshot store, on a recorder that keeps a bounded set of each
        aggregate's snapshots (the latest two and those at interval·2^k), pruning the others in
        the transaction that inserts a new one (``service/persistence/snapshots.py``). On
        PostgreSQL its table is created under the same advisory lock as the other tables (on the
        same connection), so workers starting together do not race. (The in-process POPO store
        of some unit tests keeps the library's recorder.)"""
        if isinstance(self.factory, PostgresFactory):
            with schema_lock(self.factory.datastore):
                return self._pruning_snapshot_store(PruningPostgresSnapshotRecorder)
        if isinstance(self.factory, SQLiteFactory):
            return self._pruning_snapshot_store(PruningSQLiteSnapshotRecorder)
        return super().construct_snapshot_store()

    def _pruning_snapshot_store(self, recorder_class: Any) -> EventStore[UUID]:
        library_recorder = self.factory.aggregate_recorder(purpose="snapshots")  # creates its table
        recorder = recorder_class.replacing(library_recorder, SnapshotRetention(self.snapshot_interval))
        return self.factory.event_store(mapper=self.mapper, recorder=recorder)

    @property
    def snapshot_recorder(self) -> SnapshotPruning:
        assert self.snapshots is not None and isinstance(self.snapshots.recorder, SnapshotPruning)
        return self.snapshots.recorder

    def prune_snapshots(self, *, dry_run: bool = False) -> PruneReport:
        """Deletes, stream by stream, the snapshots the retention rule does not keep: for a store
        written before the rule (each stream is also pruned at its next snapshot). Snapshots are
        a cache: reads stay correct whatever is deleted."""
        return self.snapshot_recorder.prune_snapshots(dry_run=dry_run)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> Any:
        """Passes each event's recorded time and effective date to the recorder, which writes
        them to ``event_times`` in the events' own transaction (``known_at`` reads)."""
        processing_event.saved_kwargs["event_times"] = [
            EventTime(
                str(event.originator_id),
                event.originator_version,
                recorded_at_text(event.timestamp),
                effective.isoformat() if isinstance(effective := getattr(event, "effective_on", None), date) else None,
            )
            for event in processing_event.events
        ]
        return super()._record(processing_event)

    @property
    def side_tables(self) -> SideTableAccess:
        assert isinstance(self.recorder, SideTableAccess)
        return self.recorder

    # ------------------------------------------------------------------ commands
    @recorded_in_log_order
    def establish_collaboration(
        self,
        *,
        caller: Caller,
        name: str,
        purpose: str,
        parties: list[str],
        lead_force: str,
        effective_on: date,
        reason: str,
        governance_body: str | None = None,
        review_cycle_months: int | None = None,
        evidence: str | None = None,
        approval_ref: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        if (replay := self._replay(idempotency)) is not None:
            return replay
        access.check_creates_as_party(caller, parties)
        provenance = Provenance(effective_on, caller.actor, reason, evidence, approval_ref)
        collaboration = Collaboration.establish(
            name=name,
            purpose=purpose,
            parties=parties,
            lead_force=lead_force,
            governance_body=governance_body,
            review_cycle_months=review_cycle_months,
            provenance=provenance,
        )
        try:
            return self._save(collaboration, idempotency)
        except RecordedOutOfOrder:
            raise  # run again from the start, with fresh events
        except IntegrityError:
            if (replay := self._replay(idempotency)) is not None:
                return replay
            # Not a retry of this request, and a new id cannot clash: nothing was recorded.
            raise ConcurrentUpdate("the collaboration could not be recorded; try again") from None

    def join_party(self, collaboration_id: str, *, force: str, **common: Any) -> Written:
        return self._change(collaboration_id, lambda c, p: c.join(force, p), **common)

    def add_function(
        self, collaboration_id: str, *, name: str, kind: str, host_force: str, annual_budget: Any, **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "function_id": c.add_function(
                    name=name, kind=kind, host_force=host_force, annual_budget=annual_budget, provenance=p
                )
            },
            **common,
        )

    def set_function_budget(
        self, collaboration_id: str, *, function_id: str, financial_year: str, annual_budget: Any, **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.set_function_budget(
                function_id=function_id, financial_year=financial_year, annual_budget=annual_budget, provenance=p
            ),
            **common,
        )

    def agree_apportionment(
        self, collaboration_id: str, *, function_id: str | None, basis: str, shares: dict[str, Any], **common: Any
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.agree_apportionment(function_id=function_id, basis=basis, shares=shares, provenance=p),
            **common,
        )

    def agree_exit_terms(
        self,
        collaboration_id: str,
        *,
        notice_period_months: int,
        stranded_cost_rate: Any,
        stranded_cost_months: int,
        caps: dict[str, Any] | None = None,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: c.agree_exit_terms(
                notice_period_months=notice_period_months,
                stranded_cost_rate=stranded_cost_rate,
                stranded_cost_months=stranded_cost_months,
                caps=caps,
                provenance=p,
            ),
            **common,
        )

    def register_asset(
        self,
        collaboration_id: str,
        *,
        name: str,
        cost: Any,
        acquired_on: date,
        useful_life_months: int,
        funded_shares: dict[str, Any],
        function_id: str | None = None,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "asset_id": c.register_asset(
                    name=name,
                    cost=cost,
                    acquired_on=acquired_on,
                    useful_life_months=useful_life_months,
                    funded_shares=funded_shares,
                    function_id=function_id,
                    provenance=p,
                )
            },
            **common,
        )

    def commit_contract(
        self,
        collaboration_id: str,
        *,
        supplier: str,
        function_id: str,
        annual_value: Any,
        ends_on: date,
        break_cost: Any,
        **common: Any,
    ) -> Written:
        return self._change(
            collaboration_id,
            lambda c, p: {
                "contract_id": c.commit_contract(
                    supplier=supplier,
                    function_id=function_id,
                    annual_value=annual_value,
                    ends_on=ends_on,
                    break_cost=break_cost,
                    provenance=p,
                )
            },
            **common,
        )

    def hold_review(self, collaboration_id: str, *, outcome: str, **common: Any) -> Written:
        return self._change(collaboration_id, lambda c, p: c.hold_review(outcome=outcome, provenance=p), **common)

    def agree_variation(self, collaboration_id: str, *, clause: str, summary: str, **common: Any) -> Written:
        return self._change(
            collaboration_id, lambda c, p: c.agree_variation(clause=clause, summary=summary, provenance=p), **common
        )

    def serve_withdrawal_notice(self, collaboration_id: str, *, force: str, caller: Caller, **common: Any) -> Written:
        """A party serves notice to withdraw. A force token serves notice only for its own force."""
        access.check_acts_for(caller, force, "serve notice")
        return self._change(
            collaboration_id,
            lambda c, p: {"earliest_exit_on": c.serve_withdrawal_notice(force=force, provenance=p).isoformat()},
            caller=caller,
            **common,
        )

    def withdraw_notice(self, collaboration_id: str, *, force: str, caller: Caller, **common: Any) -> Written:
        """A party withdraws its live notice. A force token withdraws only its own force's notice."""
        access.check_acts_for(caller, force, "withdraw notice")
        return self._change(
            collaboration_id, lambda c, p: c.withdraw_notice(force=force, provenance=p), caller=caller, **common
        )

    def record_withdrawal(self, collaboration_id: str, *, force: str, caller: Caller, **common: Any) -> Written:
        """A party leaves the agreement on its live notice. A force token records only its own."""
        access.check_acts_for(caller, force, "record a withdrawal")
        return self._change(
            collaboration_id, lambda c, p: c.record_withdrawal(force=force, provenance=p), caller=caller, **common
        )

    def terminate_agreement(self, collaboration_id: str, *, caller: Caller, **common: Any) -> Written:
        """The whole agreement ends; afterwards every change to it is refused. It is every
        party's act, so an administrator records it on the evidence of its approval."""
        access.check_administrator(caller, "record the end of the agreement")
        return self._change(collaboration_id, lambda c, p: c.terminate(provenance=p), caller=caller, **common)

    def decouple_function(
        self,
        collaboration_id: str,
        *,
        function_id: str,
        decided_by: str,
        rationale: str,
        business_case_ref: str | None = None,
        decided_on: date | None = None,
        caller: Caller,
        **common: Any,
    ) -> Written:
        """A function returns to single-force structures: a mutual decision, so an administrator
        records it on the evidence of its approval (the deciding body's minute)."""
        access.check_administrator(caller, "record a decoupling")
        return self._change(
            collaboration_id,
            lambda c, p: c.decouple_function(
                function_id=function_id,
                decided_by=decided_by,
                rationale=rationale,
                business_case_ref=business_case_ref,
                decided_on=decided_on,
                provenance=p,
            ),
            caller=caller,
            **common,
        )

    def give_direction(
        self, collaboration_id: str, *, new_exit_on: date, summary: str, caller: Caller, **common: Any
    ) -> Written:
        """An s23G direction: the Home Secretary's act, not a party's, so an administrator records
        it on the evidence of the direction itself."""
        access.check_administrator(caller, "record an s23G direction")
        return self._change(
            collaboration_id,
            lambda c, p: c.give_direction(new_exit_on=new_exit_on, summary=summary, provenance=p),
            caller=caller,
            **common,
        )

    # ------------------------------------------------------------------ exit cases
    @recorded_in_log_order
    def open_exit_case(
        self,
        *,
        caller: Caller,
        collaboration_id: str,
        trigger: str,
        force: str | None = None,
        function_id: str | None = None,
        effective_on: date,
        reason: str,
        evidence: str | None = None,
        approval_ref: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        """Opens the exit case of a withdrawal (a force that served notice) or of a decoupling
        (a decoupled function). There is one case per withdrawal and per decoupling: its id is
        derived from them, so a second opening is refused (409) however it races."""
        if (replay := self._replay(idempotency)) is not None:
            return replay
        try:
            collaboration = self.collaboration(collaboration_id)
        except CollaborationNotFound as error:  # named in the body, not the URL: a broken rule of the request
            raise CollaborationNotFound(error.detail, field="collaboration_id") from None
        access.check_party_to(caller, collaboration.parties, "collaboration")
        parties, function_name = collaboration.exit_case_opening(
            trigger=trigger, force=force, function_id=function_id, day=effective_on
        )
        provenance = Provenance(effective_on, caller.actor, reason, evidence, approval_ref)
        case = ExitCase.open(
            collaboration_id=str(collaboration.id),
            trigger=trigger,
            force=force,
            function_id=function_id,
            function_name=function_name,
            parties=parties,
            provenance=provenance,
        )
        if self.exists(case.id):
            raise ExitCaseExists(f"this {trigger} already has its exit case, {case.id}", field="trigger")
        try:
            return self._save(case, idempotency)
        except RecordedOutOfOrder:
            raise  # run again from the start, with fresh events
        except IntegrityError:
            if (replay := self._replay(idempotency)) is not None:
                return replay
            raise ExitCaseExists(f"this {trigger} already has its exit case, {case.id}", field="trigger") from None

    def lodge_claim(
        self,
        case_id: str,
        *,
        claimant: str,
        respondent: str,
        lines: list[dict[str, Any]],
        supersedes: str | None = None,
        caller: Caller,
        **common: Any,
    ) -> Written:
        """A party claims from another, in lines by cost head. A force token claims only as its force."""
        access.check_acts_for(caller, claimant, "claim")
        return self._change_case(
            case_id,
            lambda c, p: {
                "claim_id": c.lodge_claim(
                    claimant=claimant, respondent=respondent, lines=lines, supersedes=supersedes, provenance=p
                )
            },
            caller=caller,
            **common,
        )

    def record_assessment(
        self,
        case_id: str,
        *,
        assessor: str,
        recommended_amount: Any,
        lines: list[dict[str, Any]] | None = None,
        caller: Caller,
        **common: Any,
    ) -> Written:
        """An independent assessment: recorded by an administrator, never by either side."""
        access.check_administrator(caller, "record an independent assessment")
        return self._change_case(
            case_id,
            lambda c, p: {
                "assessment_id": c.record_assessment(
                    assessor=assessor, recommended_amount=recommended_amount, lines=lines or [], provenance=p
                )
            },
            caller=caller,
            **common,
        )

    def raise_dispute(
        self, case_id: str, *, raised_by: str, forum: str, summary: str, caller: Caller, **common: Any
    ) -> Written:
        """A party takes the case to a forum. A force token raises disputes only as its force."""
        access.check_acts_for(caller, raised_by, "raise a dispute")
        return self._change_case(
            case_id,
            lambda c, p: {
                "dispute_id": c.raise_dispute(raised_by=raised_by, forum=forum, summary=summary, provenance=p)
            },
            caller=caller,
            **common,
        )

    def agree_settlement(
        self,
        case_id: str,
        *,
        payer: str,
        payee: str,
        amount: Any,
        write_offs: Any,
        instalments: list[dict[str, Any]],
        lines: list[dict[str, Any]] | None = None,
        caller: Caller,
        **common: Any,
    ) -> Written:
        """A settlement both sides agreed: recorded by an administrator (on the evidence of
        both sides' approvals), never by one side alone."""
        access.check_administrator(caller, "record a settlement")
        return self._change_case(
            case_id,
            lambda c, p: c.agree_settlement(
                payer=payer,
                payee=payee,
                amount=amount,
                write_offs=write_offs,
                instalments=instalments,
                lines=lines or [],
                provenance=p,
            ),
            caller=caller,
            **common,
        )

    def record_payment(self, case_id: str, *, amount: Any, paid_on: date, caller: Caller, **common: Any) -> Written:
        """A payment under the settlement: recorded by an administrator or by the payee, who
        confirms receiving it; never by the payer alone."""

        def pay(case: ExitCase, provenance: Provenance) -> dict[str, Any]:
            access.check_records_payment(caller, case.settlement)
            return {"payment_id": case.record_payment(amount=amount, paid_on=paid_on, provenance=provenance)}

        return self._change_case(case_id, pay, caller=caller, **common)

    def close_exit_case(self, case_id: str, *, caller: Caller, **common: Any) -> Written:
        access.check_administrator(caller, "close an exit case")
        return self._change_case(case_id, lambda c, p: c.close(provenance=p), caller=caller, **common)

    def reopen_exit_case(self, case_id: str, *, caller: Caller, **common: Any) -> Written:
        access.check_administrator(caller, "reopen an exit case")
        return self._change_case(case_id, lambda c, p: c.reopen(provenance=p), caller=caller, **common)

    # ------------------------------------------------------------------ benefits
    @recorded_in_log_order
    def identify_benefit(
        self,
        collaboration_id: str,
        *,
        caller: Caller,
        title: str,
        category: str,
        sub_category: str,
        pillar: str,
        direction: str | None = None,
        measure: str | None = None,
        unit: str | None = None,
        tolerance: Any = None,
        baseline: Mapping[str, Any] | None = None,
        target: Mapping[str, Any] | None = None,
        owner: str | None = None,
        function_id: str | None = None,
        attribution: Mapping[str, Any] | None = None,
        stage: int = 0,
        status: str | None = None,
        kind: str = "benefit",
        reference: str | None = None,
        objective: str | None = None,
        senior_responsible_owner: str | None = None,
        cash_releasing: bool | None = None,
        quantitative: bool | None = None,
        measurement_frequency: str | None = None,
        effective_on: date,
        reason: str,
        evidence: str | None = None,
        approval_ref: str | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        """Identifies a benefit (or dis-benefit) the collaboration is meant to deliver. A force token identifies
        benefits only of collaborations its force is a current party of. The function is one of
        the collaboration's, the attribution names its parties; the current parties are recorded
        with the benefit (whose it is when it has no attribution)."""
        if (replay := self._replay(idempotency)) is not None:
            return replay
        collaboration = self.collaboration(collaboration_id)
        parties = collaboration.current_parties()
        access.check_current_party_to(caller, parties)
        collaboration.check_benefit_identification(day=effective_on, function_id=function_id, attribution=attribution)
        provenance = Provenance(effective_on, caller.actor, reason, evidence, approval_ref)
        benefit = Benefit.identify(
            collaboration_id=str(collaboration.id),
            title=title,
            category=category,
            sub_category=sub_category,
            pillar=pillar,
            direction=direction,
            measure=measure,
            unit=unit,
            tolerance=tolerance,
            baseline=dict(baseline) if baseline is not None else None,
            target=dict(target) if target is not None else None,
            owner=owner,
            function_id=function_id,
            attribution=dict(attribution) if attribution is not None else None,
            stage=stage,
            **({"status": status} if status is not None else {}),
            kind=kind,
            reference=reference,
            objective=objective,
            senior_responsible_owner=senior_responsible_owner,
            cash_releasing=cash_releasing,
            quantitative=quantitative,
            measurement_frequency=measurement_frequency,
            parties=list(parties),
            provenance=provenance,
        )
        try:
            return self._save(benefit, idempotency)
        except RecordedOutOfOrder:
            raise  # run again from the start, with fresh events
        except IntegrityError:
            if (replay := self._replay(idempotency)) is not None:
                return replay
            if benefit.reference is not None:  # its id is its collaboration's and reference's
                raise BenefitReferenceTaken(
                    f"the collaboration already has a benefit with reference {benefit.reference!r}, {benefit.id}",
                    field="reference",
                ) from None
            # Not a retry of this request, and a new id cannot clash: nothing was recorded.
            raise ConcurrentUpdate("the benefit could not be recorded; try again") from None

    def record_measurement(
        self,
        benefit_id: str,
        *,
        period_start: date,
        period_end: date,
        value: Any,
        source: str,
        measurer: str | None = None,
        restates: str | None = None,
        caller: Caller,
        **common: Any,
    ) -> Written:
        """A measurement of the benefit for a period; the measurer is the caller unless named.
        A restatement names the current measurement it replaces, which is never edited."""
        return self._change_benefit(
            benefit_id,
            lambda b, p: {
                "measurement_id": b.record_measurement(
                    period_start=period_start,
                    period_end=period_end,
                    value=value,
                    source=source,
                    measurer=measurer or caller.actor,
                    restates=restates,
                    provenance=p,
                )
            },
            caller=caller,
            **common,
        )

    def change_benefit_stage(self, benefit_id: str, *, stage: int, status: str | None = None, **common: Any) -> Written:
        return self._change_benefit(
            benefit_id, lambda b, p: b.change_stage(stage=stage, status=status, provenance=p), **common
        )

    def revise_benefit_target(self, benefit_id: str, *, value: Any, on: date, **common: Any) -> Written:
        return self._change_benefit(
            benefit_id, lambda b, p: b.revise_target(value=value, on=on, provenance=p), **common
        )

    def rebaseline_benefit(self, benefit_id: str, *, value: Any, on: date, **common: Any) -> Written:
        return self._change_benefit(benefit_id, lambda b, p: b.rebaseline(value=value, on=on, provenance=p), **common)

    def define_benefit(
        self,
        benefit_id: str,
        *,
        direction: str | None = None,
        measure: str | None = None,
        unit: str | None = None,
        tolerance: Any = None,
        owner: str | None = None,
        senior_responsible_owner: str | None = None,
        cash_releasing: bool | None = None,
        quantitative: bool | None = None,
        measurement_frequency: str | None = None,
        **common: Any,
    ) -> Written:
        """Completes or changes how the benefit is measured, its class and who answers for it
        (what is not given is kept)."""
        return self._change_benefit(
            benefit_id,
            lambda b, p: b.define(
                direction=direction,
                measure=measure,
                unit=unit,
                tolerance=tolerance,
                owner=owner,
                senior_responsible_owner=senior_responsible_owner,
                cash_releasing=cash_releasing,
                quantitative=quantitative,
                measurement_frequency=measurement_frequency,
                provenance=p,
            ),
            **common,
        )

    def link_benefit(
        self, benefit_id: str, *, function_id: str | None = None, objective: str | None = None, **common: Any
    ) -> Written:
        """Sets what enables the benefit (one of the collaboration's functions in effect on the
        day, or None: the whole collaboration) and the objective it serves."""

        def link(benefit: Benefit, provenance: Provenance) -> None:
            if function_id is not None:
                collaboration = self.collaboration(benefit.collaboration_id)
                collaboration.check_function_exists(function_id, on=provenance.effective_on)
            benefit.link(function_id=function_id, objective=objective, provenance=provenance)

        return self._change_benefit(benefit_id, link, **common)

    def assess_benefit_confidence(self, benefit_id: str, *, confidence: str, **common: Any) -> Written:
        """How confident the owner is that the benefit will be realised; the reason says why."""
        return self._change_benefit(
            benefit_id, lambda b, p: b.assess_confidence(confidence=confidence, provenance=p), **common
        )

    def set_benefit_profile(self, benefit_id: str, *, periods: Sequence[Mapping[str, Any]], **common: Any) -> Written:
        """The planned value per period; setting it again is a recorded rebaselining."""
        return self._change_benefit(
            benefit_id, lambda b, p: b.set_profile(periods=[dict(period) for period in periods], provenance=p), **common
        )

    def override_benefit_rag(self, benefit_id: str, *, rag: str | None, **common: Any) -> Written:
        """Sets the RAG status by hand (or, with None, clears the override); the reason says why."""
        return self._change_benefit(benefit_id, lambda b, p: b.override_rag(rag=rag, provenance=p), **common)

    def reopen_benefit(self, benefit_id: str, *, status: str, stage: int | None = None, **common: Any) -> Written:
        """A recorded move back to an earlier status (and stage, if given); the reason says why."""
        return self._change_benefit(
            benefit_id, lambda b, p: b.reopen(status=status, stage=stage, provenance=p), **common
        )

    def check_may_import_benefits(self, collaboration_id: str, caller: Caller) -> Collaboration:
        """The collaboration a register is imported into: it exists and the caller may write to
        its benefits (an administrator, or a force token of a current party)."""
        collaboration = self.collaboration(collaboration_id)
        access.check_current_party_to(caller, collaboration.current_parties())
        return collaboration

    @recorded_in_log_order
    def import_benefits_register(
        self,
        collaboration_id: str,
        register: Register,
        *,
        benefit_ids: Collection[str],
        caller: Caller,
        effective_on: date,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> ImportPlan:
        """Records a benefits register read from a spreadsheet into the collaboration, all of it
        or nothing (``service/benefits_import.py``): ``benefit_ids`` are the collaboration's
        benefits (matched to the register's rows by reference). Raises RegisterRefused with every
        fault, by sheet, row and column. With ``dry_run``, checks and answers what would be
        recorded without recording it. A force token imports only into collaborations its force
        is a current party of."""
        collaboration = self.check_may_import_benefits(collaboration_id, caller)
        existing = [self.benefit(benefit_id) for benefit_id in benefit_ids]
        plan = plan_import(
            collaboration,
            [benefit for benefit in existing if benefit.collaboration_id == str(collaboration.id)],
            register,
            actor=caller.actor,
            effective_on=effective_on,
            reason=reason or f"Imported from the benefits register {register.file_name}",
        )
        if dry_run or not plan.aggregates:
            return plan
        try:
            self.save(*plan.aggregates)
        except RecordedOutOfOrder:
            raise  # planned again from the start, on fresh aggregates
        except IntegrityError:
            raise ConcurrentUpdate(
                "a benefit of the register was changed while it was imported; nothing was recorded: import it again"
            ) from None
        return plan

    def benefit(self, benefit_id: str, *, as_of: date | None = None, known_at: datetime | None = None) -> Benefit:
        """The benefit now; as known at ``known_at``; with ``as_of``, only what was in effect then."""
        return self._as_it_stood(
            benefit_id, Benefit, BenefitNotFound, "benefit", "identified", as_of=as_of, known_at=known_at
        )

    def _as_it_stood(
        self,
        aggregate_id: str,
        kind: type[Any],
        not_found: type[DomainError],
        what: str,
        began: str,
        *,
        as_of: date | None,
        known_at: datetime | None,
    ) -> Any:
        """An aggregate of ``kind``: now; at the last version recorded by ``known_at`` (one indexed
        read of event_times, then its snapshot and the events after it); viewed ``as_of`` a date,
        which must not be before its ``<began>_on`` date."""
        uuid = _uuid(aggregate_id, not_found, what)
        version = self._version_known_at(uuid, known_at, not_found, what) if known_at else None
        try:
            aggregate = self.repository.get(uuid, version=version)
        except AggregateNotFoundError:
            raise not_found(f"no {what} {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise not_found(f"no {what} {aggregate_id}")
        if as_of is not None:
            started_on = getattr(aggregate, f"{began}_on")
            if as_of < started_on:
                raise NotYetInEffect(f"{what} {aggregate_id} was {began} on {started_on}, after {as_of}")
            aggregate = aggregate.as_of(as_of)
        return aggregate

    def _change_benefit(
        self,
        benefit_id: str,
        mutate: Callable[[Benefit, Provenance], Mapping[str, Any] | None],
        **common: Any,
    ) -> Written:
        # A force token writes to the benefits of collaborations its force is a current party of.
        return self._change_aggregate(
            benefit_id,
            lambda: self.benefit(benefit_id),
            mutate,
            "benefit",
            parties_of=lambda benefit: self.collaboration(benefit.collaboration_id).current_parties(),
            **common,
        )

    # --------------------------------------------------------------------- reads
    def exit_case(self, case_id: str, *, as_of: date | None = None, known_at: datetime | None = None) -> ExitCase:
        """The exit case now; as known at ``known_at``; with ``as_of``, only what was in effect then."""
        return self._as_it_stood(
            case_id, ExitCase, ExitCaseNotFound, "exit case", "opened", as_of=as_of, known_at=known_at
        )

    def collaboration(
        self,
        collaboration_id: str,
        *,
        version: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> Collaboration:
        """The collaboration now; or after event ``version``; or as it was known at
        ``known_at`` (its last version recorded by then); and, with ``as_of``, only what was
        in effect on that date (of what is known now, or at ``known_at``)."""
        uuid = _uuid(collaboration_id)
        if known_at is not None:
            known = self._version_known_at(uuid, known_at, CollaborationNotFound, "collaboration")
            version = known if version is None else min(version, known)
        try:
            collaboration = self.repository.get(uuid, version=version)
        except AggregateNotFoundError:
            raise CollaborationNotFound(f"no collaboration {collaboration_id}") from None
        if not isinstance(collaboration, Collaboration):
            raise CollaborationNotFound(f"no collaboration {collaboration_id}")
        if version is not None and known_at is None and collaboration.version != version:
            # the repository answers the latest <= version
            raise CollaborationNotFound(
                f"collaboration {collaboration_id} has no version {version}; it is at version {collaboration.version}"
            )
        if as_of is not None:
            if as_of < collaboration.established_on:
                raise NotYetInEffect(
                    f"collaboration {collaboration_id} took effect on {collaboration.established_on}, after {as_of}"
                )
            collaboration = collaboration.as_of(as_of)
        return collaboration

    def close_log_through(self, known_at: datetime) -> None:
        """Makes a read of what had been recorded by ``known_at`` repeatable: once this returns,
        no event recorded by then can be added (``SideTableAccess.close_log_through``). Call it
        before reading anything filtered by recorded time; the reads here that take a
        ``known_at`` call it themselves. A time still to come is closed only up to now."""
        self.side_tables.close_log_through(recorded_at_text(known_at))

    def _version_known_at(self, uuid: UUID, known_at: datetime, not_found: type[DomainError], what: str) -> int:
        """The last version of a stream recorded at or before ``known_at``, from ``event_times``
        (one indexed row, not a replay). A stream stored before that table existed has no rows
        there; its own events' timestamps are read instead. The log is closed through
        ``known_at`` first, so the answer never changes afterwards."""
        self.close_log_through(known_at)
        version = self.side_tables.version_known_at(uuid, recorded_at_text(known_at))
        if version is None:
            # Events stored before event_times existed have no rows there: read their times.
            first_timed = self.side_tables.first_timed_version(uuid)
            if first_timed is None or first_timed > 1:
                upto = first_timed - 1 if first_timed is not None else None
                for event in self.events.get(uuid, lte=upto):
                    if event.timestamp <= known_at:
                        version = event.originator_version
        if version is None:
            if not self.exists(uuid):
                raise not_found(f"no {what} {uuid}")
            raise NotYetInEffect(f"{what} {uuid} had not been recorded by {recorded_at_text(known_at)}")
        return version

    def exists(self, uuid: UUID) -> bool:
        """Whether a stream has any event (one indexed read)."""
        return bool(self.recorder.select_events(uuid, limit=1))

    def log_size(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ------------------------------------------------------------------ plumbing
    def _change(
        self,
        collaboration_id: str,
        mutate: Callable[[Collaboration, Provenance], Mapping[str, Any] | None],
        **common: Any,
    ) -> Written:
        # A force that has left the agreement writes to it no more (it keeps its exit case).
        return self._change_aggregate(
            collaboration_id,
            lambda: self.collaboration(collaboration_id),
            mutate,
            "collaboration",
            parties_of=lambda collaboration: collaboration.current_parties(),
            **common,
        )

    def _change_case(
        self,
        case_id: str,
        mutate: Callable[[ExitCase, Provenance], Mapping[str, Any] | None],
        **common: Any,
    ) -> Written:
        return self._change_aggregate(
            case_id,
            lambda: self.exit_case(case_id),
            mutate,
            "exit case",
            parties_of=lambda case: case.parties,
            **common,
        )

    def _change_aggregate(
        self,
        aggregate_id: str,
        load: Callable[[], Any],
        mutate: Callable[[Any, Provenance], Mapping[str, Any] | None],
        what: str,
        *,
        parties_of: Callable[[Any], Collection[str]],
        caller: Caller,
        effective_on: date,
        reason: str,
        evidence: str | None = None,
        approval_ref: str | None = None,
        expected_version: int | Collection[int] | None = None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written:
        """Loads the aggregate, applies ``mutate`` and saves, retrying on fresh state when
        another writer took the version first, or the log was closed past the new events'
        recorded time (``RecordedOutOfOrder``). ``expected_version`` is the If-Match
        precondition: the version (or any of the versions) the caller based the change on. A
        force token writes only to aggregates its force is party to."""
        if (replay := self._replay(idempotency)) is not None:
            return replay
        with self._writers_of(aggregate_id):
            return self._change_in_turn(
                load,
                mutate,
                what,
                parties_of=parties_of,
                provenance=Provenance(effective_on, caller.actor, reason, evidence, approval_ref),
                caller=caller,
                expected_version=expected_version,
                idempotency=idempotency,
            )

    def _writers_of(self, aggregate_id: str) -> threading.RLock:
        """The lock this process's writers of one aggregate take turns on. With threaded web
        workers several requests of one process may change one aggregate at once: without turns,
        each would load the same version and all but one lose the race on saving; backing off,
        the losers let the next request in first, and one could lose a dozen times in a row (409).
        Locks are striped (a fixed set, chosen by the id), so two aggregates may share one."""
        return self._write_turns[hash(str(aggregate_id)) % len(self._write_turns)]

    def _change_in_turn(
        self,
        load: Callable[[], Any],
        mutate: Callable[[Any, Provenance], Mapping[str, Any] | None],
        what: str,
        *,
        parties_of: Callable[[Any], Collection[str]],
        provenance: Provenance,
        caller: Caller,
        expected_version: int | Collection[int] | None,
        idempotency: IdempotencyKey | None,
    ) -> Written:
        expected = {expected_version} if isinstance(expected_version, int) else expected_version
        deadline = time.monotonic() + OUT_OF_ORDER_PATIENCE_SECONDS
        conflicts = refusals = 0
        while conflicts < MAX_ATTEMPTS:
            aggregate = load()
            access.check_party_to(caller, parties_of(aggregate), what)
            if expected is not None and aggregate.version not in expected:
                named = ", ".join(str(version) for version in sorted(expected))
                versions = "versions" if len(expected) > 1 else "version"
                raise VersionMismatch(f"If-Match names {versions} {named} but the {what} is at {aggregate.version}")
            extra = mutate(aggregate, provenance) or {}
            try:
                return self._save(aggregate, idempotency, extra)
            except RecordedOutOfOrder as refused:  # the log was closed past these events' time
                refusals += 1
                if refusals >= MAX_ATTEMPTS and time.monotonic() >= deadline:
                    break
                write_retries.write_retried(write_retries.OUT_OF_ORDER)
                wait_for_the_clock(refused.closed_at)  # and again, with fresh events
            except IntegrityError:
                if (replay := self._replay(idempotency)) is not None:
                    return replay
                # Another writer took this version: back off a little, retry on fresh state.
                write_retries.write_retried(write_retries.VERSION_TAKEN)
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**conflicts)))  # noqa: S311
                conflicts += 1
        raise ConcurrentUpdate(f"the {what} kept changing under this request; try again")

    def _save(
        self,
        aggregate: Any,
        idempotency: IdempotencyKey | None,
        extra: Mapping[str, Any] | None = None,
    ) -> Written:
        """Saves the aggregate's new events and answers what was written: the aggregate and
        ``extra`` (the ids a command returns). Its answer (``Written``: the compact or the whole
        document of its type in ``ANSWER_DOCUMENTS``) is built only when asked for, as on the day
        of the save.

        With an Idempotency-Key, the key is stored with the events, with a bounded record of the
        answer, never the answer itself: the aggregate's type, id and version, the day the
        answer is built as on, ``extra``, the answer the request asked for, and (added by the
        recorder) the log position of the last event. ``_replay`` gives the same answer from it."""
        on = _today()
        request = None
        if idempotency is not None:
            record = self._idempotency_record(aggregate, extra or {}, on, idempotency.answer)
            request = IdempotentRequest(idempotency.principal, idempotency.key, idempotency.fingerprint, record)
        recordings = self.save(aggregate, idempotency=request)
        return Written(
            aggregate=aggregate,
            extra=dict(extra or {}),
            on=on,
            position=recordings[-1].notification.id if recordings else None,
            answer=idempotency.answer if idempotency is not None else MINIMAL,
        )

    @staticmethod
    def _idempotency_record(aggregate: Any, extra: Mapping[str, Any], on: date, answer: str) -> dict[str, Any]:
        """What ``_replay`` needs to answer again as a write on ``aggregate`` answered. Its size
        does not grow with the aggregate."""
        return {
            IDEMPOTENCY_RECORD: 1,
            "type": type(aggregate).__name__,
            "id": str(aggregate.id),
            "version": aggregate.version,
            "on": on.isoformat(),
            "extra": dict(extra),
            "answer": answer,
        }

    def _replay(self, idempotency: IdempotencyKey | None) -> Written | None:
        """The answer of the earlier request with this key, if there was one (None: there was
        not, or it was pruned); refused if the key was used for a different request. The answer
        is given again from the stored record (``_save``): the aggregate as it stood after that
        write, its documents as on the day they were first built, the ids the command returned,
        and the answer that request got (a record from before answers could be compact got the
        whole document). A key stored before issue 13 holds the whole answer, which is answered
        as it is."""
        if idempotency is None:
            return None
        rows = self.side_tables.execute(
            "SELECT fingerprint, result FROM {schema}idempotency_keys WHERE principal = ? AND idempotency_key = ?",
            (idempotency.principal, idempotency.key),
        )
        if not rows:
            return None
        if rows[0]["fingerprint"] != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used for a different request; use a new key", field="Idempotency-Key"
            )
        record = json.loads(rows[0]["result"])
        if not isinstance(record, dict) or IDEMPOTENCY_RECORD not in record:  # the whole answer (before issue 13)
            return Written(
                aggregate=None,
                extra={},
                on=date.today(),
                position=None,
                replayed=True,
                answer=REPRESENTATION,
                stored_answer=record,
            )
        return Written(
            aggregate=self._aggregate_at(record["type"], UUID(record["id"]), record["version"]),
            extra=record["extra"],
            on=date.fromisoformat(record["on"]),
            position=record.get("position"),
            replayed=True,
            answer=record.get("answer", REPRESENTATION),
        )

    def _aggregate_at(self, kind: str, uuid: UUID, version: int) -> Any:
        """The aggregate as it stood at ``version``: the cached one when it is still there (a
        retry soon after its request), else rebuilt from its snapshot and events up to it."""
        aggregate_class = ANSWER_DOCUMENTS[kind].aggregate
        aggregate = self.repository.get(uuid) if self.repository.cache else None
        if aggregate is None or aggregate.version != version:
            aggregate = self.repository.get(uuid, version=version)
        if not isinstance(aggregate, aggregate_class) or aggregate.version != version:
            raise RuntimeError(f"the idempotency record names {kind} {uuid} at version {version}, which is not stored")
        return aggregate

    def prune_idempotency_keys(
        self, older_than_days: int = IDEMPOTENCY_RETENTION_DAYS, *, now: datetime | None = None, batch_size: int = 500
    ) -> tuple[int, str]:
        """Deletes the Idempotency-Keys recorded more than ``older_than_days`` days before ``now``
        (in batches); answers how many, and the cut-off (``recorded_at`` text). A client that
        retries a pruned key records its request again: keys are kept for the documented
        retention (``IDEMPOTENCY_RETENTION_DAYS``), and clients must not retry older ones."""
        if older_than_days < 1:
            raise ValueError("keys are kept for at least a day")
        cutoff = recorded_at_text((now or datetime.now(UTC)) - timedelta(days=older_than_days))
        return self.side_tables.prune_idempotency_keys(cutoff, batch_size=batch_size), cutoff


def _today() -> date:
    """The day a write's answer is built as on (what the tests move to cross midnight)."""
    return date.today()


def _uuid(value: str, not_found: type[DomainError] = CollaborationNotFound, what: str = "collaboration") -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise not_found(f"no {what} {value}: not a UUID") from None
