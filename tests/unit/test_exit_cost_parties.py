"""Exit figures party by party: which claims enter a quote, where N and E come from, what an
ended agreement quotes, and who receives each line (summing exactly)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.collaboration import Collaboration
from domain.exit_costs import AgreementHasEnded, Claim, quote_for_force, quote_withdrawal
from domain.values import Money, Provenance

ESSEX, KENT, SUSSEX = "essex", "kent", "sussex"
START = date(2015, 4, 1)
NOTICE = date(2019, 1, 10)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board", approval_ref="BOARD-1")


def three_forces(ict: dict[str, str] | None = None, dogs: dict[str, str] | None = None) -> tuple[Collaboration, dict]:
    """Essex, Kent and Sussex share ICT (1,000,000) and Dogs (400,000), each with its own ratio;
    12 months' notice, stranded costs 0.25 for 6 months."""
    collaboration = Collaboration.establish(
        name="Eastern ICT", purpose="Shared ICT", parties=[ESSEX, KENT, SUSSEX], lead_force=ESSEX, provenance=at(START)
    )
    ids = {
        "ict": collaboration.add_function(
            name="ICT", kind="enabling", host_force=KENT, annual_budget="1000000", provenance=at(START)
        ),
        "dogs": collaboration.add_function(
            name="Dogs", kind="operational", host_force=SUSSEX, annual_budget="400000", provenance=at(START)
        ),
    }
    for key, shares in (("ict", ict or {ESSEX: "0.5", KENT: "0.3", SUSSEX: "0.2"}), ("dogs", dogs)):
        if shares is not None:
            collaboration.agree_apportionment(
                function_id=ids[key], basis="fixed_ratio", shares=shares, provenance=at(START)
            )
    if dogs is None:
        collaboration.agree_apportionment(
            function_id=None,
            basis="fixed_ratio",
            shares={ESSEX: "0.2", KENT: "0.2", SUSSEX: "0.6"},
            provenance=at(START),
        )
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=at(START)
    )
    return collaboration, ids


def payees_of(line) -> dict[str, str]:
    return {payee.force: str(payee.amount) for payee in line.payees}


def line_on(quote, head):
    (line,) = [line for line in quote.lines if line.head == head]
    return line


# ---------------------------------------------------------------------------- claims by party
def test_a_claim_enters_the_quote_by_who_it_is_between():
    """The issue's case: of kent→essex H2 10,000, kent→sussex H6 4,000 and essex→sussex H3 7,000,
    essex pays kent 10,000, is owed 7,000 by sussex, and the claim between kent and sussex is
    not essex's money."""
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    claims = [
        Claim("H2", "10000.00", "re-establishing the help desk", KENT, ESSEX, version=3, source_id="case"),
        Claim("H6", "4000.00", "ICT separation", KENT, SUSSEX, version=4, source_id="case"),
        Claim("H3", "7000.00", "redundancy", ESSEX, SUSSEX, version=5, source_id="case"),
    ]
    quote = quote_for_force(collaboration, force=ESSEX, on=NOTICE, claims=claims)
    claimed = [line for line in quote.lines if line.head in ("H2", "H3", "H6", "H8")]
    assert [(line.head, str(line.amount)) for line in claimed] == [("H2", "10000.00"), ("H3", "-7000.00")]
    h2, h3 = claimed
    assert payees_of(h2) == {KENT: "10000.00"}
    assert payees_of(h3) == {SUSSEX: "-7000.00"}  # sussex pays essex
    assert "credit" in h3.formula
    assert h3.inputs["claimant"] == ESSEX and h3.inputs["respondent"] == SUSSEX
    assert h3.source_versions["claimant"] == 5 and h3.source_id == "case"
    computed = sum((line.amount.amount for line in quote.lines if line.head in ("H1", "H4", "H5", "H7")), Decimal(0))
    assert quote.total == Money(computed + Decimal("3000.00"))


