from datetime import date
from decimal import Decimal

import pytest

from domain.errors import (
    InvalidFinancialYear,
    InvalidMoney,
    InvalidShare,
    MissingActor,
    MissingReason,
    NegativeAmount,
    SharesDoNotSumToOne,
)
from domain.values import FinancialYear, Money, Provenance, Share, shares_summing_to_one


def test_money_is_exact_to_the_penny():
    assert str(Money.of("10500000")) == "10500000.00"
    assert Money.of("0.1").amount + Money.of("0.2").amount == Decimal("0.30")


@pytest.mark.parametrize("bad", ["1.001", "abc", "NaN", "Infinity", 1.5, True])
def test_money_refuses_inexact_or_non_numbers(bad):
    with pytest.raises(InvalidMoney):
        Money.of(bad)


def test_budgets_and_costs_are_never_negative():
    assert Money.of("-5.00").amount == Decimal("-5.00")
    with pytest.raises(NegativeAmount):
        Money.non_negative("-0.01")


@pytest.mark.parametrize("bad", ["-0.1", "1.0001", "2", 0.5])
def test_share_is_between_zero_and_one_and_never_a_float(bad):
    with pytest.raises(InvalidShare):
        Share.of(bad)


def test_shares_must_sum_to_exactly_one():
    assert shares_summing_to_one({"a": "0.69", "b": "0.31"})["a"] == Share(Decimal("0.69"))
    with pytest.raises(SharesDoNotSumToOne):
        shares_summing_to_one({"a": "0.333", "b": "0.333", "c": "0.333"})
    with pytest.raises(SharesDoNotSumToOne):
        shares_summing_to_one({})


def test_financial_year_runs_april_to_march():
    year = FinancialYear.parse("2019/20")
    assert (year.starts_on, year.ends_on) == (date(2019, 4, 1), date(2020, 3, 31))
    assert FinancialYear.containing(date(2020, 3, 31)) == year
    assert FinancialYear.containing(date(2020, 4, 1)) == FinancialYear.parse("2020/21")
    assert str(FinancialYear.parse("1999/00")) == "1999/00"


@pytest.mark.parametrize("bad", ["2019/21", "2019-20", "19/20", ""])
def test_financial_year_refuses_malformed_text(bad):
    with pytest.raises(InvalidFinancialYear):
        FinancialYear.parse(bad)


def test_provenance_needs_a_reason_and_an_actor():
    with pytest.raises(MissingReason):
        Provenance(date(2020, 1, 1), "admin", "   ")
    with pytest.raises(MissingActor):
        Provenance(date(2020, 1, 1), "", "because")
