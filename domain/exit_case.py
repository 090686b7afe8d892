"""The ExitCase aggregate: the money side of one withdrawal or one decoupling.

A case holds separate facts: claims (line items by cost head, with evidence), independent
assessments, disputes, settlements (payer, payee, amount, write-offs, instalment plan) and
payments; and its closing and reopening. None is derived from another.

As in ``domain.collaboration``, each command checks every rule first (small ``check_*``
methods raising named domain errors) and only then triggers an event, so a refused command
records nothing. Events carry plain values (str, Decimal, date, list of dicts) so the stored
record stays JSON; the aggregate turns them into value objects as it applies them.

Choices made here, beyond the letter of the design:

- One case per (collaboration, withdrawal, force) or (collaboration, decoupling, function): its
  id is ``exit_case_id``, a uuid5, so opening the same case twice collides in the store.
- State is kept as lists of facts, each remembering its ``effective_on`` and the ``version`` of
  the event that recorded it; ``status`` and ``closed_on`` are derived from those facts after
  every event, so ``as_of`` only has to filter lists and derive again.
- Status follows the order facts were recorded: "closed" after a closing not followed by a
  reopening; else "settled" after a settlement not followed by a reopening; else "open".
- A claim may supersede an earlier, not yet superseded claim of the same claimant against the
  same respondent; the superseded claim then no longer counts. Claims are refused while the
  case is settled (until it is reopened); assessments and disputes are not.
- An assessment's breakdown is optional, but when given it sums to the recommended amount, so
  per-head and total figures never disagree.
- Payments need a settlement (the latest counts) and may not exceed what is outstanding. They
  are allowed while a reopened case still has its settlement. A revised settlement after
  reopening is at least what has been paid and, once anything has been paid, keeps the payer
  and payee.
- A case with no settlement can be closed (abandoned); one with a settlement closes only when
  nothing is outstanding. A closed case refuses everything but reopening.
- Dates keep money facts in order: a payment is made and effective on or after the date of the
  settlement it is paid under; a closing is effective on or after every settlement and payment
  (effective and paid dates); a reopening of a closed case on or after the closing.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import (
    AmountTooLarge,
    CaseClosed,
    CaseNotSettled,
    CaseSettled,
    ClaimAlreadySuperseded,
    ClaimPartiesDiffer,
    ClosedBeforeSettled,
    DuplicateParty,
    FactBeforeCase,
    InstalmentsDoNotSumToAmount,
    InvalidAssessment,
    InvalidClaimLine,
    InvalidForum,
    InvalidPayment,
    InvalidSettlement,
    InvalidTrigger,
    NoSettlement,
    OutstandingBalance,
    Overpayment,
    PartyNotInCase,
    PaymentBeforeSettlement,
    ReopenedBeforeClosed,
    SamePartyBothSides,
    SettlementBelowPaid,
    SettlementPartiesChanged,
    TooFewParties,
    UnknownClaim,
)
from domain.exit_costs import HEAD_NAMES, Claim
from domain.forces import check_force_code
from domain.values import (
    NAME_LENGTH,
    PENNY,
    REFERENCE_LENGTH,
    TEXT_LENGTH,
    Immutable,
    Money,
    MutableEntry,
    Provenance,
    copy_sharing_entries,
    optional_text,
    required_text,
)

EXIT_CASE_TRIGGERS = ("withdrawal", "decoupling")
DISPUTE_FORUMS = ("home_secretary", "court", "arbitration")
HEADS = tuple(sorted(HEAD_NAMES))  # H1..H8
OPEN = "open"
SETTLED = "settled"
CLOSED = "closed"

# Fixed for ever: changing it would change every exit case's id.
EXIT_CASE_NAMESPACE = UUID("fcd65c7a-e06d-4769-8b5a-2be3a623ccd8")
ZERO = Decimal(0)


def exit_case_id(collaboration_id: str | UUID, trigger: str, subject: str) -> UUID:
    """The id of the one exit case for (collaboration, trigger, subject), where the subject is
    the withdrawing force or the decoupled function's id."""
    return uuid5(EXIT_CASE_NAMESPACE, f"{collaboration_id}/{trigger}/{subject}")


