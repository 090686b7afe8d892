"""A party leaving the agreement (PartyWithdrew) and the agreement ending (AgreementTerminated):
each rule refused with its named error and nothing recorded, and the state afterwards; no fact
dated before what it is about existed; acts no party owns only with an approval reference."""

from datetime import date, timedelta

import pytest

from domain.collaboration import ACTIVE, NOTICE_SERVED, TERMINATED, Collaboration
from domain.errors import (
    AgreementEnded,
    ApprovalRequired,
    DuplicateParty,
    EndedBeforeLastFact,
    FactBeforeAgreement,
    FactBeforeFunction,
    FactBeforeParty,
    InvalidDirection,
    NoLiveNotice,
    PartyHasWithdrawn,
    PartyNotInCollaboration,
    UnknownForce,
    WithdrawalBeforeNotice,
)
from domain.exit_costs import quote_withdrawal
from domain.values import Provenance
from tests.unit.refusals import assert_refused as refused

A, B, C = "west-mercia", "warwickshire", "dorset"
START = date(2012, 4, 1)
NOTICE = date(2018, 10, 9)
LEAVES = date(2019, 10, 9)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board", None, "BOARD-1")


def alliance(parties: tuple[str, ...] = (A, B)) -> tuple[Collaboration, str]:
    collaboration = Collaboration.establish(
        name="Strategic Alliance", purpose="Shared services", parties=list(parties), lead_force=A, provenance=at(START)
    )
    ict = collaboration.add_function(
        name="ICT", kind="enabling", host_force=A, annual_budget="10000000", provenance=at(START)
    )
    shares = {A: "0.69", B: "0.31"} if len(parties) == 2 else {A: "0.5", B: "0.3", C: "0.2"}
    collaboration.agree_apportionment(function_id=None, basis="fixed_ratio", shares=shares, provenance=at(START))
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=at(START)
    )
    collaboration.collect_events()
    return collaboration, ict


def withdrawn_alliance(parties: tuple[str, ...] = (A, B)) -> tuple[Collaboration, str]:
    collaboration, ict = alliance(parties)
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.record_withdrawal(force=A, provenance=at(LEAVES))
    collaboration.collect_events()
    return collaboration, ict


# ------------------------------------------------------------------------- withdrawal
def test_a_party_leaves_on_its_notice_which_is_then_spent():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    [served] = collaboration.collect_events()
    collaboration.record_withdrawal(force=A, provenance=at(LEAVES))

    [event] = collaboration.collect_events()
    assert isinstance(event, Collaboration.PartyWithdrew)
    assert (event.force, event.status, event.effective_on) == (A, ACTIVE, LEAVES)
    assert event.actor == "tester (admin)" and event.reason == "agreed at the board"
    assert collaboration.status == ACTIVE
    [notice] = collaboration.notices
    assert notice.live is False
    assert (notice.completed_on, notice.completed_version) == (LEAVES, event.originator_version)
    assert notice.withdrawn_on is None
    assert collaboration.live_notice(A) is None
    entry = collaboration.withdrawn[A]
    assert (entry.effective_on, entry.version, entry.notice_version) == (
        LEAVES,
        event.originator_version,
        served.originator_version,
    )
    assert collaboration.spent_notice(A) is notice
    assert collaboration.spent_notice(B) is None
    assert collaboration.parties == [A, B]  # still a party of the record
    assert collaboration.current_parties() == [B]


def test_a_party_may_leave_on_the_day_it_served_notice():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.record_withdrawal(force=A, provenance=at(NOTICE))
    assert collaboration.withdrawn[A].effective_on == NOTICE


def test_the_status_stays_notice_served_while_another_notice_is_live():
    collaboration, _ = alliance((A, B, C))
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.serve_withdrawal_notice(force=B, provenance=at(NOTICE))
    collaboration.record_withdrawal(force=A, provenance=at(LEAVES))
    assert collaboration.collect_events()[-1].status == NOTICE_SERVED
    assert collaboration.status == NOTICE_SERVED
    assert collaboration.live_notice(B) is not None
    collaboration.record_withdrawal(force=B, provenance=at(LEAVES))
    assert collaboration.collect_events()[-1].status == ACTIVE
    assert collaboration.status == ACTIVE
    assert collaboration.current_parties() == [C]


