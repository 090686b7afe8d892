"""Value objects: money, shares, financial years, text, and the provenance every fact carries."""

from __future__ import annotations

import copy
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from functools import lru_cache
from typing import Any
from uuid import UUID

from domain.errors import (
    AmountTooLarge,
    ApprovalRequired,
    InvalidFinancialYear,
    InvalidMoney,
    InvalidShare,
    InvalidText,
    MissingActor,
    MissingReason,
    NegativeAmount,
    RequiredText,
    SharesDoNotSumToOne,
)

PENNY = Decimal("0.01")
ONE = Decimal(1)
MAX_AMOUNT = Decimal(10) ** 15  # a quadrillion pounds: far above any public budget, far below trouble
SHARE_PLACES = 10

# Longest text each kind of field holds, in characters.
NAME_LENGTH = 200  # names: of a collaboration, function, asset, supplier, governance body, token holder
TEXT_LENGTH = 10_000  # prose: a purpose, reason, outcome or summary
REFERENCE_LENGTH = 500  # references: a clause, evidence, an approval reference; and the actor

# Characters no recorded text may hold: NUL (PostgreSQL cannot store it in text or jsonb), the
# other C0 control characters except tab, line feed and carriage return, DEL, and lone
# surrogates (half a UTF-16 pair: not a character, and not encodable as UTF-8).
_FORBIDDEN_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def text_fault(text: str, max_length: int) -> str | None:
    """Why ``text`` cannot be recorded, or None if it can. The one text rule: the domain
    applies it to every text it records, and the HTTP fields to every string they accept."""
    if (match := _FORBIDDEN_CHARACTER.search(text)) is not None:
        character = match.group()
        if character == "\x00":
            what = "the NUL character"
        elif "\ud800" <= character <= "\udfff":
            what = "a lone surrogate"
        else:
            what = "the control character"
        return f"must not contain {what} U+{ord(character):04X} (at position {match.start()})"
    if len(text) > max_length:
        return f"must be at most {max_length} characters long, not {len(text)}"
    return None


def checked_text(value: object, field_name: str, *, max_length: int) -> str:
    """Text as it is recorded: a string without surrounding whitespace that obeys the text rule.
    It may be empty; ``required_text`` and ``optional_text`` say what empty means."""
    if not isinstance(value, str):
        raise InvalidText(f"{field_name} must be text", field=field_name)
    text = value.strip()
    if (fault := text_fault(text, max_length)) is not None:
        raise InvalidText(f"{field_name} {fault}", field=field_name)
    return text


def required_text(value: object, field_name: str, *, max_length: int) -> str:
    text = checked_text("" if value is None else value, field_name, max_length=max_length)
    if not text:
        raise RequiredText(f"{field_name} must not be empty", field=field_name)
    return text


def optional_text(value: object, field_name: str, *, max_length: int) -> str | None:
    """Text that may be left out: absent, empty or whitespace-only is recorded as None."""
    if value is None:
        return None
    return checked_text(value, field_name, max_length=max_length) or None


def _as_decimal(value: object, error: type[InvalidMoney | InvalidShare], what: str) -> Decimal:
    if isinstance(value, float):
        raise error(f"{what} must be given as an exact decimal string, not a float", field=what)
    if isinstance(value, bool):
        raise error(f"{what} must be a decimal, not {value!r}", field=what)
    try:
        result = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise error(f"{what} is not a decimal number: {str(value)[:40]!r}", field=what) from None
    if not result.is_finite():
        raise error(f"{what} must be a finite decimal: {value!r}", field=what)
    return result


class Immutable:
    """A frozen value: copying it, even deeply, gives the value itself. Aggregates are copied
    whenever they are read from the library's aggregate cache or viewed ``as_of`` a date; their
    state is mostly frozen entries, so this keeps a copy to the cost of its containers. Frozen
    entries are never changed after they are made, including the dicts they hold."""

    __slots__ = ()

    def __copy__(self) -> Immutable:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Immutable:
        return self


UNCHANGING = (str, int, Decimal, date, UUID, type(None), Immutable)  # datetime is a date


