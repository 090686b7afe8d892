"""Every rule of the Benefit aggregate: a refused command raises the named error and records
nothing; realisation in each direction, the straight-line profile, trend, as_of; restatement
chains; the 7F Procurement figures; and properties of realisation and restatement."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.benefit import (
    CASH_SAVINGS,
    CATEGORIES,
    COST_AVOIDED,
    SUB_CATEGORIES,
    Benefit,
    Measurement,
    Realisation,
    money_total_of,
    sub_category_belongs,
)
from domain.errors import (
    BenefitFinal,
    DomainError,
    FactBeforeBenefit,
    InvalidBaselineOrTarget,
    InvalidBenefitCategory,
    InvalidBenefitDirection,
    InvalidBenefitStatus,
    InvalidBenefitValue,
    InvalidMeasurementPeriod,
    InvalidPillar,
    InvalidReopening,
    InvalidStage,
    InvalidTolerance,
    InvalidUnit,
    MeasurementAlreadyRestated,
    MeasurementBeforePeriodEnd,
    MinimumStandardNotMet,
    NothingChanged,
    OverlappingMeasurement,
    PartyNotInCollaboration,
    SharesDoNotSumToOne,
    StageMoveOutOfOrder,
    StatusMovedBackwards,
    SubCategoryMismatch,
    UnitFixedByMeasurements,
    UnknownForce,
    UnknownMeasurement,
)
from domain.values import Provenance
from tests.unit.refusals import assert_refused

COLLABORATION = "5b0f1c55-8b1e-4a57-9a57-4f8d2f1b7c01"
PARTIES = ["dorset", "devon-cornwall"]
D = Decimal


def on(day: date, reason: str = "benefits board") -> Provenance:
    return Provenance(day, "benefits manager (admin)", reason, "BRP-1", None)


def full(**overrides) -> dict:
    """A benefit meeting the 7F minimum standard, at stage 2 (OBC)."""
    fields = {
        "collaboration_id": COLLABORATION,
        "title": "Officers satisfied with shared rostering",
        "category": "2",
        "sub_category": "2a",
        "pillar": "people",
        "direction": "increase",
        "measure": "officers satisfied with rostering, quarterly survey",
        "unit": "percent",
        "baseline": {"value": "0", "on": date(2020, 1, 1)},
        "target": {"value": "100", "on": date(2021, 1, 1)},
        "owner": "ACC Operations",
        "stage": 2,
        "status": "planned",
        "parties": list(PARTIES),
        "provenance": on(date(2020, 1, 1)),
    }
    fields.update(overrides)
    return fields


def identified(**overrides) -> Benefit:
    benefit = Benefit.identify(**full(**overrides))
    benefit.collect_events()
    return benefit


def measured(benefit: Benefit, start: date, end: date, value: object, restates: str | None = None) -> str:
    measurement_id = benefit.record_measurement(
        period_start=start,
        period_end=end,
        value=value,
        source="duty management system",
        measurer="performance analyst",
        restates=restates,
        provenance=on(end),
    )
    benefit.collect_events()
    return measurement_id


def quarters(start: date, count: int) -> list[tuple[date, date]]:
    periods = []
    for index in range(count):
        month = start.month - 1 + 3 * index
        first = date(start.year + month // 12, month % 12 + 1, 1)
        month += 3
        last = date(start.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
        periods.append((first, last))
    return periods


def assert_identify_refused(error: type[DomainError], **overrides) -> DomainError:
    with pytest.raises(error) as raised:
        Benefit.identify(**full(**overrides))
    return raised.value


# ------------------------------------------------------------------------ identification
def test_identification_records_every_field_and_the_parties():
    benefit = Benefit.identify(**full(attribution={"dorset": "0.4", "devon-cornwall": "0.6"}))
    (event,) = benefit.collect_events()
    assert isinstance(event, Benefit.Identified)
    assert event.parties == PARTIES
    assert event.attribution == {"dorset": D("0.4"), "devon-cornwall": D("0.6")}
    assert event.baseline_value == D(0) and event.target_value == D(100)
    assert event.reason == "benefits board" and event.effective_on == date(2020, 1, 1)
    assert benefit.version == 1
    assert (benefit.category, benefit.sub_category, benefit.pillar) == ("2", "2a", "people")
    assert (benefit.stage, benefit.status, benefit.owner, benefit.unit) == (2, "planned", "ACC Operations", "percent")
    assert benefit.parties == PARTIES
    assert benefit.baseline == (D(0), date(2020, 1, 1)) and benefit.target == (D(100), date(2021, 1, 1))
    assert benefit.current_measurements() == []


def test_a_stage_0_benefit_needs_only_its_title_category_and_pillar():
    benefit = Benefit.identify(
        collaboration_id=COLLABORATION,
        title="Better public confidence",
        category="2",
        sub_category="2b",
        pillar="service",
        parties=PARTIES,
        provenance=on(date(2014, 10, 1)),
    )
    assert (benefit.stage, benefit.status, benefit.direction, benefit.baseline) == (0, "identified", None, None)


@pytest.mark.parametrize(
    ("category", "sub_category"),
    [("1", "2a"), ("2", "1a"), ("3", "2b"), ("1", "3c"), ("2", "3a"), ("3", "1c")],
)
def test_a_sub_category_of_another_category_is_refused(category, sub_category):
    error = assert_identify_refused(SubCategoryMismatch, category=category, sub_category=sub_category)
    assert error.field == "sub_category"


# DOMAIN.md: 1a Money and 1c Cost avoidance are measured in £, 1b Time in operational hours.
SAVINGS_UNIT = {"1a": "GBP", "1b": "hours", "1c": "GBP"}


def test_every_sub_category_belongs_to_exactly_one_category():
    for sub_category in SUB_CATEGORIES:
        assert [c for c in CATEGORIES if sub_category_belongs(c, sub_category)] == [sub_category[0]]
        unit = SAVINGS_UNIT.get(sub_category, "percent")
        Benefit.identify(**full(category=sub_category[0], sub_category=sub_category, unit=unit))


@pytest.mark.parametrize(
    ("sub_category", "unit"),
    [("1a", "hours"), ("1a", "percent"), ("1b", "GBP"), ("1b", "count"), ("1c", "hours"), ("1c", "score")],
)
def test_a_savings_sub_category_has_its_own_unit(sub_category, unit):
    error = assert_identify_refused(InvalidUnit, category="1", sub_category=sub_category, unit=unit)
    assert error.field == "unit"
    assert sub_category in str(error) and SAVINGS_UNIT[sub_category] in str(error)
    benefit = Benefit.identify(**full(category="1", sub_category=sub_category, unit=SAVINGS_UNIT[sub_category]))
    assert benefit.unit == SAVINGS_UNIT[sub_category]


@pytest.mark.parametrize("unit", ["GBP", "hours", "percent", "count", "score"])
def test_other_categories_take_any_unit(unit):
    for sub_category in ("2a", "2b", "3a", "3b", "3c"):
        assert Benefit.identify(**full(category=sub_category[0], sub_category=sub_category, unit=unit)).unit == unit


def test_a_savings_benefit_is_defined_only_in_its_own_unit():
    hours = identified(stage=1, category="1", sub_category="1b", unit=None)
    for wrong in ("GBP", "percent"):
        error = assert_refused(hours, InvalidUnit, hours.define, unit=wrong, provenance=on(date(2020, 2, 1)))
        assert error.field == "unit"
    hours.define(unit="hours", provenance=on(date(2020, 2, 1)))
    assert hours.unit == "hours"
    money = identified(category="1", sub_category="1a", unit="GBP")
    assert_refused(money, InvalidUnit, money.define, unit="hours", provenance=on(date(2020, 2, 1)))


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"category": "4"}, InvalidBenefitCategory, "category"),
        ({"sub_category": "1d"}, InvalidBenefitCategory, "sub_category"),
        ({"pillar": "money"}, InvalidPillar, "pillar"),
        ({"direction": "up"}, InvalidBenefitDirection, "direction"),
        ({"unit": "£"}, InvalidUnit, "unit"),
        ({"stage": 6}, InvalidStage, "stage"),
        ({"stage": True}, InvalidStage, "stage"),
        ({"status": "done"}, InvalidBenefitStatus, "status"),
        ({"tolerance": "1"}, InvalidTolerance, "tolerance"),
        ({"direction": "maintain"}, InvalidTolerance, "tolerance"),
        ({"direction": "maintain", "tolerance": "-1"}, InvalidTolerance, "tolerance"),
        ({"target": {"value": "100", "on": date(2020, 1, 1)}}, InvalidBaselineOrTarget, "target"),
        ({"target": {"value": "-5", "on": date(2021, 1, 1)}}, InvalidBaselineOrTarget, "target"),
        ({"direction": "decrease"}, InvalidBaselineOrTarget, "target"),
        ({"target": {"value": "100"}}, InvalidBaselineOrTarget, "target"),
        ({"target": {"value": 1.5, "on": date(2021, 1, 1)}}, InvalidBenefitValue, "target.value"),
        ({"target": {"value": "lots", "on": date(2021, 1, 1)}}, InvalidBenefitValue, "target.value"),
        ({"target": {"value": "1E+15", "on": date(2021, 1, 1)}}, InvalidBenefitValue, "target.value"),
        ({"unit": "GBP", "target": {"value": "100.001", "on": date(2021, 1, 1)}}, InvalidBenefitValue, "target.value"),
        ({"attribution": {"dorset": "0.5"}}, SharesDoNotSumToOne, "attribution"),
        ({"attribution": {"dorset": "0.5", "avon-somerset": "0.5"}}, PartyNotInCollaboration, None),
        ({"attribution": {"atlantis": "1"}}, UnknownForce, "attribution.atlantis"),
        ({"parties": ["atlantis"]}, UnknownForce, "parties.0"),
    ],
)
def test_identification_refuses_bad_values(overrides, error, field):
    raised = assert_identify_refused(error, **overrides)
    if field is not None:
        assert raised.field == field


@pytest.mark.parametrize("missing", ["direction", "measure", "unit", "owner", "baseline", "target"])
@pytest.mark.parametrize("stage", [2, 3, 5])
def test_the_7f_minimum_standard_holds_from_stage_2_at_identification(missing, stage):
    error = assert_identify_refused(MinimumStandardNotMet, stage=stage, **{missing: None})
    assert error.field == missing
    Benefit.identify(**full(stage=1, **{missing: None}))  # below OBC it may be missing


@pytest.mark.parametrize("direction", ["increase", "decrease"])
def test_a_target_equal_to_its_baseline_is_at_or_above_and_at_or_below_it(direction):
    """The boundary of each direction's rule: a target equal to the baseline is allowed both ways."""
    benefit = Benefit.identify(**full(direction=direction, target={"value": "0", "on": date(2021, 1, 1)}))
    assert benefit.direction == direction
    assert benefit.target == (Decimal("0"), date(2021, 1, 1))


