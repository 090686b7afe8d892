"""``Collaboration.as_of(day)``: the agreement as it stood on a day, as known now (DOMAIN.md
"Time"). Each kind of entry counts from its effective date; corrections recorded later but
back-dated change the past; the view is a copy and the aggregate is left as it was."""

import copy
import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import pytest

import domain.collaboration
from domain.collaboration import ACTIVE, NOTICE_SERVED, TERMINATED, Collaboration
from domain.errors import FactBeforeFunction
from domain.exit_costs import quote_withdrawal
from domain.values import Money, Provenance, Share

A, B, C = "west-mercia", "warwickshire", "dorset"
START = date(2012, 4, 1)
NOTICE = date(2018, 10, 9)


def at(day: date) -> Provenance:
    return Provenance(day, "tester (admin)", "agreed at the board", None, "BOARD-1")


def before(day: date) -> date:
    return day - timedelta(days=1)


def alliance() -> tuple[Collaboration, str]:
    collaboration = Collaboration.establish(
        name="Strategic Alliance", purpose="Shared services", parties=[A, B], lead_force=A, provenance=at(START)
    )
    ict = collaboration.add_function(
        name="ICT", kind="enabling", host_force=A, annual_budget="10000000", provenance=at(START)
    )
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.69", B: "0.31"}, provenance=at(START)
    )
    collaboration.agree_exit_terms(
        notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6, caps=None, provenance=at(START)
    )
    collaboration.collect_events()
    return collaboration, ict


# --------------------------------------------------------------------------------- the view
def test_the_view_is_a_copy_with_the_same_version_and_the_aggregate_is_unchanged():
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="longer", provenance=at(date(2019, 10, 1)))
    collaboration.decouple_function(
        function_id=ict, decided_by="Board", rationale="Why", provenance=at(date(2019, 4, 1))
    )
    collaboration.collect_events()
    state = copy.deepcopy(collaboration.__dict__)

    view = collaboration.as_of(date(2015, 1, 1))

    assert view is not collaboration
    assert view.version == collaboration.version
    assert view.id == collaboration.id
    assert view.viewed_as_of == date(2015, 1, 1)
    assert collaboration.viewed_as_of is None
    assert view.notices == [] and view.functions[ict].decoupling is None
    assert collaboration.__dict__ == state


def test_a_view_after_every_fact_holds_everything():
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="longer", provenance=at(date(2019, 10, 1)))
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="9", provenance=at(date(2019, 3, 1))
    )
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    collaboration.collect_events()
    view = collaboration.as_of(date(2030, 1, 1))
    assert {**view.__dict__, "viewed_as_of": None} == collaboration.__dict__


def test_a_pending_event_stays_with_the_aggregate():
    collaboration, _ = alliance()
    collaboration.hold_review(outcome="fine", provenance=at(date(2013, 1, 1)))
    view = collaboration.as_of(date(2014, 1, 1))
    assert view.collect_events() == []
    assert len(collaboration.collect_events()) == 1


def test_a_view_of_a_view_keeps_the_earlier_day():
    collaboration, _ = alliance()
    collaboration.join(C, at(date(2015, 1, 1)))
    view = collaboration.as_of(date(2014, 1, 1)).as_of(date(2016, 1, 1))
    assert view.viewed_as_of == date(2014, 1, 1)
    assert view.parties == [A, B]


# ---------------------------------------------------------------------- each kind of entry
def test_parties_count_from_the_day_they_joined():
    collaboration, _ = alliance()
    collaboration.join(C, at(date(2015, 1, 1)))
    assert collaboration.as_of(before(date(2015, 1, 1))).parties == [A, B]
    on = collaboration.as_of(date(2015, 1, 1))
    assert on.parties == [A, B, C]
    assert on.joined_on == {A: START, B: START, C: date(2015, 1, 1)}
    assert collaboration.as_of(START).parties == [A, B]
    early = collaboration.as_of(before(START))
    assert early.parties == [] and early.joined_on == {}


def test_functions_count_from_the_day_they_were_added():
    collaboration, ict = alliance()
    dogs = collaboration.add_function(
        name="Dogs", kind="operational", host_force=B, annual_budget="2000000", provenance=at(date(2014, 6, 1))
    )
    assert set(collaboration.as_of(before(date(2014, 6, 1))).functions) == {ict}
    assert set(collaboration.as_of(date(2014, 6, 1)).functions) == {ict, dogs}


