from datetime import date
from decimal import Decimal, localcontext

import pytest

from domain.errors import (
    AmountTooLarge,
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
from domain.values import (
    FinancialYear,
    Money,
    Provenance,
    Share,
    optional_text,
    required_text,
    shares_summing_to_one,
    text_fault,
)


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


# ----------------------------------------------------------------------------- money bounds
@pytest.mark.parametrize(
    "huge",
    [
        "1000000000000000",
        "-1000000000000000.00",
        "99999999999999999999999999.99",
        "10000000000000000000000000000",  # quantize to the penny overflowed: InvalidOperation, a 500
        "1" * 100,
        Decimal("1E+400"),
        10**30,
    ],
)
def test_money_is_less_than_a_quadrillion_pounds_either_way(huge):
    with pytest.raises(AmountTooLarge) as refused:
        Money.of(huge, "annual_budget")
    assert refused.value.field == "annual_budget"
    assert isinstance(refused.value, InvalidMoney)  # a kind of invalid money, 422 like the rest


def test_the_largest_amounts_are_exact():
    assert str(Money.of("999999999999999.99")) == "999999999999999.99"
    assert str(Money.of("-999999999999999.99")) == "-999999999999999.99"


@pytest.mark.parametrize("zero", ["-0", "-0.00", "-0.0", Decimal("-0"), "0"])
def test_negative_zero_money_is_plain_zero(zero):
    money = Money.non_negative(zero)
    assert str(money) == "0.00"
    assert not money.amount.is_signed()
    assert money == Money.of("0")


# ------------------------------------------------------------------------ share precision
def test_a_share_has_at_most_ten_decimal_places():
    assert Share.of("0.0000000001").value == Decimal("0.0000000001")
    assert Share.of("1.0000000000").value == 1
    with pytest.raises(InvalidShare) as refused:
        Share.of("0.00000000001", "shares.west-mercia")
    assert refused.value.field == "shares.west-mercia"


def test_shares_that_sum_to_one_only_when_rounded_are_refused():
    # In the default 28-digit context this sum rounded to exactly 1 and was accepted.
    with pytest.raises(InvalidShare):
        shares_summing_to_one({"a": "0.5000000000000000000000000000001", "b": "0.5"})


def test_the_sum_of_shares_is_exact_whatever_the_callers_decimal_context():
    with localcontext() as context:
        context.prec = 3
        with pytest.raises(SharesDoNotSumToOne):
            shares_summing_to_one({"a": "0.99999", "b": "0.00002"})  # 1.00001, which rounds to 1.00
        assert set(shares_summing_to_one({"a": "0.9999999999", "b": "0.0000000001"})) == {"a", "b"}


@pytest.mark.parametrize(("given", "kept"), [("-0", "0"), ("-0.00", "0.00"), ("0E+3", "0"), ("0.0000000001", None)])
def test_a_share_is_written_without_sign_or_exponent(given, kept):
    share = Share.of(given)
    assert str(share) == (kept or given)
    assert not share.value.is_signed()


# -------------------------------------------------------------------------- financial years
@pytest.mark.parametrize(
    "bad",
    [
        *("2019/20\n", "2019/20 ", " 2019/20", "\u0662\u0660\u0661\u0669/\u0662\u0660"),
        *("9999/00", "1899/00", "2200/01", None, 2019),
    ],
)
def test_financial_year_is_exactly_yyyy_slash_yy_from_1900_to_2199(bad):
    with pytest.raises(InvalidFinancialYear) as refused:
        FinancialYear.parse(bad)
    assert refused.value.field == "financial_year"


def test_financial_years_at_the_ends_of_the_range_round_trip():
    for text in ("1900/01", "1999/00", "2099/00", "2199/00"):
        assert str(FinancialYear.parse(text)) == text
    assert FinancialYear.parse("2199/00").ends_on == date(2200, 3, 31)


def test_financial_year_text_is_zero_padded():
    assert str(FinancialYear(999)) == "0999/00"
    assert str(FinancialYear.containing(date(5, 6, 1))) == "0005/06"


# ------------------------------------------------------------------------------------ text
@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("a\x00b", "must not contain the NUL character U+0000 (at position 1)"),
        ("\ud800", "must not contain a lone surrogate U+D800 (at position 0)"),
        ("ok \udfff", "must not contain a lone surrogate U+DFFF (at position 3)"),
        ("\x1b[31m", "must not contain the control character U+001B (at position 0)"),
        ("\x7f", "must not contain the control character U+007F (at position 0)"),
        ("x" * 11, "must be at most 10 characters long, not 11"),
    ],
)
def test_the_text_rule_names_what_is_wrong(text, fault):
    assert text_fault(text, 10) == fault


@pytest.mark.parametrize("text", ["", "Cydweithio", "a\tb\nc\r\n", "合作 ✓ 😀", "é" * 10])
def test_the_text_rule_allows_tabs_line_breaks_and_any_script(text):
    assert text_fault(text, 10) is None


def test_required_and_optional_text():
    assert required_text("  Alliance  ", "name", max_length=200) == "Alliance"
    assert optional_text(" \t ", "evidence", max_length=500) is None
    assert optional_text(None, "evidence", max_length=500) is None
    assert optional_text(" doc-17 ", "evidence", max_length=500) == "doc-17"
    with pytest.raises(RequiredText):
        required_text("   ", "name", max_length=200)
    with pytest.raises(RequiredText):
        required_text(None, "name", max_length=200)
    for bad in ("a\x00", 7, ["x"]):
        with pytest.raises(InvalidText) as refused:
            optional_text(bad, "evidence", max_length=500)
        assert refused.value.field == "evidence"
    with pytest.raises(InvalidText):
        required_text("x" * 201, "name", max_length=200)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": "because\x00"}, "reason"),
        ({"reason": "x" * 10_001}, "reason"),
        ({"actor": "admin \ud800"}, "actor"),
        ({"evidence": "doc\x00"}, "evidence"),
        ({"approval_ref": "\udc00"}, "approval_ref"),
        ({"approval_ref": "x" * 501}, "approval_ref"),
    ],
)
def test_provenance_refuses_text_that_cannot_be_recorded(change, field):
    arguments = {"effective_on": date(2020, 1, 1), "actor": "admin", "reason": "because", **change}
    with pytest.raises(InvalidText) as refused:
        Provenance(**arguments)
    assert refused.value.field == field


def test_provenance_tidies_its_text():
    provenance = Provenance(date(2020, 1, 1), " admin ", "  because  ", "   ", "\t")
    assert provenance.as_event_fields() == {
        "effective_on": date(2020, 1, 1),
        "actor": "admin",
        "reason": "because",
        "evidence": None,
        "approval_ref": None,
    }