def test_gbp_values_are_kept_to_the_penny():
    benefit = identified(unit="GBP", target={"value": "8455000", "on": date(2021, 1, 1)})
    assert str(benefit.target_value) == "8455000.00"


# ------------------------------------------------------------------------ stages and statuses
def test_status_and_stage_move_forward():
    benefit = identified()
    benefit.change_stage(stage=3, status="validated", provenance=on(date(2020, 3, 1)))
    benefit.change_stage(stage=4, provenance=on(date(2020, 6, 1)))
    benefit.change_stage(stage=4, status="handed_to_bau", provenance=on(date(2020, 9, 1)))  # skipping is forward
    events = benefit.collect_events()
    assert [type(e).__name__ for e in events] == ["StageChanged"] * 3
    assert (benefit.stage, benefit.status, benefit.version) == (4, "handed_to_bau", 4)


def test_a_backwards_status_or_stage_move_is_refused():
    benefit = identified(stage=3, status="realising")
    for status in ("identified", "planned", "validated"):
        error = assert_refused(
            benefit, StatusMovedBackwards, benefit.change_stage, stage=3, status=status, provenance=on(date(2020, 2, 1))
        )
        assert error.field == "status"
    error = assert_refused(
        benefit, StatusMovedBackwards, benefit.change_stage, stage=2, provenance=on(date(2020, 2, 1))
    )
    assert error.field == "stage"
    assert_refused(benefit, NothingChanged, benefit.change_stage, stage=3, provenance=on(date(2020, 2, 1)))
    assert_refused(benefit, InvalidStage, benefit.change_stage, stage=-1, provenance=on(date(2020, 2, 1)))
    assert_refused(
        benefit, InvalidBenefitStatus, benefit.change_stage, stage=3, status="gone", provenance=on(date(2020, 2, 1))
    )


