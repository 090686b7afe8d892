"""The exit-cost calculator: DOMAIN.md's worked example to the penny, and every rule of the method."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.collaboration import Collaboration
from domain.errors import InvalidMoney, PartyNotInCollaboration, UnknownForce
from domain.exit_costs import (
    Claim,
    ExitBeforeNotice,
    InvalidClaim,
    NoApportionment,
    NoExitTerms,
    quote_withdrawal,
    round_pence,
)
from domain.months import add_months, days_between, whole_months
from domain.values import Money, Provenance

A, B = "west-mercia", "warwickshire"
START = date(2012, 3, 1)
NOTICE = date(2018, 10, 9)
EXIT = date(2019, 4, 1)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board", approval_ref="BOARD-1")


def established(parties: tuple[str, ...] = (A, B)) -> Collaboration:
    return Collaboration.establish(
        name="Strategic Alliance", purpose="Shared services", parties=list(parties), lead_force=A, provenance=at(START)
    )


def function(collaboration: Collaboration, name: str, budget: str, day: date = START) -> str:
    return collaboration.add_function(
        name=name, kind="enabling", host_force=B, annual_budget=budget, provenance=at(day)
    )


def terms(collaboration: Collaboration, caps: dict | None = None, day: date = START, notice: int = 12) -> None:
    collaboration.agree_exit_terms(
        notice_period_months=notice,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps=caps,
        provenance=at(day),
    )


def worked_example(caps: dict | None = None) -> tuple[Collaboration, dict[str, str]]:
    """DOMAIN.md's worked example, built through the public commands."""
    collaboration = established()
    ict = function(collaboration, "ICT", "10000000")
    dogs = function(collaboration, "Dogs", "2000000")
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.69", B: "0.31"}, provenance=at(START)
    )
    terms(collaboration, caps)
    asset = collaboration.register_asset(
        name="HQ data centre",
        cost="3000000",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={A: "0.69", B: "0.31"},
        provenance=at(date(2016, 4, 1)),
    )
    contract = collaboration.commit_contract(
        supplier="Big ICT plc",
        function_id=ict,
        annual_value="1000000",
        ends_on=date(2021, 3, 31),
        break_cost="400000",
        provenance=at(date(2017, 1, 1)),
    )
    return collaboration, {"ict": ict, "dogs": dogs, "asset": asset, "contract": contract}


def amounts(quote) -> dict[str, str]:
    return {head: str(money) for head, money in quote.by_head().items()}


# ------------------------------------------------------------------------ worked example
def test_the_worked_example_to_the_penny():
    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=date(2019, 1, 15))
    assert amounts(quote) == {"H1": "4332821.92", "H4": "1035000.00", "H5": "276000.00", "H7": "-828000.00"}
    assert quote.total == Money(Decimal("4815821.92"))
    assert quote.notice_end == date(2019, 10, 9)
    h1, _h4, _h5, h7 = quote.lines
    assert h1.inputs["days(E, notice_end)"] == "191"
    assert h7.inputs["whole_months(HQ data centre)"] == "36"
    assert h7.inputs["NBV(HQ data centre)"] == "1200000.00"


def test_every_line_lists_its_formula_inputs_and_source_versions():
    collaboration, ids = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    for line in quote.lines:
        assert line.formula
        assert line.inputs
        assert line.source_versions
        assert set(line.source_versions) <= set(line.inputs)
        assert all(isinstance(value, str) for value in line.inputs.values())
    h1, h4, h5, h7 = quote.lines
    ict, dogs = collaboration.functions[ids["ict"]], collaboration.functions[ids["dogs"]]
    ratio_version = collaboration.apportionments[0].version
    terms_version = collaboration.exit_terms[0].version
    assert h1.source_versions == {
        "notice_period_months": terms_version,
        "B(ICT)": ict.version,
        "r(west-mercia, ICT)": ratio_version,
        "B(Dogs)": dogs.version,
        "r(west-mercia, Dogs)": ratio_version,
    }
    assert h4.source_versions["stranded_cost_rate"] == terms_version
    assert h5.source_versions["break_cost(Big ICT plc)"] == collaboration.contracts[ids["contract"]].version
    assert h7.source_versions["cost(HQ data centre)"] == collaboration.assets[ids["asset"]].version
    assert quote.terms_version == terms_version


