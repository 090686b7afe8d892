"""Exit cases over HTTP: opening a case, claims, assessments, disputes, the settlement, payments,
closing and reopening; what each refuses (and that a refusal records nothing); reads as of a
date and as known at a time; and DOMAIN.md's West Mercia / Warwickshire scenario recorded
entirely through the API."""

from __future__ import annotations

import itertools
import time
from typing import Any
from urllib.parse import quote

import pytest

from service.resources.exit_cases.schemas import (
    AssessmentRecordedDocument,
    ClaimLodgedDocument,
    DisputeRaisedDocument,
    ExitCaseDocument,
    ExitCaseHistoryDocument,
    PaymentRecordedDocument,
)
from tests.integration import http_support
from tests.integration.exit_case_support import (
    AGREED,
    ASSESSED,
    CASE_WRITES,
    CASES,
    CLAIM_LINES,
    CLAIMED,
    INSTALMENTS,
    PAYMENTS,
    SETTLEMENT,
    WK,
    WM,
    WRITTEN_OFF,
    Scenario,
    alliance,
    at,
    case_document,
    case_write_requests,
    open_case,
    posted,
    west_mercia_warwickshire,
)
from tests.integration.http_support import REPRESENTATION, Http, assert_problem

http = http_support.http
http_any = http_support.http_any

__all__ = ["Scenario", "west_mercia_warwickshire"]  # reused by the exit-cost history tests

CLAIM = at("2019-12-02", claimant=WK, respondent=WM, lines=CLAIM_LINES)
DOCUMENTS = {
    "opened": ExitCaseDocument,
    "claim": ClaimLodgedDocument,
    "assessment": AssessmentRecordedDocument,
    "dispute": DisputeRaisedDocument,
    "settlement": ExitCaseDocument,
}


def money(text: str | None) -> int:
    """Pence, for comparing amounts without floats."""
    assert text is not None
    pounds, _, pence = text.partition(".")
    return int(pounds) * 100 + (-1 if pounds.startswith("-") else 1) * int(pence)


def figures(document: dict[str, Any]) -> dict[str, Any]:
    names = ("claimed", "assessed", "agreed", "written_off", "paid", "outstanding", "status")
    return {name: document[name] for name in names}


def open_withdrawal_case(http: Http) -> tuple[Any, str]:
    alliance_ = alliance(http)
    return alliance_, open_case(http, alliance_.id)["id"]


def refused_and_nothing_recorded(
    http: Http, case_id: str, path: str, body: dict[str, Any], status: int, problem: str | None, **kwargs: Any
) -> dict[str, Any]:
    version, log_size = case_document(http, case_id)["version"], http.log_size()
    refusal = assert_problem(http.post(path, body, **kwargs), status, problem)
    assert case_document(http, case_id)["version"] == version
    assert http.log_size() == log_size
    return refusal