class MutableEntry:
    """A state entry whose own fields change (a function's budgets, a notice's exit date) but
    whose lists and dicts hold only ``Immutable`` values or plain scalars: a deep copy is a
    shallow copy with fresh containers."""

    def __deepcopy__(self, memo: dict[int, object]) -> Any:
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, list | dict):
                object.__setattr__(clone, name, copy.copy(value))
        memo[id(self)] = clone
        return clone


def copy_sharing_entries(obj: Any, memo: dict[int, object], shared: Collection[str]) -> Any:
    """A deep copy of an aggregate whose ``shared`` attributes are containers (lists, dicts) of
    ``Immutable`` entries: those containers are copied, their entries shared; values that cannot
    change (text, numbers, dates, ids, frozen entries) are shared, and containers of them copied;
    anything else is copied deeply. Reading a long-lived agreement copies its ten thousand
    entries' references, not the entries."""
    clone = object.__new__(type(obj))
    memo[id(obj)] = clone
    for name, value in obj.__dict__.items():
        if name in shared:
            clone.__dict__[name] = copy.copy(value)
        elif isinstance(value, UNCHANGING):
            clone.__dict__[name] = value
        elif isinstance(value, list) and all(isinstance(item, UNCHANGING) for item in value):
            clone.__dict__[name] = list(value)
        elif isinstance(value, dict) and all(isinstance(item, UNCHANGING) for item in value.values()):
            clone.__dict__[name] = dict(value)
        else:
            clone.__dict__[name] = copy.deepcopy(value, memo)
    return clone


@dataclass(frozen=True, order=True)
class Money(Immutable):
    """An amount in GBP, exact to the penny, of less than a quadrillion pounds either way.
    Never negative where it is a budget or a cost."""

    amount: Decimal

    @classmethod
    def of(cls, value: object, what: str = "amount") -> Money:
        amount = _as_decimal(value, InvalidMoney, what)
        if amount.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidMoney(f"{what} has more than two decimal places: {str(value)[:40]}", field=what)
        if amount.copy_abs() >= MAX_AMOUNT:
            raise AmountTooLarge(f"{what} must be less than 1000000000000000.00 (a quadrillion pounds)", field=what)
        try:
            amount = amount.quantize(PENNY)
        except InvalidOperation:  # cannot happen within MAX_AMOUNT; never let it become a 500
            raise InvalidMoney(f"{what} cannot be held exactly to the penny", field=what) from None
        return cls(amount.copy_abs() if amount.is_zero() else amount)  # "-0.00" is plain zero

    @classmethod
    def non_negative(cls, value: object, what: str = "amount") -> Money:
        money = cls.of(value, what)
        if money.amount < 0:
            raise NegativeAmount(f"{what} must not be negative: {money}", field=what)
        return money

    def __str__(self) -> str:
        return f"{self.amount:.2f}"


@dataclass(frozen=True, order=True)
class Share(Immutable):
    """An exact fraction from 0 to 1 with at most 10 decimal places, e.g. a party's share of a
    function's costs."""

    value: Decimal

    @classmethod
    def of(cls, value: object, what: str = "share") -> Share:
        share = _as_decimal(value, InvalidShare, what)
        if share.as_tuple().exponent < -SHARE_PLACES:  # type: ignore[operator]
            raise InvalidShare(f"{what} has more than {SHARE_PLACES} decimal places: {str(value)[:40]}", field=what)
        if not Decimal(0) <= share <= ONE:
            raise InvalidShare(f"{what} must be between 0 and 1: {value}", field=what)
        if share.is_zero():  # "-0" is plain zero, and "0E+3" is written "0"
            share = share.copy_abs() if share.as_tuple().exponent <= 0 else Decimal(0)  # type: ignore[operator]
        return cls(share)

    def __str__(self) -> str:
        return format(self.value, "f")  # positional always: 0.0000000001, never 1E-10