def test_a_mitigation_of_a_claim_by_the_withdrawing_force_reduces_its_credit():
    collaboration, _ = three_forces()
    claims = [
        Claim("H3", "7000.00", "redundancy", ESSEX, SUSSEX),
        Claim("H3", "-1000.00", "redeployed", ESSEX, SUSSEX),
    ]
    quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=date(2020, 1, 10), quoted_on=NOTICE, claims=claims)
    assert [str(line.amount) for line in quote.lines if line.head == "H3"] == ["-7000.00", "1000.00"]


# --------------------------------------------------------------------------------- N and E
def sources(quote) -> tuple[int | None, int | None]:
    return quote.notice_version, quote.exit_version


def test_n_and_e_name_the_notice_that_set_them():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    notice = collaboration.version
    quote = quote_for_force(collaboration, force=ESSEX, on=date(2019, 6, 1))
    assert sources(quote) == (notice, notice)
    h1 = line_on(quote, "H1")
    assert h1.source_versions["N"] == notice and h1.source_versions["E"] == notice
    assert h1.derived["notice_end"] == ("N", "notice_period_months")
    assert line_on(quote, "H5").source_versions["E"] == notice
    assert "notice" in quote.basis["N"] and "earliest" in quote.basis["E"]


def test_e_names_the_direction_in_effect_that_moved_it():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    notice = collaboration.version
    collaboration.give_direction(new_exit_on=date(2020, 7, 10), summary="six months", provenance=at(date(2019, 10, 1)))
    direction = collaboration.version
    quote = quote_for_force(collaboration, force=ESSEX, on=date(2019, 11, 1))
    assert (quote.exit_on, sources(quote)) == (date(2020, 7, 10), (notice, direction))
    assert line_on(quote, "H7").source_versions["E"] == direction
    before = quote_for_force(collaboration.as_of(date(2019, 9, 1)), force=ESSEX, on=date(2019, 9, 1))
    assert sources(before) == (notice, notice)


def test_a_force_that_left_is_quoted_on_its_notice_and_the_date_it_left():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    notice = collaboration.version
    collaboration.record_withdrawal(force=ESSEX, provenance=at(date(2019, 12, 31)))
    left = collaboration.version
    quote = quote_for_force(collaboration, force=ESSEX, on=date(2021, 1, 1))
    assert (quote.notice_on, quote.exit_on, sources(quote)) == (NOTICE, date(2019, 12, 31), (notice, left))


def test_with_no_notice_n_is_the_quote_date_and_has_no_event():
    collaboration, _ = three_forces()
    terms = collaboration.exit_terms[0].version
    quote = quote_for_force(collaboration, force=KENT, on=date(2019, 6, 1))
    assert (quote.notice_on, quote.exit_on, sources(quote)) == (date(2019, 6, 1), date(2020, 6, 1), (None, terms))
    assert "N" not in line_on(quote, "H1").source_versions
    assert "quote date" in quote.basis["N"]
    asked = quote_for_force(collaboration, force=KENT, on=date(2019, 6, 1), exit_on=date(2019, 9, 1))
    assert sources(asked) == (None, None) and "asked" in asked.basis["E"]


# ------------------------------------------------------------------------- an ended agreement
def test_after_the_end_a_force_not_leaving_on_notice_has_no_exit_to_quote():
    collaboration, _ = three_forces()
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    with pytest.raises(AgreementHasEnded) as raised:
        quote_for_force(collaboration, force=KENT, on=date(2021, 1, 1))
    assert "2020-03-31" in raised.value.detail
    with pytest.raises(AgreementHasEnded):
        quote_for_force(collaboration.as_of(date(2021, 1, 1)), force=KENT, on=date(2021, 1, 1))
    # before the end, the hypothetical notice still stands
    assert quote_for_force(collaboration.as_of(date(2019, 1, 1)), force=KENT, on=date(2019, 1, 1)).total


def test_after_the_end_a_force_still_on_notice_exits_on_the_date_the_agreement_ended():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    notice = collaboration.version
    collaboration.terminate(provenance=at(date(2019, 9, 30)))
    ended = collaboration.version
    quote = quote_for_force(collaboration, force=ESSEX, on=date(2021, 1, 1))
    assert (quote.notice_on, quote.exit_on, sources(quote)) == (NOTICE, date(2019, 9, 30), (notice, ended))
    assert line_on(quote, "H1").inputs["days(E, notice_end)"] == "102"  # 2019-09-30 to 2020-01-10


