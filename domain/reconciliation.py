"""Settlement reconciliation: where an exit case's settlement departed from the formula.

For one party of the case (its perspective), head by head and in total: the figure the
exit-cost method computes on the case's dates, what was claimed, what the independent
assessment recommended, and what was agreed, with the differences between them. Every figure is
read from the party's side: positive is money it pays, negative money it receives.

- Computed. For a withdrawal case, the withdrawing force's quote (its lines by head; the
  claimed heads there are the claims between it and another party); from a remaining party's
  side, minus what the quote has the withdrawing force pay that party. For a decoupling case,
  the party's share of each computed head (what it bears of the function's unwinding) and, on
  the claimed heads, the claims it pays less those it receives.
- Claimed. The case's current claims: a claim against the party counts positive, a claim by
  it negative, a claim between two other parties not at all. In a withdrawal case, from a
  remaining party's side, only its claims with the withdrawing force count (no computed figure
  could include the others).
- Assessed and agreed. An assessment and a settlement are amounts the settlement's payer pays
  its payee: positive for the payer, negative for the payee, not the party's money (null) for
  anyone else. Before any settlement, the assessment is read as money the respondents of the
  claims it assesses pay: positive for a party the claims are against, negative for one only
  claiming. Per head only where a breakdown was recorded (the assessment's or the
  settlement's lines); the totals always.
- Differences: claimed - computed, assessed - claimed, agreed - assessed and agreed - computed,
  each null where either side is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from domain.errors import DomainError
from domain.exit_costs import HEAD_NAMES, ZERO, ExitQuote
from domain.values import PENNY, Money

if TYPE_CHECKING:
    from domain.decoupling_costs import DecouplingStatement
    from domain.exit_case import CaseLine, ExitCase

HEADS = tuple(sorted(HEAD_NAMES))
COLUMNS = ("computed", "claimed", "assessed", "agreed")
DIFFERENCES = (
    ("claimed_less_computed", "claimed", "computed"),
    ("assessed_less_claimed", "assessed", "claimed"),
    ("agreed_less_assessed", "agreed", "assessed"),
    ("agreed_less_computed", "agreed", "computed"),
)


class PerspectiveRequired(DomainError):
    """A decoupling case is reconciled from one party's side: name it, or record a settlement whose payer is taken."""


@dataclass(frozen=True)
class ReconciliationRow:
    """One head (or ``total``): the four figures and their differences (None: not known)."""

    head: str
    figures: Mapping[str, Money | None]
    differences: Mapping[str, Money | None]


@dataclass(frozen=True)
class Reconciliation:
    force: str
    rows: tuple[ReconciliationRow, ...]
    total: ReconciliationRow
    written_off: Money | None


def _money(amount: Decimal) -> Money:
    return Money(amount.quantize(PENNY))


def withdrawal_computed(quote: ExitQuote, force: str) -> tuple[dict[str, Money], Money]:
    """A withdrawal quote by head from ``force``'s side: the quote itself for the withdrawing
    force, minus its payments to ``force`` for a remaining party."""
    if force == quote.force:
        return quote.by_head(), quote.total
    by_head: dict[str, Decimal] = dict.fromkeys(quote.by_head(), ZERO)
    for line in quote.lines:
        for payee in line.payees:
            if payee.force == force:
                by_head[line.head] = by_head.get(line.head, ZERO) - payee.amount.amount
    return {head: _money(amount) for head, amount in by_head.items()}, _money(sum(by_head.values(), ZERO))


def decoupling_computed(statement: DecouplingStatement, force: str) -> tuple[dict[str, Money], Money]:
    """A decoupling statement by head from ``force``'s side: its share of each computed head,
    and on claimed heads the claims it pays less those it receives."""
    by_head: dict[str, Decimal] = {}
    for line in statement.lines:
        for share in line.payees:
            if share.force == force:
                by_head[line.head] = by_head.get(line.head, ZERO) + share.amount.amount
    for transfer in statement.transfers:
        sign = 1 if transfer.payer == force else -1 if transfer.payee == force else 0
        if sign:
            by_head[transfer.head] = by_head.get(transfer.head, ZERO) + sign * transfer.amount.amount
    return {head: _money(amount) for head, amount in by_head.items()}, _money(sum(by_head.values(), ZERO))


