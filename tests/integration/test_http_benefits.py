"""Benefits over HTTP: identifying a benefit, measurements and restatements, stages and statuses,
target revisions and re-baselining; what each refuses (a refusal records nothing); reads as of a
date and as known at a time; the realisation dashboard (JSON and CSV) and the portfolio; and the
7F Procurement case of DOMAIN.md recorded entirely through the API."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from service.resources.benefits.schemas import (
    BenefitDocument,
    DashboardDocument,
    MeasurementRecordedDocument,
    PortfolioDocument,
)
from tests.integration import http_support
from tests.integration.http_support import (
    BENEFIT,
    BENEFIT_WRITES,
    REPRESENTATION,
    Http,
    assert_problem,
    benefit_write_requests,
)

http = http_support.http
http_any = http_support.http_any

COLLABORATIONS = "/api/v1/collaborations"
BENEFITS = "/api/v1/benefits"
SEVEN_FORCES = ["essex", "kent", "norfolk", "suffolk", "hertfordshire", "bedfordshire", "cambridgeshire"]
MISSING = "00000000-0000-0000-0000-000000000000"


def at(day: str, **body: Any) -> dict[str, Any]:
    return {"effective_on": day, "reason": "Recorded for the benefits realisation plan", **body}


def posted(http: Http, path: str, body: dict[str, Any], token: str | None = "admin", **headers: str) -> dict[str, Any]:
    """POSTs a write that must be recorded, asking for the whole document (the tests check it)."""
    response = http.post(path, body, token, **{**REPRESENTATION, **headers})
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
    return response.get_json()


def benefit_document(http: Http, benefit_id: str, query: str = "", token: str | None = "admin") -> dict[str, Any]:
    response = http.get(f"{BENEFITS}/{benefit_id}{'?' + query if query else ''}", token)
    assert response.status_code == 200, response.get_json()
    assert response.headers["ETag"] == f'"{response.get_json()["version"]}"'
    assert BenefitDocument().validate(response.get_json()) == {}
    return response.get_json()


def got(http: Http, path: str, token: str | None = "admin") -> dict[str, Any]:
    response = http.get(path, token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def identify(http: Http, collaboration_id: str, token: str | None = "admin", **overrides: Any) -> dict[str, Any]:
    response = http.post(
        f"{COLLABORATIONS}/{collaboration_id}/benefits",
        at("2019-04-01", **{**BENEFIT, **overrides}),
        token,
        **REPRESENTATION,
    )
    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    assert response.headers["Location"] == f"{BENEFITS}/{document['id']}"
    assert response.headers["ETag"] == f'"{document["version"]}"'
    assert BenefitDocument().validate(document) == {}
    return document


def tenth_after(end: str) -> str:
    """The 10th of the month after ``end``: when a period's figure is reported (after it ends)."""
    year, month = int(end[:4]), int(end[5:7])
    return f"{year + month // 12}-{month % 12 + 1:02d}-10"


def measure(http: Http, benefit_id: str, start: str, end: str, value: str, **extra: Any) -> dict[str, Any]:
    """Records a measurement, in effect from the 10th of the month after its period (unless
    ``effective_on`` says otherwise)."""
    effective_on = extra.pop("effective_on", tenth_after(end))
    body = at(effective_on, period_start=start, period_end=end, value=value, source="Ledger", **extra)
    document = posted(http, f"{BENEFITS}/{benefit_id}/measurements", body)
    assert MeasurementRecordedDocument().validate(document) == {}
    return document


def refused_and_nothing_recorded(
    http: Http, path: str, body: dict[str, Any], status: int, problem: str | None, benefit_id: str | None = None
) -> dict[str, Any]:
    version = benefit_document(http, benefit_id)["version"] if benefit_id else None
    log_size = http.log_size()
    refusal = assert_problem(http.post(path, body), status, problem)
    assert http.log_size() == log_size
    if benefit_id:
        assert benefit_document(http, benefit_id)["version"] == version
    return refusal


@pytest.fixture
def alliance(http: Http) -> dict[str, Any]:
    collaboration = http.establish()
    return {"id": collaboration["id"], "function_id": http.add_function(collaboration["id"])}


# -------------------------------------------------------------------------------- identifying
def test_identifying_a_benefit_answers_201_with_its_document_location_and_etag(
    http: Http, alliance: dict[str, Any]
) -> None:
    log_size = http.log_size()
    benefit = identify(
        http,
        alliance["id"],
        function_id=alliance["function_id"],
        attribution={"west-mercia": "0.69", "warwickshire": "0.31"},
        evidence="FBC-ICT-2019",
        approval_ref="AGG-2019-04",
    )
    assert http.log_size() == log_size + 1
    assert benefit["version"] == 1
    assert (benefit["collaboration_id"], benefit["function_id"]) == (alliance["id"], alliance["function_id"])
    assert (benefit["category"], benefit["category_name"]) == ("1", "Savings")
    assert (benefit["sub_category"], benefit["sub_category_name"]) == ("1a", "Money")
    assert (benefit["stage"], benefit["stage_name"], benefit["status"]) == (3, "FBC", "realising")
    assert benefit["baseline"] == {"value": "0.00", "on": "2019-04-01"}
    assert benefit["target"] == {"value": "100000.00", "on": "2021-03-31"}
    assert benefit["attribution"] == {"warwickshire": "0.31", "west-mercia": "0.69"}
    assert sorted(benefit["parties"]) == ["warwickshire", "west-mercia"]
    assert benefit["identified_on"] == "2019-04-01"
    assert benefit["measurements"] == []
    assert benefit["realisation"]["measurements_count"] == 0
    assert benefit["realisation"]["realisation_percent"] is None
    assert benefit_document(http, benefit["id"]) == benefit
    [event] = [
        item for item in http.get("/api/v1/events?after=0").get_json()["items"] if item["stream_id"] == benefit["id"]
    ]
    assert event["type"] == "Benefit.Identified"
    assert event["data"]["collaboration_id"] == alliance["id"]
    assert (event["evidence"], event["approval_ref"]) == ("FBC-ICT-2019", "AGG-2019-04")