def test_budgets_count_from_their_effective_date_and_the_later_recorded_wins():
    collaboration, ict = alliance()
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="12000000", provenance=at(date(2019, 3, 1))
    )
    first = collaboration.version
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="11000000", provenance=at(date(2019, 6, 1))
    )
    second = collaboration.version
    in_2019 = date(2019, 7, 1)

    assert collaboration.functions[ict].budget_in_effect(in_2019) == (Money(Decimal("11000000.00")), second)
    assert collaboration.functions[ict].budgets == {"2019/20": (Money(Decimal("11000000.00")), second)}
    assert collaboration.as_of(date(2019, 6, 1)).functions[ict].budget_in_effect(in_2019) == (
        Money(Decimal("11000000.00")),
        second,
    )
    assert collaboration.as_of(before(date(2019, 6, 1))).functions[ict].budget_in_effect(in_2019) == (
        Money(Decimal("12000000.00")),
        first,
    )
    view = collaboration.as_of(before(date(2019, 3, 1)))
    assert view.functions[ict].budgets == {}
    assert view.functions[ict].budget_in_effect(in_2019) == (Money(Decimal("10000000.00")), view.functions[ict].version)


def test_a_correction_recorded_first_but_effective_later_does_not_beat_the_one_in_effect():
    """Recorded order decides between entries for the same year only among those in effect."""
    collaboration, ict = alliance()
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="5", provenance=at(date(2019, 9, 1))
    )
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="7", provenance=at(date(2019, 2, 1))
    )
    assert collaboration.functions[ict].budget_in_effect(date(2019, 7, 1))[0] == Money(Decimal("7.00"))
    assert collaboration.as_of(date(2019, 3, 1)).functions[ict].budget_in_effect(date(2019, 7, 1))[0] == Money(
        Decimal("7.00")
    )
    assert collaboration.as_of(date(2019, 1, 1)).functions[ict].budget_in_effect(date(2019, 7, 1))[0] == Money(
        Decimal("10000000.00")
    )


def test_a_back_dated_apportionment_recorded_later_changes_the_past():
    collaboration, ict = alliance()
    collaboration.agree_apportionment(
        function_id=None, basis="fixed_ratio", shares={A: "0.6", B: "0.4"}, provenance=at(date(2016, 4, 1))
    )
    in_2017 = collaboration.as_of(date(2017, 1, 1))
    assert in_2017.shares_in_effect(ict, date(2017, 1, 1)).shares[A] == Share(Decimal("0.6"))

    # Recorded now, effective from 2015: the 2016 ratio was wrong all along for functions of its own.
    collaboration.agree_apportionment(
        function_id=ict, basis="usage", shares={A: "0.55", B: "0.45"}, provenance=at(date(2015, 1, 1))
    )
    correction = collaboration.version
    assert in_2017.shares_in_effect(ict, date(2017, 1, 1)).shares[A] == Share(Decimal("0.6"))  # an earlier view
    again = collaboration.as_of(date(2017, 1, 1)).shares_in_effect(ict, date(2017, 1, 1))
    assert (again.shares[A], again.version) == (Share(Decimal("0.55")), correction)
    assert collaboration.as_of(before(date(2015, 1, 1))).shares_in_effect(ict, date(2014, 1, 1)).shares[A] == Share(
        Decimal("0.69")
    )
    assert [a.effective_on for a in collaboration.as_of(date(2015, 6, 1)).apportionments] == [
        START,
        date(2015, 1, 1),
    ]


