"""What a mutual decoupling costs each party, over HTTP: JSON traced to events, CSV, the
decoupling case's claims, a proposed decoupling, and the statement as it stood."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from service.resources.collaborations.schemas import DecouplingCostsDocument
from tests.integration import http_support
from tests.integration.exit_case_support import BASE, CASES, at, posted
from tests.integration.http_support import Http, assert_problem

http = http_support.http
DORSET, DC = "dorset", "devon-cornwall"


def statement(http: Http, path: str, query: str = "") -> dict[str, Any]:
    response = http.get(f"{path}/decoupling-costs{query}")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert DecouplingCostsDocument().validate(body) == {}
    assert response.headers["ETag"] == f'"{body["version"]}"'
    return body


def alliance(http: Http) -> tuple[str, str]:
    """Dorset and Devon & Cornwall share Prevention (1,200,000) 35/65, with a contract (break
    cost 100,000) and vans of 300,000 (2016-04-01, 60 months, half each): its id and path."""
    collaboration = http.establish(parties=[DORSET, DC], lead_force=DORSET, effective_on="2015-03-01")
    one = f"{BASE}/{collaboration['id']}"
    function = http.add_function(
        collaboration["id"], name="Prevention", host_force=DORSET, annual_budget="1200000.00", effective_on="2015-03-01"
    )
    shares = {DORSET: "0.35", DC: "0.65"}
    posted(http, f"{one}/apportionments", at("2015-03-01", function_id=None, basis="fixed_ratio", shares=shares))
    terms = {"notice_period_months": 12, "stranded_cost_rate": "0.25", "stranded_cost_months": 6}
    posted(http, f"{one}/exit-terms", at("2015-03-01", **terms))
    contract = {"supplier": "Schools programme Ltd", "function_id": function, "annual_value": "50000.00"}
    posted(http, f"{one}/contracts", at("2016-01-01", **contract, ends_on="2022-03-31", break_cost="100000.00"))
    vans = {"name": "Vans", "cost": "300000.00", "acquired_on": "2016-04-01", "useful_life_months": 60}
    posted(
        http, f"{one}/assets", at("2016-04-01", **vans, funded_shares={DORSET: "0.5", DC: "0.5"}, function_id=function)
    )
    return collaboration["id"], function


def test_a_recorded_decoupling_is_shared_by_the_function_s_ratio(http: Http) -> None:
    collaboration_id, function = alliance(http)
    one = f"{BASE}/{collaboration_id}"
    decision = at("2019-04-01", decided_by="Working Together Board", rationale="Differing priorities")
    decoupled = posted(http, f"{one}/functions/{function}/decoupling", {**decision, "decided_on": "2018-10-01"})
    assert decoupled["functions"][0]["decoupling"]["decided_on"] == "2018-10-01"
    version = decoupled["version"]

    body = statement(http, f"{one}/functions/{function}")
    assert (body["status"], body["notice_on"], body["exit_on"]) == ("decoupled", "2018-10-01", "2019-04-01")
    assert body["basis"]["N"]["event"]["event_id"] == f"{collaboration_id}:{version}"
    lines = {line["head"]: line for line in body["lines"]}
    assert {head: line["amount"] for head, line in lines.items()} == {
        "H1": "601643.84",
        "H4": "150000.00",
        "H5": "100000.00",
        "H7": "-120000.00",
    }
    assert [(share["force"], share["amount"]) for share in lines["H4"]["shares"]] == [
        (DORSET, "52500.00"),
        (DC, "97500.00"),
    ]
    assert lines["H4"]["shares"][0]["source_events"]["r(dorset, Prevention)"]["event_id"] == f"{collaboration_id}:3"
    assert lines["H7"]["source_events"]["cost(Vans)"]["event_id"] == f"{collaboration_id}:6"
    assert body["total"] == "731643.84"
    assert sum(Decimal(position["net"]) for position in body["positions"]) == Decimal(body["total"])

    # the decoupling's exit case: its claims are money between the parties
    case = posted(
        http, CASES, at("2019-04-02", collaboration_id=collaboration_id, trigger="decoupling", function_id=function)
    )
    line = {"head": "H6", "amount": "8000.00", "description": "ICT transition"}
    posted(http, f"{CASES}/{case['id']}/claims", at("2019-05-01", claimant=DORSET, respondent=DC, lines=[line]))
    with_claim = statement(http, f"{one}/functions/{function}")
    assert with_claim["exit_case_id"] == case["id"]
    assert [(c["payer"], c["payee"], c["amount"]) for c in with_claim["claims"]] == [(DC, DORSET, "8000.00")]
    assert with_claim["claims"][0]["source_events"]["amount"]["event_id"] == f"{case['id']}:2"
    assert with_claim["total"] == body["total"]
    nets = {p["force"]: Decimal(p["net"]) for p in with_claim["positions"]}
    assert nets[DC] - Decimal("8000.00") == Decimal(next(p["net"] for p in body["positions"] if p["force"] == DC))

    response = http.get(f"{one}/functions/{function}/decoupling-costs?format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["head"], row["party"], row["amount"]) for row in rows if row["head"] == "H4"] == [
        ("H4", DORSET, "52500.00"),
        ("H4", DC, "97500.00"),
    ]
    assert [(row["party"], row["counterparty"], row["amount"]) for row in rows if row["head"] == "H6"] == [
        (DC, DORSET, "8000.00")
    ]
    assert {row["party"]: row["amount"] for row in rows if row["head"] == "net"} == {
        p["force"]: p["net"] for p in with_claim["positions"]
    }

    # as it stood before the decoupling took effect, and before it was recorded: a proposal
    before = statement(http, f"{one}/functions/{function}", "?as_of=2019-01-01&exit_on=2019-07-01")
    assert (before["status"], before["notice_on"], before["exit_on"]) == ("proposed", "2019-01-01", "2019-07-01")
    assert before["claims"] == []
    own = http.get(f"{one}/history?kind=collaboration").get_json()["items"]
    assert own[-1]["type"] == "Collaboration.FunctionDecoupled"
    known = statement(http, f"{one}/functions/{function}", f"?known_at={own[-2]['recorded_at']}")
    assert (known["status"], known["version"]) == ("proposed", version - 1)


def test_unknown_functions_and_impossible_dates_are_problems(http: Http) -> None:
    collaboration_id, function = alliance(http)
    one = f"{BASE}/{collaboration_id}"
    assert_problem(http.get(f"{one}/functions/6f1c1d3e-0000-4000-8000-000000000000/decoupling-costs"), 404)
    assert_problem(http.get(f"{one}/functions/{function}/decoupling-costs?as_of=2019-01-01&exit_on=2018-12-31"), 422)
    assert_problem(http.get(f"{one}/functions/{function}/decoupling-costs?exit_on=someday"), 422)
    decision = at("2019-04-01", decided_by="WTB", rationale="why", decided_on="2019-04-02")
    problem = assert_problem(http.post(f"{one}/functions/{function}/decoupling", decision), 422, "decided-after-effect")
    assert "decided_on" in problem["errors"]