def shares_summing_to_one(shares: dict[str, object], what: str = "shares") -> dict[str, Share]:
    """Parses a {force: share} mapping and checks it sums to exactly 1.

    The sum is exact whatever the caller's decimal context: it is taken with more precision
    than any sum of shares needs, and an inexact step would raise rather than round."""
    parsed = {force: Share.of(value, f"{what}.{force}") for force, value in shares.items()}
    if not parsed:
        raise SharesDoNotSumToOne(f"{what} must name at least one party", field=what)
    with localcontext() as context:
        context.prec = 2 * SHARE_PLACES + len(str(len(parsed))) + 2
        context.traps[Inexact] = True
        try:
            total = sum((share.value for share in parsed.values()), Decimal(0))
        except Inexact:  # unreachable at this precision; refuse rather than round if it ever is not
            raise SharesDoNotSumToOne(f"{what} cannot be summed exactly", field=what) from None
    if total != ONE:
        raise SharesDoNotSumToOne(f"{what} sum to {total}, not exactly 1", field=what)
    return parsed


_FINANCIAL_YEAR = re.compile(r"([0-9]{4})/([0-9]{2})")
FIRST_FINANCIAL_YEAR, LAST_FINANCIAL_YEAR = 1900, 2199


@dataclass(frozen=True, order=True)
class FinancialYear:
    """A police financial year, 1 April to 31 March, written e.g. ``2019/20``."""

    start_year: int

    @classmethod
    def parse(cls, text: object) -> FinancialYear:
        match = _FINANCIAL_YEAR.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise InvalidFinancialYear(f"financial year must look like 2019/20, not {text!r}", field="financial_year")
        start, end = int(match.group(1)), int(match.group(2))
        if not FIRST_FINANCIAL_YEAR <= start <= LAST_FINANCIAL_YEAR:
            raise InvalidFinancialYear(
                f"financial years run from {FIRST_FINANCIAL_YEAR}/{(FIRST_FINANCIAL_YEAR + 1) % 100:02d} to "
                f"{LAST_FINANCIAL_YEAR}/{(LAST_FINANCIAL_YEAR + 1) % 100:02d}, so {text!r} is not one",
                field="financial_year",
            )
        if (start + 1) % 100 != end:
            raise InvalidFinancialYear(
                f"{text!r} is not one year: {start} is not followed by {end:02d}", field="financial_year"
            )
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
        return f"{self.start_year:04d}/{(self.start_year + 1) % 100:02d}"


@lru_cache(maxsize=512)
def financial_year_start(text: str) -> int:
    """The year a financial year written ``2019/20`` starts in, remembered: a quote reads each
    budget's year many times, and the texts are few."""
    return FinancialYear.parse(text).start_year


@dataclass(frozen=True)
class Provenance:
    """Who recorded a fact, why, on what evidence, and when it takes effect in the world.

    Its texts are checked and tidied as it is made: the reason and the actor are required, and
    blank evidence or approval reference is recorded as None."""

    effective_on: date
    actor: str
    reason: str
    evidence: str | None = None
    approval_ref: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.effective_on, date):
            raise TypeError("effective_on must be a date")
        if self.reason is None or (isinstance(self.reason, str) and not self.reason.strip()):
            raise MissingReason("reason must say why this is recorded", field="reason")
        if self.actor is None or (isinstance(self.actor, str) and not self.actor.strip()):
            raise MissingActor("every fact is recorded by someone", field="actor")
        tidy = {
            "reason": required_text(self.reason, "reason", max_length=TEXT_LENGTH),
            "actor": required_text(self.actor, "actor", max_length=REFERENCE_LENGTH),
            "evidence": optional_text(self.evidence, "evidence", max_length=REFERENCE_LENGTH),
            "approval_ref": optional_text(self.approval_ref, "approval_ref", max_length=REFERENCE_LENGTH),
        }
        for name, value in tidy.items():
            object.__setattr__(self, name, value)

    def check_approved(self, what: str) -> None:
        """An act that is no one party's own is recorded on evidence of its approval."""
        if self.approval_ref is None:
            raise ApprovalRequired(
                f"{what} is recorded on evidence: give approval_ref (the direction, minute or agreement approving it)",
                field="approval_ref",
            )

    def as_event_fields(self) -> dict[str, object]:
        return {
            "effective_on": self.effective_on,
            "actor": self.actor,
            "reason": self.reason,
            "evidence": self.evidence,
            "approval_ref": self.approval_ref,
        }
