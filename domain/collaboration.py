"""The Collaboration aggregate: one s22A agreement and its whole life as events.

Each public command checks the rules first (small ``check_*`` methods raising named domain
errors) and only then triggers an event, so a refused command records nothing. Events carry
plain values (str, Decimal, date, int, dict, list) so that the stored record stays readable
and upcastable; the aggregate turns them into value objects as it applies them.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import uuid4

from eventsourcing.domain import Aggregate

from domain.effective_index import EffectiveIndex
from domain.errors import (
    AgreementEnded,
    CaseBeforeItsTrigger,
    DecidedAfterEffect,
    DomainError,
    DuplicateFunction,
    DuplicateParty,
    EndedBeforeLastFact,
    FactBeforeAgreement,
    FactBeforeFunction,
    FactBeforeParty,
    FunctionAlreadyDecoupled,
    InvalidApportionmentBasis,
    InvalidAsset,
    InvalidDirection,
    InvalidExitTerms,
    InvalidFunctionKind,
    InvalidReviewCycle,
    InvalidShare,
    LeadForceNotAParty,
    NoExitTerms,
    NoLiveNotice,
    NothingToExit,
    NoticeAlreadyServed,
    NoticeWithdrawnBeforeServed,
    PartyHasWithdrawn,
    PartyNotInCollaboration,
    TooFewParties,
    UnknownFunction,
    WithdrawalBeforeNotice,
)
from domain.forces import check_force_code
from domain.months import add_months
from domain.values import (
    NAME_LENGTH,
    REFERENCE_LENGTH,
    TEXT_LENGTH,
    FinancialYear,
    Immutable,
    Money,
    MutableEntry,
    Provenance,
    Share,
    copy_sharing_entries,
    financial_year_start,
    optional_text,
    required_text,
    shares_summing_to_one,
)

FUNCTION_KINDS = ("operational", "enabling")
APPORTIONMENT_BASES = ("force_size", "net_revenue_budget", "fixed_ratio", "usage")
EXIT_COST_HEADS = ("H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8")
ACTIVE = "active"
NOTICE_SERVED = "notice_served"
TERMINATED = "terminated"

# Whole numbers of months each period may be, inclusive of both ends.
REVIEW_CYCLE_MONTHS = range(1, 600 + 1)  # up to fifty years
EXIT_TERMS_MONTHS = range(0, 1200 + 1)  # notice period, stranded cost period: up to a century
USEFUL_LIFE_MONTHS = range(1, 1200 + 1)


def whole_months(value: object, field_name: str, allowed: range, error: type[DomainError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise error(
            f"{field_name} must be a whole number of months from {allowed.start} to {allowed[-1]}", field=field_name
        )
    return value


# State held by the aggregate. Every entry remembers the version of the event that set it,
# so any figure can be traced back to the fact behind it.
#
# Building or copying an aggregate's indexes: two readers copying one cached aggregate at once
# must not both extend its indexes.
_INDEXING = threading.RLock()


# The state is snapshotted by the JSON transcoder, so it holds only these dataclasses, dicts with
# str keys, lists, str, int, Decimal, date, Money, Share and None: no tuples (they come back as
# lists) and no sets.
@dataclass(frozen=True)
class BudgetEntry(Immutable):
    """A function's annual budget for one financial year, as set by one event."""

    financial_year: str
    amount: Money
    effective_on: date
    version: int


@dataclass
class Function(MutableEntry):
    id: str
    name: str
    kind: str
    host_force: str
    annual_budget: Money
    added_on: date
    version: int
    budget_entries: list[BudgetEntry] = field(default_factory=list)  # in the order recorded
    decoupling: Decoupling | None = None

    @property
    def decoupled_on(self) -> date | None:
        return self.decoupling.effective_on if self.decoupling else None

    @property
    def budgets(self) -> dict[str, tuple[Money, int]]:
        """Financial year -> (budget, version): for a year set more than once, the later-recorded."""
        return {entry.financial_year: (entry.amount, entry.version) for entry in self.budget_entries}

    def budget_in_effect(self, on: date) -> tuple[Money, int]:
        """The budget for the financial year containing ``on``, else the latest earlier one,
        else the initial budget. (Found in an index of the entries by the day their year starts,
        then as recorded, so a year set twice gives the later-recorded.)"""
        found = self._budget_index().in_effect(FinancialYear.containing(on).starts_on)
        if found is not None:
            return found.amount, found.version
        return self.annual_budget, self.version

    def _budget_index(self) -> EffectiveIndex[BudgetEntry]:
        # Kept in the instance's dict but not a dataclass field: never transcoded into a
        # snapshot, never compared; a copy does not share it (``__deepcopy__``).
        with _INDEXING:
            index = self.__dict__.get("_budgets_by_year")
            if index is None:
                index = self.__dict__["_budgets_by_year"] = EffectiveIndex(_budget_order)
            return index.following(self.budget_entries)

    def __deepcopy__(self, memo: dict[int, object]) -> Function:
        clone = super().__deepcopy__(memo)
        clone.__dict__.pop("_budgets_by_year", None)
        return clone


def _budget_order(entry: BudgetEntry) -> tuple[date, int]:
    return date(financial_year_start(entry.financial_year), 4, 1), entry.version


@dataclass(frozen=True)
class Decoupling(Immutable):
    """A function returned to single-force structures: who decided, when, why, and from when."""

    decided_by: str
    rationale: str
    business_case_ref: str | None
    effective_on: date
    version: int
    decided_on: date | None = None


@dataclass(frozen=True)
class Direction(Immutable):
    new_exit_on: date
    summary: str
    effective_on: date
    version: int