def test_a_benefit_identified_early_needs_little_and_defaults_to_stage_0_identified(
    http: Http, alliance: dict[str, Any]
) -> None:
    body = {"title": "Better morale", "category": "2", "sub_category": "2a", "pillar": "people"}
    response = http.post(f"{COLLABORATIONS}/{alliance['id']}/benefits", at("2019-04-01", **body))
    assert response.status_code == 201, response.get_json()
    benefit = response.get_json()
    assert (benefit["stage"], benefit["status"], benefit["direction"], benefit["baseline"]) == (
        0,
        "identified",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        ({"sub_category": "2a"}, "sub-category-mismatch", "sub_category"),
        ({"category": "4"}, "invalid-benefit-category", "category"),
        ({"owner": None}, "minimum-standard-not-met", "owner"),
        ({"direction": None}, "minimum-standard-not-met", "direction"),
        ({"measure": None}, "minimum-standard-not-met", "measure"),
        ({"baseline": None}, "minimum-standard-not-met", "baseline"),
        ({"pillar": "morale"}, "invalid-pillar", "pillar"),
        ({"direction": "sideways"}, "invalid-benefit-direction", "direction"),
        ({"unit": "furlongs"}, "invalid-unit", "unit"),
        ({"unit": "hours"}, "invalid-unit", "unit"),  # 1a Money is in GBP
        ({"sub_category": "1b"}, "invalid-unit", "unit"),  # 1b Time is in hours
        ({"sub_category": "1c", "unit": "percent"}, "invalid-unit", "unit"),  # 1c Cost avoidance is in GBP
        ({"direction": "maintain"}, "invalid-tolerance", "tolerance"),
        ({"tolerance": "5.00"}, "invalid-tolerance", "tolerance"),
        ({"target": {"value": "100.00", "on": "2019-04-01"}}, "invalid-baseline-or-target", "target"),
        ({"target": {"value": "100.001", "on": "2021-03-31"}}, "invalid-benefit-value", "target.value"),
        ({"status": "cancelled"}, "invalid-benefit-status", "status"),
        ({"attribution": {"dorset": "1"}}, "party-not-in-collaboration", "attribution.dorset"),
        ({"attribution": {"west-mercia": "0.5", "warwickshire": "0.4"}}, "shares-do-not-sum-to-one", None),
        ({"function_id": MISSING}, "unknown-function", "function_id"),
        ({"stage": 6}, "invalid-stage", "stage"),
        ({"baseline": {"value": 0, "on": "2019-04-01"}}, "validation-failed", "baseline.value"),
        ({"colour": "blue"}, "validation-failed", "colour"),
        ({"title": " "}, "validation-failed", "title"),
    ],
)
def test_identifying_a_benefit_that_breaks_a_rule_is_422_and_records_nothing(
    http: Http, alliance: dict[str, Any], change: dict[str, Any], problem: str, field: str | None
) -> None:
    body = at("2019-04-01", **{**BENEFIT, **change})
    refusal = refused_and_nothing_recorded(http, f"{COLLABORATIONS}/{alliance['id']}/benefits", body, 422, problem)
    if field is not None:
        assert field in refusal["errors"], refusal
    assert got(http, f"{BENEFITS}?collaboration_id={alliance['id']}")["items"] == []


def test_identifying_a_benefit_of_an_unknown_collaboration_is_404(http: Http) -> None:
    log_size = http.log_size()
    assert_problem(
        http.post(f"{COLLABORATIONS}/{MISSING}/benefits", at("2019-04-01", **BENEFIT)), 404, "collaboration-not-found"
    )
    assert_problem(http.post(f"{COLLABORATIONS}/nope/benefits", at("2019-04-01", **BENEFIT)), 404)
    assert http.log_size() == log_size


def test_identifying_is_idempotent_with_a_key(http: Http, alliance: dict[str, Any]) -> None:
    body = at("2019-04-01", **BENEFIT)
    path = f"{COLLABORATIONS}/{alliance['id']}/benefits"
    first = http.post(path, body, **{"Idempotency-Key": "identify-1"})
    assert first.status_code == 201
    log_size = http.log_size()
    again = http.post(path, body, **{"Idempotency-Key": "identify-1"})
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert http.log_size() == log_size
    assert_problem(http.post(path, {**body, "title": "Other"}, **{"Idempotency-Key": "identify-1"}), 422)
    assert http.log_size() == log_size


def test_a_force_identifies_benefits_only_of_collaborations_it_is_party_to(
    http: Http, alliance: dict[str, Any]
) -> None:
    path = f"{COLLABORATIONS}/{alliance['id']}/benefits"
    log_size = http.log_size()
    assert_problem(http.post(path, at("2019-04-01", **BENEFIT), http.token("force", "kent")), 403, "not-permitted")
    assert http.log_size() == log_size
    assert http.post(path, at("2019-04-01", **BENEFIT), http.token("force", "warwickshire")).status_code == 201


# ------------------------------------------------------------------------------ measurements
def test_a_measurement_answers_its_id_and_the_measurer_defaults_to_the_caller(
    http: Http, alliance: dict[str, Any]
) -> None:
    benefit = identify(http, alliance["id"])
    first = measure(http, benefit["id"], "2019-04-01", "2019-06-30", "10000.00")
    [recorded] = first["measurements"]
    assert recorded["id"] == first["measurement_id"]
    assert (recorded["value"], recorded["source"], recorded["current"], recorded["source_version"]) == (
        "10000.00",
        "Ledger",
        True,
        2,
    )
    assert recorded["measurer"].startswith("Test admin")
    named = measure(http, benefit["id"], "2019-07-01", "2019-09-30", "15000", measurer="7F Finance")
    assert named["measurements"][1]["measurer"] == "7F Finance"
    assert named["measurements"][1]["value"] == "15000.00"  # GBP, to the penny
    assert named["realisation"]["cumulative_value"] == "25000.00"
    assert named["realisation"]["latest_value"] == "15000.00"


def test_overlapping_periods_are_refused_unless_restating_and_restatements_chain(
    http: Http, alliance: dict[str, Any]
) -> None:
    benefit_id = identify(http, alliance["id"])["id"]
    path = f"{BENEFITS}/{benefit_id}/measurements"
    first = measure(http, benefit_id, "2019-04-01", "2019-06-30", "10000.00")["measurement_id"]
    overlapping = at("2019-08-10", period_start="2019-06-01", period_end="2019-07-31", value="1.00", source="Ledger")
    refused_and_nothing_recorded(http, path, overlapping, 422, "overlapping-measurement", benefit_id)

    restated = measure(
        http, benefit_id, "2019-04-01", "2019-06-30", "12000.00", restates=first, effective_on="2019-08-01"
    )
    second = restated["measurement_id"]
    assert [(m["id"], m["current"], m["restated_by"]) for m in restated["measurements"]] == [
        (first, False, second),
        (second, True, None),
    ]
    # the restated one is never restated again: restate the restatement (a chain)
    again = at(
        "2019-09-01", period_start="2019-04-01", period_end="2019-06-30", value="1.00", source="L", restates=first
    )
    refused_and_nothing_recorded(http, path, again, 422, "measurement-already-restated", benefit_id)
    third = measure(
        http, benefit_id, "2019-04-01", "2019-06-30", "11000.00", restates=second, effective_on="2019-09-01"
    )
    assert [m["current"] for m in third["measurements"]] == [False, False, True]
    assert third["realisation"]["cumulative_value"] == "11000.00"
    # the original values stay on record, unchanged
    assert [m["value"] for m in third["measurements"]] == ["10000.00", "12000.00", "11000.00"]

    unknown = at("2019-10-10", period_start="2019-07-01", period_end="2019-09-30", value="1", source="L", restates="x")
    refused_and_nothing_recorded(http, path, unknown, 422, "unknown-measurement", benefit_id)
    backwards = at("2019-10-10", period_start="2019-09-30", period_end="2019-07-01", value="1", source="L")
    refused_and_nothing_recorded(http, path, backwards, 422, "invalid-measurement-period", benefit_id)
    a_float = at("2019-10-10", period_start="2019-07-01", period_end="2019-09-30", value=1.5, source="L")
    refusal = refused_and_nothing_recorded(http, path, a_float, 422, "validation-failed", benefit_id)
    assert "value" in refusal["errors"]
    pennies = at("2019-10-10", period_start="2019-07-01", period_end="2019-09-30", value="1.001", source="L")
    refused_and_nothing_recorded(http, path, pennies, 422, "invalid-benefit-value", benefit_id)


