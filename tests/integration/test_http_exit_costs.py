"""Withdrawal notices, decoupling, s23G directions and the exit-cost quote over HTTP: DOMAIN.md's
worked example recorded through the API and quoted to the penny."""

from __future__ import annotations

from typing import Any

import pytest

from service.resources.collaborations.schemas import ExitCostsDocument, NoticeServedDocument, RegisterPageSchema
from tests.integration import http_support
from tests.integration.http_support import REPRESENTATION, Http, assert_problem

http = http_support.http
http_any = http_support.http_any

BASE = "/api/v1/collaborations"
A, B = "west-mercia", "warwickshire"


def at(day: str, **body: Any) -> dict[str, Any]:
    return {"effective_on": day, "reason": "Recorded for the exit", "approval_ref": "Approved for the exit", **body}


def posted(http: Http, path: str, body: dict[str, Any], token: str | None = "admin") -> dict[str, Any]:
    """POSTs a write that must be recorded, asking for the whole document (the tests check it)."""
    response = http.post(path, body, token, **REPRESENTATION)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def worked_example(http: Http) -> dict[str, str]:
    """DOMAIN.md's worked example, recorded through the API."""
    collaboration = http.establish(effective_on="2012-04-01")
    one = f"{BASE}/{collaboration['id']}"
    ict = http.add_function(collaboration["id"], name="ICT", annual_budget="10000000.00")
    dogs = http.add_function(collaboration["id"], name="Dogs", kind="operational", annual_budget="2000000.00")
    shares = {A: "0.69", B: "0.31"}
    posted(http, f"{one}/apportionments", at("2012-04-01", function_id=None, basis="fixed_ratio", shares=shares))
    posted(
        http,
        f"{one}/exit-terms",
        at("2012-04-01", notice_period_months=12, stranded_cost_rate="0.25", stranded_cost_months=6),
    )
    posted(
        http,
        f"{one}/assets",
        at(
            "2016-04-01",
            name="HQ",
            cost="3000000.00",
            acquired_on="2016-04-01",
            useful_life_months=60,
            funded_shares=shares,
        ),
    )
    posted(
        http,
        f"{one}/contracts",
        at(
            "2017-01-01",
            supplier="Big ICT plc",
            function_id=ict,
            annual_value="1000000.00",
            ends_on="2021-03-31",
            break_cost="400000.00",
        ),
    )
    return {"id": collaboration["id"], "one": one, "ict": ict, "dogs": dogs}


def quote(http: Http, one: str, query: str, token: str | None = "admin") -> dict[str, Any]:
    response = http.get(f"{one}/exit-costs?{query}", token)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ExitCostsDocument().validate(body) == {}
    return body


def amounts(body: dict[str, Any]) -> dict[str, str]:
    return {line["head"]: line["amount"] for line in body["lines"]}


def test_the_worked_example_is_quoted_to_the_penny_after_notice(http_any: Http) -> None:
    http = http_any
    example = worked_example(http)
    served = posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    assert served["earliest_exit_on"] == "2019-10-09"

    body = quote(http, example["one"], f"force={A}&exit_on=2019-04-01")

    assert body["collaboration_id"] == example["id"]
    assert (body["force"], body["notice_on"], body["exit_on"]) == (A, "2018-10-09", "2019-04-01")
    assert amounts(body) == {"H1": "4332821.92", "H4": "1035000.00", "H5": "276000.00", "H7": "-828000.00"}
    assert body["total"] == "4815821.92"
    h1 = body["lines"][0]
    assert h1["inputs"]["days(E, notice_end)"] == "191"
    assert "days(E, notice_end)" in h1["formula"]
    # every sourced input names the event behind it, with its place in the audit chain
    history = {event["version"]: event for event in http.history(example["id"])}
    for line in body["lines"]:
        for name, source in line["source_events"].items():
            assert name in line["inputs"]
            event = history[source["version"]]
            assert source["event_id"] == f"{example['id']}:{source['version']}"
            assert (source["position"], source["hash"]) == (event["position"], event["hash"])
    h5 = next(line for line in body["lines"] if line["head"] == "H5")
    assert (
        history[h5["source_events"]["break_cost(Big ICT plc)"]["version"]]["type"] == "Collaboration.ContractCommitted"
    )