def test_a_function_added_later_has_nothing_of_its_own_in_earlier_views():
    """Nothing about a function takes effect before it was added (refused), so an earlier view
    has neither the function nor anything of it."""
    collaboration, _ = alliance()
    dogs = collaboration.add_function(
        name="Dogs", kind="operational", host_force=B, annual_budget="1", provenance=at(date(2016, 1, 1))
    )
    with pytest.raises(FactBeforeFunction):
        collaboration.agree_apportionment(
            function_id=dogs, basis="usage", shares={A: "0.5", B: "0.5"}, provenance=at(date(2015, 1, 1))
        )
    collaboration.agree_apportionment(
        function_id=dogs, basis="usage", shares={A: "0.5", B: "0.5"}, provenance=at(date(2016, 1, 1))
    )
    collaboration.commit_contract(
        supplier="Kennels",
        function_id=dogs,
        annual_value="1",
        ends_on=date(2030, 1, 1),
        break_cost="1",
        provenance=at(date(2016, 6, 1)),
    )
    view = collaboration.as_of(date(2015, 12, 31))
    assert dogs not in view.functions
    assert all(a.function_id is None or a.function_id in view.functions for a in view.apportionments)
    assert view.contracts == {}


def test_exit_terms_count_from_their_effective_date():
    collaboration, _ = alliance()
    collaboration.agree_exit_terms(
        notice_period_months=6,
        stranded_cost_rate="0.1",
        stranded_cost_months=3,
        caps=None,
        provenance=at(date(2016, 1, 1)),
    )
    assert [t.notice_period_months for t in collaboration.as_of(before(date(2016, 1, 1))).exit_terms] == [12]
    view = collaboration.as_of(date(2016, 1, 1))
    assert view.exit_terms_in_effect(date(2016, 1, 1)).notice_period_months == 6
    assert collaboration.as_of(before(START)).exit_terms_in_effect(START) is None


def test_assets_count_from_their_registration_not_their_acquisition():
    collaboration, _ = alliance()
    asset = collaboration.register_asset(
        name="HQ",
        cost="3000000",
        acquired_on=date(2016, 4, 1),
        useful_life_months=60,
        funded_shares={A: "0.69", B: "0.31"},
        provenance=at(date(2017, 1, 1)),
    )
    assert collaboration.assets[asset].effective_on == date(2017, 1, 1)
    assert collaboration.as_of(date(2016, 12, 31)).assets == {}
    assert set(collaboration.as_of(date(2017, 1, 1)).assets) == {asset}


def test_contracts_reviews_and_variations_count_from_their_dates():
    collaboration, ict = alliance()
    contract = collaboration.commit_contract(
        supplier="Acme",
        function_id=ict,
        annual_value="100",
        ends_on=date(2025, 1, 1),
        break_cost="400000",
        provenance=at(date(2016, 1, 1)),
    )
    collaboration.hold_review(outcome="continue", provenance=at(date(2016, 2, 1)))
    collaboration.agree_variation(clause="7.2", summary="notice", provenance=at(date(2016, 3, 1)))
    assert collaboration.as_of(before(date(2016, 1, 1))).contracts == {}
    assert set(collaboration.as_of(date(2016, 1, 1)).contracts) == {contract}
    assert collaboration.as_of(before(date(2016, 2, 1))).reviews == []
    assert [r.outcome for r in collaboration.as_of(date(2016, 2, 1)).reviews] == ["continue"]
    assert collaboration.as_of(before(date(2016, 3, 1))).variations == []
    assert [v.clause for v in collaboration.as_of(date(2016, 3, 1)).variations] == ["7.2"]


def test_a_function_decoupled_after_the_day_is_still_joint():
    collaboration, ict = alliance()
    collaboration.decouple_function(
        function_id=ict, decided_by="Board", rationale="Why", provenance=at(date(2019, 4, 1))
    )
    assert collaboration.as_of(before(date(2019, 4, 1))).decoupled_on() == {}
    assert collaboration.as_of(date(2019, 4, 1)).decoupled_on() == {ict: date(2019, 4, 1)}


# --------------------------------------------------------------------- notices and status
def test_a_notice_counts_from_the_day_it_was_served():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    earlier = collaboration.as_of(before(NOTICE))
    assert (earlier.notices, earlier.status) == ([], ACTIVE)
    on = collaboration.as_of(NOTICE)
    assert on.live_notice(A) is not None
    assert on.status == NOTICE_SERVED


