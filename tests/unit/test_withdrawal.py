"""Withdrawal notices, notice withdrawal, decoupling and s23G directions on the Collaboration:
each rule refused with its named error and nothing recorded, and the state the calculator reads."""

from datetime import date

import pytest

from domain.collaboration import ACTIVE, NOTICE_SERVED, Collaboration
from domain.errors import (
    FunctionAlreadyDecoupled,
    InvalidDirection,
    NoExitTerms,
    NoLiveNotice,
    NoticeAlreadyServed,
    NoticeWithdrawnBeforeServed,
    PartyNotInCollaboration,
    RequiredText,
    UnknownForce,
    UnknownFunction,
)
from domain.exit_costs import quote_withdrawal
from domain.values import Provenance
from tests.unit.refusals import assert_refused as refused

A, B = "west-mercia", "warwickshire"
START = date(2012, 4, 1)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board", None, "BOARD-1")


def alliance(*, terms: bool = True, notice_months: int = 12) -> tuple[Collaboration, str]:
    collaboration = Collaboration.establish(
        name="Strategic Alliance", purpose="Shared services", parties=[A, B], lead_force=A, provenance=at(START)
    )
    ict = collaboration.add_function(
        name="ICT", kind="enabling", host_force=A, annual_budget="10000000", provenance=at(START)
    )
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.69", B: "0.31"}, provenance=at(START)
    )
    if terms:
        collaboration.agree_exit_terms(
            notice_period_months=notice_months,
            stranded_cost_rate="0.25",
            stranded_cost_months=6,
            caps=None,
            provenance=at(START),
        )
    collaboration.collect_events()
    return collaboration, ict


# --------------------------------------------------------------------------- notices
def test_serving_notice_derives_the_earliest_exit_date_and_sets_the_status():
    collaboration, _ = alliance()
    earliest = collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))

    assert earliest == date(2019, 10, 9)
    [event] = collaboration.collect_events()
    assert isinstance(event, Collaboration.WithdrawalNoticeServed)
    assert (event.force, event.earliest_exit_on, event.effective_on) == (A, date(2019, 10, 9), date(2018, 10, 9))
    assert event.actor == "tester (admin)" and event.reason == "agreed at the board"
    assert collaboration.status == NOTICE_SERVED
    [notice] = collaboration.notices
    assert (notice.force, notice.served_on, notice.exit_on, notice.live) == (
        A,
        date(2018, 10, 9),
        date(2019, 10, 9),
        True,
    )
    assert notice.version == event.originator_version


def test_the_earliest_exit_date_clamps_to_the_month_end_and_knows_leap_years():
    collaboration, _ = alliance(notice_months=1)
    assert collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2020, 1, 31))) == date(2020, 2, 29)
    assert collaboration.serve_withdrawal_notice(force=B, provenance=at(date(2019, 1, 31))) == date(2019, 2, 28)


def test_the_notice_period_is_that_of_the_terms_in_effect_on_the_notice_date():
    collaboration, _ = alliance(notice_months=12)
    collaboration.agree_exit_terms(
        notice_period_months=6,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps=None,
        provenance=at(date(2019, 1, 1)),
    )
    assert collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9))) == date(2019, 10, 9)
    assert collaboration.serve_withdrawal_notice(force=B, provenance=at(date(2019, 2, 1))) == date(2019, 8, 1)


def test_notice_needs_exit_terms_in_effect_on_the_notice_date():
    collaboration, _ = alliance(terms=False)
    refused(
        collaboration, NoExitTerms, collaboration.serve_withdrawal_notice, force=A, provenance=at(date(2018, 10, 9))
    )
    collaboration.agree_exit_terms(
        notice_period_months=12,
        stranded_cost_rate="0",
        stranded_cost_months=0,
        caps=None,
        provenance=at(date(2019, 1, 1)),
    )
    collaboration.collect_events()
    refused(
        collaboration, NoExitTerms, collaboration.serve_withdrawal_notice, force=A, provenance=at(date(2018, 10, 9))
    )
    assert collaboration.status == ACTIVE


@pytest.mark.parametrize(("force", "error"), [("dorset", PartyNotInCollaboration), ("atlantis", UnknownForce)])
def test_only_a_party_serves_notice(force: str, error: type[Exception]):
    collaboration, _ = alliance()
    refused(collaboration, error, collaboration.serve_withdrawal_notice, force=force, provenance=at(date(2018, 10, 9)))


def test_a_force_has_one_live_notice_at_a_time_and_may_serve_again_after_withdrawing():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))
    collaboration.collect_events()
    refused(
        collaboration,
        NoticeAlreadyServed,
        collaboration.serve_withdrawal_notice,
        force=A,
        provenance=at(date(2018, 11, 1)),
    )

    collaboration.withdraw_notice(force=A, provenance=at(date(2018, 12, 1)))
    assert collaboration.live_notice(A) is None
    assert collaboration.notices[0].withdrawn_on == date(2018, 12, 1)
    assert collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2019, 1, 10))) == date(2020, 1, 10)


