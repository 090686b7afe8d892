"""No fact is dated before what it is about existed (an agreement, its exit cases, its
benefits), and acts no one party owns (an s23G direction, a decoupling, the end of the agreement,
a settlement) are recorded by an administrator on an approval reference. Each refusal is a 422
(or 403) problem naming the rule, and records nothing."""

from __future__ import annotations

import pytest

from tests.integration import http_support
from tests.integration.exit_case_support import CASES, SETTLEMENT, WK, WM, alliance, at, open_case, posted
from tests.integration.http_support import (
    ALLIANCE,
    BENEFIT,
    WHEN,
    WRITES,
    Http,
    assert_problem,
    prepare,
    write_requests,
)

http = http_support.http
ESTABLISHED = "2019-01-15"
BEFORE = "2012-04-01"


@pytest.fixture
def late_alliance(http: Http) -> tuple[str, str]:
    """A collaboration established on 2019-01-15, with one function: its id and the function's."""
    collaboration = http.establish(effective_on=ESTABLISHED)
    return collaboration["id"], http.add_function(collaboration["id"], effective_on=ESTABLISHED)


def test_a_review_and_a_termination_dated_before_the_agreement_are_refused(
    http: Http, late_alliance: tuple[str, str]
) -> None:
    """The issue's case: both got 201 and the record read "terminated before established"."""
    collaboration_id, _ = late_alliance
    one = f"/api/v1/collaborations/{collaboration_id}"
    version, log_size = http.version(collaboration_id), http.log_size()
    review = {**WHEN, "effective_on": BEFORE, "outcome": "continue"}
    body = assert_problem(http.post(f"{one}/reviews", review), 422, "fact-before-agreement")
    assert body["errors"] == {"effective_on": [body["detail"]]}
    assert ESTABLISHED in body["detail"]
    assert_problem(http.post(f"{one}/termination", {**WHEN, "effective_on": BEFORE}), 422, "fact-before-agreement")
    assert (http.version(collaboration_id), http.log_size()) == (version, log_size)
    assert http.get(one).get_json()["status"] == "active"


@pytest.mark.parametrize("endpoint", [endpoint for endpoint in WRITES if endpoint != "create"])
def test_every_collaboration_write_dated_before_the_agreement_is_refused(
    http: Http, late_alliance: tuple[str, str], endpoint: str
) -> None:
    collaboration_id, _ = late_alliance
    for name in ("exit-terms", "withdrawal-notices") if endpoint not in ("exit-terms", "withdrawal-notices") else ():
        path, body = write_requests(*late_alliance)[name]
        assert http.post(path, {**WHEN, **body, "effective_on": ESTABLISHED}).status_code == 201
    version, log_size = http.version(collaboration_id), http.log_size()
    path, body = write_requests(*late_alliance)[endpoint]

    response = http.post(path, {**WHEN, **body, "effective_on": "2019-01-14"})

    assert_problem(response, 422, "fact-before-agreement")
    assert (http.version(collaboration_id), http.log_size()) == (version, log_size)


def test_an_exit_case_and_its_facts_are_not_dated_before_the_agreement_or_the_case(http: Http) -> None:
    wmw = alliance(http)  # established 2012-04-01; notice 2018-10-09
    log_size = http.log_size()
    opening = at("2012-03-31", collaboration_id=wmw.id, trigger="withdrawal", force=WM)
    assert_problem(http.post(CASES, opening), 422, "fact-before-agreement")
    assert http.log_size() == log_size
    case = open_case(http, wmw.id)  # opened 2019-11-01
    claim = at("2019-10-31", claimant=WK, respondent=WM, lines=[{"head": "H2", "amount": "1.00", "description": "d"}])
    body = assert_problem(http.post(f"{CASES}/{case['id']}/claims", claim), 422, "fact-before-case")
    assert "2019-11-01" in body["detail"]
    assert http.get(f"{CASES}/{case['id']}").get_json()["version"] == 1


def test_a_benefit_and_its_facts_are_not_dated_before_the_agreement_or_its_identification(
    http: Http, late_alliance: tuple[str, str]
) -> None:
    collaboration_id, _ = late_alliance
    benefits = f"/api/v1/collaborations/{collaboration_id}/benefits"
    assert_problem(http.post(benefits, {**WHEN, **BENEFIT, "effective_on": "2019-01-14"}), 422, "fact-before-agreement")
    benefit = http.post(benefits, {**WHEN, **BENEFIT, "effective_on": "2019-06-01"}).get_json()
    stage = {**WHEN, "effective_on": "2019-05-31", "owner": "Director of Finance"}
    response = http.post(f"/api/v1/benefits/{benefit['id']}/definition", stage)
    assert_problem(response, 422, "fact-before-benefit")
    assert http.get(f"/api/v1/benefits/{benefit['id']}").get_json()["version"] == 1


# ------------------------------------------------------------------------------- approvals
ADMINISTRATORS_ONLY = ("decoupling", "directions", "termination")