def test_a_notice_withdrawn_after_the_day_is_live_on_the_day():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.withdraw_notice(force=A, provenance=at(date(2019, 1, 1)))
    assert collaboration.status == ACTIVE
    view = collaboration.as_of(date(2018, 12, 31))
    notice = view.live_notice(A)
    assert notice is not None and (notice.withdrawn_on, notice.withdrawn_version) == (None, None)
    assert view.status == NOTICE_SERVED
    after = collaboration.as_of(date(2019, 1, 1))
    assert after.live_notice(A) is None and after.status == ACTIVE


def test_a_party_that_leaves_after_the_day_is_a_current_party_with_a_live_notice_on_the_day():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.record_withdrawal(force=A, provenance=at(date(2019, 10, 9)))
    view = collaboration.as_of(date(2019, 10, 8))
    assert view.withdrawn == {}
    assert view.current_parties() == [A, B]
    assert view.live_notice(A) is not None and view.live_notice(A).completed_on is None
    assert view.status == NOTICE_SERVED
    after = collaboration.as_of(date(2019, 10, 9))
    assert set(after.withdrawn) == {A} and after.current_parties() == [B]
    assert after.live_notice(A) is None and after.spent_notice(A) is not None
    assert after.status == ACTIVE


def test_directions_move_the_exit_date_from_the_day_they_take_effect():
    collaboration, _ = alliance()
    served = collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    notice_version = collaboration.version
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="six months", provenance=at(date(2019, 10, 1)))
    first = collaboration.version
    collaboration.give_direction(new_exit_on=date(2020, 1, 9), summary="three months", provenance=at(date(2019, 11, 1)))
    second = collaboration.version
    assert collaboration.notices[0].exit_on == date(2020, 1, 9)
    assert [d.version for d in collaboration.notices[0].directions] == [first, second]

    def exit_as_of(day: date) -> tuple[date, int]:
        notice = collaboration.as_of(day).live_notice(A)
        return notice.exit_on, notice.exit_on_version

    assert exit_as_of(date(2019, 9, 30)) == (served, notice_version)
    assert exit_as_of(date(2019, 10, 1)) == (date(2020, 4, 9), first)
    assert exit_as_of(date(2019, 11, 1)) == (date(2020, 1, 9), second)
    assert [d.version for d in collaboration.as_of(date(2019, 10, 15)).directions] == [first]
    assert collaboration.notices[0].exit_on == date(2020, 1, 9)  # the aggregate is unchanged


def test_a_back_dated_direction_does_not_override_a_later_effective_one():
    """The direction in effect is the latest effective (ties: the latest recorded), as for
    apportionments and exit terms; a direction back-dated before an earlier-recorded one
    counts only until that one takes effect."""
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="later", provenance=at(date(2019, 11, 1)))
    late = collaboration.version
    collaboration.give_direction(new_exit_on=date(2020, 1, 9), summary="earlier", provenance=at(date(2019, 10, 1)))
    early = collaboration.version
    assert (collaboration.notices[0].exit_on, collaboration.notices[0].exit_on_version) == (date(2020, 4, 9), late)
    assert collaboration.as_of(date(2019, 9, 30)).live_notice(A).exit_on_version == collaboration.notices[0].version
    assert collaboration.as_of(date(2019, 10, 15)).live_notice(A).exit_on_version == early
    assert collaboration.as_of(date(2019, 10, 15)).live_notice(A).exit_on == date(2020, 1, 9)
    assert collaboration.as_of(date(2019, 12, 1)).live_notice(A).exit_on_version == late
    assert early in [d.version for d in collaboration.as_of(date(2019, 12, 1)).live_notice(A).directions]


def test_directions_effective_on_the_same_day_the_later_recorded_wins():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="first", provenance=at(date(2019, 10, 1)))
    collaboration.give_direction(new_exit_on=date(2020, 1, 9), summary="second", provenance=at(date(2019, 10, 1)))
    assert collaboration.notices[0].exit_on == date(2020, 1, 9)
    assert collaboration.as_of(date(2019, 10, 1)).live_notice(A).exit_on == date(2020, 1, 9)


def test_a_direction_does_not_move_a_notice_served_after_it():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="longer", provenance=at(date(2019, 10, 1)))
    collaboration.serve_withdrawal_notice(force=B, provenance=at(date(2019, 11, 1)))
    view = collaboration.as_of(date(2019, 12, 1))
    assert view.live_notice(B).exit_on == date(2020, 11, 1)
    assert view.live_notice(A).exit_on == date(2020, 4, 9)