def test_the_minimum_standard_holds_on_moving_to_stage_2_or_later():
    benefit = identified(stage=1, owner=None, measure=None)
    error = assert_refused(
        benefit, MinimumStandardNotMet, benefit.change_stage, stage=2, provenance=on(date(2020, 2, 1))
    )
    assert error.field == "measure"
    benefit.change_stage(stage=1, status="validated", provenance=on(date(2020, 2, 1)))  # fine below OBC
    benefit.define(measure="hours released", owner="ACC Operations", provenance=on(date(2020, 2, 2)))
    benefit.change_stage(stage=2, provenance=on(date(2020, 2, 3)))
    assert (benefit.stage, benefit.measure, benefit.owner) == (2, "hours released", "ACC Operations")


def test_baseline_and_target_can_be_completed_before_obc():
    benefit = identified(stage=0, status="identified", baseline=None, target=None)
    assert_refused(benefit, MinimumStandardNotMet, benefit.change_stage, stage=2, provenance=on(date(2020, 2, 1)))
    benefit.rebaseline(value="10", on=date(2020, 1, 1), provenance=on(date(2020, 2, 1)))
    benefit.revise_target(value="50", on=date(2021, 1, 1), provenance=on(date(2020, 2, 1)))
    benefit.change_stage(stage=2, provenance=on(date(2020, 2, 1)))
    assert benefit.stage == 2


@pytest.mark.parametrize("final", ["realised", "lapsed"])
def test_final_statuses_refuse_changes_until_reopened(final):
    benefit = identified()
    benefit.change_stage(stage=4, status=final, provenance=on(date(2021, 1, 1)))
    benefit.collect_events()
    day = on(date(2021, 2, 1))
    assert_refused(benefit, BenefitFinal, benefit.change_stage, stage=5, provenance=day)
    assert_refused(benefit, BenefitFinal, benefit.change_stage, stage=4, status="realising", provenance=day)
    assert_refused(benefit, BenefitFinal, benefit.revise_target, value="200", on=date(2022, 1, 1), provenance=day)
    assert_refused(benefit, BenefitFinal, benefit.rebaseline, value="5", on=date(2020, 1, 1), provenance=day)
    assert_refused(benefit, BenefitFinal, benefit.define, owner="someone else", provenance=day)
    assert_refused(benefit, InvalidReopening, benefit.reopen, status="lapsed", provenance=day)
    measured(benefit, date(2020, 10, 1), date(2020, 12, 31), "40")  # late figures still come in
    benefit.reopen(status="realising", provenance=on(date(2021, 3, 1), "benefit not sustained"))
    (event,) = benefit.collect_events()
    assert isinstance(event, Benefit.Reopened)
    assert (event.status, event.stage, event.reason) == ("realising", 4, "benefit not sustained")
    assert benefit.status == "realising"
    benefit.change_stage(stage=5, status="realised", provenance=on(date(2021, 6, 1)))
    assert benefit.status == "realised"


def test_lapsed_may_follow_any_status_that_is_not_final():
    for status in ("identified", "planned", "validated", "realising", "handed_to_bau"):
        benefit = identified(status=status)
        benefit.change_stage(stage=2, status="lapsed", provenance=on(date(2020, 2, 1)))
        assert benefit.status == "lapsed"


def test_reopening_moves_back_and_is_recorded():
    benefit = identified(stage=4, status="realising")
    benefit.reopen(status="planned", stage=3, provenance=on(date(2020, 5, 1), "business case revisited"))
    assert [type(e).__name__ for e in benefit.collect_events()] == ["Reopened"]
    assert (benefit.stage, benefit.status) == (3, "planned")
    assert benefit.stages[-1].reopened is True
    day = on(date(2020, 6, 1))
    assert_refused(benefit, InvalidReopening, benefit.reopen, status="validated", provenance=day)  # forward
    assert_refused(benefit, InvalidReopening, benefit.reopen, status="planned", provenance=day)  # nowhere
    assert_refused(benefit, InvalidReopening, benefit.reopen, status="planned", stage=4, provenance=day)
    assert_refused(benefit, InvalidReopening, benefit.reopen, status="realised", provenance=day)
    benefit.reopen(status="planned", stage=2, provenance=day)  # the stage alone back
    assert benefit.stage == 2


# ------------------------------------------------------------------------ measurements
def test_a_measurement_is_recorded_with_its_period_value_source_and_measurer():
    benefit = identified()
    measurement_id = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "12.5")
    (measurement,) = benefit.current_measurements()
    assert isinstance(measurement, Measurement)
    assert measurement.measurement_id == measurement_id
    assert (measurement.value, measurement.source, measurement.measurer) == (
        D("12.5"),
        "duty management system",
        "performance analyst",
    )
    assert (measurement.effective_on, measurement.version, measurement.restates) == (date(2020, 3, 31), 2, None)