def test_total_is_the_sum_of_the_rounded_lines():
    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert quote.total.amount == sum(line.amount.amount for line in quote.lines)
    # unrounded H1 is 4,332,821.9178...: per-function rounding and summation agree with the line here
    assert str(quote.lines[0].amount) == "4332821.92"


def test_with_no_notice_served_the_notice_date_is_the_quote_date():
    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, quoted_on=NOTICE)
    assert quote.notice_on == NOTICE
    assert quote.total == Money(Decimal("4815821.92"))


def test_the_remaining_party_withdrawing_uses_its_own_ratio():
    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=B, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    # 12,000,000·0.31·191/365 = 1,946,630.1369...; 12,000,000·0.31·0.125; 400,000·0.31; -1,200,000·0.31
    assert amounts(quote) == {"H1": "1946630.14", "H4": "465000.00", "H5": "124000.00", "H7": "-372000.00"}


# --------------------------------------------------------------------------------- dates
@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2020, 1, 31), 1, date(2020, 2, 29)),  # leap year
        (date(2019, 1, 31), 1, date(2019, 2, 28)),
        (date(2019, 1, 31), 2, date(2019, 3, 31)),
        (date(2019, 3, 31), 1, date(2019, 4, 30)),
        (date(2018, 10, 9), 12, date(2019, 10, 9)),
        (date(2019, 11, 30), 3, date(2020, 2, 29)),
        (date(2020, 2, 29), 12, date(2021, 2, 28)),
        (date(2019, 12, 15), 1, date(2020, 1, 15)),
        (date(2019, 3, 31), -1, date(2019, 2, 28)),
        (date(2019, 5, 1), 0, date(2019, 5, 1)),
    ],
)
def test_adding_months_clamps_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2016, 4, 1), date(2019, 4, 1), 36),
        (date(2016, 4, 1), date(2019, 3, 31), 35),
        (date(2019, 1, 31), date(2019, 2, 28), 1),  # consistent with add_months' clamping
        (date(2019, 1, 31), date(2019, 2, 27), 0),
        (date(2020, 1, 31), date(2020, 2, 28), 0),  # 2020-01-31 + 1 month is 2020-02-29
        (date(2020, 1, 31), date(2020, 2, 29), 1),
        (date(2019, 1, 31), date(2019, 3, 30), 1),
        (date(2019, 1, 31), date(2019, 3, 31), 2),
        (date(2020, 2, 29), date(2021, 2, 28), 12),
        (date(2019, 5, 1), date(2019, 5, 1), 0),
        (date(2019, 5, 1), date(2019, 4, 1), 0),  # end before start
    ],
)
def test_whole_months_is_the_largest_n_with_add_months_not_past_the_end(start, end, expected):
    assert whole_months(start, end) == expected


def test_days_are_actual_days():
    assert days_between(date(2019, 4, 1), date(2019, 10, 9)) == 191
    assert days_between(date(2020, 2, 1), date(2020, 3, 1)) == 29
    assert days_between(date(2019, 2, 1), date(2019, 3, 1)) == 28


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2150, 12, 31)), st.integers(0, 600))
def test_whole_months_agrees_with_add_months(start, months):
    end = add_months(start, months)
    assert whole_months(start, end) == months


# -------------------------------------------------------------------------------- rules
@pytest.mark.parametrize("exit_on", [date(2019, 10, 9), date(2019, 12, 1)])
def test_exit_on_or_after_notice_end_has_no_notice_shortfall(exit_on):
    collaboration, _ = worked_example()
    quote = quote_withdrawal(collaboration, force=A, exit_on=exit_on, notice_on=NOTICE, quoted_on=exit_on)
    h1 = quote.lines[0]
    assert (h1.head, h1.amount) == ("H1", Money(Decimal("0.00")))
    assert h1.formula.startswith("0:")