# ----------------------------------------------------------------------------- who is paid
def test_the_worked_example_is_all_paid_to_the_one_remaining_party():
    from tests.unit.test_exit_costs import EXIT, A, B, worked_example

    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=date(2018, 10, 9), quoted_on=EXIT)
    assert quote.remaining == (B,)
    assert [(payee.force, str(payee.amount)) for payee in quote.payees] == [(B, "4815821.92")]
    assert all(payees_of(line) == {B: str(line.amount)} for line in quote.lines)
    h7 = line_on(quote, "H7")
    asset_version = collaboration.assets[next(iter(collaboration.assets))].version
    assert h7.payees[0].source_versions == {
        f"funded_share({B}, HQ data centre)": asset_version,
        "Σ funded_share(·, HQ data centre)": asset_version,
    }
    assert h7.payees[0].derived == {
        f"s({B}, HQ data centre)": (f"funded_share({B}, HQ data centre)", "Σ funded_share(·, HQ data centre)")
    }


def test_h1_and_h4_are_shared_by_each_function_s_own_ratio_among_the_remaining_parties():
    """ICT 1,000,000 at 0.5/0.3/0.2 and Dogs 400,000 at 0.2/0.2/0.6: essex's part weighs
    500,000 and 80,000; kent gets 0.3/0.5 of ICT's and 0.2/0.8 of Dogs' (320,000), sussex
    0.2/0.5 and 0.6/0.8 (260,000). H4 = 580,000·0.25·6/12 = 72,500.00."""
    collaboration, _ = three_forces()
    quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=date(2020, 1, 10), quoted_on=NOTICE)
    h4 = line_on(quote, "H4")
    assert str(h4.amount) == "72500.00"
    assert payees_of(h4) == {KENT: "40000.00", SUSSEX: "32500.00"}
    kent = h4.payees[0]
    assert kent.inputs["r(kent, ICT)"] == "0.3" and kent.inputs["s(kent, ICT)"] == "0.6"
    assert kent.inputs["r(kent, Dogs)"] == "0.2" and kent.inputs["s(kent, Dogs)"] == "0.25"
    assert set(kent.source_versions) == {"r(kent, ICT)", "r(kent, Dogs)", "Σ r(·, ICT)", "Σ r(·, Dogs)"}
    assert kent.inputs["Σ r(·, ICT)"] == "0.5" and kent.inputs["Σ r(·, Dogs)"] == "0.8"
    assert kent.derived["s(kent, ICT)"] == ("r(kent, ICT)", "Σ r(·, ICT)")


def test_h5_follows_the_contract_s_function_and_h7_the_asset_s_funding():
    collaboration, ids = three_forces()
    collaboration.commit_contract(
        supplier="Dog food Ltd",
        function_id=ids["dogs"],
        annual_value="10000",
        ends_on=date(2022, 1, 1),
        break_cost="50000",
        provenance=at(START),
    )
    collaboration.register_asset(
        name="Kennels",
        cost="120000",
        acquired_on=START,
        useful_life_months=120,
        funded_shares={ESSEX: "0.5", KENT: "0.1", SUSSEX: "0.4"},
        provenance=at(START),
    )
    quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=date(2020, 4, 1), quoted_on=NOTICE)
    h5, h7 = line_on(quote, "H5"), line_on(quote, "H7")
    assert str(h5.amount) == "10000.00"  # 50,000·0.2
    assert payees_of(h5) == {KENT: "2500.00", SUSSEX: "7500.00"}  # Dogs' ratio: 0.2 and 0.6 of 0.8
    assert str(h7.amount) == "-30000.00"  # NBV 60,000 after 60 of 120 months, ·0.5
    assert payees_of(h7) == {KENT: "-6000.00", SUSSEX: "-24000.00"}  # 0.1 and 0.4 of 0.5: they owe essex