def test_bad_measurements_are_refused():
    benefit = identified()
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "10")

    def record(start=date(2020, 4, 1), end=date(2020, 6, 30), value="5", restates=None, source="s"):
        benefit.record_measurement(
            period_start=start,
            period_end=end,
            value=value,
            source=source,
            measurer="m",
            restates=restates,
            provenance=on(end),
        )

    assert_refused(benefit, InvalidMeasurementPeriod, record, start=date(2020, 7, 1))
    assert_refused(benefit, InvalidBenefitValue, record, value=5.0)
    assert_refused(benefit, UnknownMeasurement, record, restates="nonesuch")
    assert_refused(benefit, DomainError, record, source=" ")
    for start, end in [
        (date(2020, 3, 31), date(2020, 6, 30)),  # sharing one day
        (date(2019, 12, 1), date(2020, 1, 1)),
        (date(2020, 2, 1), date(2020, 2, 28)),  # inside
        (date(2019, 1, 1), date(2021, 1, 1)),  # around
    ]:
        error = assert_refused(benefit, OverlappingMeasurement, record, start=start, end=end)
        assert error.field == "period_start"
    record()  # adjacent periods do not overlap
    assert len(benefit.current_measurements()) == 2


def test_a_measurement_takes_effect_only_once_its_period_has_ended():
    """No actual figure exists for a period not yet ended: a measurement (or a restatement) takes
    effect on or after its period's end."""
    benefit = identified()

    def record(effective_on, start=date(2020, 1, 1), end=date(2020, 3, 31), restates=None):
        return benefit.record_measurement(
            period_start=start,
            period_end=end,
            value="10",
            source="s",
            measurer="m",
            restates=restates,
            provenance=on(effective_on),
        )

    for early in (date(2020, 3, 30), date(2020, 1, 1), date(2019, 12, 31)):
        error = assert_refused(benefit, MeasurementBeforePeriodEnd, record, effective_on=early)
        assert error.field == "effective_on"
        assert "2020-03-31" in str(error)
    first = record(date(2020, 3, 31))  # on the last day of the period: allowed
    benefit.collect_events()
    later = record(date(2020, 7, 10), start=date(2020, 4, 1), end=date(2020, 6, 30))  # the 10th after
    benefit.collect_events()
    assert [m.effective_on for m in benefit.current_measurements()] == [date(2020, 3, 31), date(2020, 7, 10)]
    # a restatement of a quarter is bound alike, even though the quarter restated took effect
    assert_refused(benefit, MeasurementBeforePeriodEnd, record, effective_on=date(2020, 3, 30), restates=first)
    assert_refused(
        benefit,
        MeasurementBeforePeriodEnd,
        record,
        effective_on=date(2020, 6, 29),
        start=date(2020, 4, 1),
        end=date(2020, 6, 30),
        restates=later,
    )
    record(date(2020, 8, 1), restates=first)
    # in effect from the 10th of the month after the quarter, not from the quarter's end
    assert [m.value for m in benefit.as_of(date(2020, 7, 9)).current_measurements()] == [D(10)]
    assert len(benefit.as_of(date(2020, 7, 10)).current_measurements()) == 2


def test_restatement_chains_and_restating_a_non_current_measurement():
    benefit = identified()
    first = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "10")
    second = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "12", restates=first)
    third = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "13", restates=second)  # a chain
    assert [m.measurement_id for m in benefit.current_measurements()] == [third]
    assert len(benefit.measurements) == 3  # nothing edited
    assert benefit.measurement(first).value == D(10)
    assert benefit.restated_by == {first: second, second: third}

    def restate(restates):
        benefit.record_measurement(
            period_start=date(2020, 1, 1),
            period_end=date(2020, 3, 31),
            value="99",
            source="s",
            measurer="m",
            restates=restates,
            provenance=on(date(2020, 4, 1)),
        )

    for stale in (first, second):
        error = assert_refused(benefit, MeasurementAlreadyRestated, restate, restates=stale)
        assert error.field == "restates"
    assert benefit.realisation(date(2020, 12, 31)).latest_value == D(13)


def test_a_restatement_must_not_overlap_other_current_measurements():
    benefit = identified()
    q1 = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "10")
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "10")
    with pytest.raises(OverlappingMeasurement):
        benefit.record_measurement(
            period_start=date(2020, 1, 1),
            period_end=date(2020, 4, 30),
            value="1",
            source="s",
            measurer="m",
            restates=q1,
            provenance=on(date(2020, 7, 1)),
        )
    assert benefit.version == 3


def test_the_unit_does_not_change_once_measured():
    benefit = identified()
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "10")
    assert_refused(benefit, UnitFixedByMeasurements, benefit.define, unit="count", provenance=on(date(2020, 4, 1)))


# ------------------------------------------------------------------------ realisation
def test_increase_realisation_expected_and_on_track_follow_a_straight_line():
    # baseline 0 on 2020-01-01, target 100 on 2021-01-01 (366 days)
    benefit = identified()
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "20")
    r = benefit.realisation(date(2020, 12, 31))
    assert r.latest_value == D(20) and r.latest_period_end == date(2020, 3, 31)
    assert r.realisation_percent == D("20.00")
    assert r.expected_percent == D("24.59")  # 90 / 366 days
    assert r.on_track is False and r.trend is None and r.within_tolerance is None
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "55")
    r = benefit.realisation(date(2020, 12, 31))
    assert r.realisation_percent == D("55.00")
    assert r.expected_percent == D("49.45")  # 181 / 366
    assert r.on_track is True and r.trend == "improving"
    assert r.cumulative_value == D(75) and r.measurements_count == 2
    assert r.compared_value == D(55)  # a level (a survey): the latest value is compared, not the sum
    assert benefit.realisation(date(2020, 5, 1)).latest_value == D(20)  # only periods ended by then


def test_expected_percent_is_clamped_and_realisation_not_capped():
    benefit = identified()
    measured(benefit, date(2021, 1, 1), date(2021, 6, 30), "150")
    r = benefit.realisation(date(2021, 12, 31))
    assert (r.expected_percent, r.realisation_percent, r.on_track) == (D("100.00"), D("150.00"), True)
    early = identified(baseline={"value": "0", "on": date(2020, 6, 1)})
    measured(early, date(2020, 1, 1), date(2020, 3, 31), "-10")
    r = early.realisation(date(2021, 1, 1))
    assert (r.expected_percent, r.realisation_percent, r.on_track) == (D("0.00"), D("-10.00"), False)


