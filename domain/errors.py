"""Domain errors, each named for the rule it protects.

The web layer maps these to HTTP problems in one place; the domain never knows about HTTP.
"""


class DomainError(Exception):
    """A command broke a rule of the domain. Nothing was recorded."""

    def __init__(self, detail: str, *, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field


# Values
class DateOutOfRange(DomainError):
    """Dates worked out from a recorded date (a notice's end, an earliest exit) fall within
    the years 1 to 9999."""


class InvalidMoney(DomainError):
    """Money is a non-negative amount with at most two decimal places."""


class NegativeAmount(InvalidMoney):
    """Budgets, costs and values are never negative."""


class AmountTooLarge(InvalidMoney):
    """An amount is less than £1,000,000,000,000,000 (a quadrillion pounds)."""


class InvalidShare(DomainError):
    """A share is an exact decimal from 0 to 1 with at most 10 decimal places."""


class InvalidFinancialYear(DomainError):
    """A financial year is written YYYY/YY, e.g. 2019/20, and runs 1 April to 31 March."""


class MissingReason(DomainError):
    """Every recorded fact says why it was recorded."""


class MissingActor(DomainError):
    """Every recorded fact says who recorded it."""


class RequiredText(DomainError):
    """A required text field was empty."""


class InvalidText(DomainError):
    """Text fits its length limit and has no NUL, other control characters or lone surrogates."""


class UnknownForce(DomainError):
    """Forces are identified by the codes of the 43 territorial forces."""


# The agreement
class InvalidReviewCycle(DomainError):
    """A review cycle is a whole number of months from 1 to 600."""


class AgreementEnded(DomainError):
    """A terminated agreement records nothing more: every command is refused."""


class EndedBeforeLastFact(DomainError):
    """The end of an agreement is dated on or after every fact recorded of it."""


# Dates: nothing takes effect before the thing it is about existed
class FactBeforeItsSubject(DomainError):
    """A fact takes effect on or after the day what it is about came to exist."""


class FactBeforeAgreement(FactBeforeItsSubject):
    """A fact of an agreement, its exit cases or benefits takes effect on or after the agreement was established."""


class FactBeforeFunction(FactBeforeItsSubject):
    """A fact about a function takes effect on or after the day the function was added."""


class FactBeforeParty(FactBeforeItsSubject):
    """A fact naming a party takes effect on or after the day it joined the agreement."""


class FactBeforeCase(FactBeforeItsSubject):
    """A fact of an exit case takes effect on or after the day the case was opened."""


class CaseBeforeItsTrigger(FactBeforeItsSubject):
    """An exit case is opened on or after the notice it follows, or the decoupling's decision."""


class FactBeforeBenefit(FactBeforeItsSubject):
    """A fact of a benefit takes effect on or after the day the benefit was identified."""


class ApprovalRequired(DomainError):
    """Acts no one party owns (directions, decouplings, the end, settlements) are recorded on an approval_ref."""


# Parties
class TooFewParties(DomainError):
    """A collaboration agreement is between two or more forces."""


class DuplicateParty(DomainError):
    """A force is a party to a collaboration at most once."""


class LeadForceNotAParty(DomainError):
    """The lead force is one of the parties."""


class PartyNotInCollaboration(DomainError):
    """Only parties host functions, hold shares or fund assets."""


class PartyHasWithdrawn(DomainError):
    """A force that has left the agreement takes on no new facts: it hosts no function, holds no
    new share, funds no new asset, serves no notice and does not join again."""


# Functions and money
class UnknownFunction(DomainError):
    """The function is not part of this collaboration."""


class DuplicateFunction(DomainError):
    """Function names are unique within a collaboration."""


class InvalidFunctionKind(DomainError):
    """A function is operational or enabling."""


class SharesDoNotSumToOne(DomainError):
    """Apportionment and funding shares sum to exactly 1."""


class InvalidApportionmentBasis(DomainError):
    """The basis is force size, net revenue budget share, fixed ratio or usage."""


class InvalidExitTerms(DomainError):
    """Exit terms have periods of 0 to 1200 months, a rate from 0 to 1 and caps on known heads."""


class InvalidAsset(DomainError):
    """An asset has a useful life of 1 to 1200 months."""


class NoExitTerms(DomainError):
    """Notice periods and exit costs come from the exit terms in effect on the notice date; there were none."""


# Withdrawal, decoupling and directions
class NoticeAlreadyServed(DomainError):
    """A force has at most one live withdrawal notice at a time."""


class NoLiveNotice(DomainError):
    """A notice can be withdrawn, or its exit date moved by a direction, only while it is live."""


class FunctionAlreadyDecoupled(DomainError):
    """A function is decoupled (returned to a single force) once."""


class DecidedAfterEffect(DomainError):
    """A decoupling is decided on or before the day it takes effect, within the agreement's term."""


class InvalidDirection(DomainError):
    """An s23G direction moves the exit date to a date on or after the notice was served."""


class WithdrawalBeforeNotice(DomainError):
    """A force leaves the agreement on or after the date it served its withdrawal notice."""


class NoticeWithdrawnBeforeServed(DomainError):
    """A withdrawal notice is withdrawn on or after the date it was served."""


# Exit cases
class NothingToExit(DomainError):
    """An exit case follows a recorded withdrawal notice or decoupling; there is none."""


class InvalidTrigger(DomainError):
    """An exit case is opened for a withdrawal (naming the withdrawing force, not a function) or a
    decoupling (naming the function, not a force)."""


class PartyNotInCase(DomainError):
    """Claimants, respondents, payers, payees, whoever raises a dispute and a withdrawing force are
    parties of the exit case, named when it was opened."""


class SamePartyBothSides(DomainError):
    """A claim is made by one party against another, and a settlement is paid by one party to another."""


class InvalidClaimLine(DomainError):
    """A claim has one or more lines; every claim or assessment line is on a head H1..H8, with an
    amount to the penny (negative for a mitigation) and a description; the lines' total is within
    money limits."""


class UnknownClaim(DomainError):
    """A claim supersedes only a claim lodged earlier in the same exit case."""


class ClaimAlreadySuperseded(DomainError):
    """A claim is superseded at most once: a further revision supersedes the revision."""


class ClaimPartiesDiffer(DomainError):
    """A revised claim is made by the same claimant against the same respondent as the claim it supersedes."""


class InvalidAssessment(DomainError):
    """An assessment names its assessor and recommends an amount above zero; a breakdown, if given,
    sums to exactly that amount."""


class InvalidForum(DomainError):
    """A dispute goes to the Home Secretary, a court or arbitration."""


class InvalidSettlement(DomainError):
    """A settlement is of an amount above zero, with write-offs of zero or more and a plan of one or
    more instalments, each above zero and due no earlier than the one before."""


class InstalmentsDoNotSumToAmount(InvalidSettlement):
    """A settlement's instalments sum to exactly its amount."""


class SettlementBelowPaid(DomainError):
    """A settlement agreed after reopening is at least what has already been paid."""


class SettlementPartiesChanged(DomainError):
    """Once payments have been made, a revised settlement keeps the same payer and payee."""


class NoSettlement(DomainError):
    """Payments are made under an agreed settlement; there is none yet."""


class InvalidPayment(DomainError):
    """A payment is of an amount above zero, to the penny, made on a date."""


class PaymentBeforeSettlement(DomainError):
    """A payment is made (and recorded as effective) on or after the date of the settlement it is made under."""


class Overpayment(DomainError):
    """A payment is at most what is still outstanding under the settlement (agreed less paid)."""


class CaseSettled(DomainError):
    """Once a settlement is agreed, no further claim or settlement is recorded until the case is reopened."""


class CaseClosed(DomainError):
    """A closed exit case records nothing but its reopening."""


class CaseNotSettled(DomainError):
    """Only a settled or closed exit case can be reopened."""


class OutstandingBalance(DomainError):
    """An exit case with a settlement closes only when nothing is outstanding under it."""


class ClosedBeforeSettled(DomainError):
    """An exit case closes on or after the latest date among its settlements and payments."""


class ReopenedBeforeClosed(DomainError):
    """A closed exit case is reopened on or after the date it was closed."""


# Benefits
class InvalidBenefitCategory(DomainError):
    """A benefit's category is 1 Savings, 2 Service or 3 Compliance, and its sub-category one of 1a-3c."""


class SubCategoryMismatch(InvalidBenefitCategory):
    """A benefit's sub-category belongs to its category: 1a-1c to 1, 2a-2b to 2, 3a-3c to 3."""


class InvalidPillar(DomainError):
    """A benefit sits under one pillar: people, cost or service."""


class InvalidBenefitDirection(DomainError):
    """A benefit's direction is increase, decrease or maintain."""


class InvalidUnit(DomainError):
    """A benefit is measured in GBP, hours, percent, count or score."""


class InvalidTolerance(DomainError):
    """A "maintain" benefit has a tolerance of zero or more; other directions have none."""


class InvalidBenefitValue(DomainError):
    """A baseline, target or measured value is an exact finite decimal of less than 10^15 either way,
    with at most 10 decimal places (2 for GBP)."""


class InvalidBaselineOrTarget(DomainError):
    """A baseline and a target each have a value and a date, and the baseline's date is before the target's."""


class InvalidStage(DomainError):
    """A business-case stage is 0 (Strategic Assessment) to 5 (Evaluation)."""


class InvalidBenefitStatus(DomainError):
    """A benefit's status is identified, planned, validated, realising, handed_to_bau, realised or lapsed."""


class MinimumStandardNotMet(DomainError):
    """From stage 2 (OBC) on, a benefit has a direction, measure, unit, category, owner, baseline and
    target (the 7F minimum standard)."""


class StatusMovedBackwards(DomainError):
    """A benefit's status and stage only move forward; moving back is a recorded reopening."""


class BenefitFinal(DomainError):
    """A realised or lapsed benefit changes status, stage, target or baseline only by being reopened."""


class InvalidReopening(DomainError):
    """A reopening moves a benefit back to an earlier, non-final status (or stage)."""


class NothingChanged(DomainError):
    """A command that changes a benefit changes something."""


class InvalidMeasurementPeriod(DomainError):
    """A measurement's period starts on or before it ends."""


class OverlappingMeasurement(DomainError):
    """A measurement's period does not overlap a current measurement's, unless it restates that one."""


class UnknownMeasurement(DomainError):
    """A restatement names a measurement recorded earlier for the same benefit."""


class MeasurementAlreadyRestated(DomainError):
    """Only a current measurement is restated: to correct a restatement, restate the restatement."""


class UnitFixedByMeasurements(DomainError):
    """A benefit's unit does not change once it has measurements."""


class MeasurementBeforePeriodEnd(DomainError):
    """A measurement takes effect once the period it measures has ended.

    A period not yet ended has no actual figure."""


class InvalidBenefitKind(DomainError):
    """An entry of the register is a benefit or a dis-benefit (an outcome a party sees as negative)."""


class InvalidBenefitClass(DomainError):
    """A benefit's class is cash-releasing or not, and quantitative or qualitative (flags, or unset)."""


class InvalidMeasurementFrequency(DomainError):
    """A benefit is measured monthly, quarterly, six-monthly or annually."""


class InvalidConfidence(DomainError):
    """Confidence in a benefit is high, medium or low."""


class InvalidRag(DomainError):
    """A RAG override is red, amber or green (or none, to clear it)."""


class InvalidProfile(DomainError):
    """A benefit profile has one or more periods, each starting on or before it ends, none
    overlapping another, each with a value in the benefit's unit; the benefit has a direction
    and a unit first."""


class StageMoveOutOfOrder(DomainError):
    """A benefit's stage or status moves on or after the date of the move in effect.

    Forward-only moves are checked against the current stage; one dated earlier would run the
    timeline backwards."""