@pytest.mark.parametrize("endpoint", ADMINISTRATORS_ONLY)
def test_acts_no_party_owns_are_refused_to_a_party_s_force_token(http: Http, endpoint: str) -> None:
    collaboration = http.establish()
    ids = collaboration["id"], http.add_function(collaboration["id"])
    prepare(http, *ids, endpoint)
    path, body = write_requests(*ids)[endpoint]
    version, log_size = http.version(ids[0]), http.log_size()
    for force in (WM, WK):
        problem = assert_problem(http.post(path, {**WHEN, **body}, http.token("force", force)), 403, "not-permitted")
        assert "administrator" in problem["detail"]
    assert (http.version(ids[0]), http.log_size()) == (version, log_size)
    assert http.post(path, {**WHEN, **body}).status_code == 201  # an administrator, with approval_ref


@pytest.mark.parametrize("endpoint", ADMINISTRATORS_ONLY)
@pytest.mark.parametrize("approval_ref", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_acts_no_party_owns_need_an_approval_reference(http: Http, endpoint: str, approval_ref: str | None) -> None:
    collaboration = http.establish()
    ids = collaboration["id"], http.add_function(collaboration["id"])
    prepare(http, *ids, endpoint)
    path, body = write_requests(*ids)[endpoint]
    request = {**WHEN, **body}
    request.pop("approval_ref")
    if approval_ref is not None:
        request["approval_ref"] = approval_ref
    version = http.version(ids[0])
    problem = assert_problem(http.post(path, request), 422)
    assert "approval_ref" in problem["errors"]
    assert http.version(ids[0]) == version


def test_a_settlement_needs_an_approval_reference(http: Http) -> None:
    wmw = alliance(http)
    case = open_case(http, wmw.id)
    request = at("2020-03-30", **SETTLEMENT)
    request.pop("approval_ref")
    problem = assert_problem(http.post(f"{CASES}/{case['id']}/settlement", request), 422)
    assert "approval_ref" in problem["errors"]
    posted(http, f"{CASES}/{case['id']}/settlement", at("2020-03-30", **SETTLEMENT))


def test_the_openapi_document_says_approval_ref_is_required_where_it_is(http: Http) -> None:
    schemas = http.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Direction", "Decoupling", "Settlement", "ApprovedWrite"):
        assert "approval_ref" in schemas[name]["required"], name
    assert "approval_ref" not in schemas["Review"].get("required", [])
    assert ALLIANCE["approval_ref"]  # the shared writes carry one, so the tables above pass for the right reason


def test_an_exit_case_is_not_opened_before_what_it_follows(http: Http) -> None:
    wmw = alliance(http)  # notice 2018-10-09; local policing decoupled 2019-04-01 (no decision date)
    log_size = http.log_size()
    before_notice = at("2018-10-08", collaboration_id=wmw.id, trigger="withdrawal", force=WM)
    assert_problem(http.post(CASES, before_notice), 422, "case-before-its-trigger")
    before_decoupling = at("2019-03-31", collaboration_id=wmw.id, trigger="decoupling", function_id=wmw.local_policing)
    assert_problem(http.post(CASES, before_decoupling), 422, "case-before-its-trigger")
    assert http.log_size() == log_size
    assert posted(http, CASES, {**before_decoupling, "effective_on": "2019-04-01"})["trigger"] == "decoupling"


def test_a_case_is_between_the_parties_of_its_day_and_names_none_before_it_joined(http: Http) -> None:
    wmw = alliance(http)
    posted(http, f"{wmw.one}/parties", at("2019-01-01", force="dorset"))
    case = open_case(http, wmw.id, effective_on="2018-12-01")  # before dorset joined
    assert case["parties"] == [WM, WK]
    claim = at(
        "2019-02-01", claimant="dorset", respondent=WM, lines=[{"head": "H2", "amount": "1.00", "description": "d"}]
    )
    assert_problem(http.post(f"{CASES}/{case['id']}/claims", claim), 422, "party-not-in-case")


def test_a_party_s_notice_case_and_attribution_are_not_dated_before_it_joined(http: Http) -> None:
    wmw = alliance(http)
    posted(http, f"{wmw.one}/parties", at("2019-01-01", force="dorset"))
    opening = at("2018-12-31", collaboration_id=wmw.id, trigger="withdrawal", force="dorset")
    assert_problem(http.post(CASES, opening), 422, "fact-before-party")
    attributed = {**WHEN, **BENEFIT, "effective_on": "2018-12-31", "attribution": {"dorset": "1"}}
    problem = assert_problem(http.post(f"{wmw.one}/benefits", attributed), 422, "fact-before-party")
    assert "attribution.dorset" in problem["errors"]


def test_the_end_and_a_direction_are_not_dated_before_what_they_follow(http: Http) -> None:
    wmw = alliance(http)  # notice 2018-10-09, direction 2019-10-01
    assert_problem(http.post(f"{wmw.one}/termination", at("2015-01-01")), 422, "ended-before-last-fact")
    direction = at("2018-06-01", new_exit_on="2020-06-01", summary="before the notice")
    assert_problem(http.post(f"{wmw.one}/directions", direction), 422, "invalid-direction")
    quote = http.get(f"{wmw.one}/exit-costs?force={WM}").get_json()
    assert quote["exit_on"] == "2020-04-09"  # still the direction of 2019-10-01
