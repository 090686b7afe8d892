"""Every rule of the Collaboration aggregate: a refused command raises the named error and
records nothing."""

from datetime import date
from decimal import Decimal

import pytest

from domain.collaboration import Collaboration
from domain.errors import (
    AmountTooLarge,
    DomainError,
    DuplicateFunction,
    DuplicateParty,
    FactBeforeAgreement,
    FactBeforeFunction,
    FactBeforeParty,
    InvalidApportionmentBasis,
    InvalidAsset,
    InvalidExitTerms,
    InvalidFunctionKind,
    InvalidReviewCycle,
    InvalidText,
    LeadForceNotAParty,
    NegativeAmount,
    PartyNotInCollaboration,
    RequiredText,
    SharesDoNotSumToOne,
    TooFewParties,
    UnknownForce,
    UnknownFunction,
)
from domain.values import Money, Provenance
from tests.unit.refusals import assert_refused

WHEN = Provenance(date(2012, 3, 1), "tester (admin)", "agreed at the board", "minute 12/3", "WTB-2012-03")


def alliance() -> Collaboration:
    collaboration = Collaboration.establish(
        name="Strategic Alliance",
        purpose="Shared services",
        parties=["west-mercia", "warwickshire"],
        lead_force="west-mercia",
        governance_body="Alliance Governance Group",
        review_cycle_months=12,
        provenance=WHEN,
    )
    collaboration.collect_events()
    return collaboration


def with_ict(collaboration: Collaboration) -> str:
    function_id = collaboration.add_function(
        name="Alliance ICT", kind="enabling", host_force="warwickshire", annual_budget="10000000", provenance=WHEN
    )
    collaboration.collect_events()
    return function_id


def test_establishing_records_every_fact_with_its_provenance():
    collaboration = Collaboration.establish(
        name="Strategic Alliance",
        purpose="Shared services",
        parties=["west-mercia", "warwickshire"],
        lead_force="west-mercia",
        provenance=WHEN,
    )
    [established] = collaboration.collect_events()
    assert isinstance(established, Collaboration.Established)
    assert (established.effective_on, established.actor, established.reason) == (
        date(2012, 3, 1),
        "tester (admin)",
        "agreed at the board",
    )
    assert established.evidence == "minute 12/3"
    assert established.approval_ref == "WTB-2012-03"
    assert collaboration.parties == ["west-mercia", "warwickshire"]
    assert collaboration.status == "active"


@pytest.mark.parametrize(
    ("parties", "lead", "error"),
    [
        (["west-mercia"], "west-mercia", TooFewParties),
        (["west-mercia", "west-mercia"], "west-mercia", DuplicateParty),
        (["west-mercia", "warwickshire"], "dorset", LeadForceNotAParty),
        (["west-mercia", "atlantis"], "west-mercia", UnknownForce),
    ],
)
def test_establishing_refuses_bad_parties(parties, lead, error):
    with pytest.raises(error):
        Collaboration.establish(name="X", purpose="Y", parties=parties, lead_force=lead, provenance=WHEN)


def test_establishing_needs_a_name_and_purpose():
    with pytest.raises(RequiredText):
        Collaboration.establish(
            name=" ", purpose="Y", parties=["dorset", "devon-cornwall"], lead_force="dorset", provenance=WHEN
        )


def refused(collaboration: Collaboration, command, error: type[DomainError]) -> None:
    assert_refused(collaboration, error, command)


def test_no_duplicate_party():
    collaboration = alliance()
    refused(collaboration, lambda: collaboration.join("warwickshire", WHEN), DuplicateParty)
    collaboration.join("dorset", WHEN)
    assert collaboration.parties[-1] == "dorset"
    assert collaboration.joined_on["dorset"] == WHEN.effective_on


def test_function_host_must_be_a_party_and_budget_non_negative():
    collaboration = alliance()
    refused(
        collaboration,
        lambda: collaboration.add_function(
            name="Dogs", kind="operational", host_force="dorset", annual_budget="1", provenance=WHEN
        ),
        PartyNotInCollaboration,
    )
    refused(
        collaboration,
        lambda: collaboration.add_function(
            name="Dogs", kind="operational", host_force="warwickshire", annual_budget="-1", provenance=WHEN
        ),
        NegativeAmount,
    )
    refused(
        collaboration,
        lambda: collaboration.add_function(
            name="Dogs", kind="tactical", host_force="warwickshire", annual_budget="1", provenance=WHEN
        ),
        InvalidFunctionKind,
    )
    with_ict(collaboration)
    refused(
        collaboration,
        lambda: collaboration.add_function(
            name="alliance ict", kind="enabling", host_force="warwickshire", annual_budget="1", provenance=WHEN
        ),
        DuplicateFunction,
    )