# ------------------------------------------------------------------------ the scenario
def test_the_west_mercia_warwickshire_scenario_recorded_through_the_api(http_any: Http) -> None:
    http = http_any
    scenario = west_mercia_warwickshire(http)
    for step, schema in DOCUMENTS.items():
        assert schema().validate(scenario.after(step)) == {}, step
    for number in (1, 2, 3):
        assert PaymentRecordedDocument().validate(scenario.after(f"payment {number}")) == {}

    opened = scenario.after("opened")
    assert (opened["trigger"], opened["force"], opened["collaboration_id"]) == ("withdrawal", WM, scenario.alliance.id)
    assert sorted(opened["parties"]) == sorted([WM, WK])
    assert figures(opened) == {
        "claimed": "0.00",
        "assessed": None,
        "agreed": None,
        "written_off": None,
        "paid": "0.00",
        "outstanding": None,
        "status": "open",
    }

    # Warwickshire claims more than the assessment, which is more than the settlement.
    claim = scenario.after("claim")
    assert claim["claimed"] == CLAIMED
    [lodged] = claim["claims"]
    assert (lodged["id"], lodged["claimant"], lodged["respondent"]) == (scenario.claim_id, WK, WM)
    assert lodged["total"] == CLAIMED
    assert [line["amount"] for line in lodged["lines"]] == [line["amount"] for line in CLAIM_LINES]
    assert {row["head"]: row["claimed"] for row in claim["by_head"]} == {
        "H2": "4100000.00",
        "H3": "3200000.00",
        "H6": "4200000.00",  # 4,600,000.00 less the 400,000.00 mitigation
        "H8": "900000.00",
    }
    assessment = scenario.after("assessment")
    assert (assessment["claimed"], assessment["assessed"]) == (CLAIMED, ASSESSED)
    assert {row["head"]: row["assessed"] for row in assessment["by_head"]} == {
        "H2": "3800000.00",
        "H3": "2900000.00",
        "H6": "3900000.00",
        "H8": "700000.00",
    }
    dispute = scenario.after("dispute")
    assert [(d["id"], d["raised_by"], d["forum"]) for d in dispute["disputes"]] == [
        (scenario.dispute_id, WM, "home_secretary")
    ]
    assert dispute["status"] == "open"

    settled = scenario.after("settlement")
    assert figures(settled) == {
        "claimed": CLAIMED,
        "assessed": ASSESSED,
        "agreed": AGREED,
        "written_off": WRITTEN_OFF,
        "paid": "0.00",
        "outstanding": AGREED,
        "status": "settled",
    }
    assert money(CLAIMED) > money(ASSESSED) > money(AGREED)
    assert settled["settlement"]["effective_on"] == "2020-03-30"
    assert (settled["settlement"]["payer"], settled["settlement"]["payee"]) == (WM, WK)
    assert sum(money(i["amount"]) for i in settled["settlement"]["instalments"]) == money(AGREED)

    # Paid and outstanding after each payment, and the instalment each payment went to.
    expected = [("3500000.00", "7000000.00"), ("7000000.00", "3500000.00"), ("10500000.00", "0.00")]
    for number, (paid, outstanding) in enumerate(expected, start=1):
        document = scenario.after(f"payment {number}")
        assert (document["paid"], document["outstanding"]) == (paid, outstanding), number
        assert document["payment_id"] == scenario.payment_ids[number - 1]
        schedule = document["settlement"]["instalments"]
        assert [i["remaining"] for i in schedule] == ["0.00"] * number + ["3500000.00"] * (3 - number)
        assert [i["paid"] for i in schedule] == ["3500000.00"] * number + ["0.00"] * (3 - number)
    paid_up = scenario.after("payment 3")
    assert paid_up["status"] == "settled"
    assert [p["paid_on"] for p in paid_up["payments"]] == [i["due_on"] for i in INSTALMENTS]

    # Nothing more can be paid: refused, and nothing recorded.
    refused_and_nothing_recorded(
        http,
        scenario.case_id,
        f"{scenario.one}/payments",
        at("2021-07-01", amount="0.01", paid_on="2021-07-01"),
        422,
        "overpayment",
    )

    # West Mercia's standing exit figure (it is the withdrawing force) now carries the claimed
    # heads of its case.
    response = http.get(f"{scenario.alliance.one}/exit-costs?force={WM}")
    assert response.status_code == 200, response.get_json()
    quote_ = response.get_json()
    assert quote_["exit_on"] == "2020-04-09"  # the notice's exit date, as moved by the s23G direction
    claimed_lines = [line for line in quote_["lines"] if line["head"] in ("H2", "H3", "H6", "H8")]
    assert [(line["head"], line["amount"]) for line in claimed_lines] == [
        (line["head"], line["amount"]) for line in sorted(CLAIM_LINES, key=lambda line: line["head"])
    ]
    feed = {event["position"]: event for event in http.get("/api/v1/events?limit=1000").get_json()["items"]}
    for line in claimed_lines:
        source = line["source_events"]["amount"]
        assert source["event_id"] == f"{scenario.case_id}:{lodged['source_version']}"
        assert source["version"] == lodged["source_version"]
        event = feed[source["position"]]
        assert (event["stream_id"], event["type"], event["hash"]) == (
            scenario.case_id,
            "ExitCase.ClaimLodged",
            source["hash"],
        )


