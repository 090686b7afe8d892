"""Every rule of the ExitCase aggregate: a refused command raises the named error and records
nothing; the figures after each step of a West Mercia and Warwickshire-like case; supersession,
as_of, the deterministic id, and a property of payments."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import (
    AmountTooLarge,
    ApprovalRequired,
    CaseClosed,
    CaseNotSettled,
    CaseSettled,
    ClaimAlreadySuperseded,
    ClaimPartiesDiffer,
    ClosedBeforeSettled,
    DuplicateParty,
    FactBeforeCase,
    InstalmentsDoNotSumToAmount,
    InvalidAssessment,
    InvalidClaimLine,
    InvalidForum,
    InvalidMoney,
    InvalidPayment,
    InvalidSettlement,
    InvalidText,
    InvalidTrigger,
    NegativeAmount,
    NoSettlement,
    OutstandingBalance,
    Overpayment,
    PartyNotInCase,
    PaymentBeforeSettlement,
    ReopenedBeforeClosed,
    RequiredText,
    SamePartyBothSides,
    SettlementBelowPaid,
    SettlementPartiesChanged,
    TooFewParties,
    UnknownClaim,
    UnknownForce,
)
from domain.exit_case import ExitCase, exit_case_id
from domain.exit_costs import CLAIMED_HEADS, Claim
from domain.values import Money, Provenance
from tests.unit.refusals import assert_refused

COLLABORATION = "5b0f1c55-8b1e-4a57-9a57-4f8d2f1b7c01"
PARTIES = ["west-mercia", "warwickshire"]


def on(day: date, reason: str = "recorded at the board") -> Provenance:
    return Provenance(day, "treasurer (admin)", reason, "minute 20/3", "agreed 20/3")


def m(text: str) -> Money:
    return Money(Decimal(text))


CLAIM_LINES = [
    {"head": "H2", "amount": "3000000.00", "description": "re-establishing local policing", "evidence": "LP-1"},
    {"head": "H3", "amount": "2500000.00", "description": "redundancy and pension strain"},
    {"head": "H6", "amount": "5200000.00", "description": "ICT transition services", "evidence": "TSA-2019"},
    {"head": "H6", "amount": "-500000.00", "description": "mitigation: licences reused", "evidence": None},
    {"head": "H8", "amount": 1800000, "description": "programme and legal costs"},
]
ASSESSMENT_LINES = [
    {"head": "H2", "amount": "2800000.00", "description": "re-establishing local policing"},
    {"head": "H3", "amount": "2400000.00", "description": "redundancy and pension strain"},
    {"head": "H6", "amount": "4500000.00", "description": "ICT transition services"},
    {"head": "H8", "amount": "1500000.00", "description": "programme and legal costs"},
]
INSTALMENTS = [
    {"due_on": date(2020, 4, 30), "amount": "3500000.00"},
    {"due_on": date(2020, 12, 31), "amount": "3500000.00"},
    {"due_on": date(2021, 6, 30), "amount": Decimal("3500000.00")},
]


def withdrawal_case(parties: list[str] | None = None) -> ExitCase:
    case = ExitCase.open(
        collaboration_id=COLLABORATION,
        trigger="withdrawal",
        force="west-mercia",
        parties=parties or list(PARTIES),
        provenance=on(date(2018, 10, 9), "West Mercia served notice"),
    )
    case.collect_events()
    return case


def claimed(case: ExitCase, lines: list[dict] | None = None) -> str:
    claim_id = case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=lines or CLAIM_LINES,
        provenance=on(date(2019, 6, 1)),
    )
    case.collect_events()
    return claim_id


def settled(case: ExitCase, amount: str = "10500000.00", instalments: list[dict] | None = None) -> None:
    case.agree_settlement(
        payer="warwickshire",
        payee="west-mercia",
        amount=amount,
        write_offs="270000.00",
        instalments=instalments or INSTALMENTS,
        provenance=on(date(2020, 3, 30)),
    )
    case.collect_events()


def paid(case: ExitCase, amount: str, day: date) -> str:
    payment_id = case.record_payment(amount=amount, paid_on=day, provenance=on(day))
    case.collect_events()
    return payment_id


# ------------------------------------------------------------------------------ opening
def test_opening_a_withdrawal_case_records_its_subject_and_provenance():
    case = ExitCase.open(
        collaboration_id=COLLABORATION,
        trigger="withdrawal",
        force="west-mercia",
        parties=list(PARTIES),
        provenance=on(date(2018, 10, 9), "West Mercia served notice"),
    )
    [opened] = case.collect_events()
    assert isinstance(opened, ExitCase.Opened)
    assert (opened.collaboration_id, opened.trigger, opened.force, opened.function_id) == (
        COLLABORATION,
        "withdrawal",
        "west-mercia",
        None,
    )
    assert (opened.effective_on, opened.actor, opened.reason, opened.evidence) == (
        date(2018, 10, 9),
        "treasurer (admin)",
        "West Mercia served notice",
        "minute 20/3",
    )
    assert case.id == exit_case_id(COLLABORATION, "withdrawal", "west-mercia")
    assert case.parties == PARTIES
    assert case.status == "open"
    assert case.figures().as_dict() == {
        "claimed": "0.00",
        "assessed": None,
        "agreed": None,
        "written_off": None,
        "paid": "0.00",
        "outstanding": None,
        "by_head": {},
        "status": "open",
    }


def test_opening_a_decoupling_case_names_the_function():
    function_id = str(uuid4())
    case = ExitCase.open(
        collaboration_id=UUID(COLLABORATION),
        trigger="decoupling",
        function_id=function_id,
        function_name="  Prevention  ",
        parties=["dorset", "devon-cornwall"],
        provenance=on(date(2019, 4, 1)),
    )
    assert case.id == exit_case_id(COLLABORATION, "decoupling", function_id)
    assert (case.collaboration_id, case.force, case.function_id, case.function_name) == (
        COLLABORATION,
        None,
        function_id,
        "Prevention",
    )


def test_exit_case_id_is_deterministic_and_distinguishes_subjects():
    first = exit_case_id(COLLABORATION, "withdrawal", "west-mercia")
    assert first == exit_case_id(COLLABORATION, "withdrawal", "west-mercia")
    assert first == exit_case_id(UUID(COLLABORATION), "withdrawal", "west-mercia")
    assert first.version == 5
    others = {
        exit_case_id(COLLABORATION, "withdrawal", "warwickshire"),
        exit_case_id(COLLABORATION, "decoupling", "west-mercia"),
        exit_case_id(str(uuid4()), "withdrawal", "west-mercia"),
    }
    assert first not in others
    assert len(others) == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"trigger": "merger", "force": "west-mercia"}, InvalidTrigger, "trigger"),
        ({"trigger": "withdrawal"}, InvalidTrigger, "force"),
        ({"trigger": "withdrawal", "force": "west-mercia", "function_id": "f1"}, InvalidTrigger, "function_id"),
        ({"trigger": "decoupling"}, RequiredText, "function_id"),
        ({"trigger": "decoupling", "function_id": "f1", "force": "west-mercia"}, InvalidTrigger, "force"),
        ({"trigger": "withdrawal", "force": "dorset"}, PartyNotInCase, "force"),
        ({"trigger": "withdrawal", "force": "atlantis"}, UnknownForce, "force"),
        ({"trigger": "withdrawal", "force": "west-mercia", "parties": ["west-mercia"]}, TooFewParties, "parties"),
        (
            {"trigger": "withdrawal", "force": "west-mercia", "parties": ["west-mercia", "west-mercia"]},
            DuplicateParty,
            "parties",
        ),
        (
            {"trigger": "withdrawal", "force": "west-mercia", "parties": ["west-mercia", "gotham"]},
            UnknownForce,
            "parties.1",
        ),
        (
            {"trigger": "decoupling", "function_id": "f1", "function_name": "x" * 201},
            InvalidText,
            "function_name",
        ),
    ],
)
def test_opening_is_refused_when_the_subject_or_parties_are_wrong(kwargs, error, field):
    arguments = {"collaboration_id": COLLABORATION, "parties": list(PARTIES), "provenance": on(date(2019, 1, 1))}
    with pytest.raises(error) as raised:
        ExitCase.open(**(arguments | kwargs))
    assert raised.value.field == field


# ------------------------------------------------------------------- the alliance case, step by step
def test_figures_after_each_step_of_the_alliance_exit():
    case = withdrawal_case()

    claim_id = claimed(case)
    figures = case.figures()
    assert figures.claimed == m("12000000.00")
    assert (figures.assessed, figures.agreed, figures.outstanding, figures.status) == (None, None, None, "open")
    assert figures.by_head == {
        "H2": {"claimed": m("3000000.00"), "assessed": None},
        "H3": {"claimed": m("2500000.00"), "assessed": None},
        "H6": {"claimed": m("4700000.00"), "assessed": None},
        "H8": {"claimed": m("1800000.00"), "assessed": None},
    }
    entry = case.claims[claim_id]
    assert (entry.claimant, entry.respondent, entry.effective_on, entry.version) == (
        "west-mercia",
        "warwickshire",
        date(2019, 6, 1),
        2,
    )
    assert entry.lines[3].amount == m("-500000.00")
    assert entry.lines[1].evidence is None

    case.record_assessment(
        assessor="Independent assessor (CIPFA)",
        recommended_amount="11200000.00",
        lines=ASSESSMENT_LINES,
        provenance=on(date(2019, 11, 1)),
    )
    [assessed] = case.collect_events()
    assert assessed.recommended_amount == Decimal("11200000.00")
    figures = case.figures()
    assert (figures.claimed, figures.assessed) == (m("12000000.00"), m("11200000.00"))
    assert figures.by_head["H6"] == {"claimed": m("4700000.00"), "assessed": m("4500000.00")}

    case.raise_dispute(
        raised_by="warwickshire",
        forum="home_secretary",
        summary="the ICT transition charges are disputed",
        provenance=on(date(2019, 12, 1)),
    )
    [dispute] = case.collect_events()
    assert (dispute.raised_by, dispute.forum) == ("warwickshire", "home_secretary")
    assert case.disputes[0].version == 4
    assert case.figures() == dataclasses.replace(figures)

    settled(case)
    figures = case.figures()
    assert figures.as_dict() | {"by_head": None} == {
        "claimed": "12000000.00",
        "assessed": "11200000.00",
        "agreed": "10500000.00",
        "written_off": "270000.00",
        "paid": "0.00",
        "outstanding": "10500000.00",
        "by_head": None,
        "status": "settled",
    }
    assert [(i.due_on, str(i.paid), str(i.remaining)) for i in case.instalment_schedule()] == [
        (date(2020, 4, 30), "0.00", "3500000.00"),
        (date(2020, 12, 31), "0.00", "3500000.00"),
        (date(2021, 6, 30), "0.00", "3500000.00"),
    ]

    paid(case, "3500000.00", date(2020, 4, 30))
    paid(case, "3500000.00", date(2020, 12, 31))
    figures = case.figures()
    assert (figures.paid, figures.outstanding, figures.status) == (m("7000000.00"), m("3500000.00"), "settled")
    assert_refused(
        case,
        Overpayment,
        case.record_payment,
        amount="3500000.01",
        paid_on=date(2021, 6, 30),
        provenance=on(date(2021, 6, 30)),
    )
    assert_refused(case, OutstandingBalance, case.close, provenance=on(date(2021, 6, 1)))
    paid(case, "3500000.00", date(2021, 6, 30))
    assert (case.figures().paid, case.figures().outstanding) == (m("10500000.00"), m("0.00"))
    assert all(i.remaining == m("0.00") for i in case.instalment_schedule())

    assert_refused(
        case,
        CaseSettled,
        case.lodge_claim,
        claimant="west-mercia",
        respondent="warwickshire",
        lines=CLAIM_LINES,
        provenance=on(date(2021, 7, 1)),
    )
    assert_refused(
        case,
        CaseSettled,
        case.agree_settlement,
        payer="warwickshire",
        payee="west-mercia",
        amount="1.00",
        write_offs="0",
        instalments=[{"due_on": date(2021, 8, 1), "amount": "1.00"}],
        provenance=on(date(2021, 7, 1)),
    )

    case.close(provenance=on(date(2021, 7, 1), "all instalments paid"))
    [closed] = case.collect_events()
    assert isinstance(closed, ExitCase.Closed)
    assert (case.status, case.closed_on, case.figures().status) == ("closed", date(2021, 7, 1), "closed")
    assert_refused(
        case,
        CaseClosed,
        case.lodge_claim,
        claimant="west-mercia",
        respondent="warwickshire",
        lines=CLAIM_LINES,
        provenance=on(date(2021, 8, 1)),
    )
    assert_refused(
        case, CaseClosed, case.record_payment, amount="1.00", paid_on=date(2021, 8, 1), provenance=on(date(2021, 8, 1))
    )
    assert_refused(case, CaseClosed, case.close, provenance=on(date(2021, 8, 1)))

    case.reopen(provenance=on(date(2022, 1, 10), "late pension strain invoice"))
    [reopened] = case.collect_events()
    assert isinstance(reopened, ExitCase.Reopened)
    assert (case.status, case.closed_on) == ("open", None)
    assert case.figures().agreed == m("10500000.00")  # the settlement still stands until revised
    case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=[{"head": "H3", "amount": "120000.00", "description": "late pension strain"}],
        provenance=on(date(2022, 1, 10)),
    )
    assert case.figures().claimed == m("12120000.00")
    assert case.figures().by_head["H3"]["claimed"] == m("2620000.00")


def reopened_after_paying_3_5m() -> ExitCase:
    case = withdrawal_case()
    claimed(case)
    settled(case)
    paid(case, "3500000.00", date(2020, 4, 30))
    case.reopen(provenance=on(date(2020, 6, 1)))
    case.collect_events()
    return case


def test_a_revised_settlement_of_exactly_what_was_paid_is_agreed():
    """The boundary of 'at least what was paid': equal is allowed (the case is then paid up)."""
    case = reopened_after_paying_3_5m()
    case.agree_settlement(
        payer="warwickshire",
        payee="west-mercia",
        amount="3500000.00",
        write_offs="0",
        instalments=[{"due_on": date(2020, 4, 30), "amount": "3500000.00"}],
        provenance=on(date(2020, 6, 2)),
    )
    assert case.settlement is not None and case.settlement.amount == m("3500000.00")
    assert case.figures().outstanding == m("0.00")


def test_a_reopened_case_takes_a_revised_settlement_of_at_least_what_was_paid():
    case = reopened_after_paying_3_5m()
    assert_refused(
        case,
        SettlementBelowPaid,
        case.agree_settlement,
        payer="warwickshire",
        payee="west-mercia",
        amount="3000000.00",
        write_offs="0",
        instalments=[{"due_on": date(2020, 7, 1), "amount": "3000000.00"}],
        provenance=on(date(2020, 6, 2)),
    )
    assert_refused(
        case,
        SettlementPartiesChanged,
        case.agree_settlement,
        payer="west-mercia",
        payee="warwickshire",
        amount="5000000.00",
        write_offs="0",
        instalments=[{"due_on": date(2020, 7, 1), "amount": "5000000.00"}],
        provenance=on(date(2020, 6, 2)),
    )
    settled(
        case,
        "11000000.00",
        [{"due_on": date(2020, 4, 30), "amount": "3500000.00"}, {"due_on": date(2020, 9, 1), "amount": "7500000.00"}],
    )
    figures = case.figures()
    assert (figures.agreed, figures.paid, figures.outstanding, figures.status) == (
        m("11000000.00"),
        m("3500000.00"),
        m("7500000.00"),
        "settled",
    )
    assert len(case.settlements) == 2
    assert [str(i.remaining) for i in case.instalment_schedule()] == ["0.00", "7500000.00"]


def test_payments_continue_while_a_reopened_case_keeps_its_settlement():
    case = withdrawal_case()
    settled(case)
    case.reopen(provenance=on(date(2020, 4, 1)))
    paid(case, "1000000.00", date(2020, 4, 30))
    assert (case.status, case.figures().outstanding) == ("open", m("9500000.00"))
    assert_refused(case, OutstandingBalance, case.close, provenance=on(date(2020, 5, 1)))


def test_a_case_without_a_settlement_can_be_closed_and_reopened():
    case = withdrawal_case()
    claimed(case)
    case.close(provenance=on(date(2019, 7, 1), "claim abandoned"))
    case.collect_events()
    assert case.status == "closed"
    assert_refused(
        case,
        CaseClosed,
        case.record_assessment,
        assessor="x",
        recommended_amount="1.00",
        provenance=on(date(2019, 8, 1)),
    )
    assert_refused(
        case,
        CaseClosed,
        case.raise_dispute,
        raised_by="warwickshire",
        forum="court",
        summary="s",
        provenance=on(date(2019, 8, 1)),
    )
    assert_refused(
        case,
        CaseClosed,
        case.agree_settlement,
        payer="warwickshire",
        payee="west-mercia",
        amount="1.00",
        write_offs="0",
        instalments=[{"due_on": date(2021, 8, 1), "amount": "1.00"}],
        provenance=on(date(2019, 8, 1)),
    )
    case.reopen(provenance=on(date(2019, 8, 1)))
    assert case.status == "open"


def test_closing_is_on_or_after_every_settlement_and_payment():
    case = withdrawal_case()
    settled(case, "1000.00", [{"due_on": date(2020, 4, 30), "amount": "1000.00"}])  # effective 2020-03-30
    case.record_payment(amount="600.00", paid_on=date(2020, 4, 30), provenance=on(date(2020, 4, 20)))
    paid(case, "400.00", date(2020, 5, 15))
    for day in (date(2020, 3, 29), date(2020, 4, 30), date(2020, 5, 14)):
        refused = assert_refused(case, ClosedBeforeSettled, case.close, provenance=on(day))
        assert refused.field == "effective_on"
        assert "2020-05-15" in refused.detail
    assert case.closings == [] and case.status == "settled"
    case.close(provenance=on(date(2020, 5, 15)))  # the day of the last payment will do
    assert (case.status, case.closed_on) == ("closed", date(2020, 5, 15))


def test_a_payment_made_after_it_was_recorded_as_effective_still_bounds_the_closing():
    case = withdrawal_case()
    settled(case, "1000.00", [{"due_on": date(2020, 4, 30), "amount": "1000.00"}])
    case.record_payment(amount="1000.00", paid_on=date(2020, 6, 1), provenance=on(date(2020, 4, 30)))
    case.collect_events()
    assert_refused(case, ClosedBeforeSettled, case.close, provenance=on(date(2020, 5, 31)))
    case.close(provenance=on(date(2020, 6, 1)))
    assert case.status == "closed"


def test_a_case_with_no_settlement_closes_on_any_day():
    case = withdrawal_case()
    case.close(provenance=on(date(2018, 10, 9)))
    assert case.status == "closed"


def test_a_closed_case_is_reopened_on_or_after_its_closing():
    case = withdrawal_case()
    settled(case, "1000.00", [{"due_on": date(2020, 4, 30), "amount": "1000.00"}])
    paid(case, "1000.00", date(2020, 4, 30))
    case.close(provenance=on(date(2020, 5, 1)))
    case.collect_events()
    refused = assert_refused(case, ReopenedBeforeClosed, case.reopen, provenance=on(date(2020, 4, 30)))
    assert refused.field == "effective_on"
    assert "2020-05-01" in refused.detail
    assert case.reopenings == [] and case.status == "closed"
    case.reopen(provenance=on(date(2020, 5, 1)))  # the day it closed will do
    case.collect_events()
    assert case.status == "open"
    # A second closing is bounded by the payments still, and a second reopening by that closing.
    assert_refused(case, ClosedBeforeSettled, case.close, provenance=on(date(2020, 4, 29)))
    case.close(provenance=on(date(2020, 9, 1)))
    case.collect_events()
    assert_refused(case, ReopenedBeforeClosed, case.reopen, provenance=on(date(2020, 8, 31)))


def test_reopening_needs_a_settled_or_closed_case():
    case = withdrawal_case()
    assert_refused(case, CaseNotSettled, case.reopen, provenance=on(date(2019, 1, 1)))
    settled(case)
    case.reopen(provenance=on(date(2020, 4, 1)))
    case.collect_events()
    assert_refused(case, CaseNotSettled, case.reopen, provenance=on(date(2020, 4, 2)))


# ------------------------------------------------------------------------------ claims
@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"claimant": "dorset"}, PartyNotInCase, "claimant"),
        ({"respondent": "atlantis"}, PartyNotInCase, "respondent"),
        ({"respondent": "west-mercia"}, SamePartyBothSides, "respondent"),
        ({"lines": []}, InvalidClaimLine, "lines"),
        ({"lines": "H2 1000"}, InvalidClaimLine, "lines"),
        ({"lines": ["H2"]}, InvalidClaimLine, "lines.0"),
        ({"lines": [{"head": "H9", "amount": "1", "description": "d"}]}, InvalidClaimLine, "lines.0.head"),
        ({"lines": [{"amount": "1", "description": "d"}]}, InvalidClaimLine, "lines.0.head"),
        ({"lines": [{"head": "H2", "amount": "1.001", "description": "d"}]}, InvalidMoney, "lines.0.amount"),
        ({"lines": [{"head": "H2", "amount": 1.5, "description": "d"}]}, InvalidMoney, "lines.0.amount"),
        ({"lines": [{"head": "H2", "amount": None, "description": "d"}]}, InvalidMoney, "lines.0.amount"),
        (
            {"lines": [{"head": "H2", "amount": "1000000000000000", "description": "d"}]},
            AmountTooLarge,
            "lines.0.amount",
        ),
        (
            {
                "lines": [
                    {"head": "H2", "amount": "999999999999999.99", "description": "d"},
                    {"head": "H3", "amount": "0.01", "description": "d"},
                ]
            },
            InvalidClaimLine,
            "lines",
        ),
        ({"lines": [{"head": "H2", "amount": "1", "description": "  "}]}, RequiredText, "lines.0.description"),
        (
            {"lines": [{"head": "H2", "amount": "1", "description": "d", "evidence": "\x00"}]},
            InvalidText,
            "lines.0.evidence",
        ),
        ({"supersedes": "no-such-claim"}, UnknownClaim, "supersedes"),
    ],
)
def test_a_claim_is_refused_when_it_breaks_a_rule(kwargs, error, field):
    case = withdrawal_case()
    arguments = {
        "claimant": "west-mercia",
        "respondent": "warwickshire",
        "lines": CLAIM_LINES,
        "provenance": on(date(2019, 6, 1)),
    }
    refused = assert_refused(case, error, case.lodge_claim, **(arguments | kwargs))
    assert refused.field == field


def test_a_claim_stores_plain_values_in_its_event():
    case = withdrawal_case()
    claim_id = case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=[{"head": "H6", "amount": 100, "description": " ICT ", "evidence": " "}],
        provenance=on(date(2019, 6, 1)),
    )
    [lodged] = case.collect_events()
    assert lodged.claim_id == claim_id
    assert lodged.lines == [{"head": "H6", "amount": Decimal("100.00"), "description": "ICT", "evidence": None}]
    assert lodged.supersedes is None


def test_a_revised_claim_supersedes_the_earlier_one():
    case = withdrawal_case()
    first = claimed(case)
    second = case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=[{"head": "H6", "amount": "4000000.00", "description": "ICT, revised"}],
        supersedes=first,
        provenance=on(date(2019, 9, 1), "revised claim"),
    )
    case.collect_events()
    assert case.claims[first].superseded_by == second
    assert case.claims[second].superseded_by is None
    assert case.figures().claimed == m("4000000.00")
    assert list(case.figures().by_head) == ["H6"]
    assert [claim.claim_id for claim in case.current_claims()] == [second]

    assert_refused(
        case,
        ClaimAlreadySuperseded,
        case.lodge_claim,
        claimant="west-mercia",
        respondent="warwickshire",
        lines=CLAIM_LINES,
        supersedes=first,
        provenance=on(date(2019, 10, 1)),
    )
    assert_refused(
        case,
        ClaimPartiesDiffer,
        case.lodge_claim,
        claimant="warwickshire",
        respondent="west-mercia",
        lines=CLAIM_LINES,
        supersedes=second,
        provenance=on(date(2019, 10, 1)),
    )


def test_claims_from_both_sides_add_up():
    case = withdrawal_case()
    claimed(case)
    case.lodge_claim(
        claimant="warwickshire",
        respondent="west-mercia",
        lines=[{"head": "H2", "amount": "250000.00", "description": "counter-claim"}],
        provenance=on(date(2019, 7, 1)),
    )
    assert case.figures().claimed == m("12250000.00")


def test_claimed_lines_feed_the_calculator_with_the_lodging_version():
    case = withdrawal_case()
    first = claimed(case)
    case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=[
            {"head": "H1", "amount": "100.00", "description": "notice shortfall as claimed"},
            {"head": "H3", "amount": "2600000.00", "description": "redundancy, revised", "evidence": "HR-7"},
        ],
        supersedes=first,
        provenance=on(date(2019, 9, 1)),
    )
    case.lodge_claim(
        claimant="warwickshire",
        respondent="west-mercia",
        lines=[{"head": "H8", "amount": "-10.00", "description": "mitigation"}],
        provenance=on(date(2019, 9, 2)),
    )
    wm, wk, case_id = "west-mercia", "warwickshire", str(case.id)
    assert case.claimed_lines() == [
        Claim("H1", Decimal("100.00"), "notice shortfall as claimed", wm, wk, None, 3, case_id),
        Claim("H3", Decimal("2600000.00"), "redundancy, revised", wm, wk, "HR-7", 3, case_id),
        Claim("H8", Decimal("-10.00"), "mitigation", wk, wm, None, 4, case_id),
    ]
    assert [claim.head for claim in case.claimed_lines(CLAIMED_HEADS)] == ["H3", "H8"]


# ------------------------------------------------------------------------ assessments, disputes
@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"assessor": " "}, RequiredText, "assessor"),
        ({"recommended_amount": "0"}, InvalidAssessment, "recommended_amount"),
        ({"recommended_amount": "-5.00"}, InvalidAssessment, "recommended_amount"),
        ({"recommended_amount": "abc"}, InvalidMoney, "recommended_amount"),
        ({"recommended_amount": "1000000000000000"}, AmountTooLarge, "recommended_amount"),
        ({"lines": [{"head": "H2", "amount": "5.00", "description": "d"}]}, InvalidAssessment, "lines"),
        ({"lines": [{"head": "H0", "amount": "10.00", "description": "d"}]}, InvalidClaimLine, "lines.0.head"),
    ],
)
def test_an_assessment_is_refused_when_it_breaks_a_rule(kwargs, error, field):
    case = withdrawal_case()
    arguments = {"assessor": "Independent assessor", "recommended_amount": "10.00", "provenance": on(date(2019, 6, 1))}
    refused = assert_refused(case, error, case.record_assessment, **(arguments | kwargs))
    assert refused.field == field


def test_the_latest_assessment_counts_and_a_total_only_assessment_leaves_heads_unknown():
    case = withdrawal_case()
    claimed(case)
    case.record_assessment(
        assessor="A", recommended_amount="11200000.00", lines=ASSESSMENT_LINES, provenance=on(date(2019, 11, 1))
    )
    case.record_assessment(assessor="B", recommended_amount="11000000", provenance=on(date(2019, 12, 1)))
    figures = case.figures()
    assert figures.assessed == m("11000000.00")
    assert all(amounts["assessed"] is None for amounts in figures.by_head.values())
    assert case.assessment.assessor == "B"


def test_an_assessment_breakdown_may_name_heads_nobody_claimed():
    case = withdrawal_case()
    case.record_assessment(
        assessor="A",
        recommended_amount="10.00",
        lines=[{"head": "H4", "amount": "10.00", "description": "stranded"}],
        provenance=on(date(2019, 11, 1)),
    )
    assert case.figures().by_head == {"H4": {"claimed": m("0.00"), "assessed": m("10.00")}}


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"raised_by": "dorset"}, PartyNotInCase, "raised_by"),
        ({"forum": "ombudsman"}, InvalidForum, "forum"),
        ({"summary": ""}, RequiredText, "summary"),
    ],
)
def test_a_dispute_is_refused_when_it_breaks_a_rule(kwargs, error, field):
    case = withdrawal_case()
    arguments = {
        "raised_by": "warwickshire",
        "forum": "arbitration",
        "summary": "s",
        "provenance": on(date(2019, 6, 1)),
    }
    refused = assert_refused(case, error, case.raise_dispute, **(arguments | kwargs))
    assert refused.field == field


# -------------------------------------------------------------------------------- settlement
@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"payer": "dorset"}, PartyNotInCase, "payer"),
        ({"payee": "dorset"}, PartyNotInCase, "payee"),
        ({"payee": "warwickshire"}, SamePartyBothSides, "payee"),
        ({"amount": "0"}, InvalidSettlement, "amount"),
        ({"amount": "-10500000.00"}, InvalidSettlement, "amount"),
        ({"amount": "10500000.001"}, InvalidMoney, "amount"),
        ({"write_offs": "-1.00"}, NegativeAmount, "write_offs"),
        ({"instalments": []}, InvalidSettlement, "instalments"),
        ({"instalments": None}, InvalidSettlement, "instalments"),
        ({"instalments": [("2020-04-30", "10500000.00")]}, InvalidSettlement, "instalments.0"),
        (
            {"instalments": [{"due_on": "2020-04-30", "amount": "10500000.00"}]},
            InvalidSettlement,
            "instalments.0.due_on",
        ),
        (
            {
                "instalments": [
                    {"due_on": date(2020, 4, 30), "amount": "10500000.00"},
                    {"due_on": date(2020, 5, 1), "amount": "0"},
                ]
            },
            InvalidSettlement,
            "instalments.1.amount",
        ),
        (
            {
                "instalments": [
                    {"due_on": date(2020, 12, 31), "amount": "5250000.00"},
                    {"due_on": date(2020, 4, 30), "amount": "5250000.00"},
                ]
            },
            InvalidSettlement,
            "instalments.1.due_on",
        ),
        (
            {"instalments": INSTALMENTS[:2]},
            InstalmentsDoNotSumToAmount,
            "instalments",
        ),
        (
            {"instalments": [*INSTALMENTS, {"due_on": date(2021, 7, 1), "amount": "0.01"}]},
            InstalmentsDoNotSumToAmount,
            "instalments",
        ),
    ],
)
def test_a_settlement_is_refused_when_it_breaks_a_rule(kwargs, error, field):
    case = withdrawal_case()
    arguments = {
        "payer": "warwickshire",
        "payee": "west-mercia",
        "amount": "10500000.00",
        "write_offs": "270000.00",
        "instalments": INSTALMENTS,
        "provenance": on(date(2020, 3, 30)),
    }
    refused = assert_refused(case, error, case.agree_settlement, **(arguments | kwargs))
    assert refused.field == field


def test_a_settlement_event_carries_plain_values():
    case = withdrawal_case()
    case.agree_settlement(
        payer="warwickshire",
        payee="west-mercia",
        amount=10500000,
        write_offs=Decimal("270000"),
        instalments=[{"due_on": date(2020, 4, 30), "amount": "10500000"}],
        provenance=on(date(2020, 3, 30)),
    )
    [agreed] = case.collect_events()
    assert (agreed.amount, agreed.write_offs) == (Decimal("10500000.00"), Decimal("270000.00"))
    assert agreed.instalments == [{"due_on": date(2020, 4, 30), "amount": Decimal("10500000.00")}]
    assert case.settlement.version == 2
    assert case.status == "settled"


# ---------------------------------------------------------------------------------- payments
def test_a_payment_needs_a_settlement():
    case = withdrawal_case()
    assert_refused(
        case,
        NoSettlement,
        case.record_payment,
        amount="1.00",
        paid_on=date(2020, 1, 1),
        provenance=on(date(2020, 1, 1)),
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"amount": "0"}, InvalidPayment, "amount"),
        ({"amount": "-1.00"}, InvalidPayment, "amount"),
        ({"amount": "1.005"}, InvalidMoney, "amount"),
        ({"amount": "10500000.01"}, Overpayment, "amount"),
        ({"paid_on": "2020-04-30"}, InvalidPayment, "paid_on"),
    ],
)
def test_a_payment_is_refused_when_it_breaks_a_rule(kwargs, error, field):
    case = withdrawal_case()
    settled(case)
    arguments = {"amount": "3500000.00", "paid_on": date(2020, 4, 30), "provenance": on(date(2020, 4, 30))}
    refused = assert_refused(case, error, case.record_payment, **(arguments | kwargs))
    assert refused.field == field


@pytest.mark.parametrize(
    ("paid_on", "effective_on", "field"),
    [
        (date(2020, 3, 29), date(2020, 3, 30), "paid_on"),
        (date(2020, 3, 30), date(2020, 3, 29), "effective_on"),
        (date(2019, 1, 1), date(2019, 1, 1), "paid_on"),
    ],
)
def test_a_payment_is_made_on_or_after_the_settlement_it_is_paid_under(paid_on, effective_on, field):
    case = withdrawal_case()
    settled(case)  # effective 2020-03-30
    refused = assert_refused(
        case,
        PaymentBeforeSettlement,
        case.record_payment,
        amount="1.00",
        paid_on=paid_on,
        provenance=on(effective_on),
    )
    assert refused.field == field
    assert "2020-03-30" in refused.detail
    assert case.payments == []
    paid(case, "1.00", date(2020, 3, 30))  # the settlement's own day will do
    assert case.figures().paid == m("1.00")


def test_a_payment_under_a_revised_settlement_is_on_or_after_the_revision():
    case = withdrawal_case()
    settled(case)
    paid(case, "3500000.00", date(2020, 4, 30))
    case.reopen(provenance=on(date(2020, 5, 1)))
    case.agree_settlement(
        payer="warwickshire",
        payee="west-mercia",
        amount="7000000.00",
        write_offs="0",
        instalments=[{"due_on": date(2020, 6, 30), "amount": "7000000.00"}],
        provenance=on(date(2020, 6, 1)),
    )
    case.collect_events()
    assert_refused(
        case,
        PaymentBeforeSettlement,
        case.record_payment,
        amount="1.00",
        paid_on=date(2020, 5, 31),
        provenance=on(date(2020, 5, 31)),
    )
    paid(case, "3500000.00", date(2020, 6, 30))
    assert case.figures().outstanding == m("0.00")


def test_payments_are_allocated_to_the_earliest_instalments_first():
    case = withdrawal_case()
    settled(case)
    paid(case, "1000000.00", date(2020, 4, 1))
    paid(case, "3000000.00", date(2020, 5, 1))
    schedule = case.instalment_schedule()
    assert [(str(i.amount), str(i.paid), str(i.remaining)) for i in schedule] == [
        ("3500000.00", "3500000.00", "0.00"),
        ("3500000.00", "500000.00", "3000000.00"),
        ("3500000.00", "0.00", "3500000.00"),
    ]
    assert [payment.version for payment in case.payments] == [3, 4]


# ---------------------------------------------------------------------------------- as_of
def test_as_of_keeps_only_facts_effective_by_the_day():
    case = withdrawal_case()
    first = claimed(case)  # 2019-06-01
    second = case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=[{"head": "H6", "amount": "4000000.00", "description": "revised"}],
        supersedes=first,
        provenance=on(date(2019, 9, 1)),
    )
    case.record_assessment(assessor="A", recommended_amount="11200000.00", provenance=on(date(2019, 11, 1)))
    settled(case)  # 2020-03-30
    paid(case, "3500000.00", date(2020, 4, 30))
    paid(case, "3500000.00", date(2020, 12, 31))
    paid(case, "3500000.00", date(2021, 6, 30))
    case.close(provenance=on(date(2021, 7, 1)))
    case.reopen(provenance=on(date(2022, 1, 10)))
    case.collect_events()
    version = case.version

    before = case.as_of(date(2019, 1, 1))
    assert before.figures().as_dict()["claimed"] == "0.00"
    assert before.status == "open"

    summer = case.as_of(date(2019, 6, 30))
    assert summer.claims[first].superseded_by is None
    assert summer.figures().claimed == m("12000000.00")

    autumn = case.as_of(date(2019, 9, 1))
    assert autumn.claims[first].superseded_by == second
    assert autumn.figures().claimed == m("4000000.00")
    assert autumn.figures().assessed is None

    settled_day = case.as_of(date(2020, 3, 30))
    assert (settled_day.status, settled_day.figures().agreed, settled_day.figures().outstanding) == (
        "settled",
        m("10500000.00"),
        m("10500000.00"),
    )

    midway = case.as_of(date(2021, 1, 1))
    assert (midway.figures().paid, midway.figures().outstanding) == (m("7000000.00"), m("3500000.00"))

    closed = case.as_of(date(2021, 12, 31))
    assert (closed.status, closed.closed_on) == ("closed", date(2021, 7, 1))
    assert case.as_of(date(2022, 1, 10)).status == "open"

    # The copy is the same version, records nothing, and leaves the case untouched.
    assert midway.version == version
    assert midway.collect_events() == []
    assert len(case.payments) == 3
    assert case.claims[first].superseded_by == second
    assert case.status == "open"


def test_as_of_copy_can_still_take_commands_without_touching_the_original():
    case = withdrawal_case()
    settled(case)
    earlier = case.as_of(date(2020, 1, 1))
    assert earlier.status == "open"
    earlier.lodge_claim(
        claimant="west-mercia", respondent="warwickshire", lines=CLAIM_LINES, provenance=on(date(2019, 6, 1))
    )
    assert case.claims == {}


# ------------------------------------------------------------------------------- snapshot-able
def _plain(value: object) -> bool:
    if value is None or isinstance(value, str | int | Decimal | date | Money):
        return not isinstance(value, float)
    if isinstance(value, list):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain(item) for key, item in value.items())
    if dataclasses.is_dataclass(value) and type(value).__module__ == "domain.exit_case":
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def test_the_state_holds_only_snapshot_friendly_values():
    case = withdrawal_case()
    first = claimed(case)
    case.lodge_claim(
        claimant="west-mercia",
        respondent="warwickshire",
        lines=CLAIM_LINES,
        supersedes=first,
        provenance=on(date(2019, 7, 1)),
    )
    case.record_assessment(
        assessor="A",
        recommended_amount="1.00",
        lines=[{"head": "H2", "amount": "1.00", "description": "d"}],
        provenance=on(date(2019, 8, 1)),
    )
    case.raise_dispute(raised_by="warwickshire", forum="court", summary="s", provenance=on(date(2019, 9, 1)))
    settled(case)
    paid(case, "10500000.00", date(2020, 4, 1))
    case.close(provenance=on(date(2020, 5, 1)))
    case.reopen(provenance=on(date(2020, 6, 1)))
    case.collect_events()
    state = {key: value for key, value in case.__dict__.items() if not key.startswith("_")}
    assert {key: _plain(value) for key, value in state.items()} == dict.fromkeys(state, True)


# -------------------------------------------------------------------------------- property
@settings(max_examples=80, deadline=None)
@given(
    instalment_pence=st.lists(st.integers(min_value=1, max_value=10**10), min_size=1, max_size=4),
    payments=st.lists(st.integers(min_value=1, max_value=2 * 10**10), max_size=12),
)
def test_paid_plus_outstanding_is_always_the_agreed_amount(instalment_pence, payments):
    case = withdrawal_case()
    start = date(2020, 4, 30)
    instalments = [
        {"due_on": start + timedelta(days=30 * index), "amount": Decimal(pence) / 100}
        for index, pence in enumerate(instalment_pence)
    ]
    agreed = Money(sum((Decimal(pence) for pence in instalment_pence), Decimal(0)) / 100)
    settled(case, str(agreed), instalments)
    for pence in payments:
        amount = Decimal(pence) / 100
        outstanding = case.figures().outstanding
        if amount > outstanding.amount:
            assert_refused(case, Overpayment, case.record_payment, amount=amount, paid_on=start, provenance=on(start))
        else:
            paid(case, amount, start)
        figures = case.figures()
        assert figures.paid.amount + figures.outstanding.amount == agreed.amount == figures.agreed.amount
        assert figures.outstanding.amount >= 0
        schedule = case.instalment_schedule()
        assert sum(i.paid.amount for i in schedule) == figures.paid.amount
        assert sum(i.remaining.amount for i in schedule) == figures.outstanding.amount
        assert all(i.remaining.amount >= 0 for i in schedule)


# ------------------------------------------------------------------- dates and approvals
def test_no_fact_of_the_case_is_dated_before_the_case_was_opened():
    case = withdrawal_case()  # opened 2018-10-09
    with pytest.raises(FactBeforeCase) as raised:
        case.lodge_claim(
            claimant="west-mercia", respondent="warwickshire", lines=CLAIM_LINES, provenance=on(date(2018, 10, 8))
        )
    assert raised.value.field == "effective_on" and "2018-10-09" in raised.value.detail
    with pytest.raises(FactBeforeCase):
        case.raise_dispute(raised_by="warwickshire", forum="court", summary="s", provenance=on(date(2017, 1, 1)))
    assert case.collect_events() == []
    case.lodge_claim(
        claimant="west-mercia", respondent="warwickshire", lines=CLAIM_LINES, provenance=on(date(2018, 10, 9))
    )
    assert len(case.collect_events()) == 1


def test_a_settlement_is_recorded_only_with_its_approval_reference():
    case = withdrawal_case()
    unapproved = Provenance(date(2020, 3, 30), "treasurer (admin)", "agreed", "minute 20/3", None)
    with pytest.raises(ApprovalRequired):
        case.agree_settlement(
            payer="warwickshire",
            payee="west-mercia",
            amount="10.00",
            write_offs="0.00",
            instalments=[{"due_on": date(2020, 4, 30), "amount": "10.00"}],
            provenance=unapproved,
        )
    assert case.collect_events() == [] and case.settlement is None