def test_budget_in_effect_follows_financial_years():
    collaboration = alliance()
    ict = with_ict(collaboration)
    collaboration.set_function_budget(
        function_id=ict, financial_year="2018/19", annual_budget="11000000", provenance=WHEN
    )
    collaboration.set_function_budget(
        function_id=ict, financial_year="2020/21", annual_budget="9000000", provenance=WHEN
    )
    function = collaboration.functions[ict]
    assert function.budget_in_effect(date(2017, 6, 1))[0] == Money(Decimal("10000000.00"))  # initial
    assert function.budget_in_effect(date(2019, 3, 31))[0] == Money(Decimal("11000000.00"))
    assert function.budget_in_effect(date(2019, 10, 9))[0] == Money(Decimal("11000000.00"))  # latest earlier
    assert function.budget_in_effect(date(2021, 3, 31))[0] == Money(Decimal("9000000.00"))
    collaboration.collect_events()
    refused(
        collaboration,
        lambda: collaboration.set_function_budget(
            function_id="nope", financial_year="2019/20", annual_budget="1", provenance=WHEN
        ),
        UnknownFunction,
    )
    refused(
        collaboration,
        lambda: collaboration.set_function_budget(
            function_id=ict, financial_year="2019/20", annual_budget="-1", provenance=WHEN
        ),
        NegativeAmount,
    )


def test_apportionment_shares_only_for_parties_and_sum_to_one():
    collaboration = alliance()
    ict = with_ict(collaboration)
    refused(
        collaboration,
        lambda: collaboration.agree_apportionment(
            function_id=None, basis="fixed_ratio", shares={"west-mercia": "0.69", "dorset": "0.31"}, provenance=WHEN
        ),
        PartyNotInCollaboration,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_apportionment(
            function_id=None,
            basis="fixed_ratio",
            shares={"west-mercia": "0.69", "warwickshire": "0.30"},
            provenance=WHEN,
        ),
        SharesDoNotSumToOne,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_apportionment(
            function_id=None, basis="guesswork", shares={"west-mercia": "1"}, provenance=WHEN
        ),
        InvalidApportionmentBasis,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_apportionment(
            function_id="missing", basis="usage", shares={"west-mercia": "1"}, provenance=WHEN
        ),
        UnknownFunction,
    )
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={"west-mercia": "0.69", "warwickshire": "0.31"}, provenance=WHEN
    )
    later = Provenance(date(2016, 4, 1), "tester (admin)", "usage review")
    collaboration.agree_apportionment(
        function_id=ict, basis="usage", shares={"west-mercia": "0.6", "warwickshire": "0.4"}, provenance=later
    )
    assert collaboration.shares_in_effect(ict, date(2015, 1, 1)).shares["west-mercia"].value == Decimal("0.69")
    assert collaboration.shares_in_effect(ict, date(2016, 4, 1)).shares["west-mercia"].value == Decimal("0.6")
    assert collaboration.shares_in_effect(ict, date(2011, 1, 1)) is None


def test_exit_terms_rules():
    collaboration = alliance()
    refused(
        collaboration,
        lambda: collaboration.agree_exit_terms(
            notice_period_months=-1, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=WHEN
        ),
        InvalidExitTerms,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_exit_terms(
            notice_period_months=12, stranded_cost_rate="1.5", stranded_cost_months=6, caps=None, provenance=WHEN
        ),
        InvalidExitTerms,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_exit_terms(
            notice_period_months=12,
            stranded_cost_rate="0.25",
            stranded_cost_months=6,
            caps={"H9": "1"},
            provenance=WHEN,
        ),
        InvalidExitTerms,
    )
    refused(
        collaboration,
        lambda: collaboration.agree_exit_terms(
            notice_period_months=12,
            stranded_cost_rate="0.25",
            stranded_cost_months=6,
            caps={"H1": "-1"},
            provenance=WHEN,
        ),
        NegativeAmount,
    )
    collaboration.agree_exit_terms(
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps={"H6": "500000"},
        provenance=WHEN,
    )
    terms = collaboration.exit_terms_in_effect(date(2018, 10, 9))
    assert terms.notice_period_months == 12
    assert terms.caps["H6"] == Money(Decimal("500000.00"))


