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


# Parties
class TooFewParties(DomainError):
    """A collaboration agreement is between two or more forces."""


class DuplicateParty(DomainError):
    """A force is a party to a collaboration at most once."""


class LeadForceNotAParty(DomainError):
    """The lead force is one of the parties."""


class PartyNotInCollaboration(DomainError):
    """Only parties host functions, hold shares or fund assets."""


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


class InvalidDirection(DomainError):
    """An s23G direction moves the exit date to a date on or after the notice was served."""