def test_decrease_realisation():
    # response time down from 20 minutes to 15 minutes
    benefit = identified(
        direction="decrease",
        unit="count",
        baseline={"value": "20", "on": date(2020, 1, 1)},
        target={"value": "15", "on": date(2021, 1, 1)},
    )
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "19")
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "17.5")
    r = benefit.realisation(date(2021, 1, 1))
    assert r.realisation_percent == D("50.00")  # (20 - 17.5) / (20 - 15)
    assert r.trend == "improving" and r.on_track is True
    measured(benefit, date(2020, 7, 1), date(2020, 9, 30), "21")
    r = benefit.realisation(date(2021, 1, 1))
    assert r.realisation_percent == D("-20.00") and r.trend == "worsening" and r.on_track is False


def test_maintain_tolerance_within_and_outside():
    benefit = identified(
        direction="maintain",
        unit="percent",
        tolerance="2",
        baseline={"value": "90", "on": date(2020, 1, 1)},
        target={"value": "90", "on": date(2021, 1, 1)},
    )
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "88")  # exactly at the edge
    r = benefit.realisation(date(2021, 1, 1))
    assert (r.within_tolerance, r.realisation_percent, r.on_track, r.expected_percent) == (
        True,
        D("100.00"),
        True,
        None,
    )
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "92.01")  # just outside
    r = benefit.realisation(date(2021, 1, 1))
    assert (r.within_tolerance, r.realisation_percent, r.on_track, r.trend) == (False, D("0.00"), False, "worsening")
    measured(benefit, date(2020, 7, 1), date(2020, 9, 30), "91")
    assert benefit.realisation(date(2021, 1, 1)).trend == "improving"


@pytest.mark.parametrize(
    ("direction", "value", "percent"),
    [
        ("increase", "50", "100.00"),
        ("increase", "49.99", "0.00"),
        ("increase", "60", "100.00"),
        ("decrease", "50", "100.00"),
        ("decrease", "50.01", "0.00"),
        ("decrease", "10", "100.00"),
    ],
)
def test_zero_distance_baseline_equal_to_target(direction, value, percent):
    benefit = identified(
        direction=direction,
        unit="score",
        baseline={"value": "50", "on": date(2020, 1, 1)},
        target={"value": "50", "on": date(2021, 1, 1)},
    )
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), value)
    assert benefit.realisation(date(2021, 1, 1)).realisation_percent == D(percent)


def test_flat_trend_and_no_figures_without_measurements_or_target():
    benefit = identified()
    assert benefit.realisation(date(2030, 1, 1)) == Realisation(None, None, None, None, None, None, None, None, 0, None)
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "5")
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "5")
    assert benefit.realisation(date(2030, 1, 1)).trend == "flat"
    bare = identified(stage=0, direction=None, baseline=None, target=None)
    measured(bare, date(2020, 1, 1), date(2020, 3, 31), "5")
    r = bare.realisation(date(2030, 1, 1))
    assert (r.latest_value, r.realisation_percent, r.on_track, r.trend) == (D(5), None, None, None)


def test_target_revision_and_rebaselining_change_realisation():
    benefit = identified()
    measured(benefit, date(2020, 1, 1), date(2020, 6, 30), "50")
    assert benefit.realisation(date(2021, 1, 1)).realisation_percent == D("50.00")
    benefit.revise_target(value="200", on=date(2021, 1, 1), provenance=on(date(2020, 7, 1), "stretch target"))
    (event,) = benefit.collect_events()
    assert isinstance(event, Benefit.TargetRevised) and event.reason == "stretch target"
    assert benefit.realisation(date(2021, 1, 1)).realisation_percent == D("25.00")
    benefit.rebaseline(value="20", on=date(2020, 1, 1), provenance=on(date(2020, 8, 1), "baseline re-measured"))
    assert isinstance(benefit.collect_events()[0], Benefit.Rebaselined)
    assert benefit.realisation(date(2021, 1, 1)).realisation_percent == D("16.67")  # 30 / 180, half-up
    assert len(benefit.targets) == 2 and len(benefit.baselines) == 2  # earlier ones stay on record
    day = on(date(2020, 9, 1))
    assert_refused(benefit, NothingChanged, benefit.revise_target, value="200", on=date(2021, 1, 1), provenance=day)
    assert_refused(benefit, NothingChanged, benefit.rebaseline, value="20", on=date(2020, 1, 1), provenance=day)
    assert_refused(
        benefit, InvalidBaselineOrTarget, benefit.revise_target, value="300", on=date(2019, 1, 1), provenance=day
    )
    assert_refused(
        benefit, InvalidBaselineOrTarget, benefit.rebaseline, value="300", on=date(2020, 1, 1), provenance=day
    )
    assert_refused(benefit, InvalidBaselineOrTarget, benefit.rebaseline, value="0", on=date(2021, 1, 1), provenance=day)


def test_as_of_holds_only_facts_effective_by_then():
    benefit = identified()
    first = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "20")  # effective 2020-03-31
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "40")  # effective 2020-06-30
    benefit.record_measurement(
        period_start=date(2020, 1, 1),
        period_end=date(2020, 3, 31),
        value="25",
        source="audit",
        measurer="internal audit",
        restates=first,
        provenance=on(date(2020, 8, 1), "corrected after audit"),
    )
    benefit.revise_target(value="200", on=date(2021, 1, 1), provenance=on(date(2020, 9, 1)))
    benefit.change_stage(stage=4, status="realising", provenance=on(date(2020, 10, 1)))
    version = benefit.version

    in_may = benefit.as_of(date(2020, 5, 1))
    assert [m.value for m in in_may.current_measurements()] == [D(20)]
    assert (in_may.target_value, in_may.stage, in_may.status) == (D(100), 2, "planned")
    assert in_may.version == version
    in_july = benefit.as_of(date(2020, 7, 1))
    assert [m.value for m in in_july.current_measurements()] == [D(20), D(40)]
    assert in_july.realisation(date(2020, 12, 31)).realisation_percent == D("40.00")
    in_august = benefit.as_of(date(2020, 8, 1))
    assert [m.value for m in in_august.current_measurements()] == [D(25), D(40)]
    now = benefit.as_of(date(2030, 1, 1))
    assert (now.target_value, now.status) == (D(200), "realising")
    # the original is untouched by viewing it as of an earlier day
    assert len(benefit.current_measurements()) == 2 and benefit.target_value == D(200)