def test_a_measurement_takes_effect_once_its_period_has_ended(http: Http, alliance: dict[str, Any]) -> None:
    benefit_id = identify(http, alliance["id"])["id"]
    path = f"{BENEFITS}/{benefit_id}/measurements"
    for early in ("2019-06-29", "2019-04-01", "2019-03-31"):
        body = at(early, period_start="2019-04-01", period_end="2019-06-30", value="10000.00", source="Ledger")
        refusal = refused_and_nothing_recorded(http, path, body, 422, "measurement-before-period-end", benefit_id)
        assert "effective_on" in refusal["errors"], refusal
        assert "2019-06-30" in refusal["detail"]
    on_the_day = measure(http, benefit_id, "2019-04-01", "2019-06-30", "10000.00", effective_on="2019-06-30")
    [recorded] = on_the_day["measurements"]
    assert recorded["effective_on"] == "2019-06-30"
    # a restatement too: not before the end of the period it restates
    early_restatement = at(
        "2019-06-29",
        period_start="2019-04-01",
        period_end="2019-06-30",
        value="11000.00",
        source="Ledger",
        restates=recorded["id"],
    )
    refused_and_nothing_recorded(http, path, early_restatement, 422, "measurement-before-period-end", benefit_id)
    later = measure(http, benefit_id, "2019-07-01", "2019-09-30", "12000.00")  # the 10th after: 2019-10-10
    assert later["measurements"][1]["effective_on"] == "2019-10-10"
    assert len(benefit_document(http, benefit_id, "as_of=2019-10-09")["measurements"]) == 1
    assert len(benefit_document(http, benefit_id, "as_of=2019-10-10")["measurements"]) == 2


# ----------------------------------------------------------------------- stages and statuses
def test_stage_and_status_move_forward_only_and_back_only_by_a_recorded_reopening(
    http: Http, alliance: dict[str, Any]
) -> None:
    benefit_id = identify(http, alliance["id"], stage=3, status="validated")["id"]
    one = f"{BENEFITS}/{benefit_id}"
    moved = posted(http, f"{one}/stage", at("2019-06-01", stage=4, status="realising"))
    assert (moved["stage"], moved["stage_name"], moved["status"]) == (4, "Implementation", "realising")
    refused_and_nothing_recorded(
        http, f"{one}/stage", at("2019-07-01", stage=4, status="planned"), 422, "status-moved-backwards", benefit_id
    )
    refused_and_nothing_recorded(
        http, f"{one}/stage", at("2019-07-01", stage=3), 422, "status-moved-backwards", benefit_id
    )
    refused_and_nothing_recorded(http, f"{one}/stage", at("2019-07-01", stage=4), 422, "nothing-changed", benefit_id)
    refused_and_nothing_recorded(http, f"{one}/stage", at("2019-07-01", stage=9), 422, "invalid-stage", benefit_id)
    realised = posted(http, f"{one}/stage", at("2021-06-30", stage=5, status="realised"))
    assert realised["status"] == "realised"
    # final: only a reopening moves it
    refused_and_nothing_recorded(
        http, f"{one}/stage", at("2021-07-01", stage=5, status="lapsed"), 422, "benefit-final", benefit_id
    )
    target = at("2021-07-01", value="1.00", on="2022-03-31")
    refused_and_nothing_recorded(http, f"{one}/target", target, 422, "benefit-final", benefit_id)
    refused_and_nothing_recorded(
        http, f"{one}/reopening", at("2021-07-01", status="lapsed"), 422, "invalid-reopening", benefit_id
    )
    reopened = posted(
        http, f"{one}/reopening", at("2021-07-01", status="realising", reason="Savings found to be overstated")
    )
    assert reopened["status"] == "realising"
    assert [(s["stage"], s["status"], s["reopened"]) for s in reopened["stages"]] == [
        (3, "validated", False),
        (4, "realising", False),
        (5, "realised", False),
        (5, "realising", True),
    ]
    refused_and_nothing_recorded(
        http, f"{one}/reopening", at("2021-08-01", status="handed_to_bau"), 422, "invalid-reopening", benefit_id
    )
    history = [
        item for item in http.get("/api/v1/events?after=0").get_json()["items"] if item["stream_id"] == benefit_id
    ]
    assert history[-1]["type"] == "Benefit.Reopened"
    assert history[-1]["reason"] == "Savings found to be overstated"


def test_moving_to_stage_2_needs_the_7f_minimum_standard(http: Http, alliance: dict[str, Any]) -> None:
    body = {"title": "Fewer complaints", "category": "2", "sub_category": "2b", "pillar": "service"}
    benefit_id = posted(http, f"{COLLABORATIONS}/{alliance['id']}/benefits", at("2019-04-01", **body))["id"]
    one = f"{BENEFITS}/{benefit_id}"
    posted(http, f"{one}/stage", at("2019-05-01", stage=1, status="planned"))
    refusal = refused_and_nothing_recorded(
        http, f"{one}/stage", at("2019-06-01", stage=2), 422, "minimum-standard-not-met", benefit_id
    )
    assert "direction" in refusal["detail"] and "owner" in refusal["detail"]
    # define it (an extension), give it a baseline and target, and it may move on
    defined = posted(
        http,
        f"{one}/definition",
        at("2019-06-01", direction="decrease", measure="Complaints a quarter", unit="count", owner="Head of PSD"),
    )
    assert (defined["direction"], defined["unit"], defined["owner"]) == ("decrease", "count", "Head of PSD")
    posted(http, f"{one}/baseline", at("2019-06-01", value="120", on="2019-03-31"))
    refused_and_nothing_recorded(
        http, f"{one}/stage", at("2019-06-01", stage=2), 422, "minimum-standard-not-met", benefit_id
    )
    posted(http, f"{one}/target", at("2019-06-01", value="80", on="2021-03-31"))
    moved = posted(http, f"{one}/stage", at("2019-06-02", stage=2, status="validated"))
    assert (moved["stage"], moved["status"]) == (2, "validated")
    # decrease: realisation runs from the baseline down toward the target
    measured = measure(http, benefit_id, "2020-01-01", "2020-03-31", "100")
    assert measured["realisation"]["realisation_percent"] == "50.00"