def test_withdrawing_the_last_live_notice_makes_the_agreement_active_again():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))
    collaboration.serve_withdrawal_notice(force=B, provenance=at(date(2018, 10, 10)))
    collaboration.withdraw_notice(force=A, provenance=at(date(2018, 12, 1)))
    assert collaboration.status == NOTICE_SERVED
    assert collaboration.collect_events()[-1].status == NOTICE_SERVED
    collaboration.withdraw_notice(force=B, provenance=at(date(2018, 12, 2)))
    assert collaboration.status == ACTIVE
    assert collaboration.collect_events()[-1].status == ACTIVE


def test_a_notice_is_withdrawn_only_while_live():
    collaboration, _ = alliance()
    refused(collaboration, NoLiveNotice, collaboration.withdraw_notice, force=A, provenance=at(date(2018, 12, 1)))
    refused(
        collaboration,
        PartyNotInCollaboration,
        collaboration.withdraw_notice,
        force="dorset",
        provenance=at(date(2018, 12, 1)),
    )


def test_a_notice_is_withdrawn_on_or_after_the_day_it_was_served():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))
    collaboration.collect_events()
    with pytest.raises(NoticeWithdrawnBeforeServed) as raised:
        collaboration.withdraw_notice(force=A, provenance=at(date(2018, 10, 8)))
    assert raised.value.field == "effective_on"
    assert "2018-10-09" in raised.value.detail
    assert collaboration.version == 5 and collaboration.collect_events() == []
    assert collaboration.live_notice(A) is not None and collaboration.status == NOTICE_SERVED
    collaboration.withdraw_notice(force=A, provenance=at(date(2018, 10, 9)))  # the same day will do
    assert collaboration.live_notice(A) is None and collaboration.status == ACTIVE


# ------------------------------------------------------------------------ decoupling
def test_decoupling_records_who_decided_why_and_from_when():
    collaboration, ict = alliance()
    collaboration.decouple_function(
        function_id=ict,
        decided_by="Alliance Governance Group",
        rationale="Returned to West Mercia",
        business_case_ref=" ",
        provenance=at(date(2019, 4, 1)),
    )
    [event] = collaboration.collect_events()
    assert isinstance(event, Collaboration.FunctionDecoupled)
    assert (event.function_id, event.decided_by, event.business_case_ref) == (ict, "Alliance Governance Group", None)
    assert collaboration.functions[ict].decoupled_on == date(2019, 4, 1)
    assert collaboration.decoupled_on() == {ict: date(2019, 4, 1)}


def test_decoupling_refuses_unknown_and_already_decoupled_functions_and_blank_text():
    collaboration, ict = alliance()
    decouple = collaboration.decouple_function
    args = {"decided_by": "Board", "rationale": "Why", "provenance": at(date(2019, 4, 1))}
    refused(collaboration, UnknownFunction, decouple, function_id="nope", **args)
    refused(collaboration, RequiredText, decouple, function_id=ict, **{**args, "rationale": " "})
    decouple(function_id=ict, **args)
    collaboration.collect_events()
    refused(collaboration, FunctionAlreadyDecoupled, decouple, function_id=ict, **args)


def test_a_function_decoupled_on_or_before_the_exit_date_is_left_out_of_the_quote():
    collaboration, ict = alliance()
    collaboration.add_function(
        name="Dogs", kind="operational", host_force=B, annual_budget="2000000", provenance=at(START)
    )
    collaboration.decouple_function(
        function_id=ict, decided_by="Board", rationale="Why", provenance=at(date(2019, 4, 1))
    )
    quote = quote_withdrawal(
        collaboration,
        force=A,
        exit_on=date(2019, 4, 1),
        quoted_on=date(2018, 10, 9),
        decoupled_on=collaboration.decoupled_on(),
    )
    h4 = next(line for line in quote.lines if line.head == "H4")
    assert str(h4.amount) == "172500.00"  # 2,000,000 x 0.69 x 0.25 x 6/12: Dogs only
    assert not any("ICT" in name for name in h4.inputs)


# ------------------------------------------------------------------------ directions
def test_a_direction_moves_the_exit_date_of_the_live_notices():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))
    collaboration.collect_events()
    collaboration.give_direction(
        new_exit_on=date(2020, 4, 9), summary="Six months more", provenance=at(date(2019, 10, 1))
    )
    [event] = collaboration.collect_events()
    assert isinstance(event, Collaboration.DirectionGiven)
    [notice] = collaboration.notices
    assert (notice.earliest_exit_on, notice.exit_on, notice.exit_on_version) == (
        date(2019, 10, 9),
        date(2020, 4, 9),
        event.originator_version,
    )
    assert collaboration.directions[0].summary == "Six months more"


def test_a_direction_needs_a_live_notice_and_an_exit_date_not_before_it():
    collaboration, _ = alliance()
    give = collaboration.give_direction
    refused(
        collaboration, NoLiveNotice, give, new_exit_on=date(2020, 4, 9), summary="x", provenance=at(date(2019, 10, 1))
    )
    collaboration.serve_withdrawal_notice(force=A, provenance=at(date(2018, 10, 9)))
    collaboration.collect_events()
    refused(
        collaboration,
        InvalidDirection,
        give,
        new_exit_on=date(2018, 10, 8),
        summary="x",
        provenance=at(date(2019, 10, 1)),
    )
    refused(
        collaboration, RequiredText, give, new_exit_on=date(2020, 4, 9), summary="", provenance=at(date(2019, 10, 1))
    )