def test_a_party_that_left_before_the_exit_receives_nothing():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=SUSSEX, provenance=at(date(2018, 1, 1)))
    collaboration.record_withdrawal(force=SUSSEX, provenance=at(date(2019, 1, 1)))
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    quote = quote_for_force(collaboration, force=ESSEX, on=NOTICE)
    assert quote.remaining == (KENT,)
    assert [payee.force for payee in quote.payees] == [KENT]
    assert quote.payees[0].amount == quote.total


def test_where_the_remaining_parties_hold_no_share_the_host_receives_it():
    collaboration, _ = three_forces(dogs={ESSEX: "1", KENT: "0", SUSSEX: "0"})
    quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=date(2020, 1, 10), quoted_on=NOTICE)
    # ICT 500,000 by 0.3:0.2; Dogs 400,000 all to its host, sussex. H4 = 900,000·0.125 = 112,500
    assert payees_of(line_on(quote, "H4")) == {KENT: "37500.00", SUSSEX: "75000.00"}
    assert "host" in line_on(quote, "H4").payees[0].formula


def test_remainders_go_penny_by_penny_and_the_parts_add_up():
    collaboration, _ = three_forces(
        ict={ESSEX: "0.0000000001", KENT: "0.4999999999", SUSSEX: "0.5"},
        dogs={ESSEX: "0.0000000001", KENT: "0.4999999999", SUSSEX: "0.5"},
    )
    quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=date(2020, 1, 10), quoted_on=NOTICE)
    for line in quote.lines:
        assert sum(payee.amount.amount for payee in line.payees) == line.amount.amount
    assert sum(payee.amount.amount for payee in quote.payees) == quote.total.amount


# -------------------------------------------------------------------------- property: exact sums
FORCES = ("essex", "kent", "sussex", "norfolk", "suffolk")


@st.composite
def shares(draw, parties: tuple[str, ...]) -> dict[str, str]:
    cuts = sorted(draw(st.lists(st.integers(0, 10**10), min_size=len(parties) - 1, max_size=len(parties) - 1)))
    bounds = [0, *cuts, 10**10]
    return {party: str(Decimal(bounds[i + 1] - bounds[i]) / 10**10) for i, party in enumerate(parties)}


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_payees_add_up_exactly_to_every_line_and_to_the_total(data):
    count = data.draw(st.integers(2, 5))
    parties = FORCES[:count]
    collaboration = Collaboration.establish(
        name="Random", purpose="Property", parties=list(parties), lead_force=parties[0], provenance=at(START)
    )
    functions = []
    for index in range(data.draw(st.integers(1, 3))):
        budget = str(Decimal(data.draw(st.integers(0, 10**11))) / 100)
        host = data.draw(st.sampled_from(parties))
        functions.append(
            collaboration.add_function(
                name=f"F{index}", kind="enabling", host_force=host, annual_budget=budget, provenance=at(START)
            )
        )
        collaboration.agree_apportionment(
            function_id=functions[-1], basis="usage", shares=data.draw(shares(parties)), provenance=at(START)
        )
    for index in range(data.draw(st.integers(0, 2))):
        collaboration.register_asset(
            name=f"A{index}",
            cost=str(Decimal(data.draw(st.integers(0, 10**10))) / 100),
            acquired_on=START,
            useful_life_months=data.draw(st.integers(1, 120)),
            funded_shares=data.draw(shares(parties)),
            provenance=at(START),
        )
        collaboration.commit_contract(
            supplier=f"S{index}",
            function_id=data.draw(st.sampled_from(functions)),
            annual_value="1",
            ends_on=date(2030, 1, 1),
            break_cost=str(Decimal(data.draw(st.integers(0, 10**9))) / 100),
            provenance=at(START),
        )
    cap = data.draw(st.none() | st.integers(0, 10**8))
    collaboration.agree_exit_terms(
        notice_period_months=12,
        stranded_cost_rate=str(Decimal(data.draw(st.integers(0, 100))) / 100),
        stranded_cost_months=data.draw(st.integers(0, 24)),
        caps={"H2": str(Decimal(cap) / 100)} if cap is not None else None,
        provenance=at(START),
    )
    leaving = data.draw(st.sampled_from(parties))
    claims = [
        Claim("H2", str(Decimal(amount) / 100), "claim", claimant, respondent)
        for amount, claimant, respondent in data.draw(
            st.lists(
                st.tuples(st.integers(-(10**8), 10**9), st.sampled_from(parties), st.sampled_from(parties)).filter(
                    lambda claim: claim[1] != claim[2]
                ),
                max_size=4,
            )
        )
    ]
    exit_on = data.draw(st.dates(min_value=NOTICE, max_value=date(2021, 1, 1)))
    quote = quote_withdrawal(collaboration, force=leaving, exit_on=exit_on, quoted_on=NOTICE, claims=claims)
    for line in quote.lines:
        parts = [payee.amount.amount for payee in line.payees]
        assert not parts or sum(parts) == line.amount.amount
        assert leaving not in {payee.force for payee in line.payees}
    allocated = sum((payee.amount.amount for payee in quote.payees), Decimal(0))
    assert allocated + quote.unallocated.amount == quote.total.amount
    assert quote.unallocated.amount == 0  # every party remains here