def test_leaving_needs_a_live_notice():
    collaboration, _ = alliance()
    refused(collaboration, NoLiveNotice, collaboration.record_withdrawal, force=A, provenance=at(LEAVES))
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.withdraw_notice(force=A, provenance=at(date(2018, 12, 1)))
    collaboration.collect_events()
    refused(collaboration, NoLiveNotice, collaboration.record_withdrawal, force=A, provenance=at(LEAVES))


def test_leaving_before_the_notice_date_is_refused():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.collect_events()
    refused(
        collaboration,
        WithdrawalBeforeNotice,
        collaboration.record_withdrawal,
        force=A,
        provenance=at(date(2018, 10, 8)),
    )
    assert collaboration.live_notice(A) is not None


@pytest.mark.parametrize(("force", "error"), [(C, PartyNotInCollaboration), ("atlantis", UnknownForce)])
def test_only_a_party_leaves(force: str, error: type[Exception]):
    collaboration, _ = alliance()
    refused(collaboration, error, collaboration.record_withdrawal, force=force, provenance=at(LEAVES))


def test_a_party_leaves_once():
    collaboration, _ = withdrawn_alliance()
    refused(collaboration, PartyHasWithdrawn, collaboration.record_withdrawal, force=A, provenance=at(LEAVES))


def test_a_withdrawn_party_is_refused_for_every_new_fact_that_names_it():
    collaboration, ict = withdrawn_alliance((A, B, C))
    later = at(date(2020, 1, 1))
    refused(collaboration, PartyHasWithdrawn, collaboration.join, force=A, provenance=later)
    refused(
        collaboration,
        PartyHasWithdrawn,
        collaboration.add_function,
        name="Dogs",
        kind="operational",
        host_force=A,
        annual_budget="1",
        provenance=later,
    )
    refused(
        collaboration,
        PartyHasWithdrawn,
        collaboration.agree_apportionment,
        function_id=ict,
        basis="fixed_ratio",
        shares={A: "0", B: "0.6", C: "0.4"},
        provenance=later,
    )
    refused(
        collaboration,
        PartyHasWithdrawn,
        collaboration.register_asset,
        name="HQ",
        cost="100",
        acquired_on=date(2019, 1, 1),
        useful_life_months=60,
        funded_shares={A: "0.5", B: "0.5"},
        provenance=later,
    )
    refused(collaboration, PartyHasWithdrawn, collaboration.serve_withdrawal_notice, force=A, provenance=later)
    refused(collaboration, PartyHasWithdrawn, collaboration.withdraw_notice, force=A, provenance=later)
    with pytest.raises(PartyHasWithdrawn) as caught:
        collaboration.join(A, later)
    assert caught.value.field == "force"


def test_the_remaining_parties_carry_on_without_the_withdrawn_one():
    collaboration, ict = withdrawn_alliance((A, B, C))
    later = at(date(2020, 1, 1))
    collaboration.agree_apportionment(
        function_id=ict, basis="fixed_ratio", shares={B: "0.6", C: "0.4"}, provenance=later
    )
    collaboration.add_function(name="Dogs", kind="operational", host_force=B, annual_budget="1", provenance=later)
    collaboration.serve_withdrawal_notice(force=B, provenance=later)
    collaboration.join("suffolk", later)
    assert collaboration.current_parties() == [B, C, "suffolk"]
    collaboration.collect_events()
    refused(collaboration, DuplicateParty, collaboration.join, force=B, provenance=later)


def test_a_withdrawn_party_can_still_be_quoted():
    collaboration, _ = withdrawn_alliance()
    collaboration.check_is_party(A, "force")  # the calculator's check still accepts it
    notice = collaboration.spent_notice(A)
    quote = quote_withdrawal(
        collaboration, force=A, exit_on=LEAVES, quoted_on=LEAVES, notice_on=notice.served_on if notice else None
    )
    assert quote.force == A
    assert quote.notice_on == NOTICE
    h4 = next(line for line in quote.lines if line.head == "H4")
    assert str(h4.amount) == "862500.00"  # 10,000,000 x 0.69 x 0.25 x 6/12


# ------------------------------------------------------------------------ termination
def test_termination_ends_the_agreement():
    collaboration, _ = alliance()
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    [event] = collaboration.collect_events()
    assert isinstance(event, Collaboration.AgreementTerminated)
    assert event.effective_on == date(2020, 3, 31)
    assert collaboration.status == TERMINATED
    assert (collaboration.terminated_on, collaboration.terminated_version) == (
        date(2020, 3, 31),
        event.originator_version,
    )