# State held by the aggregate. Every entry remembers when it took effect and the version of the
# event that recorded it, so any figure can be traced back to the fact behind it.
@dataclass(frozen=True)
class CaseLine(Immutable):
    """One line of a claim or an assessment breakdown: negative amounts are mitigations."""

    head: str
    amount: Money
    description: str
    evidence: str | None


@dataclass
class ClaimEntry(MutableEntry):
    claim_id: str
    claimant: str
    respondent: str
    lines: list[CaseLine]
    supersedes: str | None
    effective_on: date
    version: int
    superseded_by: str | None = None

    @property
    def total(self) -> Money:
        return _money(sum((line.amount.amount for line in self.lines), ZERO))

    @property
    def current(self) -> bool:
        return self.superseded_by is None


@dataclass(frozen=True)
class Assessment(Immutable):
    assessment_id: str
    assessor: str
    recommended_amount: Money
    lines: list[CaseLine]
    effective_on: date
    version: int


@dataclass(frozen=True)
class Dispute(Immutable):
    dispute_id: str
    raised_by: str
    forum: str
    summary: str
    effective_on: date
    version: int


@dataclass(frozen=True)
class PlannedInstalment(Immutable):
    due_on: date
    amount: Money


@dataclass(frozen=True)
class Settlement(Immutable):
    payer: str
    payee: str
    amount: Money
    write_offs: Money
    instalments: list[PlannedInstalment]
    effective_on: date
    version: int
    lines: list[CaseLine] = field(default_factory=list)  # the amount by head, if the parties agreed one


@dataclass(frozen=True)
class Payment(Immutable):
    payment_id: str
    amount: Money
    paid_on: date
    effective_on: date
    version: int


@dataclass(frozen=True)
class Milestone(Immutable):
    """A closing or a reopening."""

    effective_on: date
    version: int


# Answers to queries (not state).
@dataclass(frozen=True)
class CaseFigures(Immutable):
    """The case's totals: None where not yet known (no assessment, no settlement)."""

    claimed: Money
    assessed: Money | None
    agreed: Money | None
    written_off: Money | None
    paid: Money
    outstanding: Money | None
    by_head: dict[str, dict[str, Money | None]]
    status: str

    def as_dict(self) -> dict[str, object]:
        """The figures with amounts as decimal strings (None stays None)."""

        def text(money: Money | None) -> str | None:
            return None if money is None else str(money)

        return {
            "claimed": text(self.claimed),
            "assessed": text(self.assessed),
            "agreed": text(self.agreed),
            "written_off": text(self.written_off),
            "paid": text(self.paid),
            "outstanding": text(self.outstanding),
            "by_head": {head: {k: text(v) for k, v in amounts.items()} for head, amounts in self.by_head.items()},
            "status": self.status,
        }


@dataclass(frozen=True)
class InstalmentState(Immutable):
    """An instalment of the latest settlement with what has been paid towards it; payments are
    allocated in the order recorded, to the earliest instalment first."""

    due_on: date
    amount: Money
    paid: Money
    remaining: Money


def _money(amount: Decimal) -> Money:
    """A sum of amounts already to the penny, written to the penny (0.00, never 0)."""
    return Money(amount.quantize(PENNY))


# What an event carries of a line and of an instalment: plain values, as every event does (the
# event catalogue, ``service/event_catalogue.py``, publishes their shape from these).
class CaseLineFields(TypedDict):
    """A line of a claim, an assessment or a settlement as its event carries it."""

    head: str
    amount: Decimal
    description: str
    evidence: str | None


class InstalmentFields(TypedDict):
    """An instalment of a settlement's plan as its event carries it."""

    due_on: date
    amount: Decimal


def _line_fields(line: CaseLine) -> CaseLineFields:
    return {
        "head": line.head,
        "amount": line.amount.amount,
        "description": line.description,
        "evidence": line.evidence,
    }


def _case_lines(lines: Iterable[dict]) -> list[CaseLine]:
    return [CaseLine(line["head"], Money(line["amount"]), line["description"], line.get("evidence")) for line in lines]


