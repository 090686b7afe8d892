"""Sharing money among parties to the penny, exactly.

An amount to the penny is shared in proportion to weights by the largest-remainder method:
each party's exact share (worked in fractions, so nothing is lost to rounding) is cut down to
the penny towards zero, and the pennies left over go one each to the parties with the largest
cut-off remainders; between equal remainders, to the party named first. The shares then add
up to the amount exactly, and none is more than a penny from its exact value.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from domain.values import PENNY


def fraction_text(value: Fraction) -> str:
    """A fraction as an exact decimal where it has one (``0.31``), else as ``n/d`` (``1/3``)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = Decimal(value.numerator) / Decimal(value.denominator)
    return format(digits.normalize(), "f")


def split_pence(amount: Decimal, weights: Mapping[str, Fraction]) -> dict[str, Decimal]:
    """``amount`` (to the penny, of either sign) shared among the keys of ``weights`` in
    proportion to their weights (non-negative, not all zero), in the order the keys are given.
    The parts carry the amount's sign and add up to it exactly."""
    if any(weight < 0 for weight in weights.values()):
        raise ValueError("weights are never negative")
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        raise ValueError("at least one weight is more than zero")
    pennies = amount / PENNY
    if pennies != pennies.to_integral_value():
        raise ValueError(f"{amount} is not to the penny")
    sign = -1 if pennies < 0 else 1
    whole = abs(int(pennies))
    exact = {party: whole * weight / total for party, weight in weights.items()}
    floors = {party: value.numerator // value.denominator for party, value in exact.items()}
    leftover = whole - sum(floors.values())
    order = list(weights)
    by_remainder = sorted(order, key=lambda party: (-(exact[party] - floors[party]), order.index(party)))
    for party in by_remainder[:leftover]:
        floors[party] += 1
    return {party: (Decimal(sign * floors[party]) * PENNY).quantize(PENNY) for party in order}