def test_termination_with_a_live_notice_is_terminated_not_notice_served():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    assert collaboration.status == TERMINATED


def every_command(collaboration: Collaboration, ict: str, later: Provenance | None = None):
    """Every command of the aggregate, each with arguments it would otherwise accept (dated
    ``later``, by default 2021-01-01)."""
    later = later or at(date(2021, 1, 1))
    return [
        (collaboration.join, {"force": C, "provenance": later}),
        (
            collaboration.add_function,
            {"name": "Dogs", "kind": "operational", "host_force": B, "annual_budget": "1", "provenance": later},
        ),
        (
            collaboration.set_function_budget,
            {"function_id": ict, "financial_year": "2020/21", "annual_budget": "5", "provenance": later},
        ),
        (
            collaboration.agree_apportionment,
            {"function_id": ict, "basis": "fixed_ratio", "shares": {A: "0.5", B: "0.5"}, "provenance": later},
        ),
        (
            collaboration.agree_exit_terms,
            {
                "notice_period_months": 6,
                "stranded_cost_rate": "0.1",
                "stranded_cost_months": 3,
                "caps": None,
                "provenance": later,
            },
        ),
        (
            collaboration.register_asset,
            {
                "name": "HQ",
                "cost": "100",
                "acquired_on": date(2019, 1, 1),
                "useful_life_months": 60,
                "funded_shares": {A: "0.5", B: "0.5"},
                "provenance": later,
            },
        ),
        (
            collaboration.commit_contract,
            {
                "supplier": "Acme",
                "function_id": ict,
                "annual_value": "10",
                "ends_on": date(2025, 1, 1),
                "break_cost": "1",
                "provenance": later,
            },
        ),
        (collaboration.hold_review, {"outcome": "fine", "provenance": later}),
        (collaboration.agree_variation, {"clause": "1", "summary": "s", "provenance": later}),
        (collaboration.serve_withdrawal_notice, {"force": B, "provenance": later}),
        (collaboration.withdraw_notice, {"force": A, "provenance": later}),
        (
            collaboration.decouple_function,
            {"function_id": ict, "decided_by": "Board", "rationale": "Why", "provenance": later},
        ),
        (collaboration.give_direction, {"new_exit_on": date(2021, 6, 1), "summary": "longer", "provenance": later}),
        (collaboration.record_withdrawal, {"force": A, "provenance": later}),
        (collaboration.terminate, {"provenance": later}),
    ]


def test_every_command_is_refused_once_the_agreement_is_terminated():
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))  # so every command could succeed
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    collaboration.collect_events()
    commands = every_command(collaboration, ict)
    public = {
        name
        for name, value in vars(Collaboration).items()
        if callable(value) and not name.startswith(("_", "check_")) and name[0].islower()
    }
    queries = {
        "as_of",
        "shares_in_effect",
        "live_notices",
        "live_notice",
        "decoupled_on",
        "exit_terms_in_effect",
        "current_parties",
        "spent_notice",
        "parties_after",
        "parties_on",
        "latest_fact_on",
        "exit_case_opening",
        "remaining_parties",
        "functions_in_order",
        "contracts_in_order",
        "assets_acquired_by",
        "establish",
    }
    assert {command.__name__ for command, _ in commands} == public - queries  # a new command joins this test
    for command, kwargs in commands:
        refused(collaboration, AgreementEnded, command, **kwargs)
    assert collaboration.status == TERMINATED


def test_every_command_would_be_accepted_before_termination():
    """The arguments of ``every_command`` are good: each is refused only because of the end."""
    for index in range(len(every_command(*alliance()))):
        collaboration, ict = alliance()
        collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
        command, kwargs = every_command(collaboration, ict)[index]
        version = collaboration.version
        command(**kwargs)
        assert collaboration.version == version + 1


def test_a_view_as_of_a_day_records_nothing():
    collaboration, _ = alliance()
    view = collaboration.as_of(date(2015, 1, 1))
    with pytest.raises(RuntimeError):
        view.hold_review(outcome="fine", provenance=at(date(2015, 1, 1)))
    assert view.collect_events() == []


