"""What a mutual decoupling costs each party: every head for the function as a whole, shared by
the function's ratio; claims between the parties; net positions that add up exactly."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.collaboration import Collaboration
from domain.decoupling_costs import decoupling_costs
from domain.errors import DecidedAfterEffect, FactBeforeAgreement, UnknownFunction
from domain.exit_costs import AgreementHasEnded, Claim, ExitBeforeNotice
from domain.values import Money, Provenance
from tests.unit.test_exit_cost_parties import shares

DORSET, DC = "dorset", "devon-cornwall"
START = date(2015, 3, 1)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "Working Together Board", approval_ref="WTB-1")


def alliance(shares: dict[str, str] | None = None, caps: dict[str, str] | None = None) -> tuple[Collaboration, str]:
    """Dorset and Devon & Cornwall share Prevention (1,200,000 a year) 35/65; 12 months' notice,
    stranded costs 0.25 for 6 months; a contract with a 100,000 break cost; vans of 300,000
    bought 2016-04-01 for 60 months, funded half each."""
    collaboration = Collaboration.establish(
        name="Strategic Alliance", purpose="p", parties=[DORSET, DC], lead_force=DORSET, provenance=at(START)
    )
    prevention = collaboration.add_function(
        name="Prevention", kind="operational", host_force=DORSET, annual_budget="1200000", provenance=at(START)
    )
    collaboration.agree_apportionment(
        function_id=None,
        basis="net_revenue_budget",
        shares=shares or {DORSET: "0.35", DC: "0.65"},
        provenance=at(START),
    )
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=caps, provenance=at(START)
    )
    collaboration.commit_contract(
        supplier="Schools programme Ltd",
        function_id=prevention,
        annual_value="50000",
        ends_on=date(2022, 3, 31),
        break_cost="100000",
        provenance=at(date(2016, 1, 1)),
    )
    collaboration.register_asset(
        name="Vans",
        cost="300000",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={DORSET: "0.5", DC: "0.5"},
        function_id=prevention,
        provenance=at(date(2016, 4, 1)),
    )
    collaboration.register_asset(  # the agreement's own: not split by one function's decoupling
        name="HQ",
        cost="900000",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={DORSET: "0.5", DC: "0.5"},
        provenance=at(date(2016, 4, 1)),
    )
    return collaboration, prevention


def shares_of(line) -> dict[str, str]:
    return {share.force: str(share.amount) for share in line.payees}


def by_head(statement) -> dict[str, object]:
    return {line.head: line for line in statement.lines}


def test_each_head_is_the_function_s_and_is_shared_by_its_ratio():
    collaboration, prevention = alliance()
    collaboration.decouple_function(
        function_id=prevention,
        decided_by="Working Together Board",
        rationale="differing priorities",
        decided_on=date(2018, 10, 1),
        provenance=at(date(2019, 4, 1)),
    )
    statement = decoupling_costs(collaboration, function_id=prevention, on=date(2020, 1, 1))
    heads = by_head(statement)
    # H1: decided 2018-10-01, notice end 2019-10-01, out on 2019-04-01: 183 days of 1,200,000
    assert str(heads["H1"].amount) == "601643.84"
    assert shares_of(heads["H1"]) == {DORSET: "210575.34", DC: "391068.50"}
    assert str(heads["H4"].amount) == "150000.00" and shares_of(heads["H4"]) == {DORSET: "52500.00", DC: "97500.00"}
    assert str(heads["H5"].amount) == "100000.00" and shares_of(heads["H5"]) == {DORSET: "35000.00", DC: "65000.00"}
    # H7: only the function's vans (36 of 60 months used: NBV 120,000), by their funding shares
    assert str(heads["H7"].amount) == "-120000.00" and shares_of(heads["H7"]) == {DORSET: "-60000.00", DC: "-60000.00"}
    assert "NBV(HQ)" not in heads["H7"].inputs
    assert statement.total == Money(Decimal("731643.84"))
    assert [(p.force, str(p.net)) for p in statement.positions] == [(DORSET, "238075.34"), (DC, "493568.50")]
    assert statement.decoupled and statement.decided
    decoupling_version = collaboration.functions[prevention].decoupling.version
    assert (statement.notice_version, statement.exit_version) == (decoupling_version, decoupling_version)
    assert heads["H1"].source_versions["N"] == decoupling_version


def test_without_a_decision_date_there_is_no_notice_shortfall_and_ratios_are_those_on_e():
    collaboration, prevention = alliance()
    collaboration.agree_apportionment(
        function_id=prevention, basis="usage", shares={DORSET: "0.4", DC: "0.6"}, provenance=at(date(2019, 4, 1))
    )
    collaboration.decouple_function(
        function_id=prevention, decided_by="WTB", rationale="why", provenance=at(date(2019, 4, 1))
    )
    statement = decoupling_costs(collaboration, function_id=prevention, on=date(2020, 1, 1))
    heads = by_head(statement)
    assert str(heads["H1"].amount) == "0.00" and "no decision date" in heads["H1"].formula
    assert shares_of(heads["H4"]) == {DORSET: "60000.00", DC: "90000.00"}
    assert "no decision date" in statement.basis["N"]


def test_claims_move_money_between_the_parties_and_add_nothing_to_the_total():
    collaboration, prevention = alliance()
    collaboration.decouple_function(
        function_id=prevention, decided_by="WTB", rationale="why", provenance=at(date(2019, 4, 1))
    )
    claims = [
        Claim("H6", "8000.00", "ICT transition", DORSET, DC, version=2, source_id="case"),
        Claim("H3", "12000.00", "redundancy", DC, DORSET, version=3, source_id="case"),
        Claim("H3", "-2000.00", "redeployed", DC, DORSET, version=3, source_id="case"),
    ]
    plain = decoupling_costs(collaboration, function_id=prevention, on=date(2020, 1, 1))
    statement = decoupling_costs(collaboration, function_id=prevention, on=date(2020, 1, 1), claims=claims)
    assert statement.total == plain.total
    assert [(t.head, str(t.amount), t.payer, t.payee) for t in statement.transfers] == [
        ("H6", "8000.00", DC, DORSET),
        ("H3", "12000.00", DORSET, DC),
        ("H3", "-2000.00", DORSET, DC),
    ]
    dorset, dc = statement.positions
    assert (str(dorset.claims_paid), str(dorset.claims_received)) == ("10000.00", "8000.00")
    assert dorset.net.amount == plain.positions[0].net.amount + Decimal("2000.00")
    assert dc.net.amount == plain.positions[1].net.amount - Decimal("2000.00")
    assert sum(p.net.amount for p in statement.positions) == statement.total.amount


def test_a_cap_limits_a_computed_head_and_what_one_party_pays_under_claims():
    collaboration, prevention = alliance(caps={"H4": "100000", "H3": "5000"})
    collaboration.decouple_function(
        function_id=prevention, decided_by="WTB", rationale="why", provenance=at(date(2019, 4, 1))
    )
    claims = [Claim("H3", "6000.00", "redundancy", DC, DORSET), Claim("H3", "3000.00", "strain", DORSET, DC)]
    statement = decoupling_costs(collaboration, function_id=prevention, on=date(2020, 1, 1), claims=claims)
    h4 = by_head(statement)["H4"]
    assert str(h4.amount) == "100000.00" and shares_of(h4) == {DORSET: "35000.00", DC: "65000.00"}
    assert [(t.head, str(t.amount), t.payer, t.payee) for t in statement.transfers][-1] == (
        "H3",
        "-1000.00",
        DORSET,
        DC,
    )  # dorset pays 6,000 on H3 against a cap of 5,000; dc's 3,000 is under it


def test_a_proposed_decoupling_is_quoted_on_the_quote_date():
    collaboration, prevention = alliance()
    statement = decoupling_costs(collaboration, function_id=prevention, on=date(2019, 1, 1), exit_on=date(2019, 7, 1))
    assert not statement.decoupled
    assert (statement.notice_on, statement.exit_on) == (date(2019, 1, 1), date(2019, 7, 1))
    assert str(by_head(statement)["H1"].amount) == "604931.51"  # 184 days of 1,200,000
    default = decoupling_costs(collaboration, function_id=prevention, on=date(2019, 1, 1))
    assert default.exit_on == date(2020, 1, 1) and str(by_head(default)["H1"].amount) == "0.00"
    with pytest.raises(ExitBeforeNotice):
        decoupling_costs(collaboration, function_id=prevention, on=date(2019, 1, 1), exit_on=date(2018, 12, 31))
    with pytest.raises(UnknownFunction):
        decoupling_costs(collaboration, function_id="no-such-function", on=date(2019, 1, 1))
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    with pytest.raises(AgreementHasEnded):
        decoupling_costs(collaboration, function_id=prevention, on=date(2021, 1, 1))


def test_a_decision_date_is_within_the_term_and_not_after_the_decoupling():
    collaboration, prevention = alliance()
    for decided_on, error in ((date(2019, 4, 2), DecidedAfterEffect), (date(2015, 2, 1), FactBeforeAgreement)):
        with pytest.raises(error) as raised:
            collaboration.decouple_function(
                function_id=prevention,
                decided_by="WTB",
                rationale="why",
                decided_on=decided_on,
                provenance=at(date(2019, 4, 1)),
            )
        assert raised.value.field == "decided_on"
    assert collaboration.functions[prevention].decoupling is None


FORCES = ("dorset", "devon-cornwall", "avon-somerset", "wiltshire", "gloucestershire")


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_shares_add_up_exactly_to_every_head_and_the_nets_to_the_total(data):
    parties = FORCES[: data.draw(st.integers(2, 5))]
    collaboration = Collaboration.establish(
        name="Random", purpose="p", parties=list(parties), lead_force=parties[0], provenance=at(START)
    )
    function = collaboration.add_function(
        name="F",
        kind="enabling",
        host_force=data.draw(st.sampled_from(parties)),
        annual_budget=str(Decimal(data.draw(st.integers(0, 10**11))) / 100),
        provenance=at(START),
    )
    collaboration.agree_apportionment(
        function_id=function, basis="usage", shares=data.draw(shares(parties)), provenance=at(START)
    )
    cap = data.draw(st.none() | st.integers(0, 10**9))
    collaboration.agree_exit_terms(
        notice_period_months=data.draw(st.integers(0, 24)),
        stranded_cost_rate=str(Decimal(data.draw(st.integers(0, 100))) / 100),
        stranded_cost_months=data.draw(st.integers(0, 24)),
        caps={"H4": str(Decimal(cap) / 100), "H2": str(Decimal(cap) / 100)} if cap is not None else None,
        provenance=at(START),
    )
    for index in range(data.draw(st.integers(0, 3))):
        collaboration.register_asset(
            name=f"A{index}",
            cost=str(Decimal(data.draw(st.integers(0, 10**10))) / 100),
            acquired_on=START,
            useful_life_months=data.draw(st.integers(1, 120)),
            funded_shares=data.draw(shares(parties)),
            function_id=function,
            provenance=at(START),
        )
        collaboration.commit_contract(
            supplier=f"S{index}",
            function_id=function,
            annual_value="1",
            ends_on=date(2030, 1, 1),
            break_cost=str(Decimal(data.draw(st.integers(0, 10**9))) / 100),
            provenance=at(START),
        )
    decided = data.draw(st.dates(min_value=START, max_value=date(2019, 1, 1)))
    effective = data.draw(st.dates(min_value=decided, max_value=date(2021, 1, 1)))
    collaboration.decouple_function(
        function_id=function, decided_by="Board", rationale="why", decided_on=decided, provenance=at(effective)
    )
    claims = [
        Claim("H2", str(Decimal(amount) / 100), "claim", claimant, respondent)
        for amount, claimant, respondent in data.draw(
            st.lists(
                st.tuples(st.integers(-(10**8), 10**9), st.sampled_from(parties), st.sampled_from(parties)).filter(
                    lambda claim: claim[1] != claim[2]
                ),
                max_size=5,
            )
        )
    ]
    statement = decoupling_costs(collaboration, function_id=function, on=date(2021, 6, 1), claims=claims)
    for line in statement.lines:
        assert sum(share.amount.amount for share in line.payees) == line.amount.amount
    for head in {line.head for line in statement.lines}:
        line_total = sum(line.amount.amount for line in statement.lines if line.head == head)
        assert sum(p.by_head.get(head, Money(Decimal(0))).amount for p in statement.positions) == line_total
    assert sum(p.net.amount for p in statement.positions) == statement.total.amount
    assert sum(p.claims_paid.amount for p in statement.positions) == sum(
        p.claims_received.amount for p in statement.positions
    )