def test_termination_counts_from_its_effective_date():
    collaboration, _ = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.terminate(provenance=at(date(2020, 3, 31)))
    before_end = collaboration.as_of(date(2020, 3, 30))
    assert (before_end.status, before_end.terminated_on, before_end.terminated_version) == (NOTICE_SERVED, None, None)
    ended = collaboration.as_of(date(2020, 3, 31))
    assert (ended.status, ended.terminated_on) == (TERMINATED, date(2020, 3, 31))


# ------------------------------------------------------------------------------ the quote
def test_a_quote_on_a_view_uses_only_what_was_in_effect():
    collaboration, ict = alliance()
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.decouple_function(
        function_id=ict, decided_by="Board", rationale="Why", provenance=at(date(2019, 4, 1))
    )
    view = collaboration.as_of(date(2019, 3, 31))
    quote = quote_withdrawal(
        view,
        force=A,
        exit_on=date(2019, 4, 1),
        quoted_on=date(2019, 3, 31),
        notice_on=NOTICE,
        decoupled_on=view.decoupled_on(),
    )
    h4 = next(line for line in quote.lines if line.head == "H4")
    assert str(h4.amount) == "862500.00"  # ICT still joint as of 31 March: 10,000,000 x 0.69 x 0.25 x 6/12


# ------------------------------------------------------------------------ snapshot-ready state
ALLOWED_LEAVES = (str, int, Decimal, date, Money, Share, type(None))


def check_transcodable(value: object, where: str) -> None:
    if isinstance(value, ALLOWED_LEAVES):  # bool is an int
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            check_transcodable(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{where} has a key that is not a str: {key!r}"
            check_transcodable(item, f"{where}[{key!r}]")
    elif dataclasses.is_dataclass(value) and type(value).__module__ == domain.collaboration.__name__:
        for item in dataclasses.fields(value):
            check_transcodable(getattr(value, item.name), f"{where}.{item.name}")
    else:
        pytest.fail(f"{where} holds a {type(value).__name__}, which the snapshot transcoder cannot round-trip")


def test_the_state_and_its_views_hold_only_what_snapshots_round_trip():
    collaboration, ict = alliance()
    collaboration.join(C, at(date(2013, 1, 1)))
    collaboration.set_function_budget(
        function_id=ict, financial_year="2019/20", annual_budget="9", provenance=at(date(2019, 3, 1))
    )
    collaboration.register_asset(
        name="HQ", cost="1", acquired_on=START, useful_life_months=60, funded_shares={A: "1"}, provenance=at(START)
    )
    collaboration.commit_contract(
        supplier="Acme",
        function_id=ict,
        annual_value="1",
        ends_on=date(2030, 1, 1),
        break_cost="1",
        provenance=at(START),
    )
    collaboration.agree_exit_terms(
        notice_period_months=12,
        stranded_cost_rate="0.25",
        stranded_cost_months=6,
        caps={"H1": "5"},
        provenance=at(START),
    )
    collaboration.hold_review(outcome="fine", provenance=at(date(2014, 1, 1)))
    collaboration.agree_variation(clause="1", summary="s", provenance=at(date(2014, 1, 1)))
    collaboration.serve_withdrawal_notice(force=A, provenance=at(NOTICE))
    collaboration.serve_withdrawal_notice(force=B, provenance=at(NOTICE))
    collaboration.give_direction(new_exit_on=date(2020, 4, 9), summary="longer", provenance=at(date(2019, 10, 1)))
    collaboration.withdraw_notice(force=B, provenance=at(date(2019, 11, 1)))
    collaboration.record_withdrawal(force=A, provenance=at(date(2020, 4, 9)))
    collaboration.decouple_function(
        function_id=ict, decided_by="Board", rationale="Why", provenance=at(date(2020, 4, 9))
    )
    collaboration.terminate(provenance=at(date(2020, 5, 1)))
    collaboration.collect_events()
    for state in (collaboration, collaboration.as_of(date(2019, 12, 1))):
        for name, value in vars(state).items():
            if not name.startswith("_"):  # the library's own attributes are its to transcode
                check_transcodable(value, name)