# ------------------------------------------------------------------- dates and approvals
def test_every_command_dated_before_the_agreement_was_established_is_refused():
    """The issue's case: a review and a termination effective 2012-03-31 on an agreement
    established 2012-04-01 would read "terminated before established"."""
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.collect_events()
    for command, kwargs in every_command(collaboration, ict, at(START - timedelta(days=1))):
        refused(collaboration, FactBeforeAgreement, command, **kwargs)
    with pytest.raises(FactBeforeAgreement) as raised:
        collaboration.terminate(provenance=at(date(2012, 3, 1)))
    assert raised.value.field == "effective_on" and "2012-04-01" in raised.value.detail
    assert collaboration.terminated_on is None


def test_facts_about_a_function_are_not_dated_before_it_was_added():
    collaboration, _ = alliance()
    dogs = collaboration.add_function(
        name="Dogs", kind="operational", host_force=B, annual_budget="1", provenance=at(date(2016, 1, 1))
    )
    collaboration.collect_events()
    before = at(date(2015, 12, 31))
    refused(
        collaboration,
        FactBeforeFunction,
        collaboration.set_function_budget,
        function_id=dogs,
        financial_year="2015/16",
        annual_budget="2",
        provenance=before,
    )
    refused(
        collaboration,
        FactBeforeFunction,
        collaboration.commit_contract,
        supplier="Kennels",
        function_id=dogs,
        annual_value="1",
        ends_on=date(2020, 1, 1),
        break_cost="1",
        provenance=before,
    )
    refused(
        collaboration,
        FactBeforeFunction,
        collaboration.decouple_function,
        function_id=dogs,
        decided_by="Board",
        rationale="why",
        provenance=before,
    )
    refused(
        collaboration,
        FactBeforeFunction,
        collaboration.register_asset,
        name="Van",
        cost="1",
        acquired_on=date(2015, 1, 1),
        useful_life_months=12,
        funded_shares={A: "1"},
        function_id=dogs,
        provenance=before,
    )
    collaboration.set_function_budget(
        function_id=dogs, financial_year="2016/17", annual_budget="2", provenance=at(date(2016, 1, 1))
    )


def test_facts_naming_a_party_are_not_dated_before_it_joined():
    collaboration, _ = alliance()
    collaboration.join(C, at(date(2016, 1, 1)))
    collaboration.collect_events()
    before = at(date(2015, 6, 1))
    refused(collaboration, FactBeforeParty, collaboration.serve_withdrawal_notice, force=C, provenance=before)
    refused(
        collaboration,
        FactBeforeParty,
        collaboration.agree_apportionment,
        function_id=None,
        basis="usage",
        shares={A: "0.5", B: "0.3", C: "0.2"},
        provenance=before,
    )
    refused(
        collaboration,
        FactBeforeParty,
        collaboration.add_function,
        name="Dogs",
        kind="operational",
        host_force=C,
        annual_budget="1",
        provenance=before,
    )
    collaboration.serve_withdrawal_notice(force=C, provenance=at(date(2016, 1, 1)))


@pytest.mark.parametrize(
    "command",
    [
        lambda c, ict, p: c.give_direction(new_exit_on=date(2020, 1, 1), summary="longer", provenance=p),
        lambda c, ict, p: c.decouple_function(function_id=ict, decided_by="Board", rationale="why", provenance=p),
        lambda c, ict, p: c.terminate(provenance=p),
    ],
    ids=["direction", "decoupling", "termination"],
)
def test_acts_no_party_owns_are_recorded_only_with_an_approval_reference(command):
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.collect_events()
    unapproved = Provenance(date(2019, 6, 1), "tester (admin)", "agreed", "minute 7", "  ")
    with pytest.raises(ApprovalRequired) as raised:
        command(collaboration, ict, unapproved)
    assert raised.value.field == "approval_ref"
    assert collaboration.collect_events() == []
    command(collaboration, ict, at(date(2019, 6, 1)))
    assert collaboration.collect_events()[0].approval_ref == "BOARD-1"


def test_the_end_of_the_agreement_is_not_dated_before_any_fact_of_it():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.collect_events()
    refused(collaboration, EndedBeforeLastFact, collaboration.terminate, provenance=at(date(2015, 1, 1)))
    collaboration.terminate(provenance=at(NOTICE))  # the same day as the latest fact is fine
    assert collaboration.terminated_on == NOTICE


def test_a_direction_does_not_take_effect_before_the_notice_it_moves():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.collect_events()
    refused(
        collaboration,
        InvalidDirection,
        collaboration.give_direction,
        new_exit_on=date(2020, 1, 1),
        summary="before the notice",
        provenance=at(date(2018, 6, 1)),
    )