def test_a_target_recorded_out_of_order_is_in_effect_by_its_effective_date():
    """A revision effective 2021-04-01 recorded before one effective 2020-04-01: the later
    effective one is the target now and as of any day from 2021-04-01, whatever the order recorded."""
    benefit = identified()  # target 100 on 2021-01-01, effective 2020-01-01
    benefit.revise_target(value="300", on=date(2022, 1, 1), provenance=on(date(2021, 4, 1), "extended"))
    benefit.revise_target(value="200", on=date(2021, 6, 30), provenance=on(date(2020, 4, 1), "late minutes"))
    assert [t.value for t in benefit.targets] == [D(100), D(300), D(200)]  # as recorded
    assert benefit.target == (D(300), date(2022, 1, 1))
    assert benefit.as_of(date(2021, 6, 1)).target == (D(300), date(2022, 1, 1))
    assert benefit.as_of(date(2021, 3, 31)).target == (D(200), date(2021, 6, 30))
    assert benefit.as_of(date(2020, 4, 1)).target == (D(200), date(2021, 6, 30))
    assert benefit.as_of(date(2020, 3, 31)).target == (D(100), date(2021, 1, 1))
    # realisation now reads the target in effect: 60 of 300
    measured(benefit, date(2021, 1, 1), date(2021, 3, 31), "60")
    assert benefit.realisation(date(2021, 12, 31)).realisation_percent == D("20.00")
    assert benefit.as_of(date(2021, 3, 31)).realisation(date(2021, 3, 31)).realisation_percent == D("30.00")


def test_a_baseline_and_definition_recorded_out_of_order_follow_their_effective_dates():
    benefit = identified()
    benefit.rebaseline(value="20", on=date(2020, 1, 1), provenance=on(date(2020, 9, 1)))
    benefit.rebaseline(value="10", on=date(2020, 1, 1), provenance=on(date(2020, 5, 1)))  # recorded later
    assert benefit.baseline == (D(20), date(2020, 1, 1))
    assert benefit.as_of(date(2020, 6, 1)).baseline == (D(10), date(2020, 1, 1))
    benefit.define(owner="ACC Crime", provenance=on(date(2021, 1, 1)))
    benefit.define(owner="ACC Territorial Policing", provenance=on(date(2020, 6, 1)))  # recorded later
    assert benefit.owner == "ACC Crime"
    assert benefit.as_of(date(2020, 12, 31)).owner == "ACC Territorial Policing"
    assert benefit.as_of(date(2020, 5, 31)).owner == "ACC Operations"


def test_entries_effective_on_the_same_day_are_in_effect_in_the_order_recorded():
    benefit = identified()
    benefit.revise_target(value="150", on=date(2021, 1, 1), provenance=on(date(2020, 6, 1)))
    benefit.revise_target(value="120", on=date(2021, 1, 1), provenance=on(date(2020, 6, 1)))
    benefit.change_stage(stage=3, status="validated", provenance=on(date(2020, 6, 1)))
    benefit.change_stage(stage=4, status="realising", provenance=on(date(2020, 6, 1)))
    for view in (benefit, benefit.as_of(date(2020, 6, 1))):
        assert (view.target_value, view.stage, view.status) == (D(120), 4, "realising")
    assert (benefit.as_of(date(2020, 5, 31)).target_value, benefit.as_of(date(2020, 5, 31)).stage) == (D(100), 2)


@pytest.mark.parametrize("baseline_on", [date(2021, 1, 1), date(2021, 6, 1)])
def test_an_as_of_view_pairing_a_baseline_not_before_its_target_has_no_expected_percent(baseline_on):
    """The reviewer's 500: a target moved to 2026 (effective 2025) let the baseline move to (or
    past) 2021-01-01 (effective 2020-06-01); as of 2021-06-01 the baseline is paired with the
    original target of 2021-01-01. There is no straight line to read, so no expected percent and no
    on-track flag, but the realisation still is."""
    benefit = identified()  # baseline 0 on 2020-01-01, target 100 on 2021-01-01
    benefit.revise_target(value="100", on=date(2026, 1, 1), provenance=on(date(2025, 1, 1)))
    benefit.rebaseline(value="0", on=baseline_on, provenance=on(date(2020, 6, 1)))
    benefit.record_measurement(
        period_start=date(2021, 1, 1),
        period_end=date(2021, 3, 31),
        value="40",
        source="survey",
        measurer="analyst",
        provenance=on(date(2021, 4, 10)),
    )
    view = benefit.as_of(date(2021, 6, 1))
    assert view.baseline == (D(0), baseline_on) and view.target == (D(100), date(2021, 1, 1))
    r = view.realisation(date(2021, 6, 1))
    assert (r.realisation_percent, r.expected_percent, r.on_track) == (D("40.00"), None, None)
    assert r.as_dict()["expected_percent"] is None
    # now the baseline and target are a straight line again: 2021-01-01 to 2026-01-01
    r = benefit.realisation(date(2021, 6, 1))
    assert r.expected_percent is not None and r.on_track is not None


