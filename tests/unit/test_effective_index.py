"""The "in effect on a date" reads answered from indexes (``domain/effective_index.py``) give
exactly what a scan of the whole history gives, however entries are back-dated, tied or
interleaved, as entries are added one by one, and on copies and ``as_of`` views."""

import copy
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.collaboration import Collaboration
from domain.effective_index import EffectiveIndex
from domain.values import FinancialYear, Provenance

START = date(2012, 4, 1)
PARTIES = ["west-mercia", "warwickshire"]


def provenance(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board")


def scan_shares(collaboration: Collaboration, function_id: str, on: date):
    """What ``shares_in_effect`` answered before it had an index: a scan of every apportionment."""
    for scope in (function_id, None):
        candidates = [a for a in collaboration.apportionments if a.function_id == scope and a.effective_on <= on]
        if candidates:
            return max(candidates, key=lambda a: (a.effective_on, a.version))
    return None


def scan_terms(collaboration: Collaboration, on: date):
    candidates = [terms for terms in collaboration.exit_terms if terms.effective_on <= on]
    return max(candidates, key=lambda t: (t.effective_on, t.version)) if candidates else None


def scan_budget(function, on: date):
    year = FinancialYear.containing(on)
    budgets = {entry.financial_year: (entry.amount, entry.version) for entry in function.budget_entries}
    earlier = [(FinancialYear.parse(text), pair) for text, pair in budgets.items() if FinancialYear.parse(text) <= year]
    return max(earlier, key=lambda pair: pair[0])[1] if earlier else (function.annual_budget, function.version)


# One step of a history: (kind, days after START it takes effect, which function, a share or year).
steps = st.lists(
    st.tuples(
        st.sampled_from(["all", "own", "terms", "budget", "review"]),
        st.integers(0, 3000),
        st.integers(0, 2),
        st.integers(1, 99),
    ),
    max_size=40,
)
days = st.lists(st.integers(-10, 3100), min_size=1, max_size=8)


def build(history) -> tuple[Collaboration, list[str], list[tuple[Collaboration, list[date]]]]:
    collaboration = Collaboration.establish(
        name="Alliance",
        purpose="Shared services",
        parties=PARTIES,
        lead_force=PARTIES[0],
        governance_body=None,
        review_cycle_months=None,
        provenance=provenance(START),
    )
    functions = [
        collaboration.add_function(
            name=f"F{n}", kind="enabling", host_force=PARTIES[n % 2], annual_budget="1000", provenance=provenance(START)
        )
        for n in range(3)
    ]
    for kind, offset, which, number in history:
        when = provenance(START + timedelta(days=offset))
        share = Decimal(number) / 100
        shares = {PARTIES[0]: str(share), PARTIES[1]: str(1 - share)}
        if kind == "all":
            collaboration.agree_apportionment(function_id=None, basis="fixed_ratio", shares=shares, provenance=when)
        elif kind == "own":
            collaboration.agree_apportionment(
                function_id=functions[which], basis="fixed_ratio", shares=shares, provenance=when
            )
        elif kind == "terms":
            collaboration.agree_exit_terms(
                notice_period_months=number % 24 + 1,
                stranded_cost_rate="0.25",
                stranded_cost_months=6,
                caps=None,
                provenance=when,
            )
        elif kind == "budget":
            year = 2012 + number % 12
            collaboration.set_function_budget(
                function_id=functions[which],
                financial_year=f"{year}/{(year + 1) % 100:02d}",
                annual_budget=str(1000 + number),
                provenance=when,
            )
        else:
            collaboration.hold_review(outcome="continue", provenance=when)
    return collaboration, functions


def assert_same_answers(collaboration: Collaboration, functions: list[str], on_days: list[int]) -> None:
    for offset in on_days:
        on = START + timedelta(days=offset)
        for function_id in functions:
            assert collaboration.shares_in_effect(function_id, on) == scan_shares(collaboration, function_id, on)
            function = collaboration.functions[function_id]
            assert function.budget_in_effect(on) == scan_budget(function, on)
        assert collaboration.exit_terms_in_effect(on) == scan_terms(collaboration, on)


@settings(max_examples=150, deadline=None)
@given(steps, days)
def test_in_effect_reads_equal_a_scan_of_the_history(history, on_days):
    collaboration, functions = build(history)
    assert_same_answers(collaboration, functions, on_days)


@settings(max_examples=60, deadline=None)
@given(steps, steps, days)
def test_an_index_follows_entries_added_after_it_was_built(first, then, on_days):
    collaboration, functions = build(first)
    assert_same_answers(collaboration, functions, on_days)  # the indexes now exist
    for kind, offset, which, number in then:  # one by one, asking after each
        share = Decimal(number) / 100
        when = provenance(START + timedelta(days=offset))
        function_id = None if kind == "all" else functions[which]
        collaboration.agree_apportionment(
            function_id=function_id,
            basis="fixed_ratio",
            shares={PARTIES[0]: str(share), PARTIES[1]: str(1 - share)},
            provenance=when,
        )
        assert_same_answers(collaboration, functions, on_days)


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(0, 3000), days)
def test_copies_and_views_answer_from_their_own_entries(history, view_offset, on_days):
    collaboration, functions = build(history)
    assert_same_answers(collaboration, functions, on_days)
    view = collaboration.as_of(START + timedelta(days=view_offset))
    assert_same_answers(view, [f for f in functions if f in view.functions], on_days)
    clone = copy.deepcopy(collaboration)
    clone.agree_apportionment(
        function_id=None,
        basis="fixed_ratio",
        shares={PARTIES[0]: "0.5", PARTIES[1]: "0.5"},
        provenance=provenance(START),
    )
    assert_same_answers(clone, functions, on_days)
    assert_same_answers(collaboration, functions, on_days)  # the copy's entry is not the original's


def test_indexes_are_not_state():
    """Snapshots take ``vars()`` of the aggregate: an index must not be in it."""
    collaboration, functions = build([("all", 10, 0, 40)])
    before = dict(vars(collaboration))
    assert collaboration.shares_in_effect(functions[0], START + timedelta(days=20)) is not None
    assert vars(collaboration) == before
    assert "_indexes" not in vars(collaboration)


def test_an_index_rebuilds_when_its_container_is_replaced():
    index = EffectiveIndex(lambda pair: pair)
    first = [(START, 1), (START + timedelta(days=5), 2)]
    assert index.following(first).in_effect(START + timedelta(days=6)) == (START + timedelta(days=5), 2)
    second = [(START, 1)]
    assert index.following(second).in_effect(START + timedelta(days=6)) == (START, 1)
    assert index.following(second).up_to(START - timedelta(days=1)) == []


def test_a_copy_orders_its_own_functions_not_the_originals():
    """A copy's functions are its own objects (a budget set on the copy is the copy's): its
    ordered functions must be those objects, whatever indexes the original had built."""
    collaboration, functions = build([("budget", 10, 0, 5)])
    assert collaboration.functions_in_order()[0] is collaboration.functions[functions[0]]  # built
    clone = copy.deepcopy(collaboration)
    clone.set_function_budget(
        function_id=functions[0], financial_year="2030/31", annual_budget="9999", provenance=provenance(START)
    )
    ordered = clone.functions_in_order()
    assert all(function is clone.functions[function.id] for function in ordered)
    assert ordered[0].budget_in_effect(date(2031, 1, 1))[0].amount == Decimal("9999")
    assert collaboration.functions_in_order()[0].budget_in_effect(date(2031, 1, 1))[0].amount != Decimal("9999")