def test_a_fully_depreciated_asset_gives_a_zero_line_that_still_lists_it():
    collaboration, _ = worked_example()
    exit_on = date(2021, 6, 1)  # 62 months after acquisition, life 60
    quote = quote_withdrawal(collaboration, force=A, exit_on=exit_on, notice_on=date(2020, 6, 1), quoted_on=exit_on)
    h7 = quote.by_head()["H7"]
    assert h7 == Money(Decimal("0.00"))
    line = next(line for line in quote.lines if line.head == "H7")
    assert line.inputs["NBV(HQ data centre)"] == "0.00"
    assert line.inputs["whole_months(HQ data centre)"] == "62"


def test_an_asset_acquired_after_exit_is_not_held_on_exit():
    collaboration, _ = worked_example()
    collaboration.register_asset(
        name="New custody suite",
        cost="900000",
        acquired_on=date(2019, 6, 1),
        useful_life_months=120,
        funded_shares={A: "0.5", B: "0.5"},
        provenance=at(date(2019, 6, 1)),
    )
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert quote.by_head()["H7"] == Money(Decimal("-828000.00"))


def test_a_function_decoupled_on_or_before_exit_is_left_out_with_its_contracts():
    collaboration, ids = worked_example()
    quote = quote_withdrawal(
        collaboration,
        force=A,
        exit_on=EXIT,
        notice_on=NOTICE,
        quoted_on=EXIT,
        decoupled_on={ids["ict"]: date(2019, 3, 1)},
    )
    # only Dogs counts: 2,000,000·0.69·191/365 = 722,136.9863...; 2,000,000·0.69·0.125
    assert amounts(quote) == {"H1": "722136.99", "H4": "172500.00", "H5": "0.00", "H7": "-828000.00"}
    assert "B(ICT)" not in quote.lines[0].inputs


def test_a_function_decoupled_after_exit_still_counts():
    collaboration, ids = worked_example()
    quote = quote_withdrawal(
        collaboration,
        force=A,
        exit_on=EXIT,
        notice_on=NOTICE,
        quoted_on=EXIT,
        decoupled_on={ids["ict"]: date(2019, 4, 2)},
    )
    assert quote.total == Money(Decimal("4815821.92"))


def test_a_contract_ended_or_not_yet_committed_on_exit_is_left_out():
    collaboration, ids = worked_example()
    for ends_on, effective_on in ((EXIT, date(2017, 1, 1)), (date(2022, 1, 1), date(2019, 4, 2))):
        collaboration.commit_contract(
            supplier="Other",
            function_id=ids["dogs"],
            annual_value="1000",
            ends_on=ends_on,
            break_cost="50000",
            provenance=at(effective_on),
        )
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert quote.by_head()["H5"] == Money(Decimal("276000.00"))


def test_mixed_per_function_ratios():
    collaboration, ids = worked_example()
    collaboration.agree_apportionment(
        function_id=ids["dogs"], basis="usage", shares={A: "0.5", B: "0.5"}, provenance=at(date(2018, 1, 1))
    )
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    # (10,000,000·0.69 + 2,000,000·0.5) = 7,900,000; ·191/365 = 4,133,972.6027...; ·0.125 = 987,500
    assert amounts(quote)["H1"] == "4133972.60"
    assert amounts(quote)["H4"] == "987500.00"
    assert quote.lines[0].inputs["r(west-mercia, Dogs)"] == "0.5"
    assert quote.lines[0].inputs["r(west-mercia, ICT)"] == "0.69"


def test_shares_and_budgets_changed_after_notice_do_not_move_the_quote():
    collaboration, ids = worked_example()
    after_notice = date(2019, 1, 1)
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.9", B: "0.1"}, provenance=at(after_notice)
    )
    collaboration.set_function_budget(
        function_id=ids["ict"], financial_year="2019/20", annual_budget="20000000", provenance=at(after_notice)
    )
    frozen = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert frozen.total == Money(Decimal("4815821.92"))
    assert frozen.lines[0].source_versions["r(west-mercia, ICT)"] == collaboration.apportionments[0].version
    # with no notice served the quote date is the notice date, so the new ratio and budget apply
    unfrozen = quote_withdrawal(collaboration, force=A, exit_on=EXIT, quoted_on=EXIT)
    assert unfrozen.lines[0].inputs["r(west-mercia, ICT)"] == "0.9"
    assert unfrozen.lines[0].inputs["B(ICT)"] == "20000000.00"


