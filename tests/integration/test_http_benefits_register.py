"""The benefits register's fields over HTTP, on SQLite and PostgreSQL: dis-benefits, the class,
the senior responsible owner, links, confidence, profiles and their rebaselining, RAG derived and
overridden, stale readings; what each refuses (recording nothing); and the dashboard's and the
portfolio's new totals, computed from the projection and as it stood."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from service.resources.benefits.schemas import DashboardDocument, PortfolioDocument
from tests.integration import http_support
from tests.integration.http_support import BENEFIT, Http
from tests.integration.test_http_benefits import (
    BENEFITS,
    COLLABORATIONS,
    at,
    benefit_document,
    got,
    identify,
    measure,
    posted,
    refused_and_nothing_recorded,
)

http = http_support.http
http_any = http_support.http_any

YEARS = [
    {"period_start": "2019-04-01", "period_end": "2020-03-31", "value": "20000.00"},
    {"period_start": "2020-04-01", "period_end": "2021-03-31", "value": "80000.00"},
]


def dis_benefit(http: Http, collaboration_id: str, **overrides: Any) -> dict[str, Any]:
    return identify(
        http,
        collaboration_id,
        **{
            "kind": "dis_benefit",
            "reference": "DB-1",
            "title": "Dual running of the old and new ICT",
            "measure": "Extra running costs",
            "target": {"value": "30000.00", "on": "2021-03-31"},
            **overrides,
        },
    )


def test_the_register_fields_are_recorded_with_their_history(http: Http) -> None:
    collaboration = http.establish()
    function_id = http.add_function(collaboration["id"])
    benefit = identify(
        http,
        collaboration["id"],
        reference="B-014",
        objective="Cheaper shared ICT",
        senior_responsible_owner="Alliance Chief Constable",
        measurement_frequency="quarterly",
        function_id=function_id,
    )
    assert (benefit["kind"], benefit["reference"], benefit["objective"]) == ("benefit", "B-014", "Cheaper shared ICT")
    assert (benefit["owner"], benefit["senior_responsible_owner"]) == (
        "Alliance ICT Director",
        "Alliance Chief Constable",
    )
    assert (benefit["cash_releasing"], benefit["quantitative"]) == (True, True)  # 1a Money in GBP, unclassified
    one = f"{BENEFITS}/{benefit['id']}"
    posted(http, f"{one}/definition", at("2019-05-01", cash_releasing=False, measurement_frequency="annually"))
    posted(http, f"{one}/link", at("2019-05-01", function_id=None, objective="Resilient ICT"))
    posted(http, f"{one}/confidence", at("2019-05-01", confidence="low", reason="The supplier has not signed"))
    document = posted(http, f"{one}/confidence", at("2019-06-01", confidence="medium", reason="Signed"))
    assert document["cash_releasing"] is False and document["measurement_frequency"] == "annually"
    assert [entry["cash_releasing"] for entry in document["definitions"]] == [None, False]
    assert [(e["function_id"], e["objective"]) for e in document["link_history"]] == [
        (function_id, "Cheaper shared ICT"),
        (None, "Resilient ICT"),
    ]
    assert document["confidence"] == {"confidence": "medium", "reason": "Signed", "effective_on": "2019-06-01"}
    assert [entry["confidence"] for entry in document["confidences"]] == ["low", "medium"]
    then = benefit_document(http, benefit["id"], "as_of=2019-04-30")
    assert (then["objective"], then["confidence"], then["cash_releasing"]) == ("Cheaper shared ICT", None, True)


def test_register_writes_refuse_bad_input_and_record_nothing(http: Http) -> None:
    collaboration = http.establish()
    benefit = identify(http, collaboration["id"])
    one = f"{BENEFITS}/{benefit['id']}"
    overlapping = [YEARS[0], {**YEARS[1], "period_start": "2020-03-31"}]
    cases = [
        (f"{one}/profile", at("2019-05-01", periods=overlapping), 422, "invalid-profile"),
        (f"{one}/profile", at("2019-05-01", periods=[]), 422, "invalid-profile"),
        (f"{one}/profile", at("2019-05-01", periods=[{**YEARS[0], "value": "1.001"}]), 422, "invalid-benefit-value"),
        (f"{one}/profile", at("2019-05-01", periods=[{**YEARS[0], "value": 20000}]), 422, None),  # a JSON number
        (f"{one}/confidence", at("2019-05-01", confidence="certain"), 422, "invalid-confidence"),
        (f"{one}/rag", at("2019-05-01", rag="blue"), 422, "invalid-rag"),
        (f"{one}/rag", at("2019-05-01", rag=None), 422, "nothing-changed"),  # no override to clear
        (f"{one}/rag", at("2019-05-01"), 422, None),  # rag is required (null clears)
        (f"{one}/definition", at("2019-05-01", measurement_frequency="weekly"), 422, "invalid-measurement-frequency"),
        (f"{one}/definition", at("2019-05-01", cash_releasing="yes"), 422, None),
        (f"{one}/link", at("2019-05-01", function_id="no-such-function"), 422, "unknown-function"),
        (f"{COLLABORATIONS}/{collaboration['id']}/benefits", at("2019-05-01", **BENEFIT, kind="drawback"), 422, None),
    ]
    for path, body, status, problem in cases:
        refusal = refused_and_nothing_recorded(http, path, body, status, None, benefit["id"])
        if problem is not None:
            assert refusal["type"].endswith(problem), (path, body, refusal)


def test_a_profile_sets_the_plan_and_a_rebaselining_keeps_the_first(http_any: Http) -> None:
    http = http_any
    collaboration = http.establish()
    benefit = identify(http, collaboration["id"])
    one = f"{BENEFITS}/{benefit['id']}"
    posted(http, f"{one}/profile", at("2019-04-01", periods=YEARS, reason="FBC profile"))
    measured = measure(http, benefit["id"], "2019-04-01", "2020-03-31", "19500.00")
    realisation = measured["realisation"]
    assert (realisation["expected_basis"], realisation["planned_value"]) == ("profile", "20000.00")
    assert (realisation["expected_percent"], realisation["variance"], realisation["variance_percent"]) == (
        "20.00",
        "-500.00",
        "-2.50",
    )
    assert realisation["rag"] == "green"  # 2.5% short
    rebaselined = posted(
        http,
        f"{one}/profile",
        at("2020-04-15", periods=[{**YEARS[0], "value": "25000.00"}, YEARS[1]], reason="Rebaselined"),
    )
    assert [(p["rebaselining"], p["reason"]) for p in rebaselined["profiles"]] == [
        (False, "FBC profile"),
        (True, "Rebaselined"),
    ]
    assert rebaselined["realisation"]["planned_value"] == "25000.00"
    assert rebaselined["realisation"]["rag"] == "red"  # 22% short of the new plan
    override = posted(http, f"{one}/rag", at("2020-04-16", rag="amber", reason="A late invoice is due"))
    assert (override["realisation"]["rag"], override["realisation"]["rag_derived"]) == ("amber", "red")
    assert override["rag_override"] == {"rag": "amber", "reason": "A late invoice is due", "effective_on": "2020-04-16"}
    assert [(e["on"], e["source"], e["rag"]) for e in override["rag_history"]] == [
        ("2020-03-31", "derived", "red"),
        ("2020-04-16", "override", "amber"),
    ]
    before = benefit_document(http, benefit["id"], "as_of=2020-04-14")
    assert (before["realisation"]["planned_value"], before["realisation"]["rag"]) == ("20000.00", "green")


def test_the_dashboard_counts_rag_keeps_dis_benefits_apart_and_flags_stale_readings(http_any: Http) -> None:
    http = http_any
    collaboration = http.establish()
    cid = collaboration["id"]
    cash = identify(http, cid, title="Cash saved", measurement_frequency="quarterly")
    measure(http, cash["id"], "2019-04-01", "2019-06-30", "30000.00")
    avoided = identify(http, cid, title="Overtime avoided", sub_category="1c")
    measure(http, avoided["id"], "2019-04-01", "2020-03-31", "48000.00")  # 4% short of the line's 50,000: green
    dual = dis_benefit(http, cid)
    measure(http, dual["id"], "2019-04-01", "2020-03-31", "25000.00")
    identify(http, cid, title="Not measured yet")

    dashboard = got(http, f"{COLLABORATIONS}/{cid}/benefits?as_of=2020-06-30")
    assert DashboardDocument().validate(dashboard) == {}
    assert dashboard["read_on"] == "2020-06-30"
    rows = {row["title"]: row for row in dashboard["benefits"]}
    # quarterly: due 3 months and 30 days after 30 June 2019, so stale by June 2020; the others annual
    assert rows["Cash saved"]["measurement_due_by"] == "2019-10-30" and rows["Cash saved"]["stale"] is True
    assert rows["Overtime avoided"]["stale"] is False
    assert rows["Dual running of the old and new ICT"]["kind"] == "dis_benefit"
    # the dis-benefit's 25,000 is more than the straight line's 15,000 planned by March 2020: red
    assert rows["Dual running of the old and new ICT"]["rag"] == "red"
    totals = dashboard["totals"]["all"]
    assert totals["benefits"] == 4 and totals["dis_benefits"] == 1 and totals["stale"] == 1
    assert totals["rag"] == {"green": 2, "amber": 0, "red": 1, "not_assessed": 1}
    assert (totals["cash_savings"], totals["cost_avoided"]) == ("30000.00", "48000.00")  # never offset
    assert (totals["cash_releasing"], totals["non_cash_releasing"]) == ("30000.00", "48000.00")
    assert (totals["dis_benefits_money"], totals["net_money"]) == ("25000.00", "53000.00")

    now = got(http, f"{COLLABORATIONS}/{cid}/benefits")
    assert now["read_on"] == date.today().isoformat()
    assert now["totals"]["all"]["stale"] == 3  # every reading is years old today
    portfolio = got(http, f"{BENEFITS}?collaboration_id={cid}")
    assert PortfolioDocument().validate(portfolio) == {}
    assert sum(item["stale"] for item in portfolio["items"]) == 3
    exported = http.get(f"{COLLABORATIONS}/{cid}/benefits?format=csv").get_data(as_text=True)
    header, *lines = list(csv.reader(io.StringIO(exported)))
    assert {"kind", "rag", "planned_value", "stale", "senior_responsible_owner"} <= set(header)
    assert len(lines) == 4
