"""A collaboration's history is every event of it and its children: its exit cases' and its
benefits' events, in log order, each naming its stream and aggregate type, with a filter for one
kind; every event a quote line cites is in it."""

from __future__ import annotations

import csv
import io

from tests.integration import http_support
from tests.integration.exit_case_support import CASES, CLAIM_LINES, WK, WM, alliance, at, open_case, posted
from tests.integration.http_support import BENEFIT, WHEN, Http, assert_problem

http = http_support.http


def history(http: Http, collaboration_id: str, query: str = "") -> tuple[list[dict], str]:
    response = http.get(f"/api/v1/collaborations/{collaboration_id}/history{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"], response.headers["ETag"]


def test_the_history_holds_the_exit_cases_and_benefits_events_in_log_order(http: Http) -> None:
    wmw = alliance(http)
    case = open_case(http, wmw.id)
    posted(http, f"{CASES}/{case['id']}/claims", at("2019-11-02", claimant=WK, respondent=WM, lines=CLAIM_LINES))
    benefit = posted(http, f"{wmw.one}/benefits", {**WHEN, **BENEFIT, "effective_on": "2019-04-01"})
    review = posted(http, f"{wmw.one}/reviews", {**WHEN, "effective_on": "2019-12-01", "outcome": "continue"})
    other = http.establish(name="Another alliance")  # not a child: its events stay out

    items, etag = history(http, wmw.id)
    assert etag == f'"{review["version"]}"'  # the collaboration's version
    positions = [item["position"] for item in items]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {item["stream_id"] for item in items} == {wmw.id, case["id"], benefit["id"]}
    kinds = {item["stream_id"]: item["aggregate_type"] for item in items}
    assert kinds == {wmw.id: "Collaboration", case["id"]: "ExitCase", benefit["id"]: "Benefit"}
    assert [item["type"] for item in items if item["stream_id"] == case["id"]] == [
        "ExitCase.Opened",
        "ExitCase.ClaimLodged",
    ]
    assert [item["type"] for item in items][-3:] == [
        "ExitCase.ClaimLodged",
        "Benefit.Identified",
        "Collaboration.ReviewHeld",
    ]
    assert other["id"] not in {item["stream_id"] for item in items}

    own, _ = history(http, wmw.id, "?kind=collaboration")
    assert [item["stream_id"] for item in own] == [wmw.id] * review["version"]
    assert [item["version"] for item in own] == list(range(1, review["version"] + 1))
    cases, _ = history(http, wmw.id, "?kind=exit_case")
    assert [item["type"] for item in cases] == ["ExitCase.Opened", "ExitCase.ClaimLodged"]
    benefits, _ = history(http, wmw.id, "?kind=benefit")
    assert [item["type"] for item in benefits] == ["Benefit.Identified"]
    assert_problem(http.get(f"{wmw.one}/history?kind=payment"), 422)

    # upto_version: what had been recorded up to that version of the collaboration
    before_review, etag = history(http, wmw.id, f"?upto_version={review['version'] - 1}")
    cut = own[-2]["position"]
    assert before_review == [item for item in items if item["position"] <= cut]
    assert before_review[-1] == own[-2] and etag == f'"{review["version"] - 1}"'

    response = http.get(f"{wmw.one}/history?format=csv")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["stream_id"], row["aggregate_type"], int(row["position"])) for row in rows] == [
        (item["stream_id"], item["aggregate_type"], item["position"]) for item in items
    ]


def test_every_event_a_quote_cites_is_in_the_collaboration_history(http: Http) -> None:
    wmw = alliance(http)
    case = open_case(http, wmw.id)
    posted(http, f"{CASES}/{case['id']}/claims", at("2019-11-02", claimant=WK, respondent=WM, lines=CLAIM_LINES))
    quote = http.get(f"{wmw.one}/exit-costs?force={WM}").get_json()
    cited = {
        source["event_id"]
        for line in quote["lines"]
        for source in [
            *line["source_events"].values(),
            *(s for p in line["payees"] for s in p["source_events"].values()),
        ]
    }
    assert any(event_id.startswith(case["id"]) for event_id in cited)
    items, _ = history(http, wmw.id)
    recorded = {f"{item['stream_id']}:{item['version']}": item["hash"] for item in items}
    assert cited <= set(recorded)
    for line in quote["lines"]:
        for source in line["source_events"].values():
            assert recorded[source["event_id"]] == source["hash"]