def test_target_revisions_and_rebaselining_are_their_own_events(http: Http, alliance: dict[str, Any]) -> None:
    benefit_id = identify(http, alliance["id"])["id"]
    one = f"{BENEFITS}/{benefit_id}"
    revised = posted(http, f"{one}/target", at("2020-01-15", value="150000.00", on="2022-03-31", reason="FBC refresh"))
    assert revised["target"] == {"value": "150000.00", "on": "2022-03-31"}
    assert [(t["value"], t["source_version"]) for t in revised["targets"]] == [("100000.00", 1), ("150000.00", 2)]
    rebaselined = posted(http, f"{one}/baseline", at("2020-01-20", value="5000.00", on="2019-06-30"))
    assert rebaselined["baseline"] == {"value": "5000.00", "on": "2019-06-30"}
    refused_and_nothing_recorded(
        http,
        f"{one}/target",
        at("2020-02-01", value="1.00", on="2019-01-01"),
        422,
        "invalid-baseline-or-target",
        benefit_id,
    )
    refused_and_nothing_recorded(
        http, f"{one}/baseline", at("2020-02-01", value="5000.00", on="2019-06-30"), 422, "nothing-changed", benefit_id
    )
    # as it stood before the revision took effect
    before = benefit_document(http, benefit_id, "as_of=2019-12-31")
    assert before["target"] == {"value": "100000.00", "on": "2021-03-31"}
    assert before["baseline"] == {"value": "0.00", "on": "2019-04-01"}
    assert before["version"] == rebaselined["version"]


def test_a_target_recorded_out_of_order_is_in_effect_by_its_effective_date(
    http: Http, alliance: dict[str, Any]
) -> None:
    """A target effective 2021-04-01 recorded before one effective 2020-04-01: now and as of
    2021-06-01 the 2021 one is in effect, whatever the order they were recorded in."""
    benefit_id = identify(http, alliance["id"])["id"]  # target 100,000.00 on 2021-03-31, from 2019-04-01
    one = f"{BENEFITS}/{benefit_id}"
    posted(http, f"{one}/target", at("2021-04-01", value="150000.00", on="2022-03-31", reason="Extended a year"))
    late = posted(http, f"{one}/target", at("2020-04-01", value="120000.00", on="2021-03-31", reason="Late minutes"))
    assert [t["value"] for t in late["targets"]] == ["100000.00", "150000.00", "120000.00"]  # as recorded
    assert late["target"] == {"value": "150000.00", "on": "2022-03-31"}
    assert benefit_document(http, benefit_id)["target"] == {"value": "150000.00", "on": "2022-03-31"}
    assert benefit_document(http, benefit_id, "as_of=2021-06-01")["target"] == {
        "value": "150000.00",
        "on": "2022-03-31",
    }
    assert benefit_document(http, benefit_id, "as_of=2021-03-31")["target"] == {
        "value": "120000.00",
        "on": "2021-03-31",
    }
    assert benefit_document(http, benefit_id, "as_of=2020-03-31")["target"] == {
        "value": "100000.00",
        "on": "2021-03-31",
    }
    board = f"{COLLABORATIONS}/{alliance['id']}/benefits"
    for query in ("", "?as_of=2021-06-01"):
        [row] = got(http, board + query)["benefits"]
        assert (row["target_value"], row["target_on"]) == ("150000.00", "2022-03-31"), query
    [row] = got(http, board + "?as_of=2020-06-01")["benefits"]
    assert row["target_value"] == "120000.00"


def test_an_as_of_view_pairing_baseline_and_target_on_one_day_answers_200_without_expected_percent(
    http: Http, alliance: dict[str, Any]
) -> None:
    """The reviewer's 500: the target moved to 2026 (effective 2025) let the baseline move to
    2021-01-01 (effective 2020-06-01); as of 2021-06-01 that baseline is paired with the original
    target, also on 2021-01-01, and the straight line had no length to divide by."""
    identified = posted(
        http,
        f"{COLLABORATIONS}/{alliance['id']}/benefits",
        at(
            "2020-01-01",
            title="Officers satisfied with shared rostering",
            category="2",
            sub_category="2a",
            pillar="people",
            direction="increase",
            measure="Officers satisfied with rostering, quarterly survey",
            unit="percent",
            baseline={"value": "0", "on": "2020-01-01"},
            target={"value": "100", "on": "2021-01-01"},
            owner="ACC Operations",
            stage=2,
            status="planned",
        ),
    )
    benefit_id = identified["id"]
    one = f"{BENEFITS}/{benefit_id}"
    posted(http, f"{one}/target", at("2025-01-01", value="100", on="2026-01-01"))
    posted(http, f"{one}/baseline", at("2020-06-01", value="0", on="2021-01-01"))
    measure(http, benefit_id, "2021-01-01", "2021-03-31", "40", effective_on="2021-04-10")

    view = benefit_document(http, benefit_id, "as_of=2021-06-01")
    assert view["baseline"] == {"value": "0", "on": "2021-01-01"}
    assert view["target"] == {"value": "100", "on": "2021-01-01"}
    realisation = view["realisation"]
    assert (realisation["realisation_percent"], realisation["expected_percent"], realisation["on_track"]) == (
        "40.00",
        None,
        None,
    )
    board = f"{COLLABORATIONS}/{alliance['id']}/benefits?as_of=2021-06-01"
    [row] = got(http, board)["benefits"]
    assert (row["realisation_percent"], row["expected_percent"], row["on_track"]) == ("40.00", None, None)
    csv_rows = list(csv.DictReader(io.StringIO(http.get(board + "&format=csv").get_data(as_text=True))))
    assert csv_rows[0]["expected_percent"] == ""
    # now the baseline (2021-01-01) and target (2026-01-01) are a line again
    assert benefit_document(http, benefit_id)["realisation"]["expected_percent"] is not None


def test_a_measured_benefit_without_a_unit_may_be_given_its_first_unit(http: Http, alliance: dict[str, Any]) -> None:
    body = {"title": "Better morale", "category": "2", "sub_category": "2a", "pillar": "people"}
    benefit_id = posted(http, f"{COLLABORATIONS}/{alliance['id']}/benefits", at("2019-04-01", **body))["id"]
    one = f"{BENEFITS}/{benefit_id}"
    measure(http, benefit_id, "2019-04-01", "2019-06-30", "12.345")
    # the measurements must fit the unit: GBP is to the penny
    refusal = refused_and_nothing_recorded(
        http, f"{one}/definition", at("2019-08-01", unit="GBP"), 422, "invalid-benefit-value", benefit_id
    )
    assert "unit" in refusal["errors"], refusal
    defined = posted(http, f"{one}/definition", at("2019-08-01", unit="percent"))
    assert defined["unit"] == "percent"
    assert defined["measurements"][0]["value"] == "12.345"
    refused_and_nothing_recorded(
        http, f"{one}/definition", at("2019-09-01", unit="count"), 422, "unit-fixed-by-measurements", benefit_id
    )

    hours = {"title": "Hours released", "category": "1", "sub_category": "1b", "pillar": "people"}
    hours_id = posted(http, f"{COLLABORATIONS}/{alliance['id']}/benefits", at("2019-04-01", **hours))["id"]
    measure(http, hours_id, "2019-04-01", "2019-06-30", "7.5")
    refused_and_nothing_recorded(
        http, f"{BENEFITS}/{hours_id}/definition", at("2019-08-01", unit="GBP"), 422, "invalid-unit", hours_id
    )
    assert posted(http, f"{BENEFITS}/{hours_id}/definition", at("2019-08-01", unit="hours"))["unit"] == "hours"