def test_asset_rules():
    collaboration = alliance()

    def register(**overrides):
        arguments = {
            "name": "Shared data centre",
            "cost": "3000000",
            "acquired_on": date(2016, 4, 1),
            "useful_life_months": 60,
            "funded_shares": {"west-mercia": "0.69", "warwickshire": "0.31"},
            "provenance": WHEN,
        } | overrides
        return lambda: collaboration.register_asset(**arguments)

    refused(collaboration, register(useful_life_months=0), InvalidAsset)
    refused(collaboration, register(cost="-1"), NegativeAmount)
    refused(collaboration, register(funded_shares={"west-mercia": "0.5", "warwickshire": "0.4"}), SharesDoNotSumToOne)
    refused(collaboration, register(funded_shares={"west-mercia": "0.5", "kent": "0.5"}), PartyNotInCollaboration)
    asset_id = register()()
    assert collaboration.assets[asset_id].cost == Money(Decimal("3000000.00"))


def test_contract_rules():
    collaboration = alliance()
    ict = with_ict(collaboration)

    def commit(**overrides):
        arguments = {
            "supplier": "Acme ICT",
            "function_id": ict,
            "annual_value": "250000",
            "ends_on": date(2021, 3, 31),
            "break_cost": "400000",
            "provenance": WHEN,
        } | overrides
        return lambda: collaboration.commit_contract(**arguments)

    refused(collaboration, commit(function_id="nope"), UnknownFunction)
    refused(collaboration, commit(break_cost="-1"), NegativeAmount)
    refused(collaboration, commit(supplier=""), RequiredText)
    contract_id = commit()()
    assert collaboration.contracts[contract_id].break_cost == Money(Decimal("400000.00"))


def test_reviews_and_variations_need_their_text():
    collaboration = alliance()
    refused(collaboration, lambda: collaboration.hold_review(outcome="", provenance=WHEN), RequiredText)
    refused(collaboration, lambda: collaboration.agree_variation(clause="", summary="x", provenance=WHEN), RequiredText)
    collaboration.hold_review(outcome="continue", provenance=WHEN)
    collaboration.agree_variation(clause="7.2", summary="notice 12 months", provenance=WHEN)
    assert [type(e).__name__ for e in collaboration.collect_events()] == ["ReviewHeld", "VariationAgreed"]


# ------------------------------------------------------------------------- bounded counts
def establish(**overrides):
    arguments = {
        "name": "Strategic Alliance",
        "purpose": "Shared services",
        "parties": ["west-mercia", "warwickshire"],
        "lead_force": "west-mercia",
        "provenance": WHEN,
    } | overrides
    return Collaboration.establish(**arguments)


@pytest.mark.parametrize("months", [0, 601, -1, 10**20, 2**31, True, 12.0, "12"])
def test_a_review_cycle_is_from_1_to_600_months(months):
    with pytest.raises(InvalidReviewCycle) as refused_:
        establish(review_cycle_months=months)
    assert refused_.value.field == "review_cycle_months"


@pytest.mark.parametrize("months", [1, 600, None])
def test_review_cycles_at_the_bounds_are_recorded(months):
    assert establish(review_cycle_months=months).review_cycle_months == months


@pytest.mark.parametrize("field", ["notice_period_months", "stranded_cost_months"])
@pytest.mark.parametrize("months", [-1, 1201, 10**40, True])
def test_exit_terms_periods_are_from_0_to_1200_months(field, months):
    collaboration = alliance()
    arguments = {"notice_period_months": 12, "stranded_cost_rate": "0.25", "stranded_cost_months": 6, field: months}
    agree = collaboration.agree_exit_terms
    refused(collaboration, lambda: agree(caps=None, provenance=WHEN, **arguments), InvalidExitTerms)
    for bound in (0, 1200):
        collaboration.agree_exit_terms(caps=None, provenance=WHEN, **{**arguments, field: bound})
    assert [getattr(terms, field) for terms in collaboration.exit_terms] == [0, 1200]


@pytest.mark.parametrize("months", [0, 1201, 10**40, False])
def test_a_useful_life_is_from_1_to_1200_months(months):
    collaboration = alliance()

    def register(useful_life_months):
        return collaboration.register_asset(
            name="HQ",
            cost="1",
            acquired_on=date(2016, 4, 1),
            useful_life_months=useful_life_months,
            funded_shares={"west-mercia": "1"},
            provenance=WHEN,
        )

    refused(collaboration, lambda: register(months), InvalidAsset)
    assert [collaboration.assets[register(bound)].useful_life_months for bound in (1, 1200)] == [1, 1200]