@dataclass
class Notice(MutableEntry):
    """A withdrawal notice. ``exit_on`` starts as the earliest exit date (the notice date plus
    the notice period in force on it) and is moved by s23G directions; ``exit_on_version`` is
    the event that set it (the notice, or the direction in effect among ``directions``, the
    directions given while it was live).

    A notice stops being live when it is withdrawn (``withdrawn_on``) or spent by the force
    leaving the agreement (``completed_on``, a ``PartyWithdrew``)."""

    force: str
    served_on: date
    earliest_exit_on: date
    exit_on: date
    version: int
    terms_version: int
    exit_on_version: int
    withdrawn_on: date | None = None
    withdrawn_version: int | None = None
    completed_on: date | None = None
    completed_version: int | None = None
    directions: list[Direction] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.withdrawn_on is None and self.completed_on is None

    def direction_in_effect(self, on: date) -> Direction | None:
        """Of the directions moving this notice, the one in effect on ``on``: the latest
        effective by then (of those, the latest recorded); None before any takes effect."""
        effective = [direction for direction in self.directions if direction.effective_on <= on]
        return max(effective, key=lambda direction: (direction.effective_on, direction.version), default=None)

    def recompute_exit_on(self) -> None:
        """``exit_on`` from the earliest exit and the direction in effect: the one with the
        latest effective date, and of those the latest recorded (as for apportionments and
        exit terms), so a direction back-dated before an earlier-recorded one does not
        override it."""
        if self.directions:
            latest = max(self.directions, key=lambda direction: (direction.effective_on, direction.version))
            self.exit_on, self.exit_on_version = latest.new_exit_on, latest.version
        else:
            self.exit_on, self.exit_on_version = self.earliest_exit_on, self.version


@dataclass(frozen=True)
class WithdrawalEntry(Immutable):
    """A party's leaving the agreement: when, the event that recorded it, and the notice it spent."""

    effective_on: date
    version: int
    notice_version: int | None


@dataclass(frozen=True)
class Apportionment(Immutable):
    function_id: str | None
    basis: str
    shares: dict[str, Share]
    effective_on: date
    version: int


@dataclass(frozen=True)
class ExitTerms(Immutable):
    notice_period_months: int
    stranded_cost_rate: Share
    stranded_cost_months: int
    caps: dict[str, Money]
    effective_on: date
    version: int


@dataclass(frozen=True)
class JointAsset(Immutable):
    id: str
    name: str
    cost: Money
    acquired_on: date
    useful_life_months: int
    funded_shares: dict[str, Share]
    effective_on: date
    version: int
    function_id: str | None = None  # the function it serves; None: the agreement as a whole


@dataclass(frozen=True)
class Contract(Immutable):
    id: str
    supplier: str
    function_id: str
    annual_value: Money
    ends_on: date
    break_cost: Money
    effective_on: date
    version: int


@dataclass(frozen=True)
class Review(Immutable):
    outcome: str
    held_on: date
    version: int


@dataclass(frozen=True)
class Variation(Immutable):
    clause: str
    summary: str
    effective_on: date
    version: int