def test_a_savings_benefit_is_defined_only_in_its_sub_categorys_unit(http: Http, alliance: dict[str, Any]) -> None:
    benefit_id = identify(http, alliance["id"])["id"]  # 1a Money, GBP, not yet measured
    for unit in ("hours", "percent"):
        refusal = refused_and_nothing_recorded(
            http, f"{BENEFITS}/{benefit_id}/definition", at("2019-08-01", unit=unit), 422, "invalid-unit", benefit_id
        )
        assert "unit" in refusal["errors"] and "GBP" in refusal["detail"], refusal


def test_maintain_and_zero_distance_realisation(http: Http, alliance: dict[str, Any]) -> None:
    maintained = identify(
        http,
        alliance["id"],
        title="999 answered within 10 seconds",
        category="2",
        sub_category="2b",
        pillar="service",
        direction="maintain",
        measure="Share of 999 calls answered within 10 seconds",
        unit="percent",
        tolerance="2",
        baseline={"value": "90", "on": "2019-04-01"},
        target={"value": "90", "on": "2021-03-31"},
    )["id"]
    within = measure(http, maintained, "2019-04-01", "2019-06-30", "88.5")
    assert (within["realisation"]["realisation_percent"], within["realisation"]["within_tolerance"]) == ("100.00", True)
    outside = measure(http, maintained, "2019-07-01", "2019-09-30", "87.9")
    assert (outside["realisation"]["realisation_percent"], outside["realisation"]["on_track"]) == ("0.00", False)
    assert outside["realisation"]["trend"] == "worsening"

    level = identify(
        http,
        alliance["id"],
        title="Compliance with the APP on disclosure",
        category="3",
        sub_category="3b",
        pillar="service",
        measure="Audit score",
        unit="score",
        baseline={"value": "4", "on": "2019-04-01"},
        target={"value": "4", "on": "2021-03-31"},
    )["id"]
    met = measure(http, level, "2019-04-01", "2019-06-30", "4")
    assert met["realisation"]["realisation_percent"] == "100.00"
    below = measure(http, level, "2019-07-01", "2019-09-30", "3")
    assert below["realisation"]["realisation_percent"] == "0.00"


# --------------------------------------------------------------------------------- reads
def test_reading_a_benefit_needs_a_token_and_an_unknown_one_is_404(http: Http, alliance: dict[str, Any]) -> None:
    benefit_id = identify(http, alliance["id"])["id"]
    assert_problem(http.get(f"{BENEFITS}/{benefit_id}", None), 401)
    assert benefit_document(http, benefit_id, token=http.token("auditor"))["id"] == benefit_id
    assert_problem(http.get(f"{BENEFITS}/{MISSING}"), 404, "benefit-not-found")
    assert_problem(http.get(f"{BENEFITS}/{alliance['id']}"), 404, "benefit-not-found")  # a collaboration's id
    assert_problem(http.get(f"{BENEFITS}/nope"), 404)
    assert_problem(http.get(f"{BENEFITS}/{benefit_id}?colour=blue"), 422, "validation-failed")
    assert_problem(http.get(f"{BENEFITS}/{benefit_id}?as_of=2019-03-31"), 404, "not-yet-in-effect")
    assert_problem(http.get(f"{BENEFITS}/{benefit_id}?known_at=2000-01-01T00:00:00Z"), 404, "not-yet-in-effect")


@pytest.mark.parametrize("endpoint", [endpoint for endpoint in BENEFIT_WRITES if endpoint != "benefits"])
def test_writing_to_an_unknown_benefit_is_404_and_records_nothing(
    http: Http, alliance: dict[str, Any], endpoint: str
) -> None:
    path, body = benefit_write_requests(alliance["id"], MISSING)[endpoint]
    log_size = http.log_size()
    assert_problem(http.post(path, at("2020-01-01", **body)), 404, "benefit-not-found")
    assert_problem(http.post(path.replace(MISSING, "nope"), at("2020-01-01", **body)), 404)
    assert http.log_size() == log_size


# ------------------------------------------------------------------------ the 7F Procurement case
QUARTERS = [
    ("2019-04-01", "2019-06-30", "350000.00"),
    ("2019-07-01", "2019-09-30", "400000.00"),
    ("2019-10-01", "2019-12-31", "450000.00"),
    ("2020-01-01", "2020-03-31", "500000.00"),
    ("2020-04-01", "2020-06-30", "500000.00"),
    ("2020-07-01", "2020-09-30", "480000.00"),  # restated in May 2021 as 520,000.00
    ("2020-10-01", "2020-12-31", "540000.00"),
    ("2021-01-01", "2021-03-31", "560000.00"),
    ("2021-04-01", "2021-06-30", "540000.00"),
    ("2021-07-01", "2021-09-30", "550000.00"),
    ("2021-10-01", "2021-12-31", "560000.00"),
    ("2022-01-01", "2022-03-31", "570000.00"),
    ("2022-04-01", "2022-06-30", "590000.00"),
    ("2022-07-01", "2022-09-30", "600000.00"),
    ("2022-10-01", "2022-12-31", "610000.00"),
    ("2023-01-01", "2023-03-31", "615000.00"),
]
RESTATED_QUARTER, RESTATED_VALUE = 5, "520000.00"
SAVINGS_TARGET = "8455000.00"
UNPLANNED = "1150000.00"
ATTRIBUTION = {
    "essex": "0.2",
    "kent": "0.2",
    "norfolk": "0.1",
    "suffolk": "0.1",
    "hertfordshire": "0.15",
    "bedfordshire": "0.1",
    "cambridgeshire": "0.15",
}


@dataclass
class SevenForces:
    collaboration_id: str
    function_id: str
    savings_id: str = ""
    unplanned_id: str = ""
    survey_id: str = ""
    quarter_ids: list[str] = field(default_factory=list)
    restatement_id: str = ""
    known_before_restatement: str = ""  # the savings benefit's modified_at before the restatement
    bch_id: str = ""
    hours_id: str = ""