# ------------------------------------------------------------------------ caps, by direction
def test_a_cap_limits_what_each_party_pays_on_a_head_one_direction_never_raises_the_other():
    """With a cap of 5,000 on H3: what essex pays kent is capped at 5,000, and what sussex pays
    essex under essex's own claim is capped at 5,000 too; neither lifts the other."""
    collaboration, _ = three_forces()
    collaboration.agree_exit_terms(
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps={"H3": "5000"},
        provenance=at(START),
    )
    exit_on = date(2020, 1, 10)

    def h3(*claims: Claim) -> list[tuple[str, dict[str, str]]]:
        quote = quote_withdrawal(collaboration, force=ESSEX, exit_on=exit_on, quoted_on=NOTICE, claims=claims)
        return [(str(line.amount), payees_of(line)) for line in quote.lines if line.head == "H3"]

    against = Claim("H3", "10000.00", "redundancy", KENT, ESSEX)
    by_essex = Claim("H3", "7000.00", "redundancy", ESSEX, SUSSEX)
    assert h3(against) == [("5000.00", {KENT: "5000.00"})]
    assert h3(against, by_essex) == [("5000.00", {KENT: "5000.00"}), ("-5000.00", {SUSSEX: "-5000.00"})]
    assert h3(Claim("H3", "20000.00", "redundancy", ESSEX, SUSSEX)) == [("-5000.00", {SUSSEX: "-5000.00"})]
    two_against = h3(against, Claim("H3", "2000.00", "strain", SUSSEX, ESSEX), by_essex)
    assert two_against[:2] == [("10000.00", {KENT: "10000.00"}), ("2000.00", {SUSSEX: "2000.00"})]
    assert two_against[2] == ("-5000.00", {SUSSEX: "-5000.00"})  # essex's credit, capped in place
    assert two_against[3] == ("-7000.00", {KENT: "-5833.33", SUSSEX: "-1166.67"})  # 12,000 down to 5,000, 10:2


# --------------------------------------------------------------- the direction on the quote date
def test_a_direction_not_yet_in_effect_on_the_quote_date_does_not_move_e():
    collaboration, _ = three_forces()
    collaboration.serve_withdrawal_notice(force=ESSEX, provenance=at(NOTICE))
    notice = collaboration.version
    collaboration.give_direction(new_exit_on=date(2020, 7, 10), summary="longer", provenance=at(date(2019, 10, 1)))
    collaboration.give_direction(new_exit_on=date(2019, 6, 1), summary="earlier", provenance=at(date(2019, 3, 1)))
    earlier = collaboration.version
    assert sources(quote_for_force(collaboration, force=ESSEX, on=date(2019, 2, 1))) == (notice, notice)
    in_march = quote_for_force(collaboration, force=ESSEX, on=date(2019, 5, 1))
    assert (in_march.exit_on, in_march.exit_version) == (date(2019, 6, 1), earlier)
    assert quote_for_force(collaboration, force=ESSEX, on=date(2019, 11, 1)).exit_on == date(2020, 7, 10)