def test_serving_notice_shows_in_the_document_and_the_register_and_withdrawing_it_undoes_that(http: Http) -> None:
    example = worked_example(http)
    document = posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    assert NoticeServedDocument().validate(document) == {}

    shown = http.get(example["one"]).get_json()
    assert shown["status"] == "notice_served"
    [notice] = shown["notices"]
    assert notice == {
        "force": A,
        "served_on": "2018-10-09",
        "earliest_exit_on": "2019-10-09",
        "exit_on": "2019-10-09",
        "status": "live",
        "withdrawn_on": None,
        "completed_on": None,
        "source_version": shown["version"],
        "exit_on_source_version": shown["version"],
    }
    register = http.get(f"{BASE}?status=notice_served").get_json()
    assert RegisterPageSchema().validate(register) == {}
    assert [item["id"] for item in register["items"]] == [example["id"]]
    assert http.get(f"{BASE}?status=active").get_json()["total"] == 0

    posted(http, f"{example['one']}/withdrawal-notices/withdrawals", at("2018-12-01", force=A))
    shown = http.get(example["one"]).get_json()
    assert shown["status"] == "active"
    assert shown["notices"][0]["status"] == "withdrawn"
    assert http.get(f"{BASE}?status=notice_served").get_json()["total"] == 0
    assert http.get(f"{BASE}?status=active").get_json()["total"] == 1


def test_the_exit_date_defaults_to_the_notice_and_a_direction_moves_it(http: Http) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    assert quote(http, example["one"], f"force={A}")["exit_on"] == "2019-10-09"
    assert amounts(quote(http, example["one"], f"force={A}"))["H1"] == "0.00"

    document = posted(
        http, f"{example['one']}/directions", at("2019-10-01", new_exit_on="2020-04-09", summary="s23G: six months")
    )
    assert document["notices"][0]["exit_on"] == "2020-04-09"
    assert document["directions"][0]["summary"] == "s23G: six months"
    body = quote(http, example["one"], f"force={A}")
    assert (body["notice_on"], body["exit_on"]) == ("2018-10-09", "2020-04-09")
    assert amounts(body)["H7"] == "-414000.00"  # 48 of 60 months used by then: NBV 600,000 x 0.69
    assert set(body["lines"][0]["source_events"]) >= {"notice_period_months"}


def test_a_function_decoupled_on_or_before_the_exit_date_is_left_out(http: Http) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    document = posted(
        http,
        f"{example['one']}/functions/{example['ict']}/decoupling",
        at(
            "2019-04-01",
            decided_by="Alliance Governance Group",
            rationale="ICT back to West Mercia",
            business_case_ref="BC-7",
        ),
    )
    ict = next(f for f in document["functions"] if f["id"] == example["ict"])
    assert ict["decoupled_on"] == "2019-04-01"
    assert ict["decoupling"]["business_case_ref"] == "BC-7"

    body = quote(http, example["one"], f"force={A}&exit_on=2019-04-01")
    assert amounts(body) == {"H1": "722136.99", "H4": "172500.00", "H5": "0.00", "H7": "-828000.00"}
    assert amounts(quote(http, example["one"], f"force={A}&exit_on=2019-03-31"))["H5"] == "276000.00"

    again = http.post(
        f"{example['one']}/functions/{example['ict']}/decoupling", at("2019-05-01", decided_by="x", rationale="y")
    )
    assert_problem(again, 422, "function-already-decoupled")
    unknown = http.post(
        f"{example['one']}/functions/00000000-0000-0000-0000-000000000000/decoupling",
        at("2019-05-01", decided_by="x", rationale="y"),
    )
    assert_problem(unknown, 404)


def test_without_a_notice_the_quote_date_is_the_notice_date_and_the_exit_date_the_earliest_exit(http: Http) -> None:
    example = worked_example(http)
    earliest = quote(http, example["one"], f"force={A}&as_of=2018-10-09")
    assert (earliest["notice_on"], earliest["quoted_on"]) == ("2018-10-09", "2018-10-09")
    assert earliest["exit_on"] == earliest["notice_end"] == "2019-10-09"
    assert earliest["notice_served"] is False
    assert amounts(earliest)["H1"] == "0.00"
    today = http.get(f"{example['one']}/exit-costs?force={A}&exit_on=2999-01-01").get_json()
    assert today["notice_on"] == today["quoted_on"]
    assert today["notice_served"] is False


