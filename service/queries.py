"""The read side: one entry point per question the record answers.

Every question takes the moment it is asked about: ``as_of`` (a date: only what was in effect
then) and ``known_at`` (a time: only what had been recorded by then). The choice between
"now" and "as it stood" is made here, once per question, never in the web layer:

- *now* (neither given) is read from the projection that answers the question, brought up to
  the end of the log first (the register, the decision log, the exit-cost history, the
  benefits realisation);
- *as it stood* is rebuilt from the aggregates, each loaded at the last version recorded by
  ``known_at`` and viewed ``as_of`` the date (``CollaborationRecords.collaboration`` and its
  siblings), then shaped exactly as the projection shapes it now.

A ``known_at`` read closes the log through that time before it reads anything, so what it
answers never changes afterwards. Answers are JSON-ready documents (``service.documents``,
``service.exit_documents``); the API and the web view call this class and nothing below it.
"""

from __future__ import annotations

import functools
import heapq
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import islice
from math import ceil
from typing import Any
from uuid import UUID

from domain.decoupling_costs import decoupling_costs
from domain.errors import DomainError
from domain.exit_case import ExitCase, exit_case_id
from domain.exit_costs import CLAIMED_HEADS, quote_for_force
from domain.forces import FORCES
from domain.reconciliation import decoupling_computed, default_perspective, reconcile, withdrawal_computed
from domain.values import Money
from projections.benefits_realisation import ROW_FIELDS as BENEFIT_ROW_FIELDS
from projections.benefits_realisation import benefit_row, dashboard_of, row_order, totals_of, with_staleness
from projections.decision_log import DecisionFilters, UnknownDecision
from projections.event_documents import event_document
from projections.lag import ProjectionLag, projection_lag
from service.application import CollaborationRecords
from service.benefits_export import exported_benefit, function_labels
from service.benefits_workbook import register_workbook
from service.change_report import Window, changed_events, entity_change
from service.documents import (
    benefit_document,
    by_version,
    collaboration_document,
    exit_case_document,
    measurement_documents,
    register_entry,
    review_document,
    variation_document,
)
from service.errors import CollaborationNotFound, ExitCaseNotFound, NotYetInEffect
from service.exit_documents import EventSources, decoupling_document, quote_document, reconciliation_document
from service.persistence import recorded_at_text

__all__ = ["BENEFIT_ROW_FIELDS", "DecisionFilters", "RecordQueries", "UnknownDecision"]

READ_CHUNK = 500  # events read at a time when a history is streamed
FIRST_CHUNK = 64  # events first read of each stream of a history: many are short, and a page needs few of each
PROBES = 64  # versions of a stream looked up at once when finding where its events pass a log position
# A page of a history (a collaboration's events, exit figures event by event): events by default
# (small records come back whole) and at most.
HISTORY_PAGE = 1000
MAX_HISTORY_PAGE = 5000
# A page of a list that grows with its events (a collaboration's reviews and variations, a
# benefit's measurements): entries by default and at most.
LIST_PAGE = 100
MAX_LIST_PAGE = 1000
# The kinds of a collaboration's history: its own events, its exit cases', its benefits'.
HISTORY_KINDS = {"collaboration": "Collaboration", "exit_case": "ExitCase", "benefit": "Benefit"}


# How long a question about now may spend bringing its projection up to the log before it is
# answered 503 (``ProjectionBehind``) instead: a read answers in bounded time, never by a worker
# killed for its timeout while it replays a long log (``READ_CATCH_UP_SECONDS``).
DEFAULT_CATCH_UP_SECONDS = 1.5  # so that the answer, 503 or not, comes within 2 s (bench.cold_read)
MAX_RETRY_AFTER = 60  # seconds: the Retry-After of a projection behind, at most


class ProjectionNotOpen(RuntimeError):
    """A question was asked of a query side built without the projection that answers it."""


class ProjectionBehind(RuntimeError):
    """The projection that answers a question about now is further behind the log than a request
    may wait for: answered 503 with ``Retry-After`` while the follower (or later reads) bring it
    up. What it caught up meanwhile is kept."""

    def __init__(self, name: str, position: int, head: int, retry_after: int):
        super().__init__(
            f"the {name.replace('_', ' ')} is catching up with the record: {head - position} events still to "
            f"read (at position {position} of {head}); try again in {retry_after} s"
        )
        self.name, self.position, self.head, self.retry_after = name, position, head, retry_after


@dataclass(frozen=True)
class Page:
    """A page of a list read with a cursor (``after``): its items, and the cursor the next page
    starts after (the last item's), None when the list ends with this page."""

    items: list[dict[str, Any]]
    next_after: int | None


