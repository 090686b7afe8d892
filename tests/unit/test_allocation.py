"""Sharing money to the penny by the largest remainder: exact sums, the sign, ties, refusals."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.allocation import fraction_text, split_pence


def test_a_third_each_leaves_one_penny_for_the_first_named():
    parts = split_pence(Decimal("100.00"), {"a": Fraction(1), "b": Fraction(1), "c": Fraction(1)})
    assert parts == {"a": Decimal("33.34"), "b": Decimal("33.33"), "c": Decimal("33.33")}


def test_the_largest_remainder_wins_the_penny_not_the_first_named():
    parts = split_pence(Decimal("0.10"), {"a": Fraction(1, 3), "b": Fraction(2, 3)})
    assert parts == {"a": Decimal("0.03"), "b": Decimal("0.07")}  # 3.33p and 6.67p: b's .67 is larger


def test_a_negative_amount_is_shared_with_its_sign():
    parts = split_pence(Decimal("-828000.00"), {"b": Fraction(31, 100), "c": Fraction(69, 100)})
    assert parts == {"b": Decimal("-256680.00"), "c": Decimal("-571320.00")}


def test_zero_is_shared_as_zeros():
    assert split_pence(Decimal("0.00"), {"a": Fraction(1), "b": Fraction(0)}) == {
        "a": Decimal("0.00"),
        "b": Decimal("0.00"),
    }


@pytest.mark.parametrize(
    ("amount", "weights"),
    [
        (Decimal("1.00"), {"a": Fraction(-1), "b": Fraction(2)}),
        (Decimal("1.00"), {"a": Fraction(0)}),
        (Decimal("1.00"), {}),
        (Decimal("1.005"), {"a": Fraction(1)}),
    ],
)
def test_impossible_shares_are_refused(amount, weights):
    with pytest.raises(ValueError):
        split_pence(amount, weights)


@given(
    pennies=st.integers(min_value=-(10**17), max_value=10**17),
    weights=st.lists(st.fractions(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(any),
)
def test_parts_add_up_exactly_and_each_is_within_a_penny_of_its_exact_value(pennies, weights):
    amount = Decimal(pennies) / 100
    named = {f"p{index}": weight for index, weight in enumerate(weights)}
    parts = split_pence(amount, named)
    assert sum(parts.values()) == amount
    total = sum(named.values())
    for party, part in parts.items():
        exact = Fraction(amount) * named[party] / total
        assert abs(Fraction(part) - exact) < Fraction(1, 100)
        assert part == part.quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("value", "text"),
    [(Fraction(31, 100), "0.31"), (Fraction(1, 3), "1/3"), (Fraction(1), "1"), (Fraction(69, 31), "69/31")],
)
def test_fractions_are_written_exactly(value, text):
    assert fraction_text(value) == text