def test_exit_terms_are_those_in_effect_on_the_notice_date():
    collaboration, _ = worked_example()
    terms(collaboration, day=date(2019, 1, 1), notice=24)
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert quote.notice_end == date(2019, 10, 9)


def test_caps_apply_per_head_after_rounding_and_say_so():
    collaboration, _ = worked_example(caps={"H1": "4000000", "H5": "300000"})
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    h1 = quote.lines[0]
    assert h1.amount == Money(Decimal("4000000.00"))
    assert h1.inputs["uncapped"] == "4332821.92"
    assert h1.inputs["cap"] == "4000000.00"
    assert "cap" in h1.formula
    assert h1.source_versions["cap"] == collaboration.exit_terms[0].version
    assert amounts(quote)["H5"] == "276000.00"  # under its cap: untouched
    assert "cap" not in quote.lines[2].inputs
    assert quote.total == Money(Decimal("4483000.00"))


def test_a_cap_on_a_claimed_head_of_several_lines_adds_one_adjustment_line():
    collaboration, _ = worked_example(caps={"H3": "100000"})
    claims = [
        Claim("H3", "80000.00", "redundancy", B, A),
        Claim("H3", "50000.00", "pension strain", B, A),
        Claim("H3", "-10000.00", "redeployment (mitigation)", B, A),
    ]
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT, claims=claims)
    h3 = [line for line in quote.lines if line.head == "H3"]
    assert [str(line.amount) for line in h3] == ["80000.00", "50000.00", "-10000.00", "-20000.00"]
    assert h3[-1].inputs == {"uncapped": "120000.00", "cap": "100000.00"}
    assert quote.by_head()["H3"] == Money(Decimal("100000.00"))


def test_claimed_lines_and_mitigations_are_included_in_head_order():
    collaboration, _ = worked_example()
    claims = [
        Claim("H8", "120000.00", "legal advice", B, A, evidence="invoice 17", version=4),
        Claim("H2", "500000.00", "re-establishing control room", B, A),
        Claim("H6", "-25000.50", "transition services charged back", B, A),
    ]
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT, claims=claims)
    assert [line.head for line in quote.lines] == ["H1", "H2", "H4", "H5", "H6", "H7", "H8"]
    h8 = quote.lines[-1]
    assert h8.inputs["evidence"] == "invoice 17"
    assert h8.source_versions == dict.fromkeys(("amount", "claimant", "respondent", "description", "evidence"), 4)
    assert "mitigation" in quote.lines[4].formula
    assert quote.total == Money(Decimal("4815821.92") + Decimal("594999.50"))


def test_claims_must_be_on_a_claimed_head():
    collaboration, _ = worked_example()
    claim = Claim("H1", "10", "not a claimed head", B, A)
    with pytest.raises(InvalidClaim) as raised:
        quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT, claims=[claim])
    assert raised.value.field == "claims.0"


def test_claims_must_be_money_to_the_penny():
    collaboration, _ = worked_example()
    claim = Claim("H2", "1.005", "too precise", B, A)
    with pytest.raises(InvalidMoney):
        quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT, claims=[claim])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),
        ("1.005", "1.01"),
        ("2.675", "2.68"),
        ("1.0049999", "1.00"),
        ("-0.005", "-0.01"),
        ("-0.004", "0.00"),
    ],
)
def test_rounding_is_half_up_to_pence(value, expected):
    assert str(round_pence(Decimal(value))) == expected


def test_a_line_ending_in_half_a_penny_rounds_up():
    collaboration = established()
    function(collaboration, "Dogs", "10.01")
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.5", B: "0.5"}, provenance=at(START)
    )
    # stranded cost rate 1 for 12 months: H4 = 10.01·0.5 = 5.005 exactly, which rounds up to 5.01
    collaboration.agree_exit_terms(
        notice_period_months=0, stranded_cost_rate="1", stranded_cost_months=12, caps=None, provenance=at(START)
    )
    quote = quote_withdrawal(collaboration, force=A, exit_on=EXIT, quoted_on=EXIT)
    assert amounts(quote) == {"H1": "0.00", "H4": "5.01", "H5": "0.00", "H7": "0.00"}