@pytest.mark.parametrize(
    ("query", "status", "problem"),
    [
        ("force=atlantis&exit_on=2019-04-01", 422, "validation-failed"),
        ("force=dorset&exit_on=2019-04-01", 422, "party-not-in-collaboration"),
        ("exit_on=2019-04-01", 422, "validation-failed"),
        ("force=west-mercia&exit_on=2018-01-01", 422, "exit-before-notice"),
        ("force=west-mercia&exit_on=2019-04-01&as_of=2011-01-01", 404, "not-yet-in-effect"),
        ("force=west-mercia&exit_on=2019-04-01&known_at=2019-01-01T00:00:00Z", 404, "not-yet-in-effect"),
        ("force=west-mercia&exit_on=2019-04-01&format=xml", 422, "validation-failed"),
    ],
)
def test_exit_cost_queries_that_cannot_be_answered(http: Http, query: str, status: int, problem: str | None) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    assert_problem(http.get(f"{example['one']}/exit-costs?{query}"), status, problem)


def test_exit_costs_need_a_token_and_any_token_may_read_them(http: Http) -> None:
    example = worked_example(http)
    assert_problem(http.get(f"{example['one']}/exit-costs?force={A}&exit_on=2019-04-01", None), 401)
    assert quote(http, example["one"], f"force={A}&exit_on=2999-04-01", http.token("auditor"))["force"] == A
    missing = http.get(f"{BASE}/00000000-0000-0000-0000-000000000000/exit-costs?force={A}&exit_on=2019-04-01")
    assert_problem(missing, 404)


def test_a_force_token_serves_notice_only_for_its_own_force(http: Http) -> None:
    example = worked_example(http)
    log_size = http.log_size()
    warwickshire = http.token("force", B)
    assert_problem(
        http.post(f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A), warwickshire), 403, "not-permitted"
    )
    assert http.log_size() == log_size
    document = posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=B), warwickshire)
    assert document["notices"][0]["force"] == B


@pytest.mark.parametrize(
    ("tail", "body", "problem"),
    [
        ("withdrawal-notices", {"force": "dorset"}, "party-not-in-collaboration"),
        ("withdrawal-notices", {"force": A}, "notice-already-served"),
        ("withdrawal-notices/withdrawals", {"force": B}, "no-live-notice"),
        ("directions", {"new_exit_on": "2018-01-01", "summary": "too early"}, "invalid-direction"),
        ("directions", {"new_exit_on": "2020-01-01"}, "validation-failed"),
    ],
)
def test_refused_agreement_events_record_nothing(http: Http, tail: str, body: dict[str, Any], problem: str) -> None:
    example = worked_example(http)
    posted(http, f"{example['one']}/withdrawal-notices", at("2018-10-09", force=A))
    log_size = http.log_size()
    assert_problem(http.post(f"{example['one']}/{tail}", at("2018-11-01", **body)), 422, problem)
    assert http.log_size() == log_size


def test_notice_without_exit_terms_and_a_direction_without_a_notice_are_refused(http: Http) -> None:
    collaboration = http.establish()
    one = f"{BASE}/{collaboration['id']}"
    assert_problem(http.post(f"{one}/withdrawal-notices", at("2018-10-09", force=A)), 422, "no-exit-terms")
    direction = at("2019-10-01", new_exit_on="2020-04-09", summary="s23G")
    assert_problem(http.post(f"{one}/directions", direction), 422, "no-live-notice")
    assert http.version(collaboration["id"]) == 1


def test_the_openapi_document_describes_the_new_paths(http: Http) -> None:
    paths = http.get("/api/v1/openapi.json").get_json()["paths"]
    for tail in ("withdrawal-notices", "directions", "functions/{function_id}/decoupling", "exit-costs"):
        assert f"/api/v1/collaborations/{{collaboration_id}}/{tail}" in paths, tail
    parameters = {p["name"] for p in paths["/api/v1/collaborations/{collaboration_id}/exit-costs"]["get"]["parameters"]}
    assert {"force", "exit_on", "as_of", "known_at"} <= parameters
