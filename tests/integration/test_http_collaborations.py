"""Collaborations over HTTP: every write's happy path, and every domain rule refused as a
problem with nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest

from service.resources.collaborations.schemas import (
    AssetRegisteredDocument,
    CollaborationDocument,
    ContractCommittedDocument,
    FunctionAddedDocument,
    HistorySchema,
    RegisterPageSchema,
)
from tests.integration import http_support
from tests.integration.http_support import ALLIANCE, REPRESENTATION, WHEN, Http, assert_problem

# Fixtures shared by the HTTP tests.
collaboration = http_support.collaboration
http = http_support.http
http_any = http_support.http_any  # on SQLite and PostgreSQL

BASE = "/api/v1/collaborations"


def url(collaboration: dict[str, Any], tail: str = "") -> str:
    return f"{BASE}/{collaboration['id']}{tail}"


def assert_nothing_recorded(http: Http, collaboration: dict[str, Any], log_size: int) -> None:
    assert len(http.history(collaboration["id"])) == collaboration["version"]
    assert http.version(collaboration["id"]) == collaboration["version"]
    assert http.log_size() == log_size


def refused(
    http: Http, collaboration: dict[str, Any], tail: str, body: dict[str, Any], problem: str, status: int = 422
) -> dict[str, Any]:
    """POSTs a bad command: it is a problem of this type, and nothing is recorded."""
    collaboration = http.get(url(collaboration)).get_json()
    log_size = http.log_size()
    problem_body = assert_problem(http.post(url(collaboration, tail), {**WHEN, **body}), status, problem)
    assert_nothing_recorded(http, collaboration, log_size)
    return problem_body


# -------------------------------------------------------------------------------- establish
def test_establish_answers_201_with_the_document_its_version_and_where_it_lives(http: Http) -> None:
    response = http.post(BASE, ALLIANCE, **REPRESENTATION)

    assert response.status_code == 201
    body = response.get_json()
    assert body["version"] == 1
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{BASE}/{body['id']}"
    assert [p["force"] for p in body["parties"]] == ["west-mercia", "warwickshire"]
    assert body["lead_force"] == "west-mercia"
    assert body["review_cycle_months"] == 12
    assert body["established_on"] == "2012-04-01"
    assert CollaborationDocument().validate(body) == {}
    [event] = http.history(body["id"])
    assert event["type"] == "Collaboration.Established"
    [admin] = http.tokens.list()
    assert event["actor"] == f"Test admin (admin, token {admin.id})"
    assert event["reason"] == "Agreed by the Alliance board"
    assert event["approval_ref"] == "AB-2012-04"


def test_the_actor_comes_from_the_token_never_from_the_body(http: Http) -> None:
    log_size = http.log_size()
    body = assert_problem(http.post(BASE, {**ALLIANCE, "actor": "Someone else"}), 422, "validation-failed")
    assert "actor" in body["errors"]
    assert http.log_size() == log_size


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        ({"parties": ["west-mercia"], "lead_force": "west-mercia"}, "too-few-parties", "parties"),
        ({"parties": ["west-mercia", "west-mercia"]}, "duplicate-party", "parties"),
        ({"parties": ["west-mercia", "gotham"]}, "unknown-force", "parties.1"),
        ({"lead_force": "dorset"}, "lead-force-not-a-party", "lead_force"),
        ({"review_cycle_months": 0}, "invalid-review-cycle", "review_cycle_months"),
        ({"review_cycle_months": 601}, "invalid-review-cycle", "review_cycle_months"),
        ({"review_cycle_months": 10**20}, "invalid-review-cycle", "review_cycle_months"),
        ({"name": "   "}, "validation-failed", "name"),
        ({"reason": " "}, "validation-failed", "reason"),
        ({"effective_on": "01/04/2012"}, "validation-failed", "effective_on"),
        ({"effective_on": None}, "validation-failed", "effective_on"),
        ({"review_cycle_months": 12.0}, "validation-failed", "review_cycle_months"),
        ({"parties": "west-mercia,warwickshire"}, "validation-failed", "parties"),
    ],
)
def test_establishing_against_a_rule_is_refused_and_records_nothing(
    http: Http, change: dict[str, Any], problem: str, field: str
) -> None:
    log_size = http.log_size()
    body = assert_problem(http.post(BASE, {**ALLIANCE, **change}), 422, problem)
    assert field in body["errors"], body
    assert http.log_size() == log_size


@pytest.mark.parametrize("missing", ["name", "purpose", "parties", "lead_force", "effective_on", "reason"])
def test_establish_requires_each_field(http: Http, missing: str) -> None:
    body = {key: value for key, value in ALLIANCE.items() if key != missing}
    problem = assert_problem(http.post(BASE, body), 422, "validation-failed")
    assert problem["errors"] == {missing: ["Missing data for required field."]}
    assert http.log_size() == 0


# ------------------------------------------------------------------------------- reading one
def test_a_collaboration_reads_as_it_is_now_and_as_it_stood_after_any_event(
    http: Http, collaboration: dict[str, Any]
) -> None:
    function_id = http.add_function(collaboration["id"])

    now = http.get(url(collaboration))
    then = http.get(url(collaboration, "?version=1"))

    assert now.status_code == 200 and now.headers["ETag"] == '"2"'
    assert [f["id"] for f in now.get_json()["functions"]] == [function_id]
    assert then.status_code == 200 and then.headers["ETag"] == '"1"'
    assert then.get_json()["functions"] == []
    assert then.get_json()["version"] == 1
    assert_problem(http.get(url(collaboration, "?version=3")), 404, "collaboration-not-found")
    assert_problem(http.get(url(collaboration, "?version=0")), 422, "validation-failed")
    assert_problem(http.get(url(collaboration, "?versoin=1")), 422, "validation-failed")


def test_temporal_reads_before_the_collaboration_existed_are_404(http: Http, collaboration: dict[str, Any]) -> None:
    established_on = http.get(url(collaboration, "")).get_json()["established_on"]
    assert_problem(http.get(url(collaboration, "?as_of=1999-01-01")), 404, "not-yet-in-effect")
    assert_problem(http.get(url(collaboration, "?known_at=2019-01-01T00:00:00Z")), 404, "not-yet-in-effect")
    on_the_day = http.get(url(collaboration, f"?as_of={established_on}"))
    assert on_the_day.status_code == 200 and on_the_day.get_json()["id"] == collaboration["id"]


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/6c1b8f0e-0000-4000-8000-000000000000",
        f"{BASE}/6c1b8f0e-0000-4000-8000-000000000000/history",
        f"{BASE}/not-a-uuid",
    ],
)
def test_an_unknown_collaboration_is_404(http: Http, path: str) -> None:
    assert_problem(http.get(path), 404)


@pytest.mark.parametrize(
    "tail",
    ["/parties", "/functions", "/apportionments", "/exit-terms", "/assets", "/contracts", "/reviews", "/variations"],
)
def test_writing_to_an_unknown_collaboration_is_404(http: Http, tail: str) -> None:
    bodies = {
        "/parties": {"force": "dorset"},
        "/functions": {"name": "Dogs", "kind": "operational", "host_force": "dorset", "annual_budget": "1.00"},
        "/apportionments": {"basis": "fixed_ratio", "shares": {"dorset": "1"}},
        "/exit-terms": {"notice_period_months": 12, "stranded_cost_rate": "0.25", "stranded_cost_months": 6},
        "/assets": {
            "name": "HQ",
            "cost": "1.00",
            "acquired_on": "2016-04-01",
            "useful_life_months": 60,
            "funded_shares": {"dorset": "1"},
        },
        "/contracts": {
            "supplier": "S",
            "function_id": "f",
            "annual_value": "1.00",
            "ends_on": "2020-01-01",
            "break_cost": "1.00",
        },
        "/reviews": {"outcome": "fine"},
        "/variations": {"clause": "1", "summary": "s"},
    }
    path = f"{BASE}/6c1b8f0e-0000-4000-8000-000000000000{tail}"
    assert_problem(http.post(path, {**WHEN, **bodies[tail]}), 404, "collaboration-not-found")
    assert http.log_size() == 0


# ---------------------------------------------------------------------------------- parties
def test_a_force_joins(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.post(url(collaboration, "/parties"), {"force": "dorset", **WHEN})

    assert response.status_code == 201
    assert response.headers["ETag"] == '"2"'
    assert [p["force"] for p in response.get_json()["parties"]] == ["west-mercia", "warwickshire", "dorset"]
    assert http.history(collaboration["id"])[-1]["data"] == {"force": "dorset"}


@pytest.mark.parametrize(("force", "problem"), [("warwickshire", "duplicate-party"), ("gotham", "unknown-force")])
def test_joining_against_a_rule_is_refused(http: Http, collaboration: dict[str, Any], force: str, problem: str) -> None:
    refused(http, collaboration, "/parties", {"force": force}, problem)


# -------------------------------------------------------------------------------- functions
def test_a_function_is_added_and_its_id_returned(http: Http, collaboration: dict[str, Any]) -> None:
    body = {
        "name": "Alliance Dogs Team",
        "kind": "operational",
        "host_force": "warwickshire",
        "annual_budget": "2000000.00",
        **WHEN,
    }
    response = http.post(url(collaboration, "/functions"), body, **REPRESENTATION)

    assert response.status_code == 201
    result = response.get_json()
    assert FunctionAddedDocument().validate(result) == {}
    [function] = result["functions"]
    assert function["id"] == result["function_id"]
    assert (function["name"], function["kind"], function["host_force"]) == (
        "Alliance Dogs Team",
        "operational",
        "warwickshire",
    )
    assert function["annual_budget"] == "2000000.00"
    assert http.history(collaboration["id"])[-1]["data"]["annual_budget"] == "2000000.00"


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        ({"kind": "strategic"}, "invalid-function-kind", "kind"),
        ({"host_force": "dorset"}, "party-not-in-collaboration", "host_force"),
        ({"host_force": "gotham"}, "unknown-force", "host_force"),
        ({"annual_budget": "-1.00"}, "negative-amount", None),
        ({"annual_budget": "1.005"}, "invalid-money", None),
        ({"annual_budget": "ten"}, "validation-failed", "annual_budget"),
        ({"annual_budget": "NaN"}, "validation-failed", "annual_budget"),
        ({"annual_budget": 10000000.0}, "validation-failed", "annual_budget"),
        ({"annual_budget": 10000000}, "validation-failed", "annual_budget"),
        ({"name": ""}, "validation-failed", "name"),
    ],
)
def test_adding_a_function_against_a_rule_is_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str, field: str | None
) -> None:
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "1.00", **change}
    problem_body = refused(http, collaboration, "/functions", body, problem)
    if field:
        assert field in problem_body["errors"], problem_body


def test_function_names_are_unique(http_any: Http) -> None:
    collaboration = http_any.establish()
    http_any.add_function(collaboration["id"], name="ICT")
    body = {"name": "ict", "kind": "enabling", "host_force": "west-mercia", "annual_budget": "1.00"}
    problem = refused(http_any, collaboration, "/functions", body, "duplicate-function")
    assert problem["errors"] == {"name": ["a function named 'ict' already exists"]}
    assert problem["title"] == "Function names are unique within a collaboration"


def test_money_sent_as_a_json_number_is_refused_with_a_clear_message(http: Http, collaboration: dict[str, Any]) -> None:
    body = {"name": "ICT", "kind": "enabling", "host_force": "west-mercia", "annual_budget": 10500000.00}
    problem = refused(http, collaboration, "/functions", body, "validation-failed")
    [message] = problem["errors"]["annual_budget"]
    assert "not a JSON number" in message and "string" in message


# ---------------------------------------------------------------------------------- budgets
def test_a_function_budget_is_set_for_a_financial_year(http: Http, collaboration: dict[str, Any]) -> None:
    function_id = http.add_function(collaboration["id"])
    body = {"financial_year": "2019/20", "annual_budget": "10500000.00", **WHEN}

    response = http.post(url(collaboration, f"/functions/{function_id}/budgets"), body, **REPRESENTATION)

    assert response.status_code == 201
    [function] = response.get_json()["functions"]
    assert function["budgets"] == [{"financial_year": "2019/20", "annual_budget": "10500000.00", "source_version": 3}]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"financial_year": "2019/21"}, "invalid-financial-year"),
        ({"financial_year": "2019-20"}, "invalid-financial-year"),
        ({"annual_budget": "-5.00"}, "negative-amount"),
        ({"annual_budget": 5.0}, "validation-failed"),
    ],
)
def test_setting_a_budget_against_a_rule_is_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str
) -> None:
    function_id = http.add_function(collaboration["id"])
    body = {"financial_year": "2019/20", "annual_budget": "1.00", **change}
    refused(http, collaboration, f"/functions/{function_id}/budgets", body, problem)


def test_a_budget_for_a_function_not_in_the_collaboration_is_404(http: Http, collaboration: dict[str, Any]) -> None:
    other = http.establish(name="Other")
    foreign_function = http.add_function(other["id"])
    body = {"financial_year": "2019/20", "annual_budget": "1.00"}
    refused(http, collaboration, f"/functions/{foreign_function}/budgets", body, "unknown-function", status=404)
    assert_problem(http.post(url(collaboration, "/functions/not-a-uuid/budgets"), {**WHEN, **body}), 404, "not-found")


# ---------------------------------------------------------------------------- apportionments
def test_shares_are_agreed_for_all_functions_and_for_one(http: Http, collaboration: dict[str, Any]) -> None:
    function_id = http.add_function(collaboration["id"])
    for_all = {"function_id": None, "basis": "fixed_ratio", "shares": {"west-mercia": "0.69", "warwickshire": "0.31"}}
    for_one = {"function_id": function_id, "basis": "usage", "shares": {"west-mercia": "0.5", "warwickshire": "0.5"}}

    first = http.post(url(collaboration, "/apportionments"), {**for_all, **WHEN})
    second = http.post(
        url(collaboration, "/apportionments"), {**for_one, **WHEN, "effective_on": "2013-04-01"}, **REPRESENTATION
    )

    assert first.status_code == 201 and second.status_code == 201
    document = second.get_json()
    assert document["apportionments"][0]["shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}
    assert document["apportionments"][0]["function_id"] is None
    [function] = document["functions"]
    assert function["shares_in_effect"]["shares"] == {"west-mercia": "0.5", "warwickshire": "0.5"}
    assert function["shares_in_effect"]["basis"] == "usage"
    assert http.history(collaboration["id"])[-1]["data"]["shares"] == {"west-mercia": "0.5", "warwickshire": "0.5"}


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        ({"shares": {"west-mercia": "0.69", "warwickshire": "0.30"}}, "shares-do-not-sum-to-one", None),
        ({"shares": {"west-mercia": "0.69", "warwickshire": "0.32"}}, "shares-do-not-sum-to-one", None),
        ({"shares": {}}, "shares-do-not-sum-to-one", None),
        ({"shares": {"west-mercia": "0.69", "dorset": "0.31"}}, "party-not-in-collaboration", "shares"),
        ({"shares": {"west-mercia": "1.5", "warwickshire": "0.5"}}, "invalid-share", "shares.west-mercia"),
        ({"shares": {"west-mercia": "1.5", "warwickshire": "-0.5"}}, "validation-failed", "shares.warwickshire"),
        ({"shares": {"west-mercia": 0.69, "warwickshire": "0.31"}}, "validation-failed", "shares.west-mercia"),
        ({"shares": {"west-mercia": "69%", "warwickshire": "0.31"}}, "validation-failed", "shares.west-mercia"),
        ({"basis": "population"}, "invalid-apportionment-basis", "basis"),
        ({"function_id": "6c1b8f0e-0000-4000-8000-000000000000"}, "unknown-function", "function_id"),
    ],
)
def test_apportionment_against_a_rule_is_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str, field: str | None
) -> None:
    body = {"basis": "fixed_ratio", "shares": {"west-mercia": "0.69", "warwickshire": "0.31"}, **change}
    problem_body = refused(http, collaboration, "/apportionments", body, problem)
    if field:
        assert field in problem_body["errors"], problem_body


# ------------------------------------------------------------------------------- exit terms
def test_exit_terms_are_agreed(http: Http, collaboration: dict[str, Any]) -> None:
    body = {
        "notice_period_months": 12,
        "stranded_cost_rate": "0.25",
        "stranded_cost_months": 6,
        "caps": {"H4": "1000000.00"},
        **WHEN,
    }

    response = http.post(url(collaboration, "/exit-terms"), body, **REPRESENTATION)

    assert response.status_code == 201
    [terms] = response.get_json()["exit_terms"]
    assert terms["notice_period_months"] == 12
    assert terms["stranded_cost_rate"] == "0.25"
    assert terms["caps"] == {"H4": "1000000.00"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"caps": {"H9": "1.00"}}, "invalid-exit-terms"),
        ({"caps": {"H4": "-1.00"}}, "negative-amount"),
        ({"caps": {"H4": 1000.0}}, "validation-failed"),
        ({"stranded_cost_rate": "1.5"}, "invalid-exit-terms"),
        ({"stranded_cost_rate": 0.25}, "validation-failed"),
        ({"notice_period_months": -1}, "invalid-exit-terms"),
        ({"notice_period_months": 12.5}, "validation-failed"),
        ({"notice_period_months": "12"}, "validation-failed"),
        ({"stranded_cost_months": True}, "validation-failed"),
    ],
)
def test_exit_terms_against_a_rule_are_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str
) -> None:
    body = {"notice_period_months": 12, "stranded_cost_rate": "0.25", "stranded_cost_months": 6, **change}
    refused(http, collaboration, "/exit-terms", body, problem)


# ----------------------------------------------------------------------------------- assets
ASSET = {
    "name": "Alliance HQ",
    "cost": "3000000.00",
    "acquired_on": "2016-04-01",
    "useful_life_months": 60,
    "funded_shares": {"west-mercia": "0.69", "warwickshire": "0.31"},
}


def test_a_joint_asset_is_registered(http: Http, collaboration: dict[str, Any]) -> None:
    response = http.post(url(collaboration, "/assets"), {**ASSET, **WHEN}, **REPRESENTATION)

    assert response.status_code == 201
    result = response.get_json()
    assert AssetRegisteredDocument().validate(result) == {}
    [asset] = result["assets"]
    assert asset["id"] == result["asset_id"]
    assert (asset["cost"], asset["acquired_on"], asset["useful_life_months"]) == ("3000000.00", "2016-04-01", 60)
    assert asset["funded_shares"] == {"west-mercia": "0.69", "warwickshire": "0.31"}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"funded_shares": {"west-mercia": "0.7", "warwickshire": "0.31"}}, "shares-do-not-sum-to-one"),
        ({"funded_shares": {"west-mercia": "0.69", "suffolk": "0.31"}}, "party-not-in-collaboration"),
        ({"useful_life_months": 0}, "invalid-asset"),
        ({"cost": "-1.00"}, "negative-amount"),
        ({"cost": 3000000}, "validation-failed"),
        ({"acquired_on": "2016-02-30"}, "validation-failed"),
    ],
)
def test_registering_an_asset_against_a_rule_is_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str
) -> None:
    refused(http, collaboration, "/assets", {**ASSET, **change}, problem)


# -------------------------------------------------------------------------------- contracts
def test_a_contract_is_committed_for_a_function(http: Http, collaboration: dict[str, Any]) -> None:
    function_id = http.add_function(collaboration["id"])
    body = {
        "supplier": "Acme ICT",
        "function_id": function_id,
        "annual_value": "250000.00",
        "ends_on": "2021-03-31",
        "break_cost": "400000.00",
        **WHEN,
    }

    response = http.post(url(collaboration, "/contracts"), body, **REPRESENTATION)

    assert response.status_code == 201
    result = response.get_json()
    assert ContractCommittedDocument().validate(result) == {}
    [contract] = result["contracts"]
    assert contract["id"] == result["contract_id"]
    assert (contract["function_id"], contract["break_cost"], contract["ends_on"]) == (
        function_id,
        "400000.00",
        "2021-03-31",
    )


@pytest.mark.parametrize(
    ("change", "problem", "status"),
    [
        ({"function_id": "6c1b8f0e-0000-4000-8000-000000000000"}, "unknown-function", 422),
        ({"break_cost": 400000.0}, "validation-failed", 422),
        ({"annual_value": "-1.00"}, "negative-amount", 422),
        ({"supplier": " "}, "validation-failed", 422),
    ],
)
def test_committing_a_contract_against_a_rule_is_refused(
    http: Http, collaboration: dict[str, Any], change: dict[str, Any], problem: str, status: int
) -> None:
    function_id = http.add_function(collaboration["id"])
    body = {
        "supplier": "Acme ICT",
        "function_id": function_id,
        "annual_value": "250000.00",
        "ends_on": "2021-03-31",
        "break_cost": "400000.00",
        **change,
    }
    refused(http, collaboration, "/contracts", body, problem, status)


# ----------------------------------------------------------------------- reviews, variations
def test_a_review_and_a_variation_are_recorded(http: Http, collaboration: dict[str, Any]) -> None:
    review = http.post(url(collaboration, "/reviews"), {"outcome": "Continue; refresh the ICT ratio", **WHEN})
    variation = http.post(
        url(collaboration, "/variations"), {"clause": "7.2", "summary": "Notice is 12 months", **WHEN}, **REPRESENTATION
    )

    assert review.status_code == 201 and variation.status_code == 201
    document = variation.get_json()
    assert document["reviews"] == [
        {"outcome": "Continue; refresh the ICT ratio", "held_on": "2012-04-01", "source_version": 2}
    ]
    assert document["variations"] == [
        {"clause": "7.2", "summary": "Notice is 12 months", "effective_on": "2012-04-01", "source_version": 3}
    ]
    assert [e["type"] for e in http.history(collaboration["id"])][1:] == [
        "Collaboration.ReviewHeld",
        "Collaboration.VariationAgreed",
    ]


@pytest.mark.parametrize(
    ("tail", "body", "field"),
    [
        ("/reviews", {"outcome": "  "}, "outcome"),
        ("/reviews", {}, "outcome"),
        ("/variations", {"clause": "7.2"}, "summary"),
        ("/variations", {"clause": "", "summary": "s"}, "clause"),
        ("/reviews", {"outcome": "ok", "reason": ""}, "reason"),
        ("/reviews", {"outcome": "ok", "effective_on": "2012-13-01"}, "effective_on"),
        ("/reviews", {"outcome": "ok", "evidence": 7}, "evidence"),
    ],
)
def test_reviews_and_variations_need_their_text(
    http: Http, collaboration: dict[str, Any], tail: str, body: dict[str, Any], field: str
) -> None:
    problem = refused(http, collaboration, tail, body, "validation-failed")
    assert field in problem["errors"]


# ---------------------------------------------------------------------------------- history
def test_history_lists_every_event_in_order_with_its_provenance(http: Http, collaboration: dict[str, Any]) -> None:
    http.add_function(collaboration["id"])
    http.post(url(collaboration, "/reviews"), {"outcome": "ok", **WHEN, "evidence": "doc-17"})

    response = http.get(url(collaboration, "/history"))
    upto = http.get(url(collaboration, "/history?upto_version=2"))

    assert response.status_code == 200
    assert response.headers["ETag"] == '"3"'
    body = response.get_json()
    assert HistorySchema().validate(body) == {}
    assert [(e["version"], e["type"]) for e in body["items"]] == [
        (1, "Collaboration.Established"),
        (2, "Collaboration.FunctionAdded"),
        (3, "Collaboration.ReviewHeld"),
    ]
    assert body["items"][2]["evidence"] == "doc-17"
    assert all(e["stream_id"] == collaboration["id"] and e["recorded_at"].endswith("Z") for e in body["items"])
    assert [e["version"] for e in upto.get_json()["items"]] == [1, 2]
    assert upto.headers["ETag"] == '"2"'


# --------------------------------------------------------------------------------- register
def test_the_register_lists_filters_and_pages_collaborations(http_any: Http) -> None:
    http = http_any
    alliance = http.establish()
    http.add_function(alliance["id"], name="Alliance Dogs Team", kind="operational")
    dorset = http.establish(
        name="Dorset Devon Cornwall Alliance",
        purpose="Joint services in the south west",
        parties=["dorset", "devon-cornwall"],
        lead_force="dorset",
        governance_body="Working Together Board",
    )

    everything = http.get(BASE)
    by_party = http.get(f"{BASE}?party=dorset")
    by_text = http.get(f"{BASE}?q=south+west")
    by_function = http.get(f"{BASE}?function=dogs")
    by_status = http.get(f"{BASE}?status=active&page_size=1&page=2")

    assert everything.status_code == 200
    assert RegisterPageSchema().validate(everything.get_json()) == {}
    assert everything.get_json()["total"] == 2
    assert [i["id"] for i in by_party.get_json()["items"]] == [dorset["id"]]
    assert [i["id"] for i in by_text.get_json()["items"]] == [dorset["id"]]
    assert [i["id"] for i in by_function.get_json()["items"]] == [alliance["id"]]
    assert by_status.get_json()["total"] == 2 and len(by_status.get_json()["items"]) == 1
    assert by_status.get_json()["page"] == 2
    [entry] = [i for i in everything.get_json()["items"] if i["id"] == alliance["id"]]
    assert entry["version"] == 2  # read-your-writes: the register saw the function just added
    assert [f["name"] for f in entry["functions"]] == ["Alliance Dogs Team"]


@pytest.mark.parametrize("query", ["page_size=101", "page_size=0", "page=0", "party=gotham", "colour=blue", "page=two"])
def test_bad_register_queries_are_422(http: Http, query: str) -> None:
    assert_problem(http.get(f"{BASE}?{query}"), 422, "validation-failed")


def test_the_register_before_anything_was_recorded_is_empty(http: Http) -> None:
    http.establish(effective_on="2012-04-01")
    assert http.get(f"{BASE}?known_at=2019-01-01T00:00:00Z").get_json()["items"] == []
    assert http.get(f"{BASE}?as_of=2011-01-01").get_json()["total"] == 0
    assert http.get(f"{BASE}?as_of=2012-04-01").get_json()["total"] == 1