class ExitCase(Aggregate):
    """The claims, assessments, disputes, settlement and payments of one withdrawal or decoupling."""

    # State containers holding only Immutable entries, shared by copies (see Collaboration).
    SHARED_ENTRIES = ("assessments", "disputes", "settlements", "payments", "closings", "reopenings")

    def __deepcopy__(self, memo: dict[int, object]) -> ExitCase:
        return copy_sharing_entries(self, memo, self.SHARED_ENTRIES)

    class Event(Aggregate.Event):
        """Every event after the opening names the case's collaboration too, so a reader of the
        log (the decision log, another tool) can place it without looking the case up."""

        collaboration_id: str
        effective_on: date
        actor: str
        reason: str
        evidence: str | None
        approval_ref: str | None

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.check_dated_after_opening(kwargs["effective_on"])
        super().trigger_event(event_class, collaboration_id=self.collaboration_id, **kwargs)

    def check_dated_after_opening(self, day: date) -> None:
        """Every fact of the case takes effect on or after the day the case was opened."""
        if day < self.opened_on:
            raise FactBeforeCase(
                f"effective_on {day} is before the case was opened on {self.opened_on}", field="effective_on"
            )

    class Opened(Aggregate.Created):
        collaboration_id: str
        trigger: str
        force: str | None
        function_id: str | None
        function_name: str | None
        parties: list[str]
        effective_on: date
        actor: str
        reason: str
        evidence: str | None
        approval_ref: str | None

    def __init__(
        self,
        collaboration_id: str,
        trigger: str,
        force: str | None,
        function_id: str | None,
        function_name: str | None,
        parties: list[str],
        effective_on: date,
        actor: str,
        reason: str,
        evidence: str | None,
        approval_ref: str | None,
    ):
        self.collaboration_id = collaboration_id
        self.trigger = trigger
        self.force = force
        self.function_id = function_id
        self.function_name = function_name
        self.parties: list[str] = list(parties)
        self.opened_on = effective_on
        self.claims: dict[str, ClaimEntry] = {}
        self.assessments: list[Assessment] = []
        self.disputes: list[Dispute] = []
        self.settlements: list[Settlement] = []
        self.payments: list[Payment] = []
        self.closings: list[Milestone] = []
        self.reopenings: list[Milestone] = []
        self.status = OPEN
        self.closed_on: date | None = None

    # ----------------------------------------------------------------- commands
    @classmethod
    def open(
        cls,
        *,
        collaboration_id: str | UUID,
        trigger: str,
        force: str | None = None,
        function_id: str | None = None,
        function_name: str | None = None,
        parties: list[str],
        provenance: Provenance,
    ) -> ExitCase:
        """Opens the exit case of ``force`` withdrawing, or of function ``function_id`` being
        decoupled. Whether the collaboration has that notice or decoupling is for the caller."""
        collaboration_id = required_text(str(collaboration_id), "collaboration_id", max_length=REFERENCE_LENGTH)
        if trigger not in EXIT_CASE_TRIGGERS:
            raise InvalidTrigger(f"trigger must be one of {', '.join(EXIT_CASE_TRIGGERS)}", field="trigger")
        if not isinstance(parties, list | tuple):
            raise TooFewParties("parties must be a list of force codes", field="parties")
        for index, party in enumerate(parties):
            check_force_code(party, field=f"parties.{index}")
        if len(set(parties)) != len(parties):
            duplicate = next(party for index, party in enumerate(parties) if party in parties[:index])
            raise DuplicateParty(f"{duplicate!r} is named twice", field="parties")
        if len(parties) < 2:
            raise TooFewParties("an exit case is between at least two parties", field="parties")
        function_name = optional_text(function_name, "function_name", max_length=NAME_LENGTH)
        if trigger == "withdrawal":
            if force is None:
                raise InvalidTrigger("a withdrawal case names the withdrawing force", field="force")
            if function_id is not None:
                raise InvalidTrigger("a withdrawal case names a force, not a function", field="function_id")
            check_force_code(force, field="force")
            cls.check_party_of(parties, force, "force")
            subject = force
        else:
            if force is not None:
                raise InvalidTrigger("a decoupling case names a function, not a force", field="force")
            function_id = required_text(function_id, "function_id", max_length=REFERENCE_LENGTH)
            subject = function_id
        return cls._create(
            cls.Opened,
            id=exit_case_id(collaboration_id, trigger, subject),
            collaboration_id=collaboration_id,
            trigger=trigger,
            force=force,
            function_id=function_id,
            function_name=function_name,
            parties=list(parties),
            **provenance.as_event_fields(),
        )

    class ClaimLodged(Event):
        claim_id: str
        claimant: str
        respondent: str
        lines: list[CaseLineFields]
        supersedes: str | None

        def apply(self, case: ExitCase) -> None:
            case.claims[self.claim_id] = ClaimEntry(
                claim_id=self.claim_id,
                claimant=self.claimant,
                respondent=self.respondent,
                lines=_case_lines(self.lines),
                supersedes=self.supersedes,
                effective_on=self.effective_on,
                version=self.originator_version,
            )
            case._derive()

    def lodge_claim(
        self,
        *,
        claimant: str,
        respondent: str,
        lines: Sequence[dict],
        supersedes: str | None = None,
        provenance: Provenance,
    ) -> str:
        """Records a claim of ``claimant`` against ``respondent``; answers its id. With
        ``supersedes``, it replaces that earlier claim, which then no longer counts."""
        self.check_not_closed()
        self.check_not_settled("a claim")
        self.check_is_party(claimant, "claimant")
        self.check_is_party(respondent, "respondent")
        if claimant == respondent:
            raise SamePartyBothSides("a claim is made against another party", field="respondent")
        parsed = self.parsed_lines(lines, "lines", required=True)
        if supersedes is not None:
            self.check_can_supersede(supersedes, claimant, respondent)
        claim_id = str(uuid4())
        self.trigger_event(
            self.ClaimLodged,
            claim_id=claim_id,
            claimant=claimant,
            respondent=respondent,
            lines=[_line_fields(line) for line in parsed],
            supersedes=supersedes,
            **provenance.as_event_fields(),
        )
        return claim_id

    class Assessed(Event):
        assessment_id: str
        assessor: str
        recommended_amount: Decimal
        lines: list[CaseLineFields]

        def apply(self, case: ExitCase) -> None:
            case.assessments.append(
                Assessment(
                    assessment_id=self.assessment_id,
                    assessor=self.assessor,
                    recommended_amount=Money(self.recommended_amount),
                    lines=_case_lines(self.lines),
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )
            case._derive()

    def record_assessment(
        self, *, assessor: str, recommended_amount: object, lines: Sequence[dict] = (), provenance: Provenance
    ) -> str:
        """Records an independent assessment (the latest one counts); answers its id."""
        self.check_not_closed()
        assessor = required_text(assessor, "assessor", max_length=NAME_LENGTH)
        amount = self.positive(recommended_amount, "recommended_amount", InvalidAssessment)
        parsed = self.parsed_lines(lines, "lines", required=False)
        if parsed:
            total = sum((line.amount.amount for line in parsed), ZERO)
            if total != amount.amount:
                raise InvalidAssessment(
                    f"the breakdown sums to {Money(total)}, not the recommended {amount}", field="lines"
                )
        assessment_id = str(uuid4())
        self.trigger_event(
            self.Assessed,
            assessment_id=assessment_id,
            assessor=assessor,
            recommended_amount=amount.amount,
            lines=[_line_fields(line) for line in parsed],
            **provenance.as_event_fields(),
        )
        return assessment_id

    class DisputeRaised(Event):
        dispute_id: str
        raised_by: str
        forum: str
        summary: str

        def apply(self, case: ExitCase) -> None:
            case.disputes.append(
                Dispute(
                    dispute_id=self.dispute_id,
                    raised_by=self.raised_by,
                    forum=self.forum,
                    summary=self.summary,
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )
            case._derive()

    def raise_dispute(self, *, raised_by: str, forum: str, summary: str, provenance: Provenance) -> str:
        self.check_not_closed()
        self.check_is_party(raised_by, "raised_by")
        if forum not in DISPUTE_FORUMS:
            raise InvalidForum(f"forum must be one of {', '.join(DISPUTE_FORUMS)}", field="forum")
        summary = required_text(summary, "summary", max_length=TEXT_LENGTH)
        dispute_id = str(uuid4())
        self.trigger_event(
            self.DisputeRaised,
            dispute_id=dispute_id,
            raised_by=raised_by,
            forum=forum,
            summary=summary,
            **provenance.as_event_fields(),
        )
        return dispute_id

    class SettlementAgreed(Event):
        """Version 2 adds ``lines``: the agreed amount by head (empty: no breakdown agreed)."""

        class_version = 2

        payer: str
        payee: str
        amount: Decimal
        write_offs: Decimal
        instalments: list[InstalmentFields]
        lines: list[CaseLineFields]

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["lines"] = []

        def apply(self, case: ExitCase) -> None:
            case.settlements.append(
                Settlement(
                    payer=self.payer,
                    payee=self.payee,
                    amount=Money(self.amount),
                    write_offs=Money(self.write_offs),
                    instalments=[
                        PlannedInstalment(instalment["due_on"], Money(instalment["amount"]))
                        for instalment in self.instalments
                    ],
                    effective_on=self.effective_on,
                    version=self.originator_version,
                    lines=_case_lines(self.lines),
                )
            )
            case._derive()

    def agree_settlement(
        self,
        *,
        payer: str,
        payee: str,
        amount: object,
        write_offs: object,
        instalments: Sequence[dict],
        provenance: Provenance,
        lines: Sequence[dict] = (),
    ) -> None:
        """Records the agreed settlement: ``payer`` pays ``payee`` ``amount`` by the instalment
        plan, and ``write_offs`` are forgone; ``lines``, if given, break the amount down by head
        (summing to it exactly). Both sides agreed it, so it is recorded on the evidence of that
        approval (``approval_ref``)."""
        self.check_not_closed()
        provenance.check_approved("a settlement")
        self.check_not_settled("a further settlement")
        self.check_is_party(payer, "payer")
        self.check_is_party(payee, "payee")
        if payer == payee:
            raise SamePartyBothSides("a settlement is paid to another party", field="payee")
        agreed = self.positive(amount, "amount", InvalidSettlement)
        forgone = Money.non_negative(write_offs, "write_offs")
        plan = self.parsed_instalments(instalments)
        total = sum((instalment.amount.amount for instalment in plan), ZERO)
        if total != agreed.amount:
            raise InstalmentsDoNotSumToAmount(
                f"the instalments sum to {Money(total)}, not the agreed {agreed}", field="instalments"
            )
        breakdown = self.parsed_lines(lines, "lines", required=False)
        if breakdown and sum((line.amount.amount for line in breakdown), ZERO) != agreed.amount:
            raise InvalidSettlement(
                f"the breakdown sums to {_money(sum((line.amount.amount for line in breakdown), ZERO))}, not the "
                f"agreed {agreed}",
                field="lines",
            )
        paid = self.paid()
        if agreed.amount < paid.amount:
            raise SettlementBelowPaid(f"{paid} has already been paid, more than {agreed}", field="amount")
        previous = self.settlement
        if self.payments and previous is not None and (previous.payer, previous.payee) != (payer, payee):
            raise SettlementPartiesChanged(
                f"payments have been made by {previous.payer} to {previous.payee}; a revised settlement keeps them",
                field="payer",
            )
        self.trigger_event(
            self.SettlementAgreed,
            payer=payer,
            payee=payee,
            amount=agreed.amount,
            write_offs=forgone.amount,
            instalments=[{"due_on": i.due_on, "amount": i.amount.amount} for i in plan],
            lines=[_line_fields(line) for line in breakdown],
            **provenance.as_event_fields(),
        )

    class PaymentMade(Event):
        payment_id: str
        amount: Decimal
        paid_on: date

        def apply(self, case: ExitCase) -> None:
            case.payments.append(
                Payment(
                    payment_id=self.payment_id,
                    amount=Money(self.amount),
                    paid_on=self.paid_on,
                    effective_on=self.effective_on,
                    version=self.originator_version,
                )
            )
            case._derive()

    def record_payment(self, *, amount: object, paid_on: date, provenance: Provenance) -> str:
        """Records a payment under the settlement by its payer to its payee; answers its id."""
        self.check_not_closed()
        settlement = self.settlement
        if settlement is None:
            raise NoSettlement("a payment is made under an agreed settlement; none has been agreed", field="amount")
        money = self.positive(amount, "amount", InvalidPayment)
        if not isinstance(paid_on, date) or isinstance(paid_on, datetime):
            raise InvalidPayment("paid_on must be a date", field="paid_on")
        for day, field_name in ((paid_on, "paid_on"), (provenance.effective_on, "effective_on")):
            if day < settlement.effective_on:
                raise PaymentBeforeSettlement(
                    f"{field_name} {day} is before the settlement of {settlement.effective_on} it is paid under",
                    field=field_name,
                )
        outstanding = settlement.amount.amount - self.paid().amount
        if money.amount > outstanding:
            raise Overpayment(f"{money} is more than the {Money(outstanding)} outstanding", field="amount")
        payment_id = str(uuid4())
        self.trigger_event(
            self.PaymentMade,
            payment_id=payment_id,
            amount=money.amount,
            paid_on=paid_on,
            **provenance.as_event_fields(),
        )
        return payment_id

    class Closed(Event):
        def apply(self, case: ExitCase) -> None:
            case.closings.append(Milestone(self.effective_on, self.originator_version))
            case._derive()

    def close(self, *, provenance: Provenance) -> None:
        self.check_not_closed()
        settlement = self.settlement
        if settlement is not None:
            outstanding = _money(settlement.amount.amount - self.paid().amount)
            if outstanding.amount != ZERO:
                raise OutstandingBalance(f"{outstanding} is still outstanding under the settlement", field="status")
        latest = self.latest_money_date()
        if latest is not None and provenance.effective_on < latest:
            raise ClosedBeforeSettled(
                f"the case cannot close on {provenance.effective_on}, before its settlement or payment of {latest}",
                field="effective_on",
            )
        self.trigger_event(self.Closed, **provenance.as_event_fields())

    class Reopened(Event):
        def apply(self, case: ExitCase) -> None:
            case.reopenings.append(Milestone(self.effective_on, self.originator_version))
            case._derive()

    def reopen(self, *, provenance: Provenance) -> None:
        """Reopens a settled or closed case; the reason says why."""
        if self.status not in (SETTLED, CLOSED):
            raise CaseNotSettled("only a settled or closed exit case can be reopened", field="status")
        if self.closed_on is not None and provenance.effective_on < self.closed_on:
            raise ReopenedBeforeClosed(
                f"the case cannot be reopened on {provenance.effective_on}, before it was closed on {self.closed_on}",
                field="effective_on",
            )
        self.trigger_event(self.Reopened, **provenance.as_event_fields())

    # ------------------------------------------------------------------- checks
    @staticmethod
    def check_party_of(parties: Sequence[str], force: object, field_name: str) -> None:
        if force not in parties:
            raise PartyNotInCase(f"{force!r} is not a party to this exit case", field=field_name)

    def check_is_party(self, force: object, field_name: str) -> None:
        self.check_party_of(self.parties, force, field_name)

    def check_not_closed(self) -> None:
        if self.status == CLOSED:
            raise CaseClosed(f"the exit case was closed on {self.closed_on}; reopen it first", field="status")

    def check_not_settled(self, what: str) -> None:
        if self.status == SETTLED:
            raise CaseSettled(f"the case is settled; {what} needs it reopened first", field="status")

    def check_can_supersede(self, claim_id: object, claimant: str, respondent: str) -> None:
        earlier = self.claims.get(claim_id) if isinstance(claim_id, str) else None
        if earlier is None:
            raise UnknownClaim(f"no claim {claim_id!r} in this exit case", field="supersedes")
        if earlier.superseded_by is not None:
            raise ClaimAlreadySuperseded(
                f"claim {claim_id} was already superseded by {earlier.superseded_by}", field="supersedes"
            )
        if (earlier.claimant, earlier.respondent) != (claimant, respondent):
            raise ClaimPartiesDiffer(
                f"claim {claim_id} is by {earlier.claimant} against {earlier.respondent}", field="supersedes"
            )

    @staticmethod
    def positive(
        value: object, field_name: str, error: type[InvalidAssessment | InvalidSettlement | InvalidPayment]
    ) -> Money:
        money = Money.of(value, field_name)
        if money.amount <= ZERO:
            raise error(f"{field_name} must be more than zero, not {money}", field=field_name)
        return money

    @staticmethod
    def parsed_lines(lines: object, field_name: str, *, required: bool) -> list[CaseLine]:
        if not isinstance(lines, list | tuple):
            raise InvalidClaimLine(f"{field_name} must be a list of lines", field=field_name)
        if required and not lines:
            raise InvalidClaimLine("a claim has at least one line", field=field_name)
        parsed = []
        for index, line in enumerate(lines):
            where = f"{field_name}.{index}"
            if not isinstance(line, dict):
                raise InvalidClaimLine(f"{where} must be a line with head, amount and description", field=where)
            head = line.get("head")
            if head not in HEADS:
                raise InvalidClaimLine(f"{where}.head must be one of H1..H8, not {head!r}", field=f"{where}.head")
            parsed.append(
                CaseLine(
                    head=head,
                    amount=Money.of(line.get("amount"), f"{where}.amount"),
                    description=required_text(line.get("description"), f"{where}.description", max_length=TEXT_LENGTH),
                    evidence=optional_text(line.get("evidence"), f"{where}.evidence", max_length=REFERENCE_LENGTH),
                )
            )
        total = sum((line.amount.amount for line in parsed), ZERO)
        try:
            Money.of(total, field_name)
        except AmountTooLarge as error:
            raise InvalidClaimLine(f"the lines' total is too large: {error.detail}", field=field_name) from None
        return parsed

    @staticmethod
    def parsed_instalments(instalments: object) -> list[PlannedInstalment]:
        if not isinstance(instalments, list | tuple) or not instalments:
            raise InvalidSettlement("a settlement has a plan of at least one instalment", field="instalments")
        plan: list[PlannedInstalment] = []
        for index, instalment in enumerate(instalments):
            where = f"instalments.{index}"
            if not isinstance(instalment, dict):
                raise InvalidSettlement(f"{where} must be an instalment with due_on and amount", field=where)
            due_on = instalment.get("due_on")
            if not isinstance(due_on, date) or isinstance(due_on, datetime):
                raise InvalidSettlement(f"{where}.due_on must be a date", field=f"{where}.due_on")
            if plan and due_on < plan[-1].due_on:
                raise InvalidSettlement(
                    f"{where} is due on {due_on}, before the instalment before it ({plan[-1].due_on})",
                    field=f"{where}.due_on",
                )
            amount = Money.of(instalment.get("amount"), f"{where}.amount")
            if amount.amount <= ZERO:
                raise InvalidSettlement(f"{where}.amount must be more than zero", field=f"{where}.amount")
            plan.append(PlannedInstalment(due_on, amount))
        return plan

    # ------------------------------------------------------------------ queries
    @property
    def settlement(self) -> Settlement | None:
        """The latest settlement: the one that counts."""
        return self.settlements[-1] if self.settlements else None

    @property
    def assessment(self) -> Assessment | None:
        """The latest assessment: the one that counts."""
        return self.assessments[-1] if self.assessments else None

    def current_claims(self) -> list[ClaimEntry]:
        """Claims not superseded, in the order lodged."""
        return sorted((c for c in self.claims.values() if c.current), key=lambda c: c.version)

    def latest_money_date(self) -> date | None:
        """The latest date among the settlements' and payments' effective dates and the dates
        payments were made: a closing is on or after it (None with neither)."""
        days = [settlement.effective_on for settlement in self.settlements]
        days += [day for payment in self.payments for day in (payment.effective_on, payment.paid_on)]
        return max(days, default=None)

    def paid(self) -> Money:
        return _money(sum((payment.amount.amount for payment in self.payments), ZERO))

    def claimed_lines(self, heads: Sequence[str] | None = None) -> list[Claim]:
        """The current claims' lines in lodging order, as the calculator's ``Claim``: who claims
        from whom, and the version that lodged it; only those on ``heads`` if given (the
        calculator takes the claimed heads, ``domain.exit_costs.CLAIMED_HEADS``)."""
        return [
            Claim(
                head=line.head,
                amount=line.amount.amount,
                description=line.description,
                claimant=claim.claimant,
                respondent=claim.respondent,
                evidence=line.evidence,
                version=claim.version,
                source_id=str(self.id),
            )
            for claim in self.current_claims()
            for line in claim.lines
            if heads is None or line.head in heads
        ]

    def figures(self) -> CaseFigures:
        current = self.current_claims()
        claimed_by_head: dict[str, Decimal] = {}
        for claim in current:
            for line in claim.lines:
                claimed_by_head[line.head] = claimed_by_head.get(line.head, ZERO) + line.amount.amount
        assessment = self.assessment
        assessed_by_head: dict[str, Decimal] | None = None
        if assessment is not None and assessment.lines:
            assessed_by_head = {}
            for line in assessment.lines:
                assessed_by_head[line.head] = assessed_by_head.get(line.head, ZERO) + line.amount.amount
        heads = set(claimed_by_head) | set(assessed_by_head or {})
        by_head: dict[str, dict[str, Money | None]] = {
            head: {
                "claimed": _money(claimed_by_head.get(head, ZERO)),
                "assessed": None if assessed_by_head is None else _money(assessed_by_head.get(head, ZERO)),
            }
            for head in sorted(heads)
        }
        settlement = self.settlement
        paid = self.paid()
        return CaseFigures(
            claimed=_money(sum(claimed_by_head.values(), ZERO)),
            assessed=assessment.recommended_amount if assessment else None,
            agreed=settlement.amount if settlement else None,
            written_off=settlement.write_offs if settlement else None,
            paid=paid,
            outstanding=_money(settlement.amount.amount - paid.amount) if settlement else None,
            by_head=by_head,
            status=self.status,
        )

    def instalment_schedule(self) -> list[InstalmentState]:
        """The latest settlement's instalments with what has been paid towards each (empty with
        no settlement)."""
        settlement = self.settlement
        if settlement is None:
            return []
        unallocated = self.paid().amount
        schedule = []
        for instalment in settlement.instalments:
            paid = min(unallocated, instalment.amount.amount)
            unallocated -= paid
            schedule.append(
                InstalmentState(
                    due_on=instalment.due_on,
                    amount=instalment.amount,
                    paid=_money(paid),
                    remaining=_money(instalment.amount.amount - paid),
                )
            )
        return schedule

    def as_of(self, day: date) -> ExitCase:
        """A copy holding only the facts effective on or before ``day``, status derived again.
        Same version: it answers "the case on ``day``, as recorded now"."""
        case = copy.deepcopy(self)
        case._pending_events = []
        case.claims = {cid: claim for cid, claim in case.claims.items() if claim.effective_on <= day}
        case.assessments = [a for a in case.assessments if a.effective_on <= day]
        case.disputes = [d for d in case.disputes if d.effective_on <= day]
        case.settlements = [s for s in case.settlements if s.effective_on <= day]
        case.payments = [p for p in case.payments if p.effective_on <= day]
        case.closings = [m for m in case.closings if m.effective_on <= day]
        case.reopenings = [m for m in case.reopenings if m.effective_on <= day]
        case._derive()
        return case

    def _derive(self) -> None:
        """Sets what follows from the facts: each claim's ``superseded_by``, ``status`` and
        ``closed_on``."""
        for claim in self.claims.values():
            claim.superseded_by = None
        for claim in sorted(self.claims.values(), key=lambda c: c.version):
            if claim.supersedes is not None and claim.supersedes in self.claims:
                self.claims[claim.supersedes].superseded_by = claim.claim_id
        last_reopened = max((m.version for m in self.reopenings), default=0)
        last_closed = max((m.version for m in self.closings), default=0)
        last_settled = max((s.version for s in self.settlements), default=0)
        if last_closed > last_reopened:
            self.status = CLOSED
            self.closed_on = self.closings[-1].effective_on
        else:
            self.status = SETTLED if last_settled > last_reopened else OPEN
            self.closed_on = None
