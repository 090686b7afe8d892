"""How the web view and the board pack word the record (``service/webview/wording.py``)."""

from __future__ import annotations

from decimal import Decimal

from service.wording import amount_in, plain, pounds, shares, stage_name, when


def test_money_has_one_format_with_the_pound_and_a_minus_sign() -> None:
    assert pounds("10500000.00") == "£10,500,000.00"
    assert pounds(Decimal("-400000.00")) == "\u2212£400,000.00"
    assert pounds("0.005") == "£0.005"  # exact: never rounded through float
    assert pounds(None) == "—" and pounds("n/a") == "n/a"


def test_a_benefit_figure_is_money_only_in_pounds() -> None:
    assert amount_in("1250.50", "GBP") == "£1,250.50"
    assert amount_in("40000", "hours") == "40,000 hours"
    assert amount_in(None, "GBP") == "—"


def test_codes_read_as_words() -> None:
    assert plain("notice_served") == "notice served"
    assert plain("home_secretary") == "the Home Secretary"
    assert plain("terminated") == "ended"
    assert plain("some_new_code") == "some new code"
    assert stage_name(2) == "2: Outline Business Case" and stage_name(4) == "4: Implementation"


def test_shares_largest_first_and_times_to_the_second_in_utc() -> None:
    assert shares({"warwickshire": "0.31", "west-mercia": "0.69"}) == "West Mercia Police 69%, Warwickshire Police 31%"
    assert when("2020-03-31T00:30:00.123456+01:00") == "2020-03-30 23:30:00 UTC"


def test_a_changed_value_reads_as_its_fields() -> None:
    from service.webview.filters import patch_value

    assert (
        patch_value({"amount": "3500000.00", "paid_on": "2020-04-30"}) == "amount: £3,500,000.00; paid on: 2020-04-30"
    )
    assert patch_value("terminated") == "ended" and patch_value("west-mercia") == "West Mercia Police"
    assert (
        patch_value({"west-mercia": "0.69", "warwickshire": "0.31"})
        == "West Mercia Police 69%, Warwickshire Police 31%"
    )
    assert patch_value(None) == "—" and patch_value([]) == "none" and patch_value(7) == "7"


def test_what_cannot_be_read_as_a_number_is_shown_as_it_is() -> None:
    assert pounds("NaN") == "NaN" and pounds("Infinity") == "Infinity" and amount_in("NaN", "GBP") == "NaN"
    assert stage_name(float("inf")) == "inf" and stage_name(None) == "—"
