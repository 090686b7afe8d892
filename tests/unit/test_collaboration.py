"""Every rule of the Collaboration aggregate: a refused command raises the named error and
records nothing."""

from datetime import date
from decimal import Decimal

import pytest

from domain.collaboration import Collaboration
from domain.errors import (
    DomainError,
    DuplicateFunction,
    DuplicateParty,
    InvalidApportionmentBasis,
    InvalidAsset,
    InvalidExitTerms,
    InvalidFunctionKind,
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
    version = collaboration.version
    with pytest.raises(error):
        command()
    assert collaboration.version == version
    assert collaboration.collect_events() == []


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