def test_amounts_beyond_a_quadrillion_pounds_are_refused_by_name():
    collaboration = alliance()
    refused(
        collaboration,
        lambda: collaboration.add_function(
            name="ICT", kind="enabling", host_force="warwickshire", annual_budget="1" + "0" * 26, provenance=WHEN
        ),
        AmountTooLarge,
    )


# ------------------------------------------------------------------------------------ text
def commands(collaboration: Collaboration, ict: str, field: str, text: str):
    """Each command with ``text`` in its text field ``field``."""
    return {
        "name": lambda: establish(name=text),
        "purpose": lambda: establish(purpose=text),
        "governance_body": lambda: establish(governance_body=text),
        "function name": lambda: collaboration.add_function(
            name=text, kind="enabling", host_force="warwickshire", annual_budget="1", provenance=WHEN
        ),
        "asset name": lambda: collaboration.register_asset(
            name=text,
            cost="1",
            acquired_on=date(2016, 4, 1),
            useful_life_months=60,
            funded_shares={"west-mercia": "1"},
            provenance=WHEN,
        ),
        "supplier": lambda: collaboration.commit_contract(
            supplier=text,
            function_id=ict,
            annual_value="1",
            ends_on=date(2021, 3, 31),
            break_cost="1",
            provenance=WHEN,
        ),
        "outcome": lambda: collaboration.hold_review(outcome=text, provenance=WHEN),
        "clause": lambda: collaboration.agree_variation(clause=text, summary="s", provenance=WHEN),
        "summary": lambda: collaboration.agree_variation(clause="7.2", summary=text, provenance=WHEN),
    }[field]


TEXT_LIMITS = {
    "name": 200,
    "purpose": 10_000,
    "governance_body": 200,
    "function name": 200,
    "asset name": 200,
    "supplier": 200,
    "outcome": 10_000,
    "clause": 500,
    "summary": 10_000,
}


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "bell\x07", "x" * 10_001])
@pytest.mark.parametrize("field", TEXT_LIMITS)
def test_every_text_the_aggregate_records_obeys_the_text_rule(field, text):
    collaboration = alliance()
    ict = with_ict(collaboration)
    refused(collaboration, commands(collaboration, ict, field, text), InvalidText)


@pytest.mark.parametrize("field", TEXT_LIMITS)
def test_every_text_the_aggregate_records_has_its_length_limit(field):
    collaboration = alliance()
    ict = with_ict(collaboration)
    limit = TEXT_LIMITS[field]
    refused(collaboration, commands(collaboration, ict, field, "x" * (limit + 1)), InvalidText)
    commands(collaboration, ict, field, "x" * limit)()


def test_blank_governance_body_is_recorded_as_none_and_text_is_trimmed():
    collaboration = establish(name="  Alliance ", governance_body=" \t ")
    [established] = collaboration.collect_events()
    assert (established.name, established.governance_body) == ("Alliance", None)


def test_a_benefit_is_identified_in_the_term_of_a_function_then_attributed_to_parties_joined_by_then():
    collaboration = alliance()
    function_id = with_ict(collaboration)
    joined = Provenance(date(2014, 1, 1), "tester (admin)", "joined", None, None)
    collaboration.join("dorset", joined)
    collaboration.collect_events()
    attribution = {"west-mercia": "0.5", "dorset": "0.5"}
    collaboration.check_benefit_identification(day=date(2014, 1, 1), function_id=function_id, attribution=attribution)
    collaboration.check_benefit_identification(day=date(2012, 3, 1), function_id=None, attribution=None)
    refusals = [
        ({"day": date(2012, 2, 29)}, FactBeforeAgreement, "effective_on"),
        ({"function_id": "no-such-function"}, UnknownFunction, "function_id"),
        ({"day": date(2013, 1, 1), "attribution": attribution}, FactBeforeParty, "attribution.dorset"),
        ({"attribution": {"kent": "1"}}, PartyNotInCollaboration, "attribution.kent"),
    ]
    for overrides, error, field in refusals:
        arguments = {"day": date(2014, 1, 1), "function_id": None, "attribution": None, **overrides}
        with pytest.raises(error) as refused:
            collaboration.check_benefit_identification(**arguments)
        assert refused.value.field == field
    later_function = collaboration.add_function(
        name="Alliance HR", kind="enabling", host_force="warwickshire", annual_budget="1", provenance=joined
    )
    with pytest.raises(FactBeforeFunction):
        collaboration.check_benefit_identification(day=date(2013, 1, 1), function_id=later_function, attribution=None)
