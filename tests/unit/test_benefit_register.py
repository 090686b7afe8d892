"""The register's fields of a benefit, each a recorded fact with its history: dis-benefits, the
Green Book class, the senior responsible owner beside the benefit owner, the measurement
frequency and stale readings, links to a function and an objective, confidence, the benefit
profile and its rebaselining, and RAG derived from the variance against plan, or overridden."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.benefit import (
    RAG_AMBER_BEYOND,
    RAG_RED_BEYOND,
    Benefit,
    add_months,
)
from domain.errors import (
    BenefitFinal,
    InvalidBenefitClass,
    InvalidBenefitKind,
    InvalidConfidence,
    InvalidMeasurementFrequency,
    InvalidProfile,
    InvalidRag,
    NothingChanged,
)
from tests.unit.refusals import assert_refused
from tests.unit.test_benefit import identified, measured, on

D = Decimal


def savings(**overrides) -> Benefit:
    """A cash saving: £1,200 over 2020, counted cumulatively."""
    fields = {
        "title": "Shared procurement savings",
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "measure": "cash saved per quarter",
        "unit": "GBP",
        "baseline": {"value": "0", "on": date(2020, 1, 1)},
        "target": {"value": "1200.00", "on": date(2020, 12, 31)},
    }
    fields.update(overrides)
    return identified(**fields)


QUARTERS = [
    (date(2020, 1, 1), date(2020, 3, 31)),
    (date(2020, 4, 1), date(2020, 6, 30)),
    (date(2020, 7, 1), date(2020, 9, 30)),
    (date(2020, 10, 1), date(2020, 12, 31)),
]


def profile_of(*values: str) -> list[dict]:
    return [
        {"period_start": start, "period_end": end, "value": value}
        for (start, end), value in zip(QUARTERS, values, strict=False)
    ]


def profiled(benefit: Benefit, *values: str, day: date = date(2020, 1, 2), reason: str = "OBC profile") -> Benefit:
    benefit.set_profile(periods=profile_of(*values), provenance=on(day, reason))
    benefit.collect_events()
    return benefit


# ------------------------------------------------------------------------------- identity
def test_a_dis_benefit_is_identified_and_kept_apart_from_benefits():
    dis = identified(kind="dis_benefit", title="Longer travel to the shared custody suite")
    assert dis.is_dis_benefit and dis.kind == "dis_benefit"
    assert not identified().is_dis_benefit
    with pytest.raises(InvalidBenefitKind) as refused:
        Benefit.identify(**_full(kind="drawback"))
    assert refused.value.field == "kind"


def _full(**overrides) -> dict:
    from tests.unit.test_benefit import full

    return full(**overrides)


def test_the_class_defaults_follow_the_sub_category_and_unit_until_classified():
    assert savings().is_cash_releasing is True  # 1a Money
    assert savings(sub_category="1c").is_cash_releasing is False  # cost avoided is not cash
    assert identified().is_quantitative is True  # measured in percent
    assert identified(unit="score").is_quantitative is False
    classified = savings(cash_releasing=False, quantitative=False)
    assert (classified.is_cash_releasing, classified.is_quantitative) == (False, False)
    with pytest.raises(InvalidBenefitClass):
        Benefit.identify(**_full(cash_releasing="yes"))


def test_define_records_the_class_the_senior_responsible_owner_and_the_frequency_with_history():
    benefit = identified(owner="Head of Rostering")
    benefit.define(
        senior_responsible_owner="ACC Operations",
        cash_releasing=False,
        quantitative=True,
        measurement_frequency="quarterly",
        provenance=on(date(2020, 2, 1), "roles agreed at the programme board"),
    )
    benefit.collect_events()
    assert benefit.owner == "Head of Rostering" and benefit.senior_responsible_owner == "ACC Operations"
    assert (benefit.cash_releasing, benefit.frequency) == (False, "quarterly")
    assert [d.senior_responsible_owner for d in benefit.definitions] == [None, "ACC Operations"]
    # what is not given is kept; the same again changes nothing
    assert_refused(
        benefit, NothingChanged, benefit.define, measurement_frequency="quarterly", provenance=on(date(2020, 3, 1))
    )
    assert_refused(
        benefit,
        InvalidMeasurementFrequency,
        benefit.define,
        measurement_frequency="weekly",
        provenance=on(date(2020, 3, 1)),
    )
    assert_refused(benefit, InvalidBenefitClass, benefit.define, quantitative=1, provenance=on(date(2020, 3, 1)))
    # as it stood before the roles were agreed
    assert benefit.as_of(date(2020, 1, 15)).senior_responsible_owner is None


def test_links_to_a_function_and_an_objective_have_a_history():
    benefit = identified(function_id="fn-1", objective="A sustainable rota")
    assert (benefit.function_id, benefit.objective) == ("fn-1", "A sustainable rota")
    benefit.link(function_id=None, objective="Officer wellbeing", provenance=on(date(2020, 6, 1), "whole alliance"))
    benefit.collect_events()
    assert (benefit.function_id, benefit.objective) == (None, "Officer wellbeing")
    assert [(link.function_id, link.version) for link in benefit.links] == [("fn-1", 1), (None, 2)]
    assert benefit.as_of(date(2020, 5, 1)).function_id == "fn-1"
    assert_refused(
        benefit,
        NothingChanged,
        benefit.link,
        function_id=None,
        objective="Officer wellbeing",
        provenance=on(date(2020, 7, 1)),
    )


def test_confidence_is_assessed_with_its_reason():
    benefit = identified()
    assert benefit.confidence is None
    benefit.assess_confidence(confidence="medium", provenance=on(date(2020, 2, 1), "supplier yet to sign"))
    benefit.assess_confidence(confidence="high", provenance=on(date(2020, 5, 1), "contract signed"))
    benefit.collect_events()
    assert (benefit.confidence.confidence, benefit.confidence.reason) == ("high", "contract signed")
    assert benefit.as_of(date(2020, 3, 1)).confidence.confidence == "medium"
    assert_refused(
        benefit, InvalidConfidence, benefit.assess_confidence, confidence="certain", provenance=on(date(2020, 6, 1))
    )
    assert_refused(
        benefit,
        NothingChanged,
        benefit.assess_confidence,
        confidence="high",
        provenance=on(date(2020, 6, 1), "contract signed"),
    )


# ------------------------------------------------------------------------------- profiles
@pytest.mark.parametrize(
    "periods, field",
    [
        ([], "periods"),
        ("quarterly", "periods"),
        ([{"period_start": date(2020, 1, 1), "value": "1"}], "periods.0"),
        ([{"period_start": date(2020, 2, 1), "period_end": date(2020, 1, 1), "value": "1"}], "periods.0"),
        ([{"period_start": date(2020, 1, 1), "period_end": date(2020, 3, 31), "value": "1.001"}], "periods.0.value"),
        (
            [
                {"period_start": date(2020, 1, 1), "period_end": date(2020, 3, 31), "value": "1"},
                {"period_start": date(2020, 3, 31), "period_end": date(2020, 6, 30), "value": "1"},
            ],
            "periods",
        ),
    ],
)
def test_a_bad_profile_is_refused(periods, field):
    benefit = savings()
    error = assert_refused(benefit, Exception, benefit.set_profile, periods=periods, provenance=on(date(2020, 1, 2)))
    assert error.field == field


def test_a_profile_needs_a_direction_and_a_unit_and_a_benefit_not_final():
    early = identified(stage=0, status="identified", direction=None, unit=None, baseline=None, target=None)
    assert_refused(early, InvalidProfile, early.set_profile, periods=profile_of("1"), provenance=on(date(2020, 1, 2)))
    done = savings()
    done.change_stage(stage=5, status="realised", provenance=on(date(2020, 1, 2)))
    done.collect_events()
    assert_refused(done, BenefitFinal, done.set_profile, periods=profile_of("1"), provenance=on(date(2020, 1, 3)))


def test_a_cumulative_benefit_reads_expected_from_its_profile_not_a_straight_line():
    benefit = profiled(savings(), "100.00", "200.00", "400.00", "500.00")  # back-loaded
    measured(benefit, *QUARTERS[0], "100.00")
    measured(benefit, *QUARTERS[1], "200.00")
    r = benefit.realisation(date(2020, 6, 30))
    assert (r.planned_value, r.expected_basis) == (D("300.00"), "profile")
    assert r.expected_percent == D("25.00")  # not the straight line's 49.73
    assert r.realisation_percent == D("25.00") and r.on_track is True
    assert (r.variance, r.variance_percent, r.rag) == (D("0.00"), D("0.00"), "green")
    # mid-period the period under way counts pro rata
    assert benefit.planned_at(date(2020, 8, 15)) == D("300.00") + (D("400.00") * 46 / 92).quantize(D("0.01"))


def test_a_level_benefit_reads_the_level_planned_for_the_period_under_way():
    benefit = profiled(identified(), "10", "40", "70", "100")
    assert benefit.planned_at(date(2019, 12, 31)) == D("0")  # the baseline before the first period
    assert benefit.planned_at(date(2020, 5, 1)) == D("40")
    assert benefit.planned_at(date(2021, 6, 1)) == D("100")  # after the last: its level


def test_without_a_profile_the_plan_is_the_straight_line():
    benefit = savings()
    measured(benefit, date(2020, 1, 1), date(2020, 7, 1), "600.00")
    r = benefit.realisation(date(2020, 7, 1))
    assert r.expected_basis == "straight_line" and r.expected_percent == D("49.86")  # 182 of 365 days
    assert r.planned_value == D("598.36")  # 1200 * 182 / 365, to the penny
    assert r.rag == "green"


def test_rebaselining_the_profile_is_recorded_and_the_earlier_one_kept():
    benefit = profiled(savings(), "300.00", "300.00", "300.00", "300.00")
    benefit.change_stage(stage=3, provenance=on(date(2020, 2, 1)))
    benefit.collect_events()
    profiled(benefit, "100.00", "200.00", "400.00", "500.00", day=date(2020, 3, 1), reason="FBC rebaselining")
    assert [(p.stage, p.reason) for p in benefit.profiles] == [(2, "OBC profile"), (3, "FBC rebaselining")]
    assert benefit.planned_at(date(2020, 6, 30)) == D("300.00")
    assert benefit.as_of(date(2020, 2, 15)).planned_at(date(2020, 6, 30)) == D("600.00")
    with pytest.raises(NothingChanged):
        benefit.set_profile(periods=profile_of("100.00", "200.00", "400.00", "500.00"), provenance=on(date(2020, 4, 1)))


# ------------------------------------------------------------------------------------ RAG
@pytest.mark.parametrize(
    "actual, rag",
    [
        ("1000.00", "green"),
        ("950.00", "green"),  # 5% short: the edge of green
        ("949.94", "amber"),  # 5.006% short is shown, and judged, as 5.01%
        ("850.00", "amber"),  # 15% short: the edge of amber
        ("849.94", "red"),
        ("1100.00", "green"),  # ahead of plan
    ],
)
def test_rag_follows_the_documented_thresholds(actual, rag):
    assert (D(5), D(15)) == (RAG_AMBER_BEYOND, RAG_RED_BEYOND)
    benefit = profiled(savings(target={"value": "4000.00", "on": date(2020, 12, 31)}), "1000.00", "1000.00")
    measured(benefit, *QUARTERS[0], actual)
    r = benefit.realisation(QUARTERS[0][1])
    assert r.rag_derived == rag and r.rag == rag and r.rag_overridden is False
    assert r.variance == D(actual) - D("1000.00")


def test_a_dis_benefit_is_red_when_worse_than_planned_and_green_when_better():
    dis = savings(kind="dis_benefit", title="Extra travel costs", sub_category="1a")
    profiled(dis, "100.00", "100.00")
    measured(dis, *QUARTERS[0], "130.00")
    r = dis.realisation(QUARTERS[0][1])
    assert (r.variance, r.variance_percent, r.rag) == (D("-30.00"), D("-30.00"), "red")
    assert r.on_track is False  # more dis-benefit than planned
    measured(dis, *QUARTERS[1], "50.00")
    r = dis.realisation(QUARTERS[1][1])
    assert r.rag == "green" and r.on_track is True  # 180 against 200 planned


def test_a_maintain_benefit_is_green_within_tolerance_amber_within_twice_it_else_red():
    benefit = identified(
        direction="maintain",
        tolerance="2",
        baseline={"value": "90", "on": date(2020, 1, 1)},
        target={"value": "90", "on": date(2021, 1, 1)},
    )
    for (start, end), value, rag in zip(QUARTERS, ["91", "87", "85"], ["green", "amber", "red"], strict=False):
        measured(benefit, start, end, value)
        assert benefit.realisation(end).rag == rag


def test_a_rag_override_shows_over_the_derived_status_until_cleared():
    benefit = profiled(savings(), "1000.00")
    measured(benefit, *QUARTERS[0], "500.00")
    assert benefit.realisation(QUARTERS[0][1]).rag == "red"
    benefit.override_rag(rag="amber", provenance=on(date(2020, 4, 10), "late invoices expected next month"))
    benefit.collect_events()
    r = benefit.realisation(QUARTERS[0][1])
    assert (r.rag, r.rag_derived, r.rag_overridden) == ("amber", "red", True)
    assert benefit.rag_override.reason == "late invoices expected next month"
    assert_refused(benefit, NothingChanged, benefit.override_rag, rag="amber", provenance=on(date(2020, 4, 11)))
    assert_refused(benefit, InvalidRag, benefit.override_rag, rag="blue", provenance=on(date(2020, 4, 11)))
    assert benefit.as_of(date(2020, 4, 9)).realisation(QUARTERS[0][1]).rag == "red"
    benefit.override_rag(rag=None, provenance=on(date(2020, 5, 1), "invoices arrived"))
    benefit.collect_events()
    assert benefit.realisation(QUARTERS[0][1]).rag == "red"
    assert [o.rag for o in benefit.rag_overrides] == ["amber", None]
    assert_refused(benefit, NothingChanged, benefit.override_rag, rag=None, provenance=on(date(2020, 5, 2)))


def test_no_rag_without_a_measurement_or_a_plan():
    assert savings().realisation(date(2020, 12, 31)).rag is None
    unplanned = identified(stage=0, status="identified", baseline=None, target=None)
    measured(unplanned, *QUARTERS[0], "50")
    assert unplanned.realisation(QUARTERS[0][1]).rag is None


# ----------------------------------------------------------------------- stale readings
def test_the_next_measurement_is_due_one_interval_and_a_grace_period_after_the_last():
    benefit = savings()
    assert benefit.measurement_due_by() is None
    measured(benefit, *QUARTERS[0], "100.00")
    assert benefit.frequency == "annually"
    assert benefit.measurement_due_by() == date(2021, 4, 30)  # 12 months and 30 days after 2020-03-31
    benefit.define(measurement_frequency="quarterly", provenance=on(date(2020, 4, 1)))
    benefit.collect_events()
    assert benefit.measurement_due_by() == date(2020, 7, 30)
    benefit.change_stage(stage=5, status="realised", provenance=on(date(2020, 4, 2)))
    benefit.collect_events()
    assert benefit.measurement_due_by() is None  # nothing more is due


def test_add_months_keeps_the_day_or_the_months_last():
    assert add_months(date(2020, 1, 31), 1) == date(2020, 2, 29)
    assert add_months(date(2019, 11, 30), 3) == date(2020, 2, 29)
    assert add_months(date(2021, 3, 31), 12) == date(2022, 3, 31)
    assert add_months(date(9999, 6, 1), 12) == date.max


# -------------------------------------------------------------------------- snapshots
def test_a_snapshot_keeps_the_register_fields_and_a_version_1_snapshot_is_upcast():
    from service.application import CollaborationRecords

    benefit = profiled(savings(kind="dis_benefit", reference="B-7", objective="Save money"), "100.00")
    benefit.assess_confidence(confidence="low", provenance=on(date(2020, 2, 1), "new supplier"))
    benefit.override_rag(rag="amber", provenance=on(date(2020, 2, 1), "watching"))
    benefit.collect_events()
    records = CollaborationRecords(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        snapshot = Benefit.Snapshot.take(benefit)
        loaded = records.mapper.to_domain_event(records.mapper.to_stored_event(snapshot)).mutate(None)
        assert vars(loaded) == {k: v for k, v in vars(benefit).items() if k != "_pending_events"} | {
            "_pending_events": []
        }
        # a snapshot taken before version 2 has none of the register's fields
        old = Benefit.Snapshot.take(identified(function_id="fn-9"))
        state = dict(old.state)
        register = ["kind", "reference", "links", "objective", "confidences", "profiles", "rag_overrides"]
        register += ["confidence", "profile", "rag_override", "senior_responsible_owner", "cash_releasing"]
        for name in [*register, "quantitative", "measurement_frequency"]:
            state.pop(name)
        state.pop("class_version", None)
        Benefit.upcast_v1_v2(state)
        assert state["links"][0].function_id == "fn-9" and state["kind"] == "benefit" and state["profiles"] == []
    finally:
        records.close()