# ------------------------------------------------------------------------------- errors
def test_no_exit_terms_in_effect_on_the_notice_date_is_refused():
    collaboration = established()
    function(collaboration, "Dogs", "1000")
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.5", B: "0.5"}, provenance=at(START)
    )
    terms(collaboration, day=date(2019, 1, 1))  # agreed, but only after notice
    with pytest.raises(NoExitTerms):
        quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)


def test_a_function_with_no_ratio_on_the_notice_date_is_refused():
    collaboration = established()
    function(collaboration, "Dogs", "1000")
    terms(collaboration)
    with pytest.raises(NoApportionment):
        quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)


def test_a_force_that_is_not_a_party_is_refused():
    collaboration, _ = worked_example()
    with pytest.raises(PartyNotInCollaboration):
        quote_withdrawal(collaboration, force="dorset", exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    with pytest.raises(UnknownForce):
        quote_withdrawal(collaboration, force="atlantis", exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)


def test_an_exit_before_the_notice_is_refused():
    collaboration, _ = worked_example()
    with pytest.raises(ExitBeforeNotice):
        quote_withdrawal(collaboration, force=A, exit_on=date(2018, 10, 8), notice_on=NOTICE, quoted_on=EXIT)


def test_the_quote_is_pure():
    collaboration, _ = worked_example()
    version = collaboration.version
    first = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    second = quote_withdrawal(collaboration, force=A, exit_on=EXIT, notice_on=NOTICE, quoted_on=EXIT)
    assert first == second
    assert collaboration.version == version


# ----------------------------------------------------------------------------- property
pence = st.integers(min_value=0, max_value=10**11).map(lambda p: Decimal(p) / 100)
shares = st.integers(min_value=0, max_value=10**10).map(lambda n: Decimal(n) / 10**10)


@settings(max_examples=60, deadline=None)
@given(
    budgets=st.lists(pence, min_size=1, max_size=4),
    share=shares,
    rate=shares,
    notice_months=st.integers(0, 36),
    stranded_months=st.integers(0, 36),
    exit_offset=st.integers(0, 2000),
    asset_cost=pence,
    life=st.integers(1, 240),
    break_cost=pence,
    claims=st.lists(st.tuples(st.sampled_from(["H2", "H3", "H6", "H8"]), st.integers(-(10**9), 10**9)), max_size=5),
    cap=st.one_of(st.none(), pence),
)
def test_total_equals_the_sum_of_the_rounded_lines(
    budgets, share, rate, notice_months, stranded_months, exit_offset, asset_cost, life, break_cost, claims, cap
):
    collaboration = established()
    ids = [function(collaboration, f"F{index}", str(budget)) for index, budget in enumerate(budgets)]
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: share, B: 1 - share}, provenance=at(START)
    )
    collaboration.agree_exit_terms(
        notice_period_months=notice_months,
        stranded_cost_rate=rate,
        stranded_cost_months=stranded_months,
        caps=None if cap is None else {"H1": cap, "H3": cap},
        provenance=at(START),
    )
    collaboration.register_asset(
        name="Asset",
        cost=str(asset_cost),
        acquired_on=date(2015, 1, 31),
        useful_life_months=life,
        funded_shares={A: share, B: 1 - share},
        provenance=at(START),
    )
    collaboration.commit_contract(
        supplier="S",
        function_id=ids[0],
        annual_value="1",
        ends_on=date(2030, 1, 1),
        break_cost=break_cost,
        provenance=at(START),
    )
    exit_on = date.fromordinal(NOTICE.toordinal() + exit_offset)
    quote = quote_withdrawal(
        collaboration,
        force=A,
        exit_on=exit_on,
        notice_on=NOTICE,
        quoted_on=NOTICE,
        claims=[Claim(head, Decimal(p) / 100, "claim", B, A) for head, p in claims],
    )
    assert quote.total.amount == sum((line.amount.amount for line in quote.lines), Decimal(0))
    for line in quote.lines:
        assert line.amount.amount == line.amount.amount.quantize(Decimal("0.01"))
        assert line.formula and isinstance(line.inputs, dict)
        if cap is not None and line.head == "H1":
            assert line.amount.amount <= Decimal(cap)
    if cap is not None:
        assert quote.by_head().get("H3", Money(Decimal(0))).amount <= max(Decimal(cap), Decimal(0))