def reconcile(
    case: ExitCase, force: str, computed: Mapping[str, Money] | None, computed_total: Money | None
) -> Reconciliation:
    """The reconciliation of ``case`` from ``force``'s side, given the computed figures (None
    where none can be computed)."""
    case.check_is_party(force, "force")
    claimed: dict[str, Decimal] = {}
    withdrawing = case.force if case.trigger == "withdrawal" else None
    for claim in case.current_claims():
        if withdrawing not in (None, force) and withdrawing not in (claim.claimant, claim.respondent):
            continue  # from a remaining party's side, only its claims with the withdrawing force
        sign = 1 if claim.respondent == force else -1 if claim.claimant == force else 0
        for line in claim.lines:
            if sign:
                claimed[line.head] = claimed.get(line.head, ZERO) + sign * line.amount.amount
    assessment, settlement = case.assessment, case.settlement
    assessed_sign = _assessment_sign(case, force)
    agreed_sign = _settlement_sign(case, force)
    assessed = _signed_lines(assessment.lines, assessed_sign) if assessment and assessed_sign else None
    agreed = _signed_lines(settlement.lines, agreed_sign) if settlement and agreed_sign else None

    columns: dict[str, Mapping[str, Money] | None] = {
        "computed": computed,
        "claimed": {head: _money(amount) for head, amount in claimed.items()},
        "assessed": assessed,
        "agreed": agreed,
    }
    heads = [head for head in HEADS if any(figures and head in figures for figures in columns.values())]
    rows = []
    for head in heads:
        figures = {}
        for name, by_head in columns.items():
            if by_head is None or (name in ("assessed", "agreed") and not by_head):
                figures[name] = None  # no breakdown: not known head by head
            else:
                figures[name] = by_head.get(head, Money(ZERO.quantize(PENNY)))
        rows.append(_row(head, figures))
    totals = {
        "computed": computed_total,
        "claimed": _money(sum(claimed.values(), ZERO)),
        "assessed": _money(assessed_sign * assessment.recommended_amount.amount)
        if assessment and assessed_sign
        else None,
        "agreed": _money(agreed_sign * settlement.amount.amount) if settlement and agreed_sign else None,
    }
    written_off = _money(agreed_sign * settlement.write_offs.amount) if settlement and agreed_sign else None
    return Reconciliation(force=force, rows=tuple(rows), total=_row("total", totals), written_off=written_off)


def _row(head: str, figures: Mapping[str, Money | None]) -> ReconciliationRow:
    differences = {}
    for name, minuend, subtrahend in DIFFERENCES:
        left, right = figures.get(minuend), figures.get(subtrahend)
        differences[name] = None if left is None or right is None else _money(left.amount - right.amount)
    return ReconciliationRow(head, dict(figures), differences)


def _signed_lines(lines: Iterable[CaseLine], sign: int) -> dict[str, Money]:
    by_head: dict[str, Decimal] = {}
    for line in lines:
        by_head[line.head] = by_head.get(line.head, ZERO) + sign * line.amount.amount
    return {head: _money(amount) for head, amount in by_head.items()}


def _settlement_sign(case: ExitCase, force: str) -> int:
    settlement = case.settlement
    if settlement is None:
        return 0
    return 1 if settlement.payer == force else -1 if settlement.payee == force else 0


def _assessment_sign(case: ExitCase, force: str) -> int:
    if case.settlement is not None:
        return _settlement_sign(case, force)
    claims = case.current_claims()
    if any(claim.respondent == force for claim in claims):
        return 1
    if any(claim.claimant == force for claim in claims):
        return -1
    return 0


def default_perspective(case: ExitCase) -> str:
    """Whose side a case is reconciled from when none is named: the withdrawing force's, or in
    a decoupling case the settlement's payer."""
    if case.trigger == "withdrawal" and case.force is not None:
        return case.force
    if case.settlement is not None:
        return case.settlement.payer
    raise PerspectiveRequired(
        "a decoupling case without a settlement is reconciled from one party's side: give force", field="force"
    )