def page_of(items: Iterable[dict[str, Any]], limit: int | None, cursor: Callable[[dict[str, Any]], int]) -> Page:
    """The first ``limit`` of ``items`` (all of them with None), reading one more to know whether
    the list goes on; ``cursor`` is an item's place in the list (a log position, a version)."""
    if limit is None:
        return Page(list(items), None)
    taken = list(islice(items, limit + 1))
    if len(taken) <= limit:
        return Page(taken, None)
    return Page(taken[:limit], cursor(taken[limit - 1]))


def by_position(item: dict[str, Any]) -> int:
    return item["position"]


def by_source_version(item: dict[str, Any]) -> int:
    return item["source_version"]


def versioned_after(entries: Sequence[Any], after: int) -> Sequence[Any]:
    """The entries (in the order recorded, so by version) recorded after version ``after``."""
    return entries[bisect_right(entries, after, key=lambda entry: entry.version) :]


class RecordQueries:
    """Every question the API and the web view ask, over the application's aggregates (as they
    stood) and this process's projections (now). A projection not given is opened by nobody:
    asking a question that needs it raises ``ProjectionNotOpen`` (tests build the query side
    with only what they ask)."""

    def __init__(
        self,
        records: CollaborationRecords,
        *,
        register: Any = None,
        decision_log: Any = None,
        exit_cost_history: Any = None,
        benefits_realisation: Any = None,
        catch_up_within: float = DEFAULT_CATCH_UP_SECONDS,
    ) -> None:
        self.records = records
        self.catch_up_within = catch_up_within
        self._projections = {
            "register": register,
            "decision_log": decision_log,
            "exit_cost_history": exit_cost_history,
            "benefits_realisation": benefits_realisation,
        }

    # ------------------------------------------------------------------ the moment asked about
    def _as_it_stood(self, as_of: date | None, known_at: datetime | None) -> bool:
        """Whether the question is about the past (rebuilt from the aggregates) rather than now
        (read from a projection). A ``known_at`` closes the log through it first."""
        if known_at is not None:
            self.records.close_log_through(known_at)
        return as_of is not None or known_at is not None

    def _caught_up(self, name: str) -> Any:
        """The projection ``name``, brought up to the end of the log as it was when asked, within
        ``catch_up_within`` seconds; ``ProjectionBehind`` if it could not get there in time."""
        projection = self._projections[name]
        if projection is None:
            raise ProjectionNotOpen(f"this query side was built without the {name} projection")
        caught = projection.catch_up_within(self.catch_up_within)
        if caught.behind:
            left = caught.target - caught.position
            remaining = left / caught.rate if caught.rate > 0 else MAX_RETRY_AFTER
            retry_after = max(1, min(MAX_RETRY_AFTER, ceil(remaining)))
            raise ProjectionBehind(name, caught.position, caught.target, retry_after=retry_after)
        return projection

    # ------------------------------------------------------------------------ the register
    def register(
        self, *, as_of: date | None = None, known_at: datetime | None = None, **filters: Any
    ) -> dict[str, Any]:
        """A page of the central register (filters ``party``, ``status``, ``function``, ``q``,
        ``page``, ``page_size``), now or as it stood: each collaboration as known at
        ``known_at`` and in effect on ``as_of``, filtered and ordered as the projection does (by
        case-folded name, then id). As it stood costs a load per collaboration the register
        knows: fine for the hundreds of agreements England and Wales have."""
        then = self._as_it_stood(as_of, known_at)
        register = self._caught_up("register")
        if not then:
            return register.search(**filters)
        ids = [row.id for row in register.view.all_rows()]
        return self._register_as_it_stood(ids, as_of=as_of, known_at=known_at, **filters)

    def _register_as_it_stood(
        self,
        collaboration_ids: Iterable[str],
        *,
        as_of: date | None,
        known_at: datetime | None,
        party: str | None = None,
        status: str | None = None,
        function: str | None = None,
        q: str | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> dict[str, Any]:
        entries = []
        for collaboration_id in collaboration_ids:
            try:
                collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
            except (CollaborationNotFound, NotYetInEffect):
                continue  # not recorded yet at known_at, or not yet in effect on as_of
            entry = register_entry(collaboration)
            if register_entry_matches(entry, party=party, status=status, function=function, q=q):
                entries.append(entry)
        entries.sort(key=lambda entry: (entry["name"].casefold(), entry["id"]))
        start = (page - 1) * page_size
        items = entries[start : start + page_size]
        return {"items": items, "total": len(entries), "page": page, "page_size": page_size}

    # ---------------------------------------------------------------------- a collaboration
    def collaboration(
        self,
        collaboration_id: str,
        *,
        version: int | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The collaboration now, after event ``version``, or as it stood."""
        return collaboration_document(
            self.records.collaboration(collaboration_id, version=version, as_of=as_of, known_at=known_at)
        )

    def reviews(
        self,
        collaboration_id: str,
        *,
        after: int = 0,
        limit: int = LIST_PAGE,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A page of the collaboration's reviews (now, or as it stood), in the order they were
        recorded: those recorded after version ``after``."""
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        return versioned_page(collaboration, collaboration.reviews, review_document, after=after, limit=limit)

    def variations(
        self,
        collaboration_id: str,
        *,
        after: int = 0,
        limit: int = LIST_PAGE,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A page of the collaboration's variations (now, or as it stood), in the order they were
        recorded: those recorded after version ``after``."""
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        return versioned_page(collaboration, collaboration.variations, variation_document, after=after, limit=limit)

    def history(
        self,
        collaboration_id: str,
        *,
        upto_version: int | None = None,
        kind: str | None = None,
        after: int = 0,
    ) -> tuple[int, Iterator[dict[str, Any]]]:
        """The collaboration's version (now, or ``upto_version``), and every event of it and of
        its children (its exit cases, and its benefits, which the realisation projection lists)
        in log order, each with its ``aggregate_type``, log ``position`` and chain ``hash``:
        only those of one ``kind`` (``HISTORY_KINDS``) if given; with ``upto_version``, only
        those recorded up to that version of the collaboration; only those after log position
        ``after``. Each stream is read from its first event after ``after`` (found in a few
        indexed reads, ``_first_version_after``), a chunk at a time as the merge by position
        takes them, with the chain rows of that chunk only: a page, or the history up to an early
        version, reads what it answers and little more, and an export stays in bounded memory."""
        records = self.records
        collaboration = records.collaboration(collaboration_id)  # 404 for an unknown id
        version = collaboration.version if upto_version is None else min(upto_version, collaboration.version)
        streams = [(collaboration.id, "Collaboration")]
        streams += [(case_id, "ExitCase") for case_id in self._exit_case_ids(collaboration)]
        if kind in (None, "benefit"):
            streams += [(UUID(benefit_id), "Benefit") for benefit_id in self.benefit_ids(collaboration_id)]
        if kind is not None:
            streams = [(stream, aggregate) for stream, aggregate in streams if aggregate == HISTORY_KINDS[kind]]
        last_position = None
        if upto_version is not None:
            chain = records.side_tables.stream_chain(collaboration.id, versions=[version])
            last_position = chain.get(version, (None,))[0]
        lte = {collaboration.id: version}
        merged = heapq.merge(
            *(
                self._stream_history(stream, aggregate, after=after, lte=lte.get(stream), last_position=last_position)
                for stream, aggregate in streams
            ),
            key=lambda pair: pair[0],
        )
        return version, (item for _, item in merged)

    def history_page(
        self,
        collaboration_id: str,
        *,
        after: int = 0,
        limit: int = HISTORY_PAGE,
        upto_version: int | None = None,
        kind: str | None = None,
    ) -> tuple[int, Page]:
        """A page of ``history``: its first ``limit`` events after log position ``after``, and
        the position to read on from (None at the end)."""
        version, items = self.history(collaboration_id, upto_version=upto_version, kind=kind, after=after)
        return version, page_of(items, limit, by_position)

    def _stream_history(
        self, stream: UUID, aggregate: str, *, after: int, lte: int | None, last_position: int | None
    ) -> Iterator[tuple[tuple[int, int], dict[str, Any]]]:
        """One stream's events after log position ``after`` (up to version ``lte``; none past
        ``last_position``), each keyed by (position, version) for the merge. Chunks start small
        and double, since many streams (a benefit's) are short and a page takes few of each."""
        records = self.records
        gt = self._first_version_after(stream, after, lte) - 1 if after > 0 else 0
        chunk = min(FIRST_CHUNK, READ_CHUNK)
        while True:
            events = list(records.events.get(stream, gt=gt, lte=lte, limit=chunk))
            if not events:
                return
            chain = records.side_tables.stream_chain(stream, versions=[event.originator_version for event in events])
            for event in events:
                position, digest = chain.get(event.originator_version, (None, None))
                if last_position is not None and (position is None or position > last_position):
                    return
                item = {**event_document(event), "aggregate_type": aggregate, "position": position, "hash": digest}
                yield (position if position is not None else 0, event.originator_version), item
            if len(events) < chunk:
                return
            gt = events[-1].originator_version
            chunk = min(2 * chunk, READ_CHUNK)

    def _first_version_after(self, stream: UUID, after: int, lte: int | None) -> int:
        """The first version of the stream (up to ``lte``) whose event is after log position
        ``after``; one past the last if none is. A stream's events take log positions in the
        order of their versions, so it is searched for: ``PROBES`` versions looked up in one
        indexed read narrow it down ``PROBES``-fold (three reads for 50,000 events). An event
        not in the hash chain (stored before it existed) counts as before every position."""
        last = lte
        if last is None:
            newest = self.records.recorder.select_events(stream, desc=True, limit=1)
            last = newest[0].originator_version if newest else 0
        low, high = 1, last + 1  # the answer is in [low, high]
        while low < high:
            probes = range(low, high, ceil((high - low) / PROBES))
            chain = self.records.side_tables.stream_chain(stream, versions=list(probes))
            for probe in probes:
                if chain.get(probe, (0, ""))[0] > after:
                    high = probe
                    break
                low = probe + 1
        return low

    def events_of(self, collaboration_id: str, *, known_at: datetime | None = None) -> list[dict[str, Any]]:
        """The collaboration's own events (as its history lists them), those recorded by ``known_at``."""
        self._as_it_stood(None, known_at)
        _, items = self.history(collaboration_id, kind="collaboration")
        return known_by(list(items), known_at)

    def stream_events(self, stream_id: str, *, known_at: datetime | None = None) -> list[dict[str, Any]]:
        """Every event of one stream (an exit case's or a benefit's) as a history lists them,
        those recorded by ``known_at``."""
        self._as_it_stood(None, known_at)
        uuid = UUID(stream_id)
        chain = self.records.side_tables.stream_chain(uuid)
        documents = []
        for event in self.records.events.get(uuid):
            position, digest = chain.get(event.originator_version, (None, None))
            documents.append({**event_document(event), "position": position, "hash": digest})
        return known_by(documents, known_at)

    def _exit_case_ids(self, collaboration: Any) -> list[UUID]:
        """The collaboration's exit cases that exist: one per party's withdrawal and per function's
        decoupling (their ids are derived from them)."""
        candidates = [exit_case_id(collaboration.id, "withdrawal", party) for party in collaboration.parties]
        candidates += [
            exit_case_id(collaboration.id, "decoupling", function_id) for function_id in collaboration.functions
        ]
        return [case_id for case_id in candidates if self.records.exists(case_id)]

    # ---------------------------------------------------------------------------- exit costs
    def exit_quote(
        self,
        collaboration_id: str,
        *,
        force: str,
        exit_on: date | None = None,
        today: date | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """The exit-cost quote of ``force`` withdrawing on ``exit_on``, and who is paid what.

        N and E are as ``domain.exit_costs.exit_basis`` says (the quote date is ``as_of`` if
        given, else today). The claimed heads come from the force's withdrawal exit case, by who
        each claim is between. Each line's ``source_events`` maps each input to the event that
        supplied it."""
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        collaboration.check_is_party(force, "force")
        quoted_on = as_of or today or date.today()
        case = self._exit_case_of(collaboration_id, "withdrawal", force, as_of=as_of, known_at=known_at)
        claims = case.claimed_lines(CLAIMED_HEADS) if case else []
        quote = quote_for_force(collaboration, force=force, on=quoted_on, exit_on=exit_on, claims=claims)
        notice = collaboration.live_notice(force)
        sources = EventSources(self.records.side_tables, str(collaboration.id))
        return {
            "collaboration_id": str(collaboration.id),
            "version": collaboration.version,
            "force": force,
            **asked_moment(as_of, known_at),
            "notice_served": notice is not None,
            "exit_case_id": str(case.id) if case else None,
            **quote_document(quote, sources),
        }

    def decoupling_costs(
        self,
        collaboration_id: str,
        *,
        function_id: str,
        exit_on: date | None = None,
        today: date | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """What decoupling a function costs, head by head, and each party's share and net position
        (``domain.decoupling_costs``): of its recorded decoupling, or of one proposed to take
        effect on ``exit_on``, quoted on ``as_of`` (else today); the claims are the current ones of
        the decoupling's exit case."""
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        quoted_on = as_of or today or date.today()
        case = self._exit_case_of(collaboration_id, "decoupling", function_id, as_of=as_of, known_at=known_at)
        claims = case.claimed_lines(CLAIMED_HEADS) if case else []
        statement = decoupling_costs(
            collaboration, function_id=function_id, on=quoted_on, exit_on=exit_on, claims=claims
        )
        sources = EventSources(self.records.side_tables, str(collaboration.id))
        return {
            "collaboration_id": str(collaboration.id),
            "version": collaboration.version,
            **asked_moment(as_of, known_at),
            "exit_case_id": str(case.id) if case else None,
            **decoupling_document(statement, sources),
        }

    def force_exit_cost_history(
        self,
        collaboration_id: str,
        force: str,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
        after: int = 0,
    ) -> list[dict[str, Any]]:
        """The rows of the force's exit figures, one per event that changed them (the exit-cost
        history projection); with ``as_of``/``known_at``, only the rows of events recorded by
        then that had taken effect by then; only those of events after log position ``after``.
        A force that is not a party is refused."""
        self._as_it_stood(as_of, known_at)
        self.records.collaboration(collaboration_id).check_is_party(force, "force")  # 404, 422
        rows = self._caught_up("exit_cost_history").force_history(collaboration_id, force)
        return rows_after(rows_as_they_stood(rows, as_of, known_at), after)

    def force_exit_cost_history_page(
        self, collaboration_id: str, force: str, *, after: int = 0, limit: int = HISTORY_PAGE
    ) -> Page:
        """A page of ``force_exit_cost_history``: its first ``limit`` rows after log position
        ``after``, read from the projection as a page (one more row, to know whether it goes on)."""
        self.records.collaboration(collaboration_id).check_is_party(force, "force")  # 404, 422
        history = self._caught_up("exit_cost_history")
        return page_of(history.force_history(collaboration_id, force, after=after, limit=limit + 1), limit, by_position)

    # ---------------------------------------------------------------------------- exit cases
    def exit_case(self, case_id: str, *, as_of: date | None = None, known_at: datetime | None = None) -> dict[str, Any]:
        """The exit case now, or as it stood."""
        return exit_case_document(self.records.exit_case(case_id, as_of=as_of, known_at=known_at))

    def exit_cases_of(
        self, collaboration_id: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The collaboration's exit cases that existed then: of each party's withdrawal, then of
        each function's decoupling."""
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)
        subjects = [("withdrawal", force) for force in collaboration.parties]
        subjects += [("decoupling", function.id) for function in by_version(collaboration.functions.values())]
        cases = []
        for trigger, subject in subjects:
            case_id = str(exit_case_id(collaboration_id, trigger, subject))
            try:
                cases.append(self.exit_case(case_id, as_of=as_of, known_at=known_at))
            except (ExitCaseNotFound, NotYetInEffect):
                continue
        return cases

    def case_exit_cost_history(
        self, case_id: str, *, as_of: date | None = None, known_at: datetime | None = None, after: int = 0
    ) -> list[dict[str, Any]]:
        """The exit case's figures, one row per event that changed them (the exit-cost history
        projection); with ``as_of``/``known_at``, the rows as they stood; only those of events
        after log position ``after``."""
        self._as_it_stood(as_of, known_at)
        self.records.exit_case(case_id)  # 404 for an unknown case
        rows = self._caught_up("exit_cost_history").case_history(case_id)
        return rows_after(rows_as_they_stood(rows, as_of, known_at), after)

    def case_exit_cost_history_page(self, case_id: str, *, after: int = 0, limit: int = HISTORY_PAGE) -> Page:
        """A page of ``case_exit_cost_history``: its first ``limit`` rows after log position
        ``after``, read from the projection as a page (one more row, to know whether it goes on)."""
        self.records.exit_case(case_id)  # 404 for an unknown case
        history = self._caught_up("exit_cost_history")
        return page_of(history.case_history(case_id, after=after, limit=limit + 1), limit, by_position)

    def reconciliation(
        self,
        case_id: str,
        *,
        force: str | None = None,
        today: date | None = None,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Where the case's settlement departed from the formula (``domain.reconciliation``), from
        ``force``'s side (by default the withdrawing force, or a decoupling's settlement payer):
        per head and in total, computed (the exit-cost method on the case's dates, quoted on
        ``as_of`` else today), claimed, assessed and agreed, with the differences."""
        case = self.records.exit_case(case_id, as_of=as_of, known_at=known_at)
        force = force or default_perspective(case)
        case.check_is_party(force, "force")
        collaboration = self.records.collaboration(case.collaboration_id, as_of=as_of, known_at=known_at)
        quoted_on = as_of or today or date.today()
        claims = case.claimed_lines(CLAIMED_HEADS)
        computed: tuple[dict[str, Money] | None, Money | None] = (None, None)
        basis: dict[str, str] | None = None
        note = None
        try:
            if case.trigger == "withdrawal" and case.force is not None:
                quote = quote_for_force(collaboration, force=case.force, on=quoted_on, claims=claims)
                computed = withdrawal_computed(quote, force)
                basis = {"notice_on": quote.notice_on.isoformat(), "exit_on": quote.exit_on.isoformat()}
            elif case.function_id is not None:
                statement = decoupling_costs(collaboration, function_id=case.function_id, on=quoted_on, claims=claims)
                computed = decoupling_computed(statement, force)
                basis = {"notice_on": statement.notice_on.isoformat(), "exit_on": statement.exit_on.isoformat()}
        except DomainError as error:  # the record does not allow a computation (no terms, say)
            note = f"nothing can be computed: {error.detail}"
        return {
            "exit_case_id": str(case.id),
            "collaboration_id": case.collaboration_id,
            "version": case.version,
            "trigger": case.trigger,
            "force": force,
            **asked_moment(as_of, known_at),
            "computed_on": basis,
            "note": note,
            **reconciliation_document(reconcile(case, force, *computed)),
        }

    def _exit_case_of(
        self, collaboration_id: str, trigger: str, subject: str, *, as_of: date | None, known_at: datetime | None
    ) -> ExitCase | None:
        """The exit case of a withdrawal (``subject`` the force) or a decoupling (the function),
        if there is one (as it stood, if asked)."""
        case_id = exit_case_id(collaboration_id, trigger, subject)
        if not self.records.exists(case_id):  # most quotes have no case: one indexed read, not a load
            return None
        try:
            return self.records.exit_case(str(case_id), as_of=as_of, known_at=known_at)
        except NotYetInEffect:
            return None

    # ------------------------------------------------------------------------------ benefits
    def benefit(
        self, benefit_id: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> dict[str, Any]:
        """The benefit now, or as it stood (realisation computed on ``as_of``)."""
        return benefit_document(self.records.benefit(benefit_id, as_of=as_of, known_at=known_at), as_of=as_of)

    def measurements(
        self,
        benefit_id: str,
        *,
        after: int = 0,
        limit: int | None = LIST_PAGE,
        as_of: date | None = None,
        known_at: datetime | None = None,
    ) -> dict[str, Any]:
        """A page of the benefit's measurements (now, or as it stood), in the order they were
        recorded: those recorded after version ``after``, ``limit`` of them (None: all, as the web
        view lists them)."""
        benefit = self.records.benefit(benefit_id, as_of=as_of, known_at=known_at)
        entries = versioned_after(by_version(benefit.measurements), after)
        taken = entries if limit is None else entries[: limit + 1]  # one more: does the list go on?
        page = page_of(measurement_documents(benefit, taken), limit, by_source_version)
        return {
            "benefit_id": str(benefit.id),
            "version": benefit.version,
            "total": len(benefit.measurements),
            "items": page.items,
            "next_after": page.next_after,
        }

    def benefit_ids(self, collaboration_id: str) -> list[str]:
        """The ids of a collaboration's benefits, from the realisation projection: every benefit
        ever identified, since none is ever removed."""
        projection = self._caught_up("benefits_realisation")
        return [row["benefit_id"] for row in projection.portfolio(collaboration_id=collaboration_id)]

    def dashboard(
        self, collaboration_id: str, *, as_of: date | None = None, known_at: datetime | None = None
    ) -> dict[str, Any]:
        """The realisation dashboard of a collaboration: now from the realisation projection; as it
        stood computed from each of its benefits as known at ``known_at`` and in effect on
        ``as_of`` (restatements recorded later left out). Readings are judged stale on the day
        read (``read_on``)."""
        read_on = read_on_day(as_of, known_at)
        if not self._as_it_stood(as_of, known_at):
            self.records.collaboration(collaboration_id)  # 404 for an unknown collaboration
            return self._caught_up("benefits_realisation").dashboard(collaboration_id, read_on=read_on)
        collaboration = self.records.collaboration(collaboration_id, as_of=as_of, known_at=known_at)  # 404s
        benefits = [
            benefit
            for benefit in self.benefits_at(self.benefit_ids(collaboration_id), as_of=as_of, known_at=known_at)
            if benefit.collaboration_id == str(collaboration.id)
        ]
        return dashboard_of(benefits, read_on=read_on, collaboration_id=str(collaboration.id))

    def portfolio(
        self,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
        stage: int | None = None,
        status: str | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """The portfolio rows across collaborations (filters ``force``, ``pillar``, ``category``,
        ``collaboration_id``, ``stage``, ``status``), now or as it stood: then, the stage and
        status filters apply to each benefit as it stood."""
        then = self._as_it_stood(as_of, known_at)
        read_on = read_on_day(as_of, known_at)
        projection = self._caught_up("benefits_realisation")
        if not then:
            return [with_staleness(row, read_on) for row in projection.portfolio(stage=stage, status=status, **filters)]
        ids = [row["benefit_id"] for row in projection.portfolio(**filters)]
        rows = sorted((benefit_row(b) for b in self.benefits_at(ids, as_of=as_of, known_at=known_at)), key=row_order)
        return [
            with_staleness(row, read_on)
            for row in rows
            if (stage is None or row["stage"] == stage) and (status is None or row["status"] == status)
        ]

    def benefits_workbook(
        self,
        collaboration_id: str | None = None,
        *,
        as_of: date | None = None,
        known_at: datetime | None = None,
        **filters: Any,
    ) -> bytes:
        """The dashboard of a collaboration (or, without one, the portfolio matching ``filters``)
        as an .xlsx workbook (``service/benefits_workbook.py``): the register sheets, which import
        back recording nothing, the figures, the totals and their provenance."""
        read_on = read_on_day(as_of, known_at)
        if collaboration_id is not None:
            document = self.dashboard(collaboration_id, as_of=as_of, known_at=known_at)
            rows, totals = document["benefits"], document["totals"]
            title = f"Benefits of collaboration {collaboration_id}"
        else:
            rows = self.portfolio(as_of=as_of, known_at=known_at, **filters)
            totals = totals_of(rows)
            title = "Benefits portfolio"
        benefits = {
            str(benefit.id): benefit
            for benefit in self.benefits_at([row["benefit_id"] for row in rows], as_of=as_of, known_at=known_at)
        }
        labels: dict[str, dict[str, str]] = {}
        exported = []
        for row in rows:
            benefit = benefits[row["benefit_id"]]
            if benefit.collaboration_id not in labels:
                labels[benefit.collaboration_id] = function_labels(self.records.collaboration(benefit.collaboration_id))
            exported.append(exported_benefit(benefit, row, labels[benefit.collaboration_id]))
        return register_workbook(exported, totals, title=title, read_on=read_on)

    def changes(self, collaboration_id: str, window: Window, *, known_at: datetime | None = None) -> dict[str, Any]:
        """What changed in the collaboration, its exit cases and its benefits across the window
        (``service/change_report.py``): per entity a JSON Patch of its state document, and the
        events in the window as sentences, back-dated corrections flagged. ``known_at`` (an
        effective window only) reads both ends as known at that time rather than now."""
        if known_at is not None and window.kind != "effective":
            raise ValueError("known_at reads an effective window; a recorded window names its own times")
        collaboration = self.records.collaboration(collaboration_id)  # 404 for an unknown id
        known = {"known_at": known_at} if known_at is not None else {}
        readers: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("collaboration", collaboration_id, functools.partial(self.collaboration, collaboration_id, **known))
        ]
        readers += [
            ("exit_case", str(case_id), functools.partial(self.exit_case, str(case_id), **known))
            for case_id in self._exit_case_ids(collaboration)
        ]
        readers += [
            ("benefit", benefit_id, functools.partial(self.benefit, benefit_id, **known))
            for benefit_id in self.benefit_ids(collaboration_id)
        ]
        entities = [change for kind, entity, read in readers if (change := entity_change(kind, entity, read, window))]
        _, history = self.history(collaboration_id)
        if known_at is not None:
            history = (event for event in history if datetime.fromisoformat(event["recorded_at"]) <= known_at)
        names = {function_id: function.name for function_id, function in collaboration.functions.items()}
        events = changed_events(history, window, names)
        return {
            "collaboration_id": collaboration_id,
            "window": window.as_dict(),
            "entities": [entity for entity in entities if entity["status"] != "unchanged"],
            "unchanged": sum(1 for entity in entities if entity["status"] == "unchanged"),
            "events": events,
            "back_dated": sum(1 for event in events if event["back_dated"]),
        }

    def benefits_at(self, benefit_ids: Collection[str], *, as_of: date | None, known_at: datetime | None) -> list[Any]:
        """The benefits as known at ``known_at`` and in effect on ``as_of``, leaving out those not
        recorded or not identified by then."""
        benefits = []
        for benefit_id in benefit_ids:
            try:
                benefits.append(self.records.benefit(str(benefit_id), as_of=as_of, known_at=known_at))
            except NotYetInEffect:
                continue
        return benefits

    # ------------------------------------------------------------------------------ decisions
    def decisions(self, filters: DecisionFilters, **paging: Any) -> dict[str, Any]:
        """A page of the decision log (``page``/``page_size`` or keyset ``after``)."""
        return self._caught_up("decision_log").search(filters, **paging)

    def decisions_export(self, filters: DecisionFilters, *, after: Any = None) -> Iterator[dict[str, Any]]:
        """Every decision matching ``filters`` (after ``after``), streamed."""
        return self._caught_up("decision_log").export(filters, after=after)

    # ------------------------------------------------------------------------------- the log
    def feed(self, *, after: int, limit: int, with_documents: bool = False) -> list[dict[str, Any]]:
        """Up to ``limit`` events of the global log after position ``after``, each with its hash
        and, ``with_documents``, the canonical document its hash is the SHA-256 of (its stored
        state, stream, version, position and the previous event's hash: what lets a consumer
        check the event and the chain without trusting the host)."""
        records = self.records
        notifications = records.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
        positions = [notification.id for notification in notifications]
        hashes = records.side_tables.chain_hashes(positions)
        documents = records.side_tables.chained_documents(positions) if with_documents else {}
        items = []
        for notification in notifications:
            item = {
                "position": notification.id,
                **event_document(records.mapper.to_domain_event(notification)),
                "hash": hashes.get(notification.id),
            }
            if with_documents:
                document = documents.get(notification.id)
                item["document"] = document.decode() if document is not None else None
            items.append(item)
        return items

    def feed_items(self, *, after: int) -> Iterator[dict[str, Any]]:
        """The feed after ``after`` up to the end of the log when the export began, read a page
        of ``READ_CHUNK`` at a time through the same code as the JSON feed."""
        last = self.records.log_size()
        while after < last:
            page = self.feed(after=after, limit=READ_CHUNK)
            if not page:
                return
            for item in page:
                if item["position"] > last:
                    return
                yield item
            after = page[-1]["position"]

    def projection_lag(self) -> ProjectionLag:
        """How many events of the log each projection has still to read (readiness)."""
        return projection_lag(self.records, self._projections)

    @staticmethod
    def forces() -> list[dict[str, str]]:
        return [{"code": f.code, "name": f.name, "country": f.country} for f in FORCES.values()]


# ------------------------------------------------------------------------------ helpers
def asked_moment(as_of: date | None, known_at: datetime | None) -> dict[str, str | None]:
    """The moment an exit-cost answer is about, as it names it (``known_at`` fixed width)."""
    return {"as_of": as_of.isoformat() if as_of else None, "known_at": recorded_at_text(known_at) if known_at else None}


def known_by(events: list[dict[str, Any]], known_at: datetime | None) -> list[dict[str, Any]]:
    """The events (or history rows) recorded by ``known_at``."""
    if known_at is None:
        return events
    return [event for event in events if datetime.fromisoformat(event["recorded_at"]) <= known_at]


def rows_after(rows: list[dict[str, Any]], after: int) -> list[dict[str, Any]]:
    """History rows (in log order) of events after log position ``after``."""
    return rows if after <= 0 else rows[bisect_right(rows, after, key=by_position) :]


def versioned_page(
    collaboration: Any, entries: Sequence[Any], document: Callable[[Any], dict[str, Any]], *, after: int, limit: int
) -> dict[str, Any]:
    """A page of a collaboration's list (reviews, variations: kept in the order recorded), of
    the entries recorded after version ``after``."""
    page = page_of((document(entry) for entry in versioned_after(entries, after)), limit, by_source_version)
    return {
        "collaboration_id": str(collaboration.id),
        "version": collaboration.version,
        "total": len(entries),
        "items": page.items,
        "next_after": page.next_after,
    }


def rows_as_they_stood(
    rows: list[dict[str, Any]], as_of: date | None, known_at: datetime | None
) -> list[dict[str, Any]]:
    """History rows of events recorded by ``known_at`` that had taken effect by ``as_of``."""
    rows = known_by(rows, known_at)
    if as_of is None:
        return rows
    return [row for row in rows if row["effective_on"] <= as_of.isoformat()]


def register_entry_matches(
    entry: dict[str, Any], *, party: str | None, status: str | None, function: str | None, q: str | None
) -> bool:
    """The register projection's filters (``projections/register.py``, ``RegisterView.search``)."""
    if (party := (party or "").strip()) and party not in entry["parties"]:
        return False
    if (status := (status or "").strip()) and entry["status"] != status:
        return False
    if function := (function or "").strip():
        folded = function.casefold()
        if not any(
            f["id"] == function or f["kind"] == folded or folded in f["name"].casefold() for f in entry["functions"]
        ):
            return False
    text = "\n".join(t.casefold() for t in (entry["name"], entry["purpose"], entry["governance_body"] or ""))
    return all(term in text for term in (q or "").casefold().split())


def read_on_day(as_of: date | None, known_at: datetime | None) -> date:
    """The day a benefits read is judged on (which readings are stale): ``as_of``, else the day
    of ``known_at`` (UTC; what is known at a later time is what is known now), else today."""
    today = date.today()
    if as_of is not None:
        return as_of
    if known_at is not None:
        return min(known_at.astimezone(UTC).date() if known_at.tzinfo else known_at.date(), today)
    return today