def test_the_history_of_the_case_has_a_row_per_event_that_changed_its_figures(http_any: Http) -> None:
    http = http_any
    scenario = west_mercia_warwickshire(http)
    assert_problem(http.get(f"{scenario.one}/history", None), 401)
    response = http.get(f"{scenario.one}/history", http.token("auditor"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert ExitCaseHistoryDocument().validate(body) == {}
    assert body["exit_case_id"] == scenario.case_id
    rows = body["items"]
    assert [row["type"] for row in rows] == [
        "ExitCase.Opened",
        "ExitCase.ClaimLodged",
        "ExitCase.Assessed",
        "ExitCase.SettlementAgreed",
        *["ExitCase.PaymentMade"] * 3,
    ]  # the dispute changed no figure
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    assert all(row["event_id"] == f"{scenario.case_id}:{row['version']}" for row in rows)
    for earlier, later in itertools.pairwise(rows):
        assert later["before"] == earlier["after"]
    documents = {
        "ExitCase.ClaimLodged": "claim",
        "ExitCase.Assessed": "assessment",
        "ExitCase.SettlementAgreed": "settlement",
    }
    for row in rows:
        if row["type"] in documents:
            document = scenario.after(documents[row["type"]])
            assert row["version"] == document["version"]
            assert {name: row[name] for name in ("claimed", "assessed", "agreed", "paid", "outstanding")} == {
                name: document[name] for name in ("claimed", "assessed", "agreed", "paid", "outstanding")
            }
    assert (rows[-1]["paid"], rows[-1]["outstanding"]) == (AGREED, "0.00")
    assert rows[1]["after"]["by_head"]["H6"]["claimed"] == "4200000.00"
    assert_problem(http.get(f"{CASES}/00000000-0000-0000-0000-000000000000/history"), 404, "exit-case-not-found")


# ---------------------------------------------------------------------------- opening
def test_opening_a_withdrawal_case_answers_201_with_the_case_its_etag_and_location(http_any: Http) -> None:
    http = http_any
    alliance_ = alliance(http)
    response = http.post(
        CASES, at("2019-11-01", collaboration_id=alliance_.id, trigger="withdrawal", force=WM), **REPRESENTATION
    )

    assert response.status_code == 201, response.get_json()
    document = response.get_json()
    assert ExitCaseDocument().validate(document) == {}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"] == f"{CASES}/{document['id']}"
    assert (document["version"], document["status"], document["opened_on"]) == (1, "open", "2019-11-01")
    assert (document["trigger"], document["force"], document["function_id"]) == ("withdrawal", WM, None)
    shown = case_document(http, document["id"])
    assert {**shown, "modified_at": None} == {**document, "modified_at": None}


def test_opening_a_decoupling_case_names_the_function(http: Http) -> None:
    alliance_ = alliance(http)
    body = at("2019-05-01", collaboration_id=alliance_.id, trigger="decoupling", function_id=alliance_.local_policing)
    document = posted(http, CASES, body)
    assert (document["trigger"], document["force"]) == ("decoupling", None)
    assert (document["function_id"], document["function_name"]) == (alliance_.local_policing, "Local Policing Support")

    not_decoupled = at("2019-05-01", collaboration_id=alliance_.id, trigger="decoupling", function_id=alliance_.ict)
    assert_problem(http.post(CASES, not_decoupled), 422, "nothing-to-exit")


@pytest.mark.parametrize(
    ("subject", "field"),
    [
        ({"trigger": "withdrawal"}, "force"),
        ({"trigger": "withdrawal", "function_id": "f"}, "force"),
        ({"trigger": "withdrawal", "force": WM, "function_id": "f"}, "function_id"),
        ({"trigger": "decoupling"}, "function_id"),
        ({"trigger": "decoupling", "force": WM}, "function_id"),
        ({"trigger": "decoupling", "force": WM, "function_id": "f"}, "function_id"),
        ({"trigger": "merger"}, "force"),
        ({"force": WM}, "trigger"),
    ],
)
def test_a_case_names_exactly_one_of_force_and_function_id_as_its_trigger_needs(
    http: Http, subject: dict[str, Any], field: str
) -> None:
    alliance_ = alliance(http)
    log_size = http.log_size()
    problem = assert_problem(
        http.post(CASES, at("2019-11-01", collaboration_id=alliance_.id, **subject)), 422, "validation-failed"
    )
    assert field in problem["errors"], problem
    assert http.log_size() == log_size


@pytest.mark.parametrize(
    ("body", "problem", "field"),
    [
        ({"trigger": "merger", "force": WM}, "invalid-trigger", "trigger"),
        ({"trigger": "withdrawal", "force": WK}, "nothing-to-exit", "force"),
        ({"trigger": "withdrawal", "force": "dorset"}, "party-not-in-collaboration", "force"),
        ({"trigger": "decoupling", "function_id": "00000000-0000-0000-0000-000000000000"}, None, "function_id"),
        (
            {"trigger": "withdrawal", "force": WM, "collaboration_id": "00000000-0000-0000-0000-000000000000"},
            "collaboration-not-found",
            "collaboration_id",
        ),
        ({"trigger": "withdrawal", "force": WM, "collaboration_id": "not-a-uuid"}, "collaboration-not-found", None),
    ],
)
def test_a_case_with_nothing_to_exit_is_refused_and_records_nothing(
    http: Http, body: dict[str, Any], problem: str | None, field: str | None
) -> None:
    alliance_ = alliance(http)
    log_size = http.log_size()
    refusal = assert_problem(
        http.post(CASES, at("2019-11-01", **{"collaboration_id": alliance_.id, **body})), 422, problem
    )
    if field is not None:
        assert field in refusal["errors"], refusal
    assert http.log_size() == log_size


def test_a_second_case_for_the_same_withdrawal_is_409(http_any: Http) -> None:
    http = http_any
    alliance_, case_id = open_withdrawal_case(http)
    log_size = http.log_size()
    again = at("2019-12-01", collaboration_id=alliance_.id, trigger="withdrawal", force=WM)
    problem = assert_problem(http.post(CASES, again), 409, "exit-case-exists")
    assert case_id in problem["detail"]
    assert http.log_size() == log_size


def test_opening_needs_a_party_token_and_refuses_if_match(http: Http) -> None:
    alliance_ = alliance(http)
    body = at("2019-11-01", collaboration_id=alliance_.id, trigger="withdrawal", force=WM)
    log_size = http.log_size()
    assert_problem(http.post(CASES, body, None), 401, "unauthenticated")
    assert_problem(http.post(CASES, body, http.token("auditor")), 403, "not-permitted")
    assert_problem(http.post(CASES, body, http.token("force", "suffolk")), 403, "not-permitted")
    assert_problem(http.post(CASES, body, **{"If-Match": '"1"'}), 412)
    assert http.log_size() == log_size
    # either party may open it
    assert open_case(http, alliance_.id, http.token("force", WK))["force"] == WM


# ------------------------------------------------------------------------------- reads
def test_reading_a_case_needs_any_token_and_an_unknown_case_is_404(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    assert_problem(http.get(f"{CASES}/{case_id}", None), 401)
    assert case_document(http, case_id, token=http.token("auditor"))["id"] == case_id
    assert case_document(http, case_id, token=http.token("force", "suffolk"))["id"] == case_id
    assert_problem(http.get(f"{CASES}/00000000-0000-0000-0000-000000000000"), 404, "exit-case-not-found")
    assert_problem(http.get(f"{CASES}/not-a-uuid"), 404)
    assert_problem(http.get(f"{CASES}/{case_id}?colour=blue"), 422, "validation-failed")
    assert_problem(http.get(f"{CASES}/{case_id}?as_of=2020-13-01"), 422, "validation-failed")
    assert_problem(http.get(f"{CASES}/{case_id}?known_at=yesterday"), 422, "validation-failed")
    # a collaboration's id is not an exit case's
    assert_problem(http.get(f"{CASES}/{open_withdrawal_case(http)[0].id}"), 404, "exit-case-not-found")


@pytest.mark.parametrize("endpoint", [endpoint for endpoint in CASE_WRITES if endpoint != "exit-cases"])
def test_writing_to_an_unknown_case_is_404(http: Http, endpoint: str) -> None:
    alliance_ = alliance(http)
    path, body = case_write_requests(alliance_, "00000000-0000-0000-0000-000000000000")[endpoint]
    log_size = http.log_size()
    assert_problem(http.post(path, at("2020-03-30", **body)), 404, "exit-case-not-found")
    assert_problem(
        http.post(path.replace("00000000-0000-0000-0000-000000000000", "nope"), at("2020-03-30", **body)), 404
    )
    assert http.log_size() == log_size


def test_as_of_and_known_at_show_the_case_as_it_stood(http_any: Http) -> None:
    """A payment recorded late and back-dated: as known before it was recorded, it is not there;
    as of a day before its effective date, it is not there either."""
    http = http_any
    scenario = west_mercia_warwickshire(http, payments=[("2020-12-31", "3500000.00")])
    december = scenario.after("payment 1")
    time.sleep(0.01)  # recorded strictly later than anything known at the payment above
    late = posted(
        http,
        f"{scenario.one}/payments",
        at("2020-04-30", amount="3500000.00", paid_on="2020-04-30", reason="April's payment, recorded late"),
    )
    assert (late["paid"], late["outstanding"]) == ("7000000.00", "3500000.00")
    known_at = quote(december["modified_at"])

    before_the_late_one = case_document(http, scenario.case_id, f"known_at={known_at}")
    assert before_the_late_one["version"] == december["version"]
    assert [p["paid_on"] for p in before_the_late_one["payments"]] == ["2020-12-31"]
    assert (before_the_late_one["paid"], before_the_late_one["outstanding"]) == ("3500000.00", "7000000.00")

    in_june = case_document(http, scenario.case_id, "as_of=2020-06-30")
    assert [p["paid_on"] for p in in_june["payments"]] == ["2020-04-30"]
    assert (in_june["paid"], in_june["outstanding"]) == ("3500000.00", "7000000.00")
    assert in_june["version"] == late["version"]

    as_known_then = case_document(http, scenario.case_id, f"as_of=2020-06-30&known_at={known_at}")
    assert (as_known_then["paid"], as_known_then["outstanding"], as_known_then["payments"]) == ("0.00", AGREED, [])

    before_settling = case_document(http, scenario.case_id, "as_of=2020-03-29")
    assert figures(before_settling) == {
        "claimed": CLAIMED,
        "assessed": ASSESSED,
        "agreed": None,
        "written_off": None,
        "paid": "0.00",
        "outstanding": None,
        "status": "open",
    }
    assert [p["paid_on"] for p in case_document(http, scenario.case_id)["payments"]] == ["2020-12-31", "2020-04-30"]

    assert_problem(http.get(f"{scenario.one}?as_of=2019-10-31"), 404, "not-yet-in-effect")
    assert_problem(http.get(f"{scenario.one}?known_at=2000-01-01T00:00:00Z"), 404, "not-yet-in-effect")


# ------------------------------------------------------------------------------ claims
def test_a_claim_answers_its_id_and_a_later_claim_may_supersede_it(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    first = posted(http, f"{CASES}/{case_id}/claims", CLAIM)
    assert ClaimLodgedDocument().validate(first) == {}
    lines = [{"head": "H2", "amount": "5000000.00", "description": "Re-establishing services, revised"}]
    revised = posted(
        http,
        f"{CASES}/{case_id}/claims",
        at("2020-01-10", claimant=WK, respondent=WM, lines=lines, supersedes=first["claim_id"]),
    )
    assert revised["claimed"] == "5000000.00"
    by_id = {claim["id"]: claim for claim in revised["claims"]}
    assert by_id[first["claim_id"]]["superseded_by"] == revised["claim_id"]
    assert by_id[revised["claim_id"]]["supersedes"] == first["claim_id"]
    assert revised["by_head"] == [{"head": "H2", "claimed": "5000000.00", "assessed": None}]


@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        ({"lines": [{"head": "H9", "amount": "1.00", "description": "x"}]}, "invalid-claim-line", "lines.0.head"),
        ({"lines": [{"head": "h2", "amount": "1.00", "description": "x"}]}, "invalid-claim-line", "lines.0.head"),
        ({"lines": []}, "invalid-claim-line", "lines"),
        ({"lines": [{"head": "H2", "amount": "1.001", "description": "x"}]}, "invalid-money", "lines.0.amount"),
        ({"lines": [{"head": "H2", "amount": 1.5, "description": "x"}]}, "validation-failed", "lines.0.amount"),
        ({"lines": [{"head": "H2", "amount": "1.00"}]}, "validation-failed", "lines.0.description"),
        ({"lines": [{"head": "H2", "amount": "1.00", "description": "x", "vat": "0.20"}]}, "validation-failed", None),
        ({"claimant": WM}, "same-party-both-sides", "respondent"),
        ({"claimant": "dorset"}, "party-not-in-case", "claimant"),
        ({"supersedes": "no-such-claim"}, "unknown-claim", "supersedes"),
    ],
)
def test_a_bad_claim_is_422_and_records_nothing(
    http: Http, change: dict[str, Any], problem: str, field: str | None
) -> None:
    _, case_id = open_withdrawal_case(http)
    refusal = refused_and_nothing_recorded(
        http, case_id, f"{CASES}/{case_id}/claims", {**CLAIM, **change}, 422, problem
    )
    if field is not None:
        assert field in refusal["errors"], refusal


# ----------------------------------------------------------------- assessments and disputes
def test_an_assessment_answers_its_id_and_the_latest_counts(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    first = posted(http, f"{CASES}/{case_id}/assessments", at("2020-01-31", assessor="A", recommended_amount="2.00"))
    assert AssessmentRecordedDocument().validate(first) == {}
    assert first["assessed"] == "2.00"
    second = posted(http, f"{CASES}/{case_id}/assessments", at("2020-02-28", assessor="B", recommended_amount=ASSESSED))
    assert second["assessed"] == ASSESSED
    assert [a["id"] for a in second["assessments"]] == [first["assessment_id"], second["assessment_id"]]


@pytest.mark.parametrize(
    ("body", "problem", "field"),
    [
        ({"assessor": "A", "recommended_amount": "0.00"}, "invalid-assessment", "recommended_amount"),
        ({"assessor": "A", "recommended_amount": "-1.00"}, "invalid-assessment", "recommended_amount"),
        (
            {
                "assessor": "A",
                "recommended_amount": "3.00",
                "lines": [{"head": "H2", "amount": "2.00", "description": "x"}],
            },
            "invalid-assessment",
            "lines",
        ),
        ({"assessor": " ", "recommended_amount": "3.00"}, "validation-failed", "assessor"),
        ({"recommended_amount": "3.00"}, "validation-failed", "assessor"),
    ],
)
def test_a_bad_assessment_is_422_and_records_nothing(
    http: Http, body: dict[str, Any], problem: str, field: str
) -> None:
    _, case_id = open_withdrawal_case(http)
    refusal = refused_and_nothing_recorded(
        http, case_id, f"{CASES}/{case_id}/assessments", at("2020-01-31", **body), 422, problem
    )
    assert field in refusal["errors"], refusal


def test_a_dispute_answers_its_id_and_a_bad_one_records_nothing(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    body = at("2020-02-14", raised_by=WM, forum="court", summary="Judicial review of the direction")
    dispute = posted(http, f"{CASES}/{case_id}/disputes", body)
    assert DisputeRaisedDocument().validate(dispute) == {}
    assert dispute["disputes"][0]["forum"] == "court"
    path = f"{CASES}/{case_id}/disputes"
    refused_and_nothing_recorded(http, case_id, path, {**body, "forum": "parliament"}, 422, "invalid-forum")
    refused_and_nothing_recorded(http, case_id, path, {**body, "raised_by": "dorset"}, 422, "party-not-in-case")
    refused_and_nothing_recorded(http, case_id, path, {**body, "summary": ""}, 422, "validation-failed")


# ------------------------------------------------------------------ settlement and payments
@pytest.mark.parametrize(
    ("change", "problem", "field"),
    [
        (
            {
                "instalments": [
                    {"due_on": "2020-04-30", "amount": "3500000.00"},
                    {"due_on": "2020-12-31", "amount": "3500000.00"},
                ]
            },
            "instalments-do-not-sum-to-amount",
            "instalments",
        ),
        ({"instalments": []}, "invalid-settlement", "instalments"),
        (
            {
                "instalments": [
                    {"due_on": "2021-04-30", "amount": "5250000.00"},
                    {"due_on": "2020-12-31", "amount": "5250000.00"},
                ]
            },
            "invalid-settlement",
            "instalments.1.due_on",
        ),
        ({"instalments": [{"due_on": "2020-04-30", "amount": AGREED, "note": "x"}]}, "validation-failed", None),
        ({"instalments": [{"due_on": "30/04/2020", "amount": AGREED}]}, "validation-failed", "instalments.0.due_on"),
        ({"payee": WM}, "same-party-both-sides", "payee"),
        ({"payer": "dorset"}, "party-not-in-case", "payer"),
        ({"write_offs": "-270000.00"}, "negative-amount", "write_offs"),
        (
            {"amount": "0.00", "instalments": [{"due_on": "2020-04-30", "amount": "0.00"}]},
            "invalid-settlement",
            "amount",
        ),
        ({"amount": 10500000}, "validation-failed", "amount"),
    ],
)
def test_a_bad_settlement_is_422_and_records_nothing(
    http: Http, change: dict[str, Any], problem: str, field: str | None
) -> None:
    _, case_id = open_withdrawal_case(http)
    refusal = refused_and_nothing_recorded(
        http, case_id, f"{CASES}/{case_id}/settlement", at("2020-03-30", **{**SETTLEMENT, **change}), 422, problem
    )
    if field is not None:
        assert field in refusal["errors"], refusal


def test_payments_need_a_settlement_and_never_exceed_what_is_outstanding(http_any: Http) -> None:
    http = http_any
    _, case_id = open_withdrawal_case(http)
    one = f"{CASES}/{case_id}"
    payment = at("2020-04-30", amount="3500000.00", paid_on="2020-04-30")
    refused_and_nothing_recorded(http, case_id, f"{one}/payments", payment, 422, "no-settlement")

    posted(http, f"{one}/settlement", at("2020-03-30", **SETTLEMENT))
    first = posted(http, f"{one}/payments", {**payment, "amount": "5000000.00"})
    assert (first["paid"], first["outstanding"]) == ("5000000.00", "5500000.00")
    # allocated to the earliest instalment first
    assert [(i["paid"], i["remaining"]) for i in first["settlement"]["instalments"]] == [
        ("3500000.00", "0.00"),
        ("1500000.00", "2000000.00"),
        ("0.00", "3500000.00"),
    ]
    over = at("2020-12-31", amount="5500000.01", paid_on="2020-12-31")
    problem = refused_and_nothing_recorded(http, case_id, f"{one}/payments", over, 422, "overpayment")
    assert problem["errors"] == {"amount": [problem["detail"]]}
    refused_and_nothing_recorded(http, case_id, f"{one}/payments", {**over, "amount": "0.00"}, 422, "invalid-payment")
    refused_and_nothing_recorded(http, case_id, f"{one}/payments", {**over, "amount": "-1.00"}, 422, "invalid-payment")
    refused_and_nothing_recorded(http, case_id, f"{one}/payments", {**over, "paid_on": None}, 422, "validation-failed")
    last = posted(http, f"{one}/payments", {**over, "amount": "5500000.00"})
    assert (last["paid"], last["outstanding"]) == (AGREED, "0.00")
    assert PaymentRecordedDocument().validate(last) == {}


def test_a_settled_case_refuses_claims_until_it_is_reopened(http: Http) -> None:
    scenario = west_mercia_warwickshire(http, payments=[("2020-04-30", "3500000.00")])
    one = scenario.one
    late_claim = {**CLAIM, "effective_on": "2020-05-01"}
    refused_and_nothing_recorded(http, scenario.case_id, f"{one}/claims", late_claim, 422, "case-settled")
    refused_and_nothing_recorded(
        http, scenario.case_id, f"{one}/settlement", at("2020-05-01", **SETTLEMENT), 422, "case-settled"
    )
    refused_and_nothing_recorded(http, scenario.case_id, f"{one}/closure", at("2020-05-01"), 422, "outstanding-balance")

    reopened = posted(http, f"{one}/reopening", at("2020-05-01", reason="Further H3 pension strain came to light"))
    assert reopened["status"] == "open"
    assert (reopened["agreed"], reopened["paid"]) == (AGREED, "3500000.00")  # the settlement still stands
    lines = [{"head": "H3", "amount": "150000.00", "description": "Further pension strain"}]
    extra = posted(http, f"{one}/claims", at("2020-05-02", claimant=WK, respondent=WM, lines=lines))
    assert extra["claimed"] == "12550000.00"
    # a revised settlement is at least what has been paid
    below = {**SETTLEMENT, "amount": "3000000.00", "instalments": [{"due_on": "2020-06-30", "amount": "3000000.00"}]}
    refused_and_nothing_recorded(
        http, scenario.case_id, f"{one}/settlement", at("2020-05-03", **below), 422, "settlement-below-paid"
    )
    revised = posted(
        http,
        f"{one}/settlement",
        at(
            "2020-05-03",
            **{
                **SETTLEMENT,
                "amount": "10650000.00",
                "instalments": [*INSTALMENTS, {"due_on": "2021-09-30", "amount": "150000.00"}],
            },
        ),
    )
    assert (revised["status"], revised["agreed"], revised["outstanding"], revised["settlements_agreed"]) == (
        "settled",
        "10650000.00",
        "7150000.00",
        2,
    )


def test_closing_needs_nothing_outstanding_and_a_closed_case_refuses_all_but_reopening(http: Http) -> None:
    scenario = west_mercia_warwickshire(http)
    one = scenario.one
    closed = posted(http, f"{one}/closure", at("2021-07-01", reason="Settlement paid in full"))
    assert ExitCaseDocument().validate(closed) == {}
    assert (closed["status"], closed["closed_on"]) == ("closed", "2021-07-01")
    for tail, body in [
        ("claims", {**CLAIM, "effective_on": "2021-07-02"}),
        ("assessments", at("2021-07-02", assessor="A", recommended_amount="1.00")),
        ("disputes", at("2021-07-02", raised_by=WM, forum="court", summary="x")),
        ("payments", at("2021-07-02", amount="1.00", paid_on="2021-07-02")),
        ("closure", at("2021-07-02")),
    ]:
        refused_and_nothing_recorded(http, scenario.case_id, f"{one}/{tail}", body, 422, "case-closed")
    reopened = posted(http, f"{one}/reopening", at("2021-08-01", reason="The auditors query H6"))
    assert (reopened["status"], reopened["closed_on"]) == ("open", None)


def test_payments_closing_and_reopening_keep_their_dates_in_order(http: Http) -> None:
    scenario = west_mercia_warwickshire(http, payments=[])  # settled on 2020-03-30
    one, case_id = scenario.one, scenario.case_id
    early = at("2020-03-29", amount="1.00", paid_on="2020-03-29")
    problem = refused_and_nothing_recorded(http, case_id, f"{one}/payments", early, 422, "payment-before-settlement")
    assert "2020-03-30" in problem["detail"]
    for paid_on, amount in PAYMENTS:
        posted(http, f"{one}/payments", at(paid_on, amount=amount, paid_on=paid_on))
    refused_and_nothing_recorded(http, case_id, f"{one}/closure", at("2021-06-29"), 422, "closed-before-settled")
    posted(http, f"{one}/closure", at("2021-06-30"))
    refused_and_nothing_recorded(http, case_id, f"{one}/reopening", at("2021-06-29"), 422, "reopened-before-closed")
    assert posted(http, f"{one}/reopening", at("2021-06-30"))["status"] == "open"


def test_only_a_settled_or_closed_case_is_reopened_and_an_unsettled_case_may_be_closed(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    one = f"{CASES}/{case_id}"
    refused_and_nothing_recorded(http, case_id, f"{one}/reopening", at("2020-01-01"), 422, "case-not-settled")
    refused_and_nothing_recorded(
        http, case_id, f"{one}/closure", {"effective_on": "2020-01-01"}, 422, "validation-failed"
    )
    closed = posted(http, f"{one}/closure", at("2020-01-01", reason="Abandoned: the parties agreed no costs"))
    assert (closed["status"], closed["agreed"]) == ("closed", None)


# --------------------------------------------------------------------------- who may write
def test_a_force_token_writes_only_as_a_party_and_claims_only_as_itself(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    one = f"{CASES}/{case_id}"
    west_mercia, warwickshire = http.token("force", WM), http.token("force", WK)
    claim = posted(http, f"{one}/claims", CLAIM, warwickshire)
    assert claim["claims"][0]["claimant"] == WK
    refused_and_nothing_recorded(http, case_id, f"{one}/claims", CLAIM, 403, "not-permitted", token=west_mercia)
    refused_and_nothing_recorded(
        http, case_id, f"{one}/claims", CLAIM, 403, "not-permitted", token=http.token("force", "suffolk")
    )
    refused_and_nothing_recorded(
        http, case_id, f"{one}/claims", CLAIM, 403, "not-permitted", token=http.token("auditor")
    )
    refused_and_nothing_recorded(http, case_id, f"{one}/claims", CLAIM, 401, "unauthenticated", token=None)
    dispute = at("2020-02-14", raised_by=WM, forum="home_secretary", summary="x")
    refused_and_nothing_recorded(http, case_id, f"{one}/disputes", dispute, 403, "not-permitted", token=warwickshire)
    assert posted(http, f"{one}/disputes", dispute, west_mercia)["disputes"][0]["raised_by"] == WM
    # the settlement is an administrator's to record, never one side's
    settlement = at("2020-03-30", **SETTLEMENT)
    for token in (west_mercia, warwickshire):
        refused_and_nothing_recorded(http, case_id, f"{one}/settlement", settlement, 403, "not-permitted", token=token)
    posted(http, f"{one}/settlement", settlement)
    # a payment is recorded by the payee (confirming receipt), never by the payer or a stranger
    payment = at("2020-04-30", amount="3500000.00", paid_on="2020-04-30")
    for token in (west_mercia, http.token("force", "suffolk"), http.token("auditor")):
        refused_and_nothing_recorded(http, case_id, f"{one}/payments", payment, 403, "not-permitted", token=token)
    paid = posted(http, f"{one}/payments", payment, warwickshire)
    assert paid["paid"] == "3500000.00"


def test_only_an_administrator_assesses_settles_closes_and_reopens_a_case(http: Http) -> None:
    scenario = west_mercia_warwickshire(http, settle=False)
    one = scenario.one
    parties = (http.token("force", WM), http.token("force", WK))
    writes = [
        ("assessments", at("2020-03-01", assessor="Independent assessor", recommended_amount="1.00")),
        ("settlement", at("2020-03-30", **SETTLEMENT)),
    ]
    for (tail, body), token in itertools.product(writes, parties):
        refused_and_nothing_recorded(http, scenario.case_id, f"{one}/{tail}", body, 403, "not-permitted", token=token)
    for tail, body in writes:
        posted(http, f"{one}/{tail}", body)
    for paid_on, amount in PAYMENTS:
        posted(http, f"{one}/payments", at(paid_on, amount=amount, paid_on=paid_on))
    for tail, token in itertools.product(("closure", "reopening"), parties):
        refused_and_nothing_recorded(
            http, scenario.case_id, f"{one}/{tail}", at("2021-07-01"), 403, "not-permitted", token=token
        )
    assert posted(http, f"{one}/closure", at("2021-07-01"))["status"] == "closed"
    for token in parties:
        refused_and_nothing_recorded(
            http, scenario.case_id, f"{one}/reopening", at("2021-08-01"), 403, "not-permitted", token=token
        )
    assert posted(http, f"{one}/reopening", at("2021-08-01"))["status"] == "open"


def test_a_force_that_has_left_the_collaboration_still_writes_to_its_exit_case(http: Http) -> None:
    alliance_, case_id = open_withdrawal_case(http)
    one = f"{CASES}/{case_id}"
    west_mercia = http.token("force", WM)
    left = posted(http, f"{alliance_.one}/party-withdrawals", at("2020-04-09", force=WM), west_mercia)
    assert [withdrawal["force"] for withdrawal in left["withdrawals"]] == [WM]
    version, log_size = left["version"], http.log_size()
    refused = http.post(f"{alliance_.one}/reviews", at("2020-05-01", outcome="Continue"), west_mercia)
    assert_problem(refused, 403, "not-permitted")
    assert http.get(alliance_.one).get_json()["version"] == version
    assert http.log_size() == log_size
    # Its exit case is still its to write where its role allows: it disputes, and claims as claimant.
    dispute = at("2020-05-01", raised_by=WM, forum="arbitration", summary="H6 is disputed")
    assert posted(http, f"{one}/disputes", dispute, west_mercia)["disputes"][0]["raised_by"] == WM
    lines = [{"head": "H7", "amount": "250000.00", "description": "Its share of the HQ's residual value"}]
    claim = posted(http, f"{one}/claims", at("2020-05-02", claimant=WM, respondent=WK, lines=lines), west_mercia)
    assert claim["claims"][0]["claimant"] == WM
    # ... but not as Warwickshire, nor what is an administrator's.
    refused_and_nothing_recorded(http, case_id, f"{one}/claims", CLAIM, 403, "not-permitted", token=west_mercia)
    refused_and_nothing_recorded(
        http, case_id, f"{one}/closure", at("2020-05-03"), 403, "not-permitted", token=west_mercia
    )


def test_if_match_guards_every_case_write(http: Http) -> None:
    _, case_id = open_withdrawal_case(http)
    one = f"{CASES}/{case_id}"
    stale = refused_and_nothing_recorded(
        http, case_id, f"{one}/claims", CLAIM, 412, "version-mismatch", **{"If-Match": '"2"'}
    )
    assert "1" in stale["detail"]
    response = http.post(f"{one}/claims", CLAIM, **{"If-Match": '"1"'})
    assert response.status_code == 201, response.get_json()
    assert response.headers["ETag"] == '"2"'
    assert response.headers["Location"] == one  # every write answers where its exit case is
    refused_and_nothing_recorded(http, case_id, f"{one}/claims", CLAIM, 400, "bad-request", **{"If-Match": "1"})


def test_an_idempotent_replay_answers_the_first_response_and_records_nothing(http_any: Http) -> None:
    http = http_any
    alliance_ = alliance(http)
    body = at("2019-11-01", collaboration_id=alliance_.id, trigger="withdrawal", force=WM)
    first = http.post(CASES, body, **{"Idempotency-Key": "open-1"})
    assert first.status_code == 201, first.get_json()
    log_size = http.log_size()
    again = http.post(CASES, body, **{"Idempotency-Key": "open-1"})
    assert again.status_code == 201, again.get_json()  # not 409: it is the same request
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    case_id = first.get_json()["id"]

    claim = http.post(f"{CASES}/{case_id}/claims", CLAIM, **{"Idempotency-Key": "claim-1"})
    assert claim.status_code == 201, claim.get_json()
    log_size = http.log_size()
    replay = http.post(f"{CASES}/{case_id}/claims", CLAIM, **{"Idempotency-Key": "claim-1"})
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["claim_id"] == claim.get_json()["claim_id"]
    assert http.log_size() == log_size
    assert len(case_document(http, case_id)["claims"]) == 1
    different = http.post(f"{CASES}/{case_id}/claims", {**CLAIM, "reason": "Another"}, **{"Idempotency-Key": "claim-1"})
    assert_problem(different, 422, "idempotency-key-reused")
    assert http.log_size() == log_size


@pytest.mark.parametrize(
    "tail", ["claims", "assessments", "disputes", "settlement", "payments", "closure", "reopening"]
)
def test_no_case_write_takes_a_control_character_in_its_reason(http: Http, tail: str) -> None:
    _, case_id = open_withdrawal_case(http)
    problem = refused_and_nothing_recorded(
        http, case_id, f"{CASES}/{case_id}/{tail}", {"effective_on": "2020-01-01", "reason": "bad\x00"}, 422, None
    )
    assert "reason" in problem["errors"], problem


# -------------------------------------------------------------------------------- OpenAPI
def test_the_openapi_document_describes_the_exit_case_paths(http: Http) -> None:
    spec = http.get("/api/v1/openapi.json", None).get_json()
    paths = spec["paths"]
    one = "/api/v1/exit-cases/{exit_case_id}"
    assert set(paths[CASES]) == {"post"}
    assert set(paths[one]) - {"parameters"} == {"get"}
    for tail in ("claims", "assessments", "disputes", "settlement", "payments", "closure", "reopening"):
        operation = paths[f"{one}/{tail}"]["post"]
        assert {"404", "412", "422", "403", "401"} <= set(operation["responses"]), tail
        assert "ETag" in operation["responses"]["201"]["headers"], tail
    for tail in ("closure", "reopening"):
        assert "extension" in paths[f"{one}/{tail}"]["post"]["description"]
    assert set(paths[f"{one}/history"]) - {"parameters"} == {"get"}
    assert {p["name"] for p in paths[one]["get"]["parameters"]} >= {"as_of", "known_at"}
    assert "409" in paths[CASES]["post"]["responses"]
    schemas = spec["components"]["schemas"]
    amount = schemas["CaseLine"]["properties"]["amount"]
    assert (amount["type"], amount["format"]) == ("string", "decimal")
    assert "-" in amount["pattern"]
    instalments = schemas["Settlement"]["properties"]["instalments"]["items"]
    assert instalments == {"$ref": "#/components/schemas/Instalment"}
    assert schemas["Instalment"]["properties"]["amount"]["format"] == "decimal"