def seven_forces_procurement(http: Http, *, restate: bool = True) -> SevenForces:
    """The 7F Procurement case (DOMAIN.md), recorded through the API.

    Seven forces' procurement agreement (January 2019) with its commercial services function.
    Benefits: the 1a Money cash savings of 8,455,000.00 over four years (baseline 0.00 on
    2019-04-01, target on 2023-03-31; stage 3 FBC, realising; attributed to the seven forces) with
    sixteen quarterly measurements, each the amount saved in its quarter; the 1,150,000.00 savings
    not in the business case as a benefit of its own (realised, stage 5); and a 2a internal
    survey score (percent, 62 -> 75) to show other units never enter the £ totals. The second
    quarter of 2020/21 is first recorded as 480,000.00 and, found wrong in May 2021, restated as
    520,000.00 (recorded last, after ``known_before_restatement``). Every measurement takes effect
    on the 10th of the month after its period ends (the restatement on 14 May 2021). Besides, a BCH collaboration
    (Bedfordshire, Cambridgeshire, Hertfordshire) with a 1b Time benefit at stage 1, for the
    portfolio."""
    collaboration = http.establish(
        name="7F Procurement",
        purpose="A single commercial and procurement service for the seven forces of the Eastern region",
        parties=SEVEN_FORCES,
        lead_force="essex",
        governance_body="7F Strategic Board",
        effective_on="2019-01-15",
    )
    case = SevenForces(
        collaboration["id"],
        http.add_function(
            collaboration["id"],
            name="7F Commercial Services",
            kind="enabling",
            host_force="essex",
            annual_budget="2500000.00",
            effective_on="2019-01-15",
        ),
    )
    of_collaboration = f"{COLLABORATIONS}/{case.collaboration_id}/benefits"
    money = {
        "category": "1",
        "sub_category": "1a",
        "pillar": "cost",
        "direction": "increase",
        "measure": "Cashable savings against the forces' revenue budgets",
        "unit": "GBP",
        "baseline": {"value": "0.00", "on": "2019-04-01"},
        "owner": "7F Head of Commercial Services",
        "function_id": case.function_id,
    }
    unplanned = posted(
        http,
        of_collaboration,
        at(
            "2019-04-01",
            title="Procurement savings not in the business case",
            target={"value": UNPLANNED, "on": "2023-03-31"},
            stage=3,
            status="realising",
            **money,
        ),
    )
    case.unplanned_id = unplanned["id"]
    for start, end, value in [
        ("2019-04-01", "2020-03-31", "200000.00"),
        ("2020-04-01", "2021-03-31", "300000.00"),
        ("2021-04-01", "2022-03-31", "300000.00"),
        ("2022-04-01", "2023-03-31", "350000.00"),
    ]:
        measure(http, case.unplanned_id, start, end, value)
    posted(http, f"{BENEFITS}/{case.unplanned_id}/stage", at("2023-06-30", stage=5, status="realised"))

    survey = posted(
        http,
        of_collaboration,
        at(
            "2019-04-01",
            title="Officers and staff satisfied with procurement",
            category="2",
            sub_category="2a",
            pillar="people",
            direction="increase",
            measure="Internal survey: satisfied with buying goods and services",
            unit="percent",
            baseline={"value": "62", "on": "2019-04-01"},
            target={"value": "75", "on": "2023-03-31"},
            owner="7F Head of Commercial Services",
            stage=3,
            status="realising",
        ),
    )
    case.survey_id = survey["id"]
    for year, score in (("2020", "64"), ("2021", "68"), ("2022", "71"), ("2023", "76")):
        measure(http, case.survey_id, f"{year}-03-01", f"{year}-03-31", score)

    savings = posted(
        http,
        of_collaboration,
        at(
            "2019-04-01",
            title="Procurement cash savings",
            target={"value": SAVINGS_TARGET, "on": "2023-03-31"},
            attribution=ATTRIBUTION,
            stage=3,
            status="realising",
            approval_ref="7F-SB-2019-03",
            **money,
        ),
    )
    case.savings_id = savings["id"]
    for start, end, value in QUARTERS:
        last = measure(http, case.savings_id, start, end, value)
        case.quarter_ids.append(last["measurement_id"])
    case.known_before_restatement = last["modified_at"]

    bch = http.establish(
        name="BCH Joint Protective Services",
        purpose="Armed policing, roads policing and dogs for three forces",
        parties=["bedfordshire", "cambridgeshire", "hertfordshire"],
        lead_force="hertfordshire",
        effective_on="2019-01-15",
    )
    case.bch_id = bch["id"]
    hours = posted(
        http,
        f"{COLLABORATIONS}/{case.bch_id}/benefits",
        at(
            "2019-04-01",
            title="Officer hours released to the front line",
            category="1",
            sub_category="1b",
            pillar="people",
            direction="increase",
            unit="hours",
            stage=1,
            status="planned",
        ),
    )
    case.hours_id = hours["id"]
    measure(http, case.hours_id, "2019-04-01", "2020-03-31", "12000")

    if restate:
        time.sleep(0.01)  # recorded strictly later than anything known at known_before_restatement
        start, end, _ = QUARTERS[RESTATED_QUARTER]
        restated = measure(
            http,
            case.savings_id,
            start,
            end,
            RESTATED_VALUE,
            restates=case.quarter_ids[RESTATED_QUARTER],
            effective_on="2021-05-14",
            reason="Q2 2020/21 restated: a supplier rebate was left out",
            evidence="7F-AUDIT-2021-05",
        )
        case.restatement_id = restated["measurement_id"]
    return case


def row_of(document: dict[str, Any], benefit_id: str) -> dict[str, Any]:
    [row] = [row for row in document["benefits"] if row["benefit_id"] == benefit_id]
    return row


def test_the_7f_procurement_case_recorded_through_the_api(http_any: Http) -> None:
    http = http_any
    case = seven_forces_procurement(http)

    savings = benefit_document(http, case.savings_id)
    current = [m for m in savings["measurements"] if m["current"]]
    assert len(savings["measurements"]) == 17
    assert len(current) == 16
    assert sum(int(m["value"].replace(".", "")) for m in current) == 845500000  # pence
    [original] = [m for m in savings["measurements"] if not m["current"]]
    assert (original["id"], original["value"], original["restated_by"]) == (
        case.quarter_ids[RESTATED_QUARTER],
        "480000.00",
        case.restatement_id,
    )
    assert savings["attribution"] == ATTRIBUTION
    realisation = savings["realisation"]
    assert realisation["cumulative_value"] == SAVINGS_TARGET
    assert realisation["compared_value"] == SAVINGS_TARGET
    assert (realisation["realisation_percent"], realisation["expected_percent"], realisation["on_track"]) == (
        "100.00",
        "100.00",
        True,
    )
    assert realisation["latest_value"] == "615000.00"
    assert realisation["trend"] == "improving"

    unplanned = benefit_document(http, case.unplanned_id)
    assert (unplanned["stage"], unplanned["status"]) == (5, "realised")
    assert unplanned["realisation"]["cumulative_value"] == UNPLANNED
    assert unplanned["realisation"]["realisation_percent"] == "100.00"

    survey = benefit_document(http, case.survey_id)
    assert survey["realisation"]["latest_value"] == "76"
    assert survey["realisation"]["realisation_percent"] == "107.69"  # (76 - 62) / (75 - 62), not capped

    dashboard = got(http, f"{COLLABORATIONS}/{case.collaboration_id}/benefits")
    check_dashboard_now(dashboard, case)


