"""Value objects: money, shares, financial years and the provenance every fact carries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from domain.errors import (
    InvalidFinancialYear,
    InvalidMoney,
    InvalidShare,
    MissingActor,
    MissingReason,
    NegativeAmount,
    SharesDoNotSumToOne,
)

PENNY = Decimal("0.01")
ONE = Decimal(1)


def _as_decimal(value: object, error: type[Exception], what: str) -> Decimal:
    if isinstance(value, float):
        raise error(f"{what} must be given as an exact decimal string, not a float")
    if isinstance(value, bool):
        raise error(f"{what} must be a decimal, not {value!r}")
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise error(f"{what} is not a decimal number: {value!r}") from None
    if not result.is_finite():
        raise error(f"{what} must be a finite decimal: {value!r}")
    return result


@dataclass(frozen=True, order=True)
class Money:
    """An amount in GBP, exact to the penny. Never negative where it is a budget or a cost."""

    amount: Decimal

    @classmethod
    def of(cls, value: object, what: str = "amount") -> Money:
        amount = _as_decimal(value, InvalidMoney, what)
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidMoney(f"{what} has more than two decimal places: {value}")
        return cls(amount.quantize(PENNY))

    @classmethod
    def non_negative(cls, value: object, what: str = "amount") -> Money:
        money = cls.of(value, what)
        if money.amount < 0:
            raise NegativeAmount(f"{what} must not be negative: {money}")
        return money

    def __str__(self) -> str:
        return f"{self.amount:.2f}"


@dataclass(frozen=True, order=True)
class Share:
    """An exact fraction from 0 to 1, e.g. a party's share of a function's costs."""

    value: Decimal

    @classmethod
    def of(cls, value: object, what: str = "share") -> Share:
        share = _as_decimal(value, InvalidShare, what)
        if not Decimal(0) <= share <= ONE:
            raise InvalidShare(f"{what} must be between 0 and 1: {value}")
        return cls(share)

    def __str__(self) -> str:
        return str(self.value)


def shares_summing_to_one(shares: dict[str, object], what: str = "shares") -> dict[str, Share]:
    """Parses a {force: share} mapping and checks it sums to exactly 1."""
    parsed = {force: Share.of(value, f"{what}[{force}]") for force, value in shares.items()}
    if not parsed:
        raise SharesDoNotSumToOne(f"{what} must name at least one party")
    total = sum((share.value for share in parsed.values()), Decimal(0))
    if total != ONE:
        raise SharesDoNotSumToOne(f"{what} sum to {total}, not exactly 1")
    return parsed


_FINANCIAL_YEAR = re.compile(r"^(\d{4})/(\d{2})$")


@dataclass(frozen=True, order=True)
class FinancialYear:
    """A police financial year, 1 April to 31 March, written e.g. ``2019/20``."""

    start_year: int

    @classmethod
    def parse(cls, text: str) -> FinancialYear:
        match = _FINANCIAL_YEAR.match(text or "")
        if not match:
            raise InvalidFinancialYear(f"financial year must look like 2019/20, not {text!r}")
        start, end = int(match.group(1)), int(match.group(2))
        if (start + 1) % 100 != end:
            raise InvalidFinancialYear(f"{text!r} is not one year: {start} is not followed by {end:02d}")
        return cls(start)

    @classmethod
    def containing(cls, day: date) -> FinancialYear:
        return cls(day.year if day.month >= 4 else day.year - 1)

    @property
    def starts_on(self) -> date:
        return date(self.start_year, 4, 1)

    @property
    def ends_on(self) -> date:
        return date(self.start_year + 1, 3, 31)

    def __str__(self) -> str:
        return f"{self.start_year}/{(self.start_year + 1) % 100:02d}"


@dataclass(frozen=True)
class Provenance:
    """Who recorded a fact, why, on what evidence, and when it takes effect in the world."""

    effective_on: date
    actor: str
    reason: str
    evidence: str | None = None
    approval_ref: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.effective_on, date):
            raise TypeError("effective_on must be a date")
        if not (self.reason or "").strip():
            raise MissingReason("reason must say why this is recorded", field="reason")
        if not (self.actor or "").strip():
            raise MissingActor("every fact is recorded by someone", field="actor")

    def as_event_fields(self) -> dict[str, object]:
        return {
            "effective_on": self.effective_on,
            "actor": self.actor,
            "reason": self.reason.strip(),
            "evidence": self.evidence or None,
            "approval_ref": self.approval_ref or None,
        }
