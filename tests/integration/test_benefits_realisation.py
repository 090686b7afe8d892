"""The benefits realisation projection, on SQLite and PostgreSQL alike.

Benefits are built with the domain and saved with ``records.save``. Figures are checked against
numbers worked out by hand (DOMAIN.md's 7F Procurement savings), and the projection's rows and
dashboards against ``dashboard_of`` over aggregates loaded afresh from the repository (another
path to the same aggregates: no in-memory advancing, no SQL).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import pytest

from domain.benefit import Benefit
from domain.values import Provenance
from projections.benefits_realisation import (
    BenefitsRealisation,
    concerns_benefits_realisation,
    dashboard_of,
)
from service.application import Caller, CollaborationRecords
from tests.integration.faults import InjectedFailure, fail_on_call

READ_ON = date(2030, 1, 1)  # the day dashboards are read on (which readings are stale)

ADMIN = Caller("tester (admin)")
SEVEN_F = ["bedfordshire", "cambridgeshire", "essex", "hertfordshire", "kent", "norfolk", "suffolk"]
WM, WARKS = "west-mercia", "warwickshire"
START = date(2019, 1, 1)


@pytest.fixture
def open_realisation(open_projection: Callable[..., BenefitsRealisation]) -> Callable[..., BenefitsRealisation]:
    return lambda **options: open_projection(BenefitsRealisation, **options)


def said(day: date = START, reason: str = "agreed by the board") -> Provenance:
    return Provenance(day, "tester", reason)


def identify(collaboration_id: str, parties: list[str] = SEVEN_F, **fields: Any) -> Benefit:
    """A benefit at stage 0 unless the fields say otherwise."""
    fields.setdefault("title", "A benefit")
    fields.setdefault("category", "1")
    fields.setdefault("sub_category", "1a")
    fields.setdefault("pillar", "cost")
    return Benefit.identify(collaboration_id=collaboration_id, parties=parties, provenance=said(), **fields)


def procurement(collaboration_id: str, **fields: Any) -> Benefit:
    """7F Procurement: a 1a Money benefit of 8,455,000.00 over 4 years."""
    return identify(
        collaboration_id,
        title="Procurement savings",
        direction="increase",
        measure="Cashable savings on contracts let",
        unit="GBP",
        baseline={"value": "0.00", "on": START},
        target={"value": "8455000.00", "on": date(2023, 1, 1)},
        owner="7F head of procurement",
        stage=2,
        status="planned",
        **fields,
    )


def measure(benefit: Benefit, start: date, end: date, value: str, restates: str | None = None) -> str:
    return benefit.record_measurement(
        period_start=start,
        period_end=end,
        value=value,
        source="finance ledger",
        measurer="7F finance",
        restates=restates,
        provenance=said(end),
    )


def establish(records: CollaborationRecords, parties: list[str] = SEVEN_F) -> str:
    return records.establish_collaboration(
        caller=ADMIN,
        name="7F procurement",
        purpose="Joint procurement",
        parties=parties,
        lead_force=parties[0],
        effective_on=START,
        reason="signed",
    ).result["id"]


def row(realisation: BenefitsRealisation, benefit: Benefit) -> dict[str, Any]:
    (found,) = [item for item in realisation.portfolio() if item["benefit_id"] == str(benefit.id)]
    return found


COUNTED = ("benefits", "on_track", "measured", "cash_savings", "cost_avoided", "other_units")


def counted(total: dict[str, Any]) -> dict[str, Any]:
    """A total's counts and its cash savings and cost avoided (the register's class, RAG,
    dis-benefit and staleness totals are tested in test_benefits_register.py)."""
    return {name: total[name] for name in COUNTED}


def fresh_dashboard(records: CollaborationRecords, realisation: BenefitsRealisation, cid: str) -> dict[str, Any]:
    """``dashboard_of`` the aggregates at their latest versions, loaded from the repository."""
    ids = [item["benefit_id"] for item in realisation.portfolio(collaboration_id=cid)]
    return dashboard_of([records.repository.get(UUID(bid)) for bid in ids], read_on=READ_ON, collaboration_id=cid)


# ---------------------------------------------------------------------------- the rows
def test_a_row_follows_each_event(records, open_realisation):
    cid = establish(records)
    realisation = open_realisation(batch_size=1)
    benefit = procurement(cid)
    records.save(benefit)
    realisation.catch_up()
    identified = row(realisation, benefit)
    assert identified == {
        "benefit_id": str(benefit.id),
        "collaboration_id": cid,
        "title": "Procurement savings",
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "measure": "Cashable savings on contracts let",
        "unit": "GBP",
        "tolerance": None,
        "owner": "7F head of procurement",
        "function_id": None,
        "stage": 2,
        "status": "planned",
        "baseline_value": "0.00",
        "baseline_on": "2019-01-01",
        "target_value": "8455000.00",
        "target_on": "2023-01-01",
        "attribution": {},
        "forces": SEVEN_F,
        "cumulative": True,
        "latest_value": None,
        "latest_period_end": None,
        "cumulative_value": None,
        "realised_value": None,
        "realisation_percent": None,
        "expected_percent": None,
        "on_track": None,
        "within_tolerance": None,
        "trend": None,
        "measurements_count": 0,
        "kind": "benefit",
        "reference": None,
        "objective": None,
        "senior_responsible_owner": None,
        "cash_releasing": True,  # unclassified, a 1a Money saving is cash-releasing
        "quantitative": True,
        "measurement_frequency": "annually",
        "confidence": None,
        "planned_value": None,
        "expected_basis": None,
        "variance": None,
        "variance_percent": None,
        "rag_derived": None,
        "rag": None,
        "rag_overridden": False,
        "measurement_due_by": None,
        "version": 1,
    }

    def after(**changes: Any) -> None:
        records.save(benefit)
        realisation.catch_up()
        expected.update(changes, version=benefit.version)
        assert row(realisation, benefit) == expected
        assert realisation.dashboard(cid, read_on=READ_ON) == fresh_dashboard(records, realisation, cid)

    expected = dict(identified)
    # Q1: 500,000 of 8,455,000 is 5.91%; the straight line is at 89 of 1461 days, 6.09%.
    q1 = measure(benefit, date(2019, 1, 1), date(2019, 3, 31), "500000.00")
    after(
        latest_value="500000.00",
        latest_period_end="2019-03-31",
        cumulative_value="500000.00",
        realised_value="500000.00",
        realisation_percent="5.91",
        expected_percent="6.09",
        on_track=False,
        measurements_count=1,
        # the straight line plans 8,455,000 x 89/1461 = 515,054.76: 2.92% short is still green
        planned_value="515054.76",
        expected_basis="straight_line",
        variance="-15054.76",
        variance_percent="-2.92",
        rag_derived="green",
        rag="green",
        measurement_due_by="2020-04-30",  # a year and 30 days after the period ended
    )
    # Q2: savings are a flow, so realisation compares the cumulative 1,200,000: 14.19% against
    # 180/1461 = 12.32%.
    q2 = measure(benefit, date(2019, 4, 1), date(2019, 6, 30), "700000.00")
    after(
        latest_value="700000.00",
        latest_period_end="2019-06-30",
        cumulative_value="1200000.00",
        realised_value="1200000.00",
        realisation_percent="14.19",
        expected_percent="12.32",
        on_track=True,
        trend="improving",
        measurements_count=2,
        planned_value="1041683.78",
        variance="158316.22",
        variance_percent="15.20",
        measurement_due_by="2020-07-30",
    )
    # Q2 restated, then the restatement restated: only the last counts.
    q2b = measure(benefit, date(2019, 4, 1), date(2019, 6, 30), "600000.00", restates=q2)
    after(
        latest_value="600000.00",
        cumulative_value="1100000.00",
        realised_value="1100000.00",
        realisation_percent="13.01",
        variance="58316.22",
        variance_percent="5.60",
    )
    measure(benefit, date(2019, 4, 1), date(2019, 6, 30), "550000.00", restates=q2b)
    after(
        latest_value="550000.00",
        cumulative_value="1050000.00",
        realised_value="1050000.00",
        realisation_percent="12.42",
        variance="8316.22",
        variance_percent="0.80",
    )
    # Restating Q1 above Q2 turns the trend (Q2 is still the latest period).
    measure(benefit, date(2019, 1, 1), date(2019, 3, 31), "560000.00", restates=q1)
    after(
        cumulative_value="1110000.00",
        realised_value="1110000.00",
        realisation_percent="13.13",
        trend="worsening",
        variance="68316.22",
        variance_percent="6.56",
    )
    benefit.change_stage(stage=4, status="realising", provenance=said(date(2019, 7, 1)))
    after(stage=4, status="realising")
    # A revised target: 1,110,000 of 10,000,000 is 11.10%, ahead of the line (now 180 of 1826 days).
    benefit.revise_target(value="10000000.00", on=date(2024, 1, 1), provenance=said(date(2019, 7, 2)))
    after(
        target_value="10000000.00",
        target_on="2024-01-01",
        realisation_percent="11.10",
        expected_percent="9.86",
        planned_value="985761.23",
        variance="124238.77",
        variance_percent="12.60",
    )
    # Rebaselined at 100,000: 1,010,000 of the 9,900,000 to go is 10.20%.
    benefit.rebaseline(value="100000.00", on=START, provenance=said(date(2019, 7, 3)))
    after(
        baseline_value="100000.00",
        realisation_percent="10.20",
        planned_value="1075903.61",
        variance="34096.39",
        variance_percent="3.17",
    )
    benefit.reopen(status="validated", provenance=said(date(2019, 8, 1), "figures challenged"))
    after(status="validated")


def test_levels_use_the_latest_value_and_maintain_its_tolerance(records, open_realisation):
    cid = establish(records)
    realisation = open_realisation()
    waiting = identify(
        cid,
        title="Time to answer 101 calls",
        category="2",
        sub_category="2b",
        pillar="service",
        direction="decrease",
        measure="Average seconds to answer",
        unit="count",
        baseline={"value": "100", "on": START},
        target={"value": "60", "on": date(2020, 1, 1)},
    )
    measure(waiting, date(2019, 1, 1), date(2019, 3, 31), "90")
    measure(waiting, date(2019, 4, 1), date(2019, 6, 30), "80")
    satisfaction = identify(
        cid,
        title="Staff satisfaction",
        category="2",
        sub_category="2a",
        pillar="people",
        direction="maintain",
        tolerance="2",
        measure="Survey score",
        unit="percent",
        baseline={"value": "95", "on": START},
        target={"value": "95", "on": date(2020, 1, 1)},
    )
    measure(satisfaction, date(2019, 1, 1), date(2019, 6, 30), "94")
    flat = identify(
        cid,
        title="Already at target",
        category="3",
        sub_category="3b",
        pillar="service",
        direction="increase",
        unit="score",
        baseline={"value": "5", "on": START},
        target={"value": "5", "on": date(2020, 1, 1)},
    )
    measure(flat, date(2019, 1, 1), date(2019, 1, 31), "5")
    records.save(waiting, satisfaction, flat)
    realisation.catch_up()

    # A level: the latest 80 is half way from 100 to 60; the sum of the two is no figure of it.
    waiting_row = row(realisation, waiting)
    assert (
        waiting_row["cumulative"],
        waiting_row["latest_value"],
        waiting_row["cumulative_value"],
        waiting_row["realised_value"],
        waiting_row["realisation_percent"],
        waiting_row["trend"],
    ) == (False, "80", "170", "80", "50.00", "improving")
    # 180 of 365 days: 49.32% expected, 50.00% done.
    assert (waiting_row["expected_percent"], waiting_row["on_track"]) == ("49.32", True)
    satisfaction_row = row(realisation, satisfaction)
    assert (
        satisfaction_row["tolerance"],
        satisfaction_row["realisation_percent"],
        satisfaction_row["within_tolerance"],
        satisfaction_row["on_track"],
        satisfaction_row["expected_percent"],
    ) == ("2", "100.00", True, True, None)
    flat_row = row(realisation, flat)
    assert (flat_row["realisation_percent"], flat_row["on_track"]) == ("100.00", True)

    measure(satisfaction, date(2019, 7, 1), date(2019, 12, 31), "92")  # 3 below: out of tolerance
    records.save(satisfaction)
    realisation.catch_up()
    satisfaction_row = row(realisation, satisfaction)
    assert (
        satisfaction_row["realisation_percent"],
        satisfaction_row["within_tolerance"],
        satisfaction_row["on_track"],
        satisfaction_row["trend"],
    ) == ("0.00", False, False, "worsening")


# -------------------------------------------------------------------------- the totals
def test_dashboard_totals_sum_cash_savings_and_cost_avoided_apart(records, open_realisation):
    cid = establish(records)
    other_cid = establish(records, [WM, WARKS])
    realisation = open_realisation()
    savings = procurement(cid)
    measure(savings, date(2019, 1, 1), date(2019, 3, 31), "500000.00")
    measure(savings, date(2019, 4, 1), date(2019, 6, 30), "600000.00")
    unplanned = identify(
        cid,
        title="Unplanned savings",
        direction="increase",
        unit="GBP",
        baseline={"value": "0.00", "on": START},
        target={"value": "1150000.00", "on": date(2023, 1, 1)},
    )
    measure(unplanned, date(2019, 1, 1), date(2022, 12, 31), "1150000.00")
    avoided = identify(
        cid,
        title="Cost avoided",
        sub_category="1c",
        direction="increase",
        unit="GBP",
        baseline={"value": "0.00", "on": START},
        target={"value": "1000.00", "on": date(2020, 1, 1)},
    )
    measure(avoided, date(2019, 1, 1), date(2019, 12, 31), "250.50")
    hours = identify(
        cid,
        title="Officer hours released",
        sub_category="1b",
        pillar="people",
        direction="increase",
        unit="hours",
        baseline={"value": "0", "on": START},
        target={"value": "20000", "on": date(2020, 1, 1)},
    )
    measure(hours, date(2019, 1, 1), date(2019, 12, 31), "5000")
    running_cost = identify(  # a GBP level: its latest value is a cost, not a saving
        cid,
        title="Running cost of the contracts desk",
        direction="decrease",
        unit="GBP",
        baseline={"value": "1000000.00", "on": START},
        target={"value": "800000.00", "on": date(2020, 1, 1)},
    )
    measure(running_cost, date(2019, 1, 1), date(2019, 12, 31), "900000.00")
    survey = identify(
        cid,
        title="Public confidence",
        category="2",
        sub_category="2b",
        pillar="service",
        direction="increase",
        unit="percent",
        baseline={"value": "70", "on": START},
        target={"value": "80", "on": date(2020, 1, 1)},
    )
    measure(survey, date(2019, 1, 1), date(2019, 12, 31), "80")
    unmeasured = identify(cid, title="Legal duty met", category="3", sub_category="3a", pillar="service")
    elsewhere = identify(
        other_cid,
        parties=[WM, WARKS],
        title="Elsewhere",
        direction="increase",
        unit="GBP",
        baseline={"value": "0.00", "on": START},
        target={"value": "10.00", "on": date(2020, 1, 1)},
    )
    measure(elsewhere, date(2019, 1, 1), date(2019, 12, 31), "999.99")
    records.save(savings, unplanned, avoided, hours, running_cost, survey, unmeasured, elsewhere)
    realisation.catch_up()

    dashboard = realisation.dashboard(cid, read_on=READ_ON)
    assert dashboard["collaboration_id"] == cid
    assert [(item["pillar"], item["title"]) for item in dashboard["benefits"]] == [
        ("cost", "Cost avoided"),
        ("cost", "Procurement savings"),
        ("cost", "Running cost of the contracts desk"),
        ("cost", "Unplanned savings"),
        ("people", "Officer hours released"),
        ("service", "Legal duty met"),
        ("service", "Public confidence"),
    ]
    totals = dashboard["totals"]
    # Cash saved (1a) is 1,100,000.00 + 1,150,000.00; the 250.50 avoided (1c) is its own total;
    # never the hours, the percent or the running cost.
    assert counted(totals["by_pillar"]["cost"]) == {
        "benefits": 4,
        "on_track": 2,  # procurement (13.01% against 12.32%) and unplanned (100% against 99.93%)
        "measured": 4,
        "cash_savings": "2250000.00",
        "cost_avoided": "250.50",
        "other_units": {"GBP": 1},
    }
    assert counted(totals["by_pillar"]["people"]) == {
        "benefits": 1,
        "on_track": 0,  # 25% of the hours against 99.73% of the year
        "measured": 1,
        "cash_savings": "0.00",
        "cost_avoided": "0.00",
        "other_units": {"hours": 1},
    }
    assert counted(totals["by_pillar"]["service"]) == {
        "benefits": 2,
        "on_track": 1,
        "measured": 1,
        "cash_savings": "0.00",
        "cost_avoided": "0.00",
        "other_units": {"percent": 1},
    }
    assert counted(totals["by_category"]["1"]) == {
        "benefits": 5,
        "on_track": 2,
        "measured": 5,
        "cash_savings": "2250000.00",
        "cost_avoided": "250.50",
        "other_units": {"GBP": 1, "hours": 1},
    }
    assert (totals["by_category"]["2"]["cash_savings"], totals["by_category"]["2"]["cost_avoided"]) == ("0.00", "0.00")
    assert counted(totals["by_category"]["3"]) == {
        "benefits": 1,
        "on_track": 0,
        "measured": 0,
        "cash_savings": "0.00",
        "cost_avoided": "0.00",
        "other_units": {},
    }
    assert counted(totals["all"]) == {
        "benefits": 7,
        "on_track": 3,
        "measured": 6,
        "cash_savings": "2250000.00",
        "cost_avoided": "250.50",
        "other_units": {"GBP": 1, "hours": 1, "percent": 1},
    }
    assert dashboard == fresh_dashboard(records, realisation, cid)
    assert realisation.dashboard(other_cid, read_on=READ_ON)["totals"]["all"]["cash_savings"] == "999.99"
    nothing = realisation.dashboard("no-such-collaboration", read_on=READ_ON)
    assert nothing["benefits"] == [] and nothing["totals"]["all"]["benefits"] == 0
    assert nothing == dashboard_of([], read_on=READ_ON, collaboration_id="no-such-collaboration")


def test_only_1a_money_is_cash_saved_and_only_1c_money_is_cost_avoided(records, open_realisation):
    """Cash savings sum the 1a Money savings counted cumulatively (GBP, increase); cost avoided
    the 1c ones alike; a 1c GBP level (decrease), 1b hours and GBP outside savings are counted
    under ``other_units``, never summed."""
    cid = establish(records)
    realisation = open_realisation()

    def money(title: str, sub_category: str, category: str = "1", **fields: Any) -> Benefit:
        fields.setdefault("direction", "increase")
        fields.setdefault("baseline", {"value": "0.00", "on": START})
        fields.setdefault("target", {"value": "1000.00", "on": date(2020, 1, 1)})
        return identify(cid, title=title, category=category, sub_category=sub_category, unit="GBP", **fields)

    cash = money("Cash saved", "1a")
    measure(cash, date(2019, 1, 1), date(2019, 6, 30), "100.10")
    measure(cash, date(2019, 7, 1), date(2019, 12, 31), "200.20")
    avoided = money("Overtime avoided", "1c")
    measure(avoided, date(2019, 1, 1), date(2019, 6, 30), "30.03")
    measure(avoided, date(2019, 7, 1), date(2019, 12, 31), "40.04")
    avoided_too = money("Fleet costs avoided", "1c", pillar="service")
    measure(avoided_too, date(2019, 1, 1), date(2019, 12, 31), "5.00")
    avoided_level = money(  # a cost avoided measured as a level to bring down: not summed
        "Annual cost of agency staff",
        "1c",
        direction="decrease",
        baseline={"value": "900.00", "on": START},
        target={"value": "500.00", "on": date(2020, 1, 1)},
    )
    measure(avoided_level, date(2019, 1, 1), date(2019, 12, 31), "700.00")
    service_money = money("Income from events", "2b", category="2", pillar="service")
    measure(service_money, date(2019, 1, 1), date(2019, 12, 31), "77.77")
    records.save(cash, avoided, avoided_too, avoided_level, service_money)
    realisation.catch_up()

    totals = realisation.dashboard(cid, read_on=READ_ON)["totals"]
    assert (totals["all"]["cash_savings"], totals["all"]["cost_avoided"]) == ("300.30", "75.07")  # 70.07 + 5.00
    assert totals["all"]["other_units"] == {"GBP": 2}  # the level and the service income
    assert (totals["by_pillar"]["cost"]["cash_savings"], totals["by_pillar"]["cost"]["cost_avoided"]) == (
        "300.30",
        "70.07",
    )
    assert counted(totals["by_pillar"]["service"]) == {
        "benefits": 2,
        "on_track": 0,  # 5 of 1,000 and 77.77 of 1,000 against 99.73% of the year
        "measured": 2,
        "cash_savings": "0.00",
        "cost_avoided": "5.00",
        "other_units": {"GBP": 1},
    }
    assert totals["by_category"]["1"]["cost_avoided"] == "75.07"
    assert totals["by_category"]["2"]["cost_avoided"] == "0.00"
    assert realisation.dashboard(cid, read_on=READ_ON) == fresh_dashboard(records, realisation, cid)


def test_dashboard_of_refuses_benefits_of_several_collaborations(records):
    with pytest.raises(ValueError):
        dashboard_of([identify("one"), identify("two")], read_on=READ_ON)
    assert dashboard_of([identify("one")], read_on=READ_ON)["collaboration_id"] == "one"
    assert dashboard_of([], read_on=READ_ON)["collaboration_id"] is None


# ------------------------------------------------------------------------- the portfolio
def test_portfolio_filters(records, open_realisation):
    cid = establish(records, [WM, WARKS, "essex"])
    other_cid = establish(records, ["kent", "essex"])
    realisation = open_realisation()
    attributed = identify(
        cid,
        parties=[WM, WARKS, "essex"],
        title="Shared ICT savings",
        attribution={WM: "0.69", WARKS: "0.31"},
    )
    shared = identify(cid, parties=[WM, WARKS, "essex"], title="Custody hours", sub_category="1b", pillar="people")
    kent = identify(
        other_cid,
        parties=["kent", "essex"],
        title="Victim satisfaction",
        category="2",
        sub_category="2b",
        pillar="service",
        direction="increase",
        measure="Survey",
        unit="percent",
        baseline={"value": "70", "on": START},
        target={"value": "80", "on": date(2021, 1, 1)},
        owner="ACC Kent",
        stage=3,
        status="validated",
    )
    records.save(attributed, shared, kent)
    realisation.catch_up()

    def titles(**filters: Any) -> list[str]:
        return [item["title"] for item in realisation.portfolio(**filters)]

    assert titles() == ["Shared ICT savings", "Custody hours", "Victim satisfaction"]  # by pillar, then title
    assert row(realisation, attributed)["forces"] == [WARKS, WM]
    assert row(realisation, attributed)["attribution"] == {WARKS: "0.31", WM: "0.69"}
    assert titles(force=WM) == ["Shared ICT savings", "Custody hours"]
    assert titles(force="essex") == ["Custody hours", "Victim satisfaction"]  # not attributed any of the ICT
    assert titles(force="kent") == ["Victim satisfaction"]
    assert titles(force="suffolk") == []
    assert titles(pillar="people") == ["Custody hours"]
    assert titles(category="1") == ["Shared ICT savings", "Custody hours"]
    assert titles(category="1b") == ["Custody hours"]
    assert titles(category="2") == ["Victim satisfaction"]
    assert titles(stage=3) == ["Victim satisfaction"]
    assert titles(stage=0) == ["Shared ICT savings", "Custody hours"]
    assert titles(status="validated") == ["Victim satisfaction"]
    assert titles(status="identified", force=WARKS, pillar="cost") == ["Shared ICT savings"]
    assert titles(collaboration_id=other_cid) == ["Victim satisfaction"]
    assert titles(collaboration_id=UUID(cid), category="2") == []

    # The stage filter follows the benefit's moves.
    kent.change_stage(stage=4, status="realising", provenance=said(date(2020, 1, 1)))
    records.save(kent)
    realisation.catch_up()
    assert titles(stage=3) == []
    assert titles(stage=4, status="realising") == ["Victim satisfaction"]


# ------------------------------------------------------------ exactly once and rebuildable
def many_benefits(records: CollaborationRecords, realisation: BenefitsRealisation | None = None) -> list[str]:
    """Two collaborations' benefits, with measurements, restatements, stage moves and revisions,
    saved a few events at a time (and caught up between saves, if a projection is given)."""
    collaborations = [establish(records), establish(records, [WM, WARKS])]
    for index, cid in enumerate(collaborations):
        parties = SEVEN_F if index == 0 else [WM, WARKS]
        benefits = [
            procurement(cid, parties=parties, attribution=dict.fromkeys(parties[:2], "0.5")),
            identify(
                cid,
                parties=parties,
                title="Hours released",
                sub_category="1b",
                pillar="people",
                direction="increase",
                unit="hours",
                baseline={"value": "0", "on": START},
                target={"value": "1000", "on": date(2020, 1, 1)},
            ),
        ]
        records.save(*benefits)
        if realisation is not None:
            realisation.catch_up()
        for quarter in range(8):
            start = date(2019 + quarter // 4, 1 + 3 * (quarter % 4), 1)
            end = date(start.year, start.month + 2, 30 if start.month in (4, 7) else 31)
            for number, benefit in enumerate(benefits):
                first = measure(benefit, start, end, f"{(quarter + 1) * 1000 * (number + 1)}")
                if quarter % 3 == 1:
                    measure(benefit, start, end, f"{(quarter + 1) * 900 * (number + 1)}", restates=first)
            if quarter == 4:
                benefits[0].change_stage(stage=4, status="realising", provenance=said(date(2020, 2, 1)))
                benefits[1].revise_target(value="2000", on=date(2021, 1, 1), provenance=said(date(2020, 2, 1)))
            records.save(*benefits)
            if realisation is not None and quarter % 2:
                realisation.catch_up()
    return collaborations


def test_incremental_catch_up_equals_rebuild_and_resumes(records, open_realisation):
    following = open_realisation(batch_size=3)
    collaborations = many_benefits(records, following)
    following.catch_up()
    assert following.position() == records.recorder.max_notification_id()
    portfolio = following.portfolio()
    assert len(portfolio) == 4
    dashboards = [following.dashboard(cid, read_on=READ_ON) for cid in collaborations]
    for cid, dashboard in zip(collaborations, dashboards, strict=True):
        assert dashboard == fresh_dashboard(records, following, cid)
        assert dashboard["totals"]["all"]["measured"] == 2

    rebuilt = open_realisation()
    assert rebuilt.rebuild() == records.recorder.max_notification_id()
    assert rebuilt.portfolio() == portfolio
    assert [rebuilt.dashboard(cid, read_on=READ_ON) for cid in collaborations] == dashboards

    # Resumes where it stopped, without its in-memory aggregates, and rebuilds in place.
    following.close()
    benefit = records.repository.get(UUID(portfolio[0]["benefit_id"]))
    measure(benefit, date(2021, 1, 1), date(2021, 3, 31), "12345.67")
    records.save(benefit)
    resumed = open_realisation(batch_size=2)
    resumed.catch_up()
    rebuilt.catch_up()
    assert resumed.portfolio() == rebuilt.portfolio() != portfolio
    assert row(resumed, benefit)["version"] == benefit.version
    resumed.rebuild()
    assert resumed.portfolio() == rebuilt.portfolio()


def test_a_failed_batch_writes_nothing_and_is_retried(records, open_realisation, monkeypatch):
    realisation = open_realisation()
    cid = establish(records)
    benefit = procurement(cid)
    measure(benefit, date(2019, 1, 1), date(2019, 3, 31), "500000.00")
    records.save(benefit)
    realisation.catch_up()
    position, before = realisation.position(), realisation.portfolio()
    measure(benefit, date(2019, 4, 1), date(2019, 6, 30), "700000.00")
    benefit.change_stage(stage=3, provenance=said(date(2019, 7, 1)))
    records.save(benefit)
    # The batch's rows fail to be written after its aggregates were advanced in memory.
    fail_on_call(monkeypatch, realisation.view, "write", 1)
    with pytest.raises(InjectedFailure):
        realisation.catch_up()
    assert realisation.position() == position
    assert realisation.portfolio() == before
    monkeypatch.undo()
    realisation.catch_up()
    after = row(realisation, benefit)
    assert (after["version"], after["stage"], after["cumulative_value"]) == (benefit.version, 3, "1200000.00")
    assert realisation.dashboard(cid, read_on=READ_ON) == fresh_dashboard(records, realisation, cid)
    rebuilt = open_realisation()
    rebuilt.rebuild()
    assert rebuilt.portfolio() == realisation.portfolio()


def test_only_benefit_events_are_decoded(records, open_realisation):
    cid = establish(records)
    topics = [n.topic for n in records.recorder.select_notifications(start=0, limit=10)]
    assert topics and not any(concerns_benefits_realisation(topic) for topic in topics)
    benefit = procurement(cid)
    records.save(benefit)
    assert concerns_benefits_realisation(records.recorder.select_notifications(start=0, limit=10)[-1].topic)
    realisation = open_realisation()
    assert realisation.catch_up() == records.recorder.max_notification_id()
    assert [item["benefit_id"] for item in realisation.portfolio()] == [str(benefit.id)]


def test_a_view_stored_by_older_code_is_dropped_and_rebuilt_from_the_log(records, open_realisation):
    """Issue 17 added columns to the rows: a table stored before them (here, one without the
    register's columns, its tracking record at the end of the log) would be read as up to date
    and fail. Opening the projection finds the missing columns and processes the log again."""
    cid = establish(records)
    benefit = procurement(cid)
    measure(benefit, date(2019, 1, 1), date(2019, 3, 31), "500000.00")
    records.save(benefit)
    first = open_realisation()
    first.catch_up()
    expected = row(first, benefit)
    view = first.view
    with view.locked_transaction() as cursor:  # as the release before issue 17 left it
        for column in ("kind", "rag", "planned_value", "measurement_due_by"):
            cursor.execute(view.sql(f"ALTER TABLE {{benefits}} DROP COLUMN {column}"))
    assert first.position() == records.log_size()
    reopened = open_realisation()
    assert reopened.position() == 0  # the tracking record went with the old table
    reopened.catch_up()
    assert row(reopened, benefit) == expected
    assert open_realisation().view.upgrade_layout(records.name) is False  # the current shape is kept