def check_dashboard_now(dashboard: dict[str, Any], case: SevenForces) -> None:
    assert DashboardDocument().validate(dashboard) == {}
    assert dashboard["collaboration_id"] == case.collaboration_id
    assert {row["benefit_id"] for row in dashboard["benefits"]} == {case.savings_id, case.unplanned_id, case.survey_id}
    savings = row_of(dashboard, case.savings_id)
    assert (savings["realised_value"], savings["latest_value"]) == (SAVINGS_TARGET, "615000.00")
    assert (savings["realisation_percent"], savings["on_track"]) == ("100.00", True)
    survey = row_of(dashboard, case.survey_id)
    assert (survey["latest_value"], survey["realisation_percent"], survey["on_track"]) == ("76", "107.69", True)
    totals = dashboard["totals"]
    assert counted(totals["all"]) == {
        "benefits": 3,
        "on_track": 3,
        "measured": 3,
        "cash_savings": "9605000.00",  # 8,455,000.00 + 1,150,000.00: 1a Money only
        "cost_avoided": "0.00",  # no 1c Cost avoidance benefit
        "other_units": {"percent": 1},  # the survey's 76 percent is counted, never money
    }
    nothing = {"cash_savings": "0.00", "cost_avoided": "0.00"}
    assert {pillar: counted(total) for pillar, total in totals["by_pillar"].items()} == {
        "cost": {
            "benefits": 2,
            "on_track": 2,
            "measured": 2,
            "cash_savings": "9605000.00",
            "cost_avoided": "0.00",
            "other_units": {},
        },
        "people": {"benefits": 1, "on_track": 1, "measured": 1, **nothing, "other_units": {"percent": 1}},
        "service": {"benefits": 0, "on_track": 0, "measured": 0, **nothing, "other_units": {}},
    }
    assert totals["by_category"]["1"] == totals["by_pillar"]["cost"]
    assert totals["by_category"]["2"] == totals["by_pillar"]["people"]
    assert totals["by_category"]["3"]["benefits"] == 0


def counted(total: dict[str, Any]) -> dict[str, Any]:
    """A total's counts and money totals as before the register's fields (those are tested in
    test_http_benefits_register.py)."""
    return {
        name: total[name]
        for name in ("benefits", "on_track", "measured", "cash_savings", "cost_avoided", "other_units")
    }


def dashboard_of(http: Http, case: SevenForces, query: str = "") -> dict[str, Any]:
    document = got(http, f"{COLLABORATIONS}/{case.collaboration_id}/benefits{'?' + query if query else ''}")
    assert DashboardDocument().validate(document) == {}
    return document


def test_the_dashboard_as_of_a_date_and_as_known_at_a_time(http_any: Http) -> None:
    """Before the May 2021 restatement was recorded the quarter counted its original 480,000.00.
    Each quarter's figure takes effect on the 10th of the month after it: as of 31 March 2021 only
    the first seven quarters were in effect, from 10 April 2021 the eighth too (with the original
    Q2 2020/21 figure until the restatement took effect on 14 May 2021)."""
    http = http_any
    case = seven_forces_procurement(http)
    known_at = quote(case.known_before_restatement)

    now = dashboard_of(http, case)
    assert (now["as_of"], now["known_at"]) == (None, None)
    # computed from the aggregates, the dashboard now is the projection's
    computed = dashboard_of(http, case, "known_at=" + quote("9999-12-31T23:59:59Z"))
    assert {**computed, "known_at": None} == now

    before = dashboard_of(http, case, f"known_at={known_at}")
    assert before["known_at"] is not None
    savings = row_of(before, case.savings_id)
    assert (savings["realised_value"], savings["realisation_percent"], savings["on_track"]) == (
        "8415000.00",  # 8,455,000.00 less the 40,000.00 the restatement added
        "99.53",
        False,
    )
    assert before["totals"]["all"]["cash_savings"] == "9565000.00"
    assert before["totals"]["all"]["on_track"] == 2
    quarter = benefit_document(http, case.savings_id, f"known_at={known_at}")["measurements"][RESTATED_QUARTER]
    assert (quarter["value"], quarter["current"], quarter["restated_by"]) == ("480000.00", True, None)

    march_2021 = dashboard_of(http, case, "as_of=2021-03-31")
    assert march_2021["as_of"] == "2021-03-31"
    savings = row_of(march_2021, case.savings_id)
    # Q1 2019/20 to Q3 2020/21: 350 + 400 + 450 + 500 + 500 + 480 (the original Q2) + 540 thousand;
    # Q4 2020/21, ended 31 March, takes effect on 10 April.
    assert (savings["realised_value"], savings["measurements_count"]) == ("3220000.00", 7)
    assert savings["latest_period_end"] == "2020-12-31"
    assert (savings["realisation_percent"], savings["expected_percent"], savings["on_track"]) == (
        "38.08",  # 3,220,000 / 8,455,000
        "43.84",  # 640 of 1460 days, 2019-04-01 to 2020-12-31
        False,
    )
    unplanned = row_of(march_2021, case.unplanned_id)
    # only 2019/20 (in effect from 2020-04-10); 2020/21 takes effect on 2021-04-10
    assert (unplanned["realised_value"], unplanned["status"], unplanned["stage"]) == ("200000.00", "realising", 3)
    assert (unplanned["realisation_percent"], unplanned["expected_percent"]) == ("17.39", "25.00")  # 365 of 1460
    survey = row_of(march_2021, case.survey_id)
    assert (survey["latest_value"], survey["realisation_percent"]) == ("64", "15.38")  # (64 - 62) / (75 - 62)
    assert march_2021["totals"]["all"]["cash_savings"] == "3420000.00"  # 3,220,000 + 200,000
    assert march_2021["totals"]["all"]["cost_avoided"] == "0.00"
    assert march_2021["totals"]["all"]["on_track"] == 0
    day_before = dashboard_of(http, case, "as_of=2021-04-09")
    assert row_of(day_before, case.savings_id)["realised_value"] == "3220000.00"

    april_2021 = dashboard_of(http, case, "as_of=2021-04-10")
    savings = row_of(april_2021, case.savings_id)
    assert (savings["realised_value"], savings["measurements_count"]) == ("3780000.00", 8)  # the original Q2 figure
    assert (savings["realisation_percent"], savings["expected_percent"], savings["on_track"]) == (
        "44.71",
        "50.00",  # 730 of 1460 days
        False,
    )
    assert row_of(april_2021, case.unplanned_id)["realised_value"] == "500000.00"
    assert row_of(april_2021, case.survey_id)["latest_value"] == "68"
    assert april_2021["totals"]["all"]["cash_savings"] == "4280000.00"
    assert april_2021["totals"]["all"]["on_track"] == 0

    # Q1 2021/22 ends on 30 June but takes effect on 10 July; the restatement from 14 May
    june_2021 = dashboard_of(http, case, "as_of=2021-06-30")
    assert row_of(june_2021, case.savings_id)["realised_value"] == "3820000.00"  # with the restated quarter
    june_as_known = dashboard_of(http, case, f"as_of=2021-06-30&known_at={known_at}")
    assert row_of(june_as_known, case.savings_id)["realised_value"] == "3780000.00"
    july_2021 = dashboard_of(http, case, "as_of=2021-07-10")
    assert row_of(july_2021, case.savings_id)["realised_value"] == "4360000.00"
    july_as_known = dashboard_of(http, case, f"as_of=2021-07-10&known_at={known_at}")
    assert row_of(july_as_known, case.savings_id)["realised_value"] == "4320000.00"

    one = f"{COLLABORATIONS}/{case.collaboration_id}/benefits"
    assert_problem(http.get(f"{one}?as_of=2018-12-31"), 404, "not-yet-in-effect")
    assert_problem(http.get(f"{one}?known_at=2000-01-01T00:00:00Z"), 404, "not-yet-in-effect")
    # benefits identified later than as_of are left out
    assert dashboard_of(http, case, "as_of=2019-02-01")["benefits"] == []