def test_a_benefit_measured_before_it_had_a_unit_may_be_given_its_first_unit():
    benefit = identified(stage=0, status="identified", unit=None)
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "12.345")
    measured(benefit, date(2020, 4, 1), date(2020, 6, 30), "20")
    day = on(date(2020, 7, 1))
    error = assert_refused(benefit, InvalidBenefitValue, benefit.define, unit="GBP", provenance=day)  # not pennies
    assert error.field == "unit"
    benefit.define(unit="percent", provenance=day)
    (event,) = benefit.collect_events()
    assert isinstance(event, Benefit.Defined) and event.unit == "percent"
    assert benefit.unit == "percent"
    assert [m.value for m in benefit.current_measurements()] == [D("12.345"), D(20)]
    assert benefit.realisation(date(2020, 12, 31)).realisation_percent == D("20.00")
    # once it has a unit and measurements, the unit stays
    assert_refused(benefit, UnitFixedByMeasurements, benefit.define, unit="count", provenance=on(date(2020, 8, 1)))


def test_a_first_unit_for_measured_savings_is_the_sub_categorys():
    hours = identified(stage=1, category="1", sub_category="1b", unit=None)
    measured(hours, date(2020, 1, 1), date(2020, 3, 31), "7.5")
    day = on(date(2020, 4, 10))
    assert_refused(hours, InvalidUnit, hours.define, unit="GBP", provenance=day)
    hours.define(unit="hours", provenance=day)
    assert hours.unit == "hours" and hours.realisation(date(2020, 12, 31)).compared_value == D("7.5")
    money = identified(stage=1, category="1", sub_category="1a", unit=None)
    measured(money, date(2020, 1, 1), date(2020, 3, 31), "100.005")
    assert_refused(money, InvalidBenefitValue, money.define, unit="GBP", provenance=day)
    assert_refused(money, InvalidUnit, money.define, unit="percent", provenance=day)
    assert money.unit is None


def test_copies_share_frozen_entries_and_keep_state_snapshot_safe():
    benefit = identified(attribution={"dorset": "0.5", "devon-cornwall": "0.5"})
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "20")
    clone = copy.deepcopy(benefit)
    assert clone.measurements is not benefit.measurements
    assert clone.measurements[0] is benefit.measurements[0]
    allowed = (str, int, Decimal, date, UUID, type(None))  # datetime is a date: the library's timestamps

    def check(value):
        if isinstance(value, list):
            for item in value:
                check(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                assert isinstance(key, str)
                check(item)
        elif hasattr(value, "__dataclass_fields__"):
            assert type(value).__module__ == "domain.benefit"
            for name in value.__dataclass_fields__:
                check(getattr(value, name))
        else:
            assert isinstance(value, allowed), (type(value), value)

    for name, value in vars(benefit).items():
        if name != "_pending_events":
            check(value)


# ------------------------------------------------------------------------ 7F Procurement
SEVEN_FORCES = ["bedfordshire", "cambridgeshire", "essex", "hertfordshire", "kent", "norfolk", "suffolk"]


def test_7f_procurement_savings_realise_cumulatively():
    """£8,455,000.00 over 4 years from 2019-04-01, measured quarterly as per-quarter savings; the
    target is a 4-year total, so realisation compares the cumulative savings with it."""
    benefit = identified(
        title="7F Procurement savings",
        category="1",
        sub_category="1a",
        pillar="cost",
        direction="increase",
        measure="cashable procurement savings per quarter",
        unit="GBP",
        baseline={"value": "0", "on": date(2019, 4, 1)},
        target={"value": "8455000.00", "on": date(2023, 3, 31)},
        owner="7F Procurement Director",
        stage=4,
        status="realising",
        parties=SEVEN_FORCES,
        provenance=on(date(2019, 1, 15), "procurement agreement signed"),
    )
    assert benefit.is_money and benefit.is_cumulative
    ids = [measured(benefit, start, end, "528437.50") for start, end in quarters(date(2019, 4, 1), 16)]
    r = benefit.realisation(date(2023, 3, 31))
    assert r.cumulative_value == D("8455000.00") and r.realisation_percent == D("100.00")
    assert r.expected_percent == D("100.00") and r.on_track is True and r.trend == "flat"
    assert r.latest_value == D("528437.50") and r.measurements_count == 16
    # Q3 2020/21 restated: a supplier rebate was counted twice
    measured(benefit, date(2020, 10, 1), date(2020, 12, 31), "478437.50", restates=ids[6])
    r = benefit.realisation(date(2023, 3, 31))
    assert r.cumulative_value == D("8405000.00") and r.measurements_count == 16
    assert r.realisation_percent == D("99.41") and r.on_track is False  # 8,405,000 / 8,455,000
    assert r.as_dict()["cumulative_value"] == "8405000.00"
    assert r.as_dict()["realisation_percent"] == "99.41"
    # halfway through: two years of quarters
    r = benefit.realisation(date(2021, 3, 31))
    assert r.cumulative_value == D("4177500.00")  # 8 quarters less the 50,000 restated
    assert r.realisation_percent == D("49.41") and r.expected_percent == D("50.00")  # 730 of 1460 days
    assert r.on_track is False
    assert r.latest_period_end == date(2021, 3, 31)


def test_unplanned_procurement_savings_are_their_own_benefit():
    unplanned = identified(
        title="7F Procurement savings not in the business case",
        category="1",
        sub_category="1a",
        pillar="cost",
        unit="GBP",
        stage=5,
        status="realised",
        baseline={"value": "0", "on": date(2019, 4, 1)},
        target={"value": "1150000.00", "on": date(2023, 3, 31)},
        parties=SEVEN_FORCES,
    )
    measured(unplanned, date(2019, 4, 1), date(2023, 3, 31), "1150000")
    r = unplanned.realisation(date(2023, 3, 31))
    assert (r.cumulative_value, r.realisation_percent) == (D("1150000.00"), D("100.00"))


# ------------------------------------------------------------------------ properties
@settings(max_examples=60, deadline=None)
@given(
    st.decimals(min_value=-1000, max_value=1000, places=2),
    st.decimals(min_value=-1000, max_value=1000, places=2),
)
def test_increase_realisation_is_monotone_in_the_latest_value(a, b):
    low, high = sorted([a, b])
    percents = []
    for value in (low, high):
        benefit = identified()
        measured(benefit, date(2020, 1, 1), date(2020, 3, 31), value)
        percents.append(benefit.realisation(date(2021, 1, 1)).realisation_percent)
    assert percents[0] <= percents[1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 20)), max_size=25))