class Collaboration(Aggregate):
    """An s22A collaboration agreement between two or more forces."""

    # State containers holding only Immutable entries: a copy of the aggregate (from the
    # library's cache, or for an as_of view) shares these entries rather than copying them.
    SHARED_ENTRIES = (
        "apportionments",
        "exit_terms",
        "assets",
        "contracts",
        "reviews",
        "variations",
        "directions",
        "withdrawn",
    )

    # Derived indexes of the entries above in effective order (``domain/effective_index.py``),
    # built on first use and kept up as entries are added. A slot, not an attribute: outside
    # ``vars()``, so never in a snapshot; a copy gets copies of those over shared frozen entries
    # (``__deepcopy__``) and builds the rest, and an ``as_of`` view builds its own.
    __slots__ = ("_indexes",)
    INDEXED: ClassVar[dict[str, tuple[Callable[[Any], tuple[date, int]], Callable[[Any], str | None]]]] = {
        "apportionments": (lambda a: (a.effective_on, a.version), lambda a: a.function_id),
        "exit_terms": (lambda t: (t.effective_on, t.version), lambda _: None),
        "functions": (lambda f: (f.added_on, f.version), lambda _: None),
        "assets": (lambda a: (a.acquired_on, a.version), lambda _: None),
        "contracts": (lambda c: (c.effective_on, c.version), lambda _: None),
    }

    def __deepcopy__(self, memo: dict[int, object]) -> Collaboration:
        """A copy sharing the frozen entries, with its own copy of their indexes: the library's
        cache hands out a copy for every read, so those indexes are built once, on the cached
        aggregate, and copied from it (an ``as_of`` view then replaces the containers, and its
        indexes rebuild from the entries it keeps)."""
        clone = copy_sharing_entries(self, memo, self.SHARED_ENTRIES)
        with _INDEXING:
            # Only the indexes of shared, frozen entries: the copy's functions are its own
            # objects (their budgets change), so its index of them is built from them.
            clone._indexes = {
                name: self._index_unlocked(name).copy_for(getattr(clone, name))
                for name in self.INDEXED
                if name in self.SHARED_ENTRIES
            }
        return clone

    def _index(self, name: str) -> EffectiveIndex[Any]:
        """The index of the state container ``name``, brought up to date."""
        with _INDEXING:
            return self._index_unlocked(name)

    def _index_unlocked(self, name: str) -> EffectiveIndex[Any]:
        try:
            indexes = self._indexes
        except AttributeError:
            indexes = self._indexes = {}
        index = indexes.get(name)
        if index is None:
            index = indexes[name] = EffectiveIndex(*self.INDEXED[name])
        return index.following(getattr(self, name))

    class Event(Aggregate.Event):
        effective_on: date
        actor: str
        reason: str
        evidence: str | None
        approval_ref: str | None

    class Established(Aggregate.Created):
        name: str
        purpose: str
        parties: list[str]
        lead_force: str
        governance_body: str | None
        review_cycle_months: int | None

    def __init__(
        self,
        name: str,
        purpose: str,
        parties: list[str],
        lead_force: str,
        governance_body: str | None,
        review_cycle_months: int | None,
        effective_on: date,
        actor: str,
        reason: str,
        evidence: str | None,
        approval_ref: str | None,
    ):
        self.name = name
        self.purpose = purpose
        self.parties: list[str] = list(parties)
        self.joined_on: dict[str, date] = {party: effective_on for party in parties}
        self.lead_force = lead_force
        self.governance_body = governance_body
        self.review_cycle_months = review_cycle_months
        self.established_on = effective_on
        self.status = ACTIVE
        self.functions: dict[str, Function] = {}
        self.apportionments: list[Apportionment] = []
        self.exit_terms: list[ExitTerms] = []
        self.assets: dict[str, JointAsset] = {}
        self.contracts: dict[str, Contract] = {}
        self.reviews: list[Review] = []
        self.variations: list[Variation] = []
        self.notices: list[Notice] = []
        self.directions: list[Direction] = []
        self.withdrawn: dict[str, WithdrawalEntry] = {}
        self.terminated_on: date | None = None
        self.terminated_version: int | None = None
        self.viewed_as_of: date | None = None  # the day of an ``as_of`` view; None on the aggregate

    # ----------------------------------------------------------------- commands
    @classmethod
    def establish(
        cls,
        *,
        name: str,
        purpose: str,
        parties: list[str],
        lead_force: str,
        provenance: Provenance,
        governance_body: str | None = None,
        review_cycle_months: int | None = None,
    ) -> Collaboration:
        name = required_text(name, "name", max_length=NAME_LENGTH)
        purpose = required_text(purpose, "purpose", max_length=TEXT_LENGTH)
        governance_body = optional_text(governance_body, "governance_body", max_length=NAME_LENGTH)
        if review_cycle_months is not None:
            whole_months(review_cycle_months, "review_cycle_months", REVIEW_CYCLE_MONTHS, InvalidReviewCycle)
        for index, party in enumerate(parties):
            check_force_code(party, field=f"parties.{index}")
        cls.check_no_duplicate_parties(parties)
        if len(parties) < 2:
            raise TooFewParties("a collaboration agreement needs at least two parties", field="parties")
        check_force_code(lead_force, field="lead_force")
        if lead_force not in parties:
            raise LeadForceNotAParty(f"lead force {lead_force!r} is not one of the parties", field="lead_force")
        return cls._create(
            cls.Established,
            id=uuid4(),
            name=name,
            purpose=purpose,
            parties=list(parties),
            lead_force=lead_force,
            governance_body=governance_body,
            review_cycle_months=review_cycle_months,
            **provenance.as_event_fields(),
        )

    class PartyJoined(Event):
        force: str

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.parties.append(self.force)
            collaboration.joined_on[self.force] = self.effective_on

    def join(self, force: str, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        check_force_code(force, field="force")
        self.check_not_withdrawn(force, "force")
        self.check_no_duplicate_parties([*self.parties, force])
        self.trigger_event(self.PartyJoined, force=force, **provenance.as_event_fields())

    class FunctionAdded(Event):
        function_id: str
        name: str
        kind: str
        host_force: str
        annual_budget: Decimal

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.functions[self.function_id] = Function(
                id=self.function_id,
                name=self.name,
                kind=self.kind,
                host_force=self.host_force,
                annual_budget=Money(self.annual_budget),
                added_on=self.effective_on,
                version=self.originator_version,
            )

    def add_function(
        self, *, name: str, kind: str, host_force: str, annual_budget: object, provenance: Provenance
    ) -> str:
        self.check_can_record(provenance)
        name = required_text(name, "name", max_length=NAME_LENGTH)
        if any(function.name.casefold() == name.casefold() for function in self.functions.values()):
            raise DuplicateFunction(f"a function named {name!r} already exists", field="name")
        if kind not in FUNCTION_KINDS:
            raise InvalidFunctionKind(f"kind must be one of {', '.join(FUNCTION_KINDS)}", field="kind")
        self.check_current_party(host_force, "host_force", on=provenance.effective_on)
        budget = Money.non_negative(annual_budget, "annual_budget")
        function_id = str(uuid4())
        self.trigger_event(
            self.FunctionAdded,
            function_id=function_id,
            name=name,
            kind=kind,
            host_force=host_force,
            annual_budget=budget.amount,
            **provenance.as_event_fields(),
        )
        return function_id

    class FunctionBudgetSet(Event):
        function_id: str
        financial_year: str
        annual_budget: Decimal

        def apply(self, collaboration: Collaboration) -> None:
            function = collaboration.functions[self.function_id]
            function.budget_entries.append(
                BudgetEntry(
                    financial_year=self.financial_year,
                    amount=Money(self.annual_budget),
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )

    def set_function_budget(
        self, *, function_id: str, financial_year: str, annual_budget: object, provenance: Provenance
    ) -> None:
        self.check_can_record(provenance)
        self.check_function_exists(function_id, on=provenance.effective_on)
        year = FinancialYear.parse(financial_year)
        budget = Money.non_negative(annual_budget, "annual_budget")
        self.trigger_event(
            self.FunctionBudgetSet,
            function_id=function_id,
            financial_year=str(year),
            annual_budget=budget.amount,
            **provenance.as_event_fields(),
        )

    class ApportionmentAgreed(Event):
        function_id: str | None
        basis: str
        shares: dict[str, Decimal]

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.apportionments.append(
                Apportionment(
                    function_id=self.function_id,
                    basis=self.basis,
                    shares={force: Share(value) for force, value in self.shares.items()},
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )

    def agree_apportionment(
        self, *, function_id: str | None, basis: str, shares: dict[str, object], provenance: Provenance
    ) -> None:
        self.check_can_record(provenance)
        if function_id is not None:
            self.check_function_exists(function_id, on=provenance.effective_on)
        if basis not in APPORTIONMENT_BASES:
            raise InvalidApportionmentBasis(f"basis must be one of {', '.join(APPORTIONMENT_BASES)}", field="basis")
        for force in shares:
            self.check_current_party(force, "shares", on=provenance.effective_on)
        parsed = shares_summing_to_one(shares)
        self.trigger_event(
            self.ApportionmentAgreed,
            function_id=function_id,
            basis=basis,
            shares={force: share.value for force, share in parsed.items()},
            **provenance.as_event_fields(),
        )

    class ExitTermsAgreed(Event):
        notice_period_months: int
        stranded_cost_rate: Decimal
        stranded_cost_months: int
        caps: dict[str, Decimal]

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.exit_terms.append(
                ExitTerms(
                    notice_period_months=self.notice_period_months,
                    stranded_cost_rate=Share(self.stranded_cost_rate),
                    stranded_cost_months=self.stranded_cost_months,
                    caps={head: Money(amount) for head, amount in self.caps.items()},
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )

    def agree_exit_terms(
        self,
        *,
        notice_period_months: int,
        stranded_cost_rate: object,
        stranded_cost_months: int,
        caps: dict[str, object] | None,
        provenance: Provenance,
    ) -> None:
        self.check_can_record(provenance)
        notice = whole_months(notice_period_months, "notice_period_months", EXIT_TERMS_MONTHS, InvalidExitTerms)
        months = whole_months(stranded_cost_months, "stranded_cost_months", EXIT_TERMS_MONTHS, InvalidExitTerms)
        try:
            rate = Share.of(stranded_cost_rate, "stranded_cost_rate")
        except InvalidShare as error:
            raise InvalidExitTerms(error.detail, field="stranded_cost_rate") from None
        parsed_caps: dict[str, Decimal] = {}
        for head, amount in (caps or {}).items():
            if head not in EXIT_COST_HEADS:
                raise InvalidExitTerms(f"cap on unknown head {head!r}; heads are H1..H8", field="caps")
            parsed_caps[head] = Money.non_negative(amount, f"caps.{head}").amount
        self.trigger_event(
            self.ExitTermsAgreed,
            notice_period_months=notice,
            stranded_cost_rate=rate.value,
            stranded_cost_months=months,
            caps=parsed_caps,
            **provenance.as_event_fields(),
        )

    class JointAssetRegistered(Event):
        """Version 2 adds ``function_id``: the function the asset serves (None: the whole agreement)."""

        class_version = 2

        asset_id: str
        name: str
        cost: Decimal
        acquired_on: date
        useful_life_months: int
        funded_shares: dict[str, Decimal]
        function_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["function_id"] = None

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.assets[self.asset_id] = JointAsset(
                id=self.asset_id,
                name=self.name,
                cost=Money(self.cost),
                acquired_on=self.acquired_on,
                useful_life_months=self.useful_life_months,
                funded_shares={force: Share(value) for force, value in self.funded_shares.items()},
                effective_on=self.effective_on,
                version=self.originator_version,
                function_id=self.function_id,
            )

    def register_asset(
        self,
        *,
        name: str,
        cost: object,
        acquired_on: date,
        useful_life_months: int,
        funded_shares: dict[str, object],
        provenance: Provenance,
        function_id: str | None = None,
    ) -> str:
        """Registers a jointly funded asset, of the agreement as a whole or (``function_id``) of
        one function: a function's assets are split when it is decoupled."""
        self.check_can_record(provenance)
        name = required_text(name, "name", max_length=NAME_LENGTH)
        if function_id is not None:
            self.check_function_exists(function_id, on=provenance.effective_on)
        money = Money.non_negative(cost, "cost")
        whole_months(useful_life_months, "useful_life_months", USEFUL_LIFE_MONTHS, InvalidAsset)
        for force in funded_shares:
            self.check_current_party(force, "funded_shares", on=provenance.effective_on)
        parsed = shares_summing_to_one(funded_shares, "funded_shares")
        asset_id = str(uuid4())
        self.trigger_event(
            self.JointAssetRegistered,
            asset_id=asset_id,
            name=name,
            cost=money.amount,
            acquired_on=acquired_on,
            useful_life_months=useful_life_months,
            funded_shares={force: share.value for force, share in parsed.items()},
            function_id=function_id,
            **provenance.as_event_fields(),
        )
        return asset_id

    class ContractCommitted(Event):
        contract_id: str
        supplier: str
        function_id: str
        annual_value: Decimal
        ends_on: date
        break_cost: Decimal

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.contracts[self.contract_id] = Contract(
                id=self.contract_id,
                supplier=self.supplier,
                function_id=self.function_id,
                annual_value=Money(self.annual_value),
                ends_on=self.ends_on,
                break_cost=Money(self.break_cost),
                effective_on=self.effective_on,
                version=self.originator_version,
            )

    def commit_contract(
        self,
        *,
        supplier: str,
        function_id: str,
        annual_value: object,
        ends_on: date,
        break_cost: object,
        provenance: Provenance,
    ) -> str:
        self.check_can_record(provenance)
        supplier = required_text(supplier, "supplier", max_length=NAME_LENGTH)
        self.check_function_exists(function_id, on=provenance.effective_on)
        value = Money.non_negative(annual_value, "annual_value")
        cost = Money.non_negative(break_cost, "break_cost")
        contract_id = str(uuid4())
        self.trigger_event(
            self.ContractCommitted,
            contract_id=contract_id,
            supplier=supplier,
            function_id=function_id,
            annual_value=value.amount,
            ends_on=ends_on,
            break_cost=cost.amount,
            **provenance.as_event_fields(),
        )
        return contract_id

    class ReviewHeld(Event):
        outcome: str

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.reviews.append(Review(self.outcome, self.effective_on, self.originator_version))

    def hold_review(self, *, outcome: str, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        outcome = required_text(outcome, "outcome", max_length=TEXT_LENGTH)
        self.trigger_event(self.ReviewHeld, outcome=outcome, **provenance.as_event_fields())

    class VariationAgreed(Event):
        clause: str
        summary: str

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.variations.append(
                Variation(self.clause, self.summary, self.effective_on, self.originator_version)
            )

    def agree_variation(self, *, clause: str, summary: str, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        clause = required_text(clause, "clause", max_length=REFERENCE_LENGTH)
        summary = required_text(summary, "summary", max_length=TEXT_LENGTH)
        self.trigger_event(self.VariationAgreed, clause=clause, summary=summary, **provenance.as_event_fields())

    class WithdrawalNoticeServed(Event):
        force: str
        earliest_exit_on: date

        def apply(self, collaboration: Collaboration) -> None:
            terms = collaboration.exit_terms_in_effect(self.effective_on)
            collaboration.notices.append(
                Notice(
                    force=self.force,
                    served_on=self.effective_on,
                    earliest_exit_on=self.earliest_exit_on,
                    exit_on=self.earliest_exit_on,
                    version=self.originator_version,
                    terms_version=terms.version if terms else self.originator_version,
                    exit_on_version=self.originator_version,
                )
            )
            collaboration.status = NOTICE_SERVED

    def serve_withdrawal_notice(self, *, force: str, provenance: Provenance) -> date:
        """A party gives notice to withdraw; answers its earliest exit date: the notice date
        plus the notice period of the exit terms in effect on that date."""
        self.check_can_record(provenance)
        self.check_current_party(force, "force", on=provenance.effective_on)
        if self.live_notice(force) is not None:
            raise NoticeAlreadyServed(f"{force} already has a live withdrawal notice", field="force")
        terms = self.exit_terms_in_effect(provenance.effective_on)
        if terms is None:
            raise NoExitTerms(
                f"no exit terms were in effect on {provenance.effective_on}, so there is no notice period",
                field="effective_on",
            )
        earliest = add_months(provenance.effective_on, terms.notice_period_months)
        self.trigger_event(
            self.WithdrawalNoticeServed, force=force, earliest_exit_on=earliest, **provenance.as_event_fields()
        )
        return earliest

    class NoticeWithdrawn(Event):
        """``status`` is the agreement's status afterwards (``notice_served`` while another
        party's notice is still live), so readers of the log need not count notices."""

        force: str
        status: str

        def apply(self, collaboration: Collaboration) -> None:
            notice = collaboration.live_notice(self.force)
            if notice is not None:
                notice.withdrawn_on = self.effective_on
                notice.withdrawn_version = self.originator_version
            collaboration.status = self.status

    def withdraw_notice(self, *, force: str, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        self.check_current_party(force, "force", on=provenance.effective_on)
        notice = self.live_notice(force)
        if notice is None:
            raise NoLiveNotice(f"{force} has no live withdrawal notice to withdraw", field="force")
        if provenance.effective_on < notice.served_on:
            raise NoticeWithdrawnBeforeServed(
                f"{force}'s notice cannot be withdrawn on {provenance.effective_on}, before it was served "
                f"on {notice.served_on}",
                field="effective_on",
            )
        others = [notice for notice in self.live_notices() if notice.force != force]
        status = NOTICE_SERVED if others else ACTIVE
        self.trigger_event(self.NoticeWithdrawn, force=force, status=status, **provenance.as_event_fields())

    class FunctionDecoupled(Event):
        """Version 2 adds ``decided_on``: the day the deciding body decided (None: not recorded)."""

        class_version = 2

        function_id: str
        decided_by: str
        rationale: str
        business_case_ref: str | None
        decided_on: date | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["decided_on"] = None

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.functions[self.function_id].decoupling = Decoupling(
                decided_by=self.decided_by,
                rationale=self.rationale,
                business_case_ref=self.business_case_ref,
                effective_on=self.effective_on,
                version=self.originator_version,
                decided_on=self.decided_on,
            )

    def decouple_function(
        self,
        *,
        function_id: str,
        decided_by: str,
        rationale: str,
        business_case_ref: str | None = None,
        decided_on: date | None = None,
        provenance: Provenance,
    ) -> None:
        """A function leaves the joint structure and returns to single-force structures on
        ``provenance.effective_on``, as the parties decided on ``decided_on`` (if recorded: the
        day its ratios and budget are taken from for the decoupling's costs)."""
        self.check_can_record(provenance)
        provenance.check_approved("a decoupling")
        self.check_function_exists(function_id, on=provenance.effective_on)
        if decided_on is not None:
            self.check_decision_date(decided_on, provenance.effective_on)
            self.check_function_exists(function_id, on=decided_on, field_name="decided_on")
        if self.functions[function_id].decoupling is not None:
            raise FunctionAlreadyDecoupled(
                f"function {self.functions[function_id].name!r} was already decoupled on "
                f"{self.functions[function_id].decoupled_on}",
                field="function_id",
            )
        decided_by = required_text(decided_by, "decided_by", max_length=NAME_LENGTH)
        rationale = required_text(rationale, "rationale", max_length=TEXT_LENGTH)
        business_case_ref = optional_text(business_case_ref, "business_case_ref", max_length=REFERENCE_LENGTH)
        self.trigger_event(
            self.FunctionDecoupled,
            function_id=function_id,
            decided_by=decided_by,
            rationale=rationale,
            business_case_ref=business_case_ref,
            decided_on=decided_on,
            **provenance.as_event_fields(),
        )

    def check_decision_date(self, decided_on: object, effective_on: date) -> None:
        """A decision is a date within the agreement's term, on or before it takes effect."""
        if not isinstance(decided_on, date) or isinstance(decided_on, datetime):
            raise DecidedAfterEffect("decided_on must be a date", field="decided_on")
        self.check_dated_in_term(decided_on, "decided_on")
        if decided_on > effective_on:
            raise DecidedAfterEffect(
                f"decided_on {decided_on} is after the decoupling takes effect on {effective_on}", field="decided_on"
            )

    class DirectionGiven(Event):
        """An s23G direction by the Home Secretary: moves the exit date of the live notice(s)."""

        new_exit_on: date
        summary: str

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.directions.append(
                Direction(self.new_exit_on, self.summary, self.effective_on, self.originator_version)
            )
            direction = collaboration.directions[-1]
            for notice in collaboration.live_notices():
                notice.directions.append(direction)
                notice.recompute_exit_on()

    def give_direction(self, *, new_exit_on: date, summary: str, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        provenance.check_approved("an s23G direction")
        summary = required_text(summary, "summary", max_length=TEXT_LENGTH)
        notices = self.live_notices()
        if not notices:
            raise NoLiveNotice("a direction moves the exit date of a live notice; none is live", field="new_exit_on")
        for notice in notices:
            if provenance.effective_on < notice.served_on:
                raise InvalidDirection(
                    f"a direction takes effect on or after the notice it moves: {notice.force}'s was served on "
                    f"{notice.served_on}, after {provenance.effective_on}",
                    field="effective_on",
                )
            if new_exit_on < notice.served_on:
                raise InvalidDirection(
                    f"the new exit date {new_exit_on} is before {notice.force}'s notice of {notice.served_on}",
                    field="new_exit_on",
                )
        self.trigger_event(
            self.DirectionGiven, new_exit_on=new_exit_on, summary=summary, **provenance.as_event_fields()
        )

    class PartyWithdrew(Event):
        """A party left the agreement on ``effective_on``, spending its live notice. ``status``
        is the agreement's status afterwards, as for ``NoticeWithdrawn``."""

        force: str
        status: str

        def apply(self, collaboration: Collaboration) -> None:
            notice = collaboration.live_notice(self.force)
            if notice is not None:
                notice.completed_on = self.effective_on
                notice.completed_version = self.originator_version
            collaboration.withdrawn[self.force] = WithdrawalEntry(
                effective_on=self.effective_on,
                version=self.originator_version,
                notice_version=notice.version if notice is not None else None,
            )
            collaboration.status = self.status

    def record_withdrawal(self, *, force: str, provenance: Provenance) -> None:
        """A party leaves the agreement on ``provenance.effective_on``, on or after the date of
        its live notice, which is then spent. It stays a party of the record (its exit costs
        can still be quoted) but is no longer a current party."""
        self.check_can_record(provenance)
        self.check_current_party(force, "force", on=provenance.effective_on)
        notice = self.live_notice(force)
        if notice is None:
            raise NoLiveNotice(f"{force} has no live withdrawal notice; a party leaves only on notice", field="force")
        if provenance.effective_on < notice.served_on:
            raise WithdrawalBeforeNotice(
                f"{force} cannot leave on {provenance.effective_on}, before its notice of {notice.served_on}",
                field="effective_on",
            )
        others = [other for other in self.live_notices() if other.force != force]
        status = NOTICE_SERVED if others else ACTIVE
        self.trigger_event(self.PartyWithdrew, force=force, status=status, **provenance.as_event_fields())

    class AgreementTerminated(Event):
        """The whole agreement ended on ``effective_on``; nothing more is recorded."""

        def apply(self, collaboration: Collaboration) -> None:
            collaboration.status = TERMINATED
            collaboration.terminated_on = self.effective_on
            collaboration.terminated_version = self.originator_version

    def terminate(self, *, provenance: Provenance) -> None:
        self.check_can_record(provenance)
        provenance.check_approved("the end of the agreement")
        latest = self.latest_fact_on()
        if provenance.effective_on < latest:
            raise EndedBeforeLastFact(
                f"the agreement cannot end on {provenance.effective_on}: a fact of it takes effect on {latest}",
                field="effective_on",
            )
        self.trigger_event(self.AgreementTerminated, **provenance.as_event_fields())

    # ------------------------------------------------------------------- checks
    def check_can_record(self, provenance: Provenance) -> None:
        """The guard at the top of every command: a terminated agreement records nothing more,
        and nothing takes effect before the agreement was established."""
        self.check_not_ended()
        self.check_dated_in_term(provenance.effective_on)

    def check_not_ended(self) -> None:
        """A terminated agreement records nothing more. An ``as_of`` view is read-only (a
        programming error, not a domain rule)."""
        if self.viewed_as_of is not None:
            raise RuntimeError(f"a view of the agreement as of {self.viewed_as_of} is read-only")
        if self.terminated_on is not None:
            raise AgreementEnded(f"the agreement was terminated on {self.terminated_on}; nothing more can be recorded")

    def check_dated_in_term(self, day: date, field_name: str = "effective_on") -> None:
        """A fact of the agreement, or of its exit cases and benefits, takes effect on or after
        the day the agreement was established."""
        if day < self.established_on:
            raise FactBeforeAgreement(
                f"{field_name} {day} is before the agreement was established on {self.established_on}",
                field=field_name,
            )

    @staticmethod
    def check_no_duplicate_parties(parties: list[str]) -> None:
        seen: set[str] = set()
        for party in parties:
            if party in seen:
                raise DuplicateParty(f"{party!r} is already a party", field="parties")
            seen.add(party)

    def check_is_party(self, force: str, field_name: str) -> None:
        check_force_code(force, field=field_name)
        if force not in self.parties:
            raise PartyNotInCollaboration(f"{force!r} is not a party to this collaboration", field=field_name)

    def check_not_withdrawn(self, force: str, field_name: str) -> None:
        if (entry := self.withdrawn.get(force)) is not None:
            raise PartyHasWithdrawn(f"{force!r} left this collaboration on {entry.effective_on}", field=field_name)

    def check_current_party(self, force: str, field_name: str, *, on: date | None = None) -> None:
        """A party that has not left: the only kind a new fact may name; and, with ``on``, one
        that had joined by that day."""
        self.check_is_party(force, field_name)
        self.check_not_withdrawn(force, field_name)
        if on is not None:
            self.check_joined_by(force, on, field_name)

    def check_joined_by(self, force: str, day: date, field_name: str) -> None:
        """A fact naming a party takes effect on or after the day it joined."""
        if day < self.joined_on[force]:
            raise FactBeforeParty(
                f"{force} joined the agreement on {self.joined_on[force]}, after {day}", field=field_name
            )

    def check_function_exists(
        self, function_id: str | None, *, on: date | None = None, field_name: str = "effective_on"
    ) -> None:
        """The function is one of the agreement's; with ``on`` (the date in ``field_name``), added
        by that day."""
        if function_id not in self.functions:
            raise UnknownFunction(f"no function {function_id!r} in this collaboration", field="function_id")
        added_on = self.functions[function_id].added_on
        if on is not None and on < added_on:
            raise FactBeforeFunction(
                f"function {self.functions[function_id].name!r} was added on {added_on}, after {on}",
                field=field_name,
            )

    def check_benefit_identification(
        self, *, day: date, function_id: str | None, attribution: Mapping[str, Any] | None
    ) -> None:
        """A benefit of this collaboration is identified within its term (on ``day``), of one of
        its functions that exists then (if it names one), and attributed only to its parties that
        had joined by then."""
        self.check_dated_in_term(day)
        if function_id is not None:
            self.check_function_exists(function_id, on=day)
        for force in attribution or {}:
            self.check_is_party(force, f"attribution.{force}")
            self.check_joined_by(force, day, f"attribution.{force}")

    def exit_case_opening(
        self, *, trigger: str, force: str | None, function_id: str | None, day: date
    ) -> tuple[list[str], str | None]:
        """Checks there is something to exit on ``day`` and answers who an exit case opened then is
        between (the parties that had joined by then) and, for a decoupling, the function's name.
        A withdrawal needs ``force``'s notice that stands (not withdrawn), served on or before
        ``day``; a decoupling needs the function's recorded decoupling, decided (else effective) on
        or before ``day``. Whether ``trigger`` names a force or a function is ``ExitCase.open``'s."""
        self.check_dated_in_term(day)
        function_name = None
        if trigger == "withdrawal" and force is not None:
            self.check_is_party(force, "force")
            self.check_joined_by(force, day, "force")
            notice = next((n for n in reversed(self.notices) if n.force == force and n.withdrawn_on is None), None)
            if notice is None:
                raise NothingToExit(f"{force} has served no withdrawal notice that stands", field="force")
            if day < notice.served_on:
                raise CaseBeforeItsTrigger(
                    f"{force}'s notice was served on {notice.served_on}, after {day}", field="effective_on"
                )
        elif trigger == "decoupling" and function_id is not None:
            self.check_function_exists(function_id, on=day)
            function = self.functions[function_id]
            if function.decoupling is None:
                raise NothingToExit(f"function {function.name!r} has not been decoupled", field="function_id")
            decided = function.decoupling.decided_on or function.decoupling.effective_on
            if day < decided:
                raise CaseBeforeItsTrigger(
                    f"the decoupling of {function.name!r} was decided (or took effect) on {decided}, after {day}",
                    field="effective_on",
                )
            function_name = function.name
        return [party for party in self.parties if self.joined_on[party] <= day], function_name

    # ------------------------------------------------------------------ queries
    def shares_in_effect(self, function_id: str, on: date) -> Apportionment | None:
        """The apportionment of a function in effect on a date: its own ratio if it has one,
        else the ratio agreed for all functions. Latest effective date wins; on a tie, the
        later-recorded agreement wins."""
        index = self._index("apportionments")
        found = index.in_effect(on, function_id)
        return found if found is not None else index.in_effect(on, None)

    def functions_in_order(self) -> list[Function]:
        """The functions in the order they were added (by the date added, then as recorded)."""
        return self._index("functions").in_order()

    def contracts_in_order(self) -> list[Contract]:
        """The contracts in the order they were committed (by effective date, then as recorded)."""
        return self._index("contracts").in_order()

    def assets_acquired_by(self, on: date) -> list[JointAsset]:
        """The jointly funded assets acquired on or before ``on``, in the order acquired."""
        return self._index("assets").up_to(on)

    def current_parties(self) -> list[str]:
        """The parties that have not left the agreement, in the order they became parties."""
        return [party for party in self.parties if party not in self.withdrawn]

    def latest_fact_on(self) -> date:
        """The latest effective date of anything recorded of the agreement."""
        days = [self.established_on, *self.joined_on.values()]
        for function in self.functions.values():
            days.append(function.added_on)
            days.extend(entry.effective_on for entry in function.budget_entries)
            if function.decoupling is not None:
                days.append(function.decoupling.effective_on)
        days.extend(entry.effective_on for entry in (*self.apportionments, *self.exit_terms, *self.variations))
        days.extend(entry.effective_on for entry in (*self.assets.values(), *self.contracts.values()))
        days.extend(review.held_on for review in self.reviews)
        days.extend(direction.effective_on for direction in self.directions)
        days.extend(entry.effective_on for entry in self.withdrawn.values())
        for notice in self.notices:
            days.extend(day for day in (notice.served_on, notice.withdrawn_on, notice.completed_on) if day)
        return max(days)

    def parties_after(self, day: date) -> list[str]:
        """The parties still in the agreement at the end of ``day``: joined on or before it and
        not left on or before it, in the order they became parties."""
        return [
            party
            for party in self.parties
            if self.joined_on[party] <= day
            and not (party in self.withdrawn and self.withdrawn[party].effective_on <= day)
        ]

    def parties_on(self, day: date) -> list[str]:
        """The parties in the agreement on ``day``: joined on or before it and not left before
        it (one leaving that day is still in), in the order they became parties."""
        return [
            party
            for party in self.parties
            if self.joined_on[party] <= day
            and not (party in self.withdrawn and self.withdrawn[party].effective_on < day)
        ]

    def remaining_parties(self, leaving: str, exit_on: date) -> list[str]:
        """Who remains when ``leaving`` exits on ``exit_on``: the other parties still in the
        agreement after that day. They share what the leaving force pays."""
        return [party for party in self.parties_after(exit_on) if party != leaving]

    def spent_notice(self, force: str) -> Notice | None:
        """The notice a withdrawn party left on (spent by its ``PartyWithdrew``), else None."""
        entry = self.withdrawn.get(force)
        if entry is None:
            return None
        return next((notice for notice in self.notices if notice.completed_version == entry.version), None)

    def live_notices(self) -> list[Notice]:
        return [notice for notice in self.notices if notice.live]

    def live_notice(self, force: str) -> Notice | None:
        return next((notice for notice in self.notices if notice.live and notice.force == force), None)

    def decoupled_on(self) -> dict[str, date]:
        """The date each decoupled function left the joint structure."""
        return {fid: f.decoupled_on for fid, f in self.functions.items() if f.decoupled_on is not None}

    def exit_terms_in_effect(self, on: date) -> ExitTerms | None:
        return self._index("exit_terms").in_effect(on)

    # -------------------------------------------------------------------- views
    def as_of(self, day: date) -> Collaboration:
        """The agreement as it stood on ``day``, as known now: a read-only copy holding only the
        facts in effect on or before ``day`` (bitemporal reads). A fact recorded later but
        back-dated to ``day`` or before counts; one effective after ``day`` does not, so a notice
        withdrawn, or spent by its force leaving, after ``day`` is still live, and its exit date
        is recomputed from the directions in effect by ``day``. The status is recomputed; the
        version stays the aggregate's (the view is of what is known now)."""
        view = copy.deepcopy(self)
        view.collect_events()  # pending events belong to the aggregate, not to the view
        view.viewed_as_of = day if self.viewed_as_of is None else min(day, self.viewed_as_of)
        view.parties = [party for party in view.parties if view.joined_on[party] <= day]
        view.joined_on = {party: view.joined_on[party] for party in view.parties}
        view.functions = {fid: function for fid, function in view.functions.items() if function.added_on <= day}
        for function in view.functions.values():
            function.budget_entries = [entry for entry in function.budget_entries if entry.effective_on <= day]
            if function.decoupling is not None and function.decoupling.effective_on > day:
                function.decoupling = None
        view.apportionments = [
            a
            for a in view.apportionments
            if a.effective_on <= day and (a.function_id is None or a.function_id in view.functions)
        ]
        view.exit_terms = [terms for terms in view.exit_terms if terms.effective_on <= day]
        view.assets = {aid: asset for aid, asset in view.assets.items() if asset.effective_on <= day}
        view.contracts = {
            cid: contract
            for cid, contract in view.contracts.items()
            if contract.effective_on <= day and contract.function_id in view.functions
        }
        view.reviews = [review for review in view.reviews if review.held_on <= day]
        view.variations = [variation for variation in view.variations if variation.effective_on <= day]
        view.directions = [direction for direction in view.directions if direction.effective_on <= day]
        view.notices = [notice for notice in view.notices if notice.served_on <= day]
        for notice in view.notices:
            if notice.withdrawn_on is not None and notice.withdrawn_on > day:
                notice.withdrawn_on = notice.withdrawn_version = None
            if notice.completed_on is not None and notice.completed_on > day:
                notice.completed_on = notice.completed_version = None
            notice.directions = [direction for direction in notice.directions if direction.effective_on <= day]
            notice.recompute_exit_on()
        view.withdrawn = {force: entry for force, entry in view.withdrawn.items() if entry.effective_on <= day}
        if view.terminated_on is not None and view.terminated_on > day:
            view.terminated_on = view.terminated_version = None
        if view.terminated_on is not None:
            view.status = TERMINATED
        else:
            view.status = NOTICE_SERVED if view.live_notices() else ACTIVE
        return view