def test_the_dashboard_refuses_what_it_cannot_answer(http: Http) -> None:
    collaboration = http.establish()
    one = f"{COLLABORATIONS}/{collaboration['id']}/benefits"
    empty = got(http, one)
    assert empty["benefits"] == []
    assert counted(empty["totals"]["all"]) == {
        "benefits": 0,
        "on_track": 0,
        "measured": 0,
        "cash_savings": "0.00",
        "cost_avoided": "0.00",
        "other_units": {},
    }
    assert got(http, one, http.token("auditor"))["collaboration_id"] == collaboration["id"]
    assert_problem(http.get(one, None), 401)
    assert_problem(http.get(f"{COLLABORATIONS}/{MISSING}/benefits"), 404, "collaboration-not-found")
    assert_problem(http.get(f"{COLLABORATIONS}/{MISSING}/benefits?as_of=2020-01-01"), 404, "collaboration-not-found")
    assert_problem(http.get(f"{one}?colour=blue"), 422, "validation-failed")
    assert_problem(http.get(f"{one}?format=xml"), 422, "validation-failed")
    assert_problem(http.get(one, Accept="image/png"), 406)


def test_the_dashboard_totals_cost_avoided_apart_from_cash_savings(http: Http, alliance: dict[str, Any]) -> None:
    """1a Money savings are cash saved, 1c Cost avoidance savings cost avoided: both £, summed
    apart; 1b Time is counted in hours, never summed."""
    identify(http, alliance["id"])  # 1a, never measured: 0.00 saved so far
    cash = identify(http, alliance["id"], title="Shared ICT contracts")["id"]
    measure(http, cash, "2019-04-01", "2019-06-30", "10000.00")
    measure(http, cash, "2019-07-01", "2019-09-30", "15000.50")
    avoided = identify(
        http, alliance["id"], title="Overtime avoided", sub_category="1c", measure="Overtime not paid", pillar="people"
    )["id"]
    measure(http, avoided, "2019-04-01", "2019-09-30", "4321.09")
    hours = identify(
        http,
        alliance["id"],
        title="Hours released",
        sub_category="1b",
        unit="hours",
        measure="Officer hours released",
        baseline={"value": "0", "on": "2019-04-01"},
        target={"value": "5000", "on": "2021-03-31"},
        pillar="people",
    )["id"]
    measure(http, hours, "2019-04-01", "2019-09-30", "800")

    for query in ("", "?as_of=2019-12-31"):
        document = got(http, f"{COLLABORATIONS}/{alliance['id']}/benefits{query}")
        assert DashboardDocument().validate(document) == {}
        totals = document["totals"]
        assert (totals["all"]["cash_savings"], totals["all"]["cost_avoided"]) == ("25000.50", "4321.09"), query
        assert totals["all"]["other_units"] == {"hours": 1}
        assert (totals["by_pillar"]["cost"]["cash_savings"], totals["by_pillar"]["cost"]["cost_avoided"]) == (
            "25000.50",
            "0.00",
        )
        assert totals["by_pillar"]["people"]["cost_avoided"] == "4321.09"
        assert totals["by_pillar"]["people"]["cash_savings"] == "0.00"
        assert totals["by_category"]["1"]["cost_avoided"] == "4321.09"
    # as of before the second quarter's figure and the cost avoided were in effect
    early = got(http, f"{COLLABORATIONS}/{alliance['id']}/benefits?as_of=2019-07-10")["totals"]["all"]
    assert (early["cash_savings"], early["cost_avoided"]) == ("10000.00", "0.00")


def test_the_dashboard_as_csv_has_one_row_per_benefit(http: Http) -> None:
    case = seven_forces_procurement(http)
    response = http.get(f"{COLLABORATIONS}/{case.collaboration_id}/benefits?format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    document = dashboard_of(http, case)
    assert [row["benefit_id"] for row in rows] == [row["benefit_id"] for row in document["benefits"]]
    savings = next(row for row in rows if row["benefit_id"] == case.savings_id)
    assert (savings["realised_value"], savings["realisation_percent"], savings["on_track"]) == (
        SAVINGS_TARGET,
        "100.00",
        "true",
    )
    assert savings["unit"] == "GBP"
    assert savings["attribution"].startswith("{") and '"kent":"0.2"' in savings["attribution"]
    survey = next(row for row in rows if row["benefit_id"] == case.survey_id)
    assert (survey["unit"], survey["latest_value"]) == ("percent", "76")
    by_accept = http.get(f"{COLLABORATIONS}/{case.collaboration_id}/benefits?as_of=2021-03-31", Accept="text/csv")
    march = list(csv.DictReader(io.StringIO(by_accept.get_data(as_text=True))))
    assert next(row for row in march if row["benefit_id"] == case.savings_id)["realised_value"] == "3220000.00"


# --------------------------------------------------------------------------------- the portfolio
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"savings", "unplanned", "survey", "hours"}),
        ("force=kent", {"savings", "unplanned", "survey"}),
        ("force=bedfordshire", {"savings", "unplanned", "survey", "hours"}),
        ("force=west-mercia", set()),
        ("pillar=people", {"survey", "hours"}),
        ("pillar=cost", {"savings", "unplanned"}),
        ("category=1", {"savings", "unplanned", "hours"}),
        ("category=1a", {"savings", "unplanned"}),
        ("category=2", {"survey"}),
        ("stage=5", {"unplanned"}),
        ("stage=1", {"hours"}),
        ("status=realising", {"savings", "survey"}),
        ("status=realised", {"unplanned"}),
        ("status=planned&force=bedfordshire", {"hours"}),
        ("pillar=cost&status=realising&force=suffolk", {"savings"}),
        ("collaboration_id={bch}", {"hours"}),
        # as they stood: in March 2021 the unplanned savings were still being realised
        ("status=realised&as_of=2021-03-31", set()),
        ("status=realising&as_of=2021-03-31&force=essex", {"savings", "unplanned", "survey"}),
        ("stage=3&known_at={before}", {"savings", "survey"}),
        ("stage=5&status=realised&known_at={before}", {"unplanned"}),
    ],
)
def test_the_portfolio_filters_benefits_across_collaborations(http: Http, query: str, expected: set[str]) -> None:
    case = seven_forces_procurement(http)
    names = {
        case.savings_id: "savings",
        case.unplanned_id: "unplanned",
        case.survey_id: "survey",
        case.hours_id: "hours",
    }
    query = query.format(bch=case.bch_id, before=quote(case.known_before_restatement))
    document = got(http, f"{BENEFITS}?{query}", http.token("auditor"))
    assert PortfolioDocument().validate(document) == {}
    assert {names[row["benefit_id"]] for row in document["items"]} == expected
    assert document["total"] == len(expected)


def test_the_portfolio_as_csv_and_its_refusals(http: Http) -> None:
    case = seven_forces_procurement(http)
    response = http.get(f"{BENEFITS}?force=kent&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {row["benefit_id"] for row in rows} == {case.savings_id, case.unplanned_id, case.survey_id}
    assert_problem(http.get(BENEFITS, None), 401)
    for query in ("pillar=morale", "force=atlantis", "stage=9", "stage=x", "category=4", "colour=blue", "status=gone"):
        assert_problem(http.get(f"{BENEFITS}?{query}"), 422, "validation-failed")