def test_restating_never_changes_the_number_of_current_measurements(steps):
    benefit = identified()
    for start, end in quarters(date(2020, 1, 1), 12):
        measured(benefit, start, end, "1")
    for quarter, value in steps:
        current = benefit.current_measurements()[quarter]
        measured(benefit, current.period_start, current.period_end, str(value), restates=current.measurement_id)
        assert len(benefit.current_measurements()) == 12
    assert benefit.realisation(date(2030, 1, 1)).measurements_count == 12


def test_a_snapshot_of_a_benefit_loads_the_same_benefit():
    """The state survives the service's snapshot transcoding (JSON) unchanged."""
    from service.application import CollaborationRecords

    benefit = identified(unit="GBP", attribution={"dorset": "0.5", "devon-cornwall": "0.5"})
    first = measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "20.50")
    measured(benefit, date(2020, 1, 1), date(2020, 3, 31), "21.00", restates=first)
    benefit.revise_target(value="150", on=date(2021, 1, 1), provenance=on(date(2020, 4, 1)))
    benefit.reopen(status="identified", stage=1, provenance=on(date(2020, 5, 1)))
    benefit.collect_events()
    records = CollaborationRecords(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        snapshot = Benefit.Snapshot.take(benefit)
        stored = records.mapper.to_stored_event(snapshot)
        loaded = records.mapper.to_domain_event(stored).mutate(None)
    finally:
        records.close()
    assert vars(loaded) == {k: v for k, v in vars(benefit).items() if k != "_pending_events"} | {"_pending_events": []}
    assert loaded.realisation(date(2021, 1, 1)) == benefit.realisation(date(2021, 1, 1))


def test_savings_of_time_are_counted_cumulatively_like_money():
    """Category 1 increases (money, time, cost avoided) are flows: each measurement is what was
    saved in its period, and the target a total."""
    hours = identified(
        category="1", sub_category="1b", unit="hours", measure="operational hours released", pillar="people"
    )
    assert hours.is_cumulative
    measured(hours, date(2020, 1, 1), date(2020, 3, 31), "20")
    measured(hours, date(2020, 4, 1), date(2020, 6, 30), "35")
    r = hours.realisation(date(2020, 12, 31))
    assert (r.compared_value, r.realisation_percent) == (D(55), D("55.00"))
    level = identified(
        category="1",
        sub_category="1a",
        unit="GBP",
        direction="decrease",
        baseline={"value": "1000", "on": date(2020, 1, 1)},
        target={"value": "800", "on": date(2021, 1, 1)},
        measure="running cost per quarter",
    )
    assert not level.is_cumulative  # a running cost coming down is a level


def test_a_stage_move_dated_before_the_move_in_effect_is_refused():
    benefit = identified()
    benefit.change_stage(stage=3, status="validated", provenance=on(date(2020, 6, 1)))
    benefit.collect_events()
    version = benefit.version
    with pytest.raises(StageMoveOutOfOrder):
        benefit.change_stage(stage=4, status="realising", provenance=on(date(2020, 3, 1)))
    with pytest.raises(StageMoveOutOfOrder):
        benefit.reopen(status="planned", provenance=on(date(2020, 5, 31)))
    assert benefit.version == version
    benefit.change_stage(stage=4, status="realising", provenance=on(date(2020, 6, 1)))  # the same day is fine
    assert (benefit.stage, benefit.status) == (4, "realising")


def test_no_fact_of_a_benefit_is_dated_before_it_was_identified():
    benefit = identified()  # identified 2020-01-01
    for command, kwargs in (
        (
            benefit.record_measurement,
            {
                "period_start": date(2019, 10, 1),
                "period_end": date(2019, 12, 31),
                "value": "70",
                "source": "survey",
                "measurer": "analyst",
            },
        ),
        (benefit.revise_target, {"value": "90", "on": date(2021, 1, 1)}),
        (benefit.define, {"owner": "Head of HR"}),
    ):
        with pytest.raises(FactBeforeBenefit) as raised:
            command(**kwargs, provenance=on(date(2019, 12, 31)))
        assert raised.value.field == "effective_on" and "2020-01-01" in raised.value.detail
    assert benefit.collect_events() == []
    benefit.change_stage(stage=3, provenance=on(date(2020, 1, 1)))
    assert len(benefit.collect_events()) == 1


@pytest.mark.parametrize(
    ("sub_category", "unit", "cumulative", "total"),
    [
        ("1a", "GBP", True, CASH_SAVINGS),
        ("1c", "GBP", True, COST_AVOIDED),
        ("1a", "GBP", False, None),  # a GBP level (a running cost) is not a saving
        ("1c", "GBP", False, None),
        ("1b", "hours", True, None),  # time saved is counted, never summed into money
        ("1a", "hours", True, None),
        ("2a", "GBP", True, None),
        ("1a", None, True, None),
    ],
)
def test_only_cumulative_money_savings_and_costs_avoided_add_to_a_money_total(sub_category, unit, cumulative, total):
    assert money_total_of(sub_category, unit, cumulative) == total


def test_a_benefit_knows_its_money_total_its_forces_and_the_day_its_figures_are_read_on():
    saving = identified(category="1", sub_category="1a", unit="GBP", pillar="cost", direction="increase")
    assert saving.money_total == CASH_SAVINGS
    assert saving.forces == PARTIES
    assert saving.realisation_day == date(2021, 1, 1)  # no measurement: the target date
    measured(saving, date(2020, 1, 1), date(2020, 3, 31), "1000.00")
    measured(saving, date(2020, 4, 1), date(2020, 6, 30), "1000.00")
    assert saving.realisation_day == date(2020, 6, 30)  # the latest period measured
    attributed = identified(attribution={"dorset": "0.25", "devon-cornwall": "0.75"})
    assert attributed.money_total is None
    assert attributed.forces == ["devon-cornwall", "dorset"]
